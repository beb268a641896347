//! Chat bots (seed 003 "Chatbot Integration", seed 002 `channel="ai"`):
//!
//! - `POST /api/public/tickets/from-chat` turns a conversation a bot could not finish into a
//!   ticket (channel `chat`); the chat history becomes the opening thread, each message
//!   attributed to the customer or to the bot (`author_type` `ai`).
//! - `POST /api/public/tickets/escalate` hands a conversation to people: the ticket it already
//!   became is flagged (tag `bot_escalated`, priority at least high, an internal note with the
//!   reason and context, reopened when waiting), or a new ticket opens from the context
//!   (channel `ai`: the bot created it).
//!
//! A conversation id becomes one ticket: `from-chat` twice answers 409. When the workspace
//! sets `chat.bot_key`, both need it in `X-Bot-Key`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{now_micros, parse_instant};
use crate::error::{Error, FieldError, Result};
use crate::ids::{TicketId, WorkspaceId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx};
use crate::tickets::model::NewTicket;
use crate::tickets::service::{self, Author};
use crate::tickets::status::{Channel, Priority, Status};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// `user` / `customer`, or `bot` / `assistant` / `ai`.
    pub role: String,
    pub content: String,
    pub created_at: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromChat {
    pub workspace_id: Option<uuid::Uuid>,
    pub workspace: Option<String>,
    pub conversation_id: String,
    pub bot_id: Option<String>,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub customer_email: String,
    pub customer_name: Option<String>,
    #[serde(default)]
    pub chat_history: Vec<ChatMessage>,
    pub priority: Option<Priority>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub workspace_id: Option<uuid::Uuid>,
    pub workspace: Option<String>,
    pub bot_id: Option<String>,
    pub conversation_id: String,
    pub reason: Option<String>,
    /// Anything the bot knows; `customer_email`, `customer_name`, `subject` and
    /// `chat_history` are used when the conversation has no ticket yet.
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

/// What a bot request came to: the ticket, and an access token when it was created.
pub struct ChatOutcome {
    pub ticket: TicketRow,
    pub access_token: Option<String>,
    pub created: bool,
}

fn is_customer(role: &str) -> Option<bool> {
    match role.to_ascii_lowercase().as_str() {
        "user" | "customer" | "human" => Some(true),
        "bot" | "assistant" | "ai" => Some(false),
        _ => None,
    }
}

fn check_history(history: &[ChatMessage], field: &str, errors: &mut Vec<FieldError>) {
    if history.len() > 200 {
        errors.push(FieldError::new(field, "at most 200 messages"));
    }
    for (i, m) in history.iter().enumerate() {
        if is_customer(&m.role).is_none() {
            errors.push(FieldError::new(
                format!("{field}[{i}].role"),
                "must be user, customer, bot, assistant or ai",
            ));
        }
        if let Err(e) = crate::validate::message_body(format!("{field}[{i}].content"), &m.content) {
            errors.push(e);
        }
    }
}

fn check_conversation(id: &str, errors: &mut Vec<FieldError>) {
    if id.trim().is_empty() || id.len() > 200 {
        errors.push(FieldError::new(
            "conversation_id",
            "must be 1 to 200 characters",
        ));
    }
}

/// Checks the bot key when the workspace has one (constant-time).
async fn bot_allowed(tx: &mut Tx, ws: WorkspaceId, key: Option<&str>) -> Result<()> {
    let settings = super::settings::load(tx, ws).await?;
    match settings.chat.and_then(|c| c.bot_key) {
        None => Ok(()),
        Some(expected) => {
            let ok = key.is_some_and(|k| {
                crate::auth::tokens::digests_match(
                    &crate::auth::tokens::digest(k),
                    &crate::auth::tokens::digest(&expected),
                )
            });
            if ok {
                Ok(())
            } else {
                Err(Error::unauthorized(
                    "this workspace needs its bot key in X-Bot-Key",
                ))
            }
        }
    }
}

/// Writes the chat history after the opening message.
async fn transcript(
    tx: &mut Tx,
    row: &mut TicketRow,
    history: &[ChatMessage],
    bot: &str,
) -> Result<()> {
    let now = now_micros();
    for m in history {
        let at = m
            .created_at
            .as_deref()
            .and_then(parse_instant)
            .unwrap_or(now)
            // Never before the ticket itself (threads read oldest first), never in the future.
            .clamp(row.created_at, now.max(row.created_at));
        let customer = is_customer(&m.role).unwrap_or(true);
        let (kind, id, name) = if customer {
            (
                "customer",
                Some(row.requester_id.0),
                row.requester_name.clone(),
            )
        } else {
            ("ai", None, bot.to_owned())
        };
        crate::tickets::comments::add_external(
            tx,
            row,
            crate::tickets::comments::External {
                author_type: kind,
                author_id: id,
                author_name: &name,
                body: m.content.trim().to_owned(),
                is_internal: false,
                channel: Channel::Chat.as_str(),
                at,
            },
        )
        .await?;
    }
    Ok(())
}

fn bot_name(bot_id: Option<&str>) -> String {
    match bot_id {
        Some(b) if !b.trim().is_empty() => {
            format!("Chat bot {}", b.chars().take(60).collect::<String>())
        }
        _ => "Chat bot".into(),
    }
}

/// Opens a ticket and its thread from a chat.
#[expect(clippy::too_many_arguments, reason = "the fields of one chat")]
async fn open(
    tx: &mut Tx,
    ws: WorkspaceId,
    channel: Channel,
    conversation: &str,
    subject: Option<String>,
    description: Option<String>,
    email: String,
    name: Option<String>,
    history: &[ChatMessage],
    priority: Option<Priority>,
    bot: &str,
) -> Result<(TicketRow, String)> {
    let first_user = history.iter().find(|m| is_customer(&m.role) == Some(true));
    let subject = subject.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| {
        super::subject_of(first_user.map_or("Conversation from chat", |m| m.content.as_str()))
    });
    let description = description
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("Conversation {conversation} was handed over from the chat."));
    let prepared = service::prepare_with(
        tx,
        ws,
        None,
        NewTicket {
            subject,
            description,
            requester_email: Some(email),
            requester_name: name,
            priority,
            channel: Some(channel),
            external_ref: Some(conversation.chars().take(255).collect()),
            ..NewTicket::default()
        },
    )
    .await?;
    let (mut row, _) = service::create_as(tx, ws, None, prepared).await?;
    transcript(tx, &mut row, history, bot).await?;
    store::integrations::remember(
        tx,
        ws,
        "chat",
        conversation,
        Some(row.id),
        None,
        now_micros(),
    )
    .await?;
    let token = crate::portal::mint_ticket_token(tx, &row);
    Ok((row, token))
}

/// `POST /api/public/tickets/from-chat`.
pub async fn from_chat(
    store: &Store,
    bot_key: Option<&str>,
    input: FromChat,
) -> Result<ChatOutcome> {
    let mut errors = Vec::new();
    check_conversation(&input.conversation_id, &mut errors);
    check_history(&input.chat_history, "chat_history", &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let mut tx = store.begin().await?;
    let ws =
        crate::portal::workspace(&mut tx, input.workspace_id, input.workspace.as_deref()).await?;
    bot_allowed(&mut tx, ws, bot_key).await?;
    if let Some(t) =
        store::integrations::lookup(&mut tx, ws, "chat", &input.conversation_id).await?
    {
        let number = store::tickets::find(&mut tx, ws, t, false)
            .await?
            .map(|r| r.ticket_number)
            .unwrap_or_default();
        return Err(Error::duplicate(format!(
            "this conversation is already ticket {number}; escalate it instead"
        )));
    }
    let bot = bot_name(input.bot_id.as_deref());
    let (row, token) = open(
        &mut tx,
        ws,
        Channel::Chat,
        &input.conversation_id,
        input.subject,
        input.description,
        input.customer_email,
        input.customer_name,
        &input.chat_history,
        input.priority,
        &bot,
    )
    .await?;
    tx.commit().await?;
    Ok(ChatOutcome {
        ticket: row,
        access_token: Some(token),
        created: true,
    })
}

/// `POST /api/public/tickets/escalate`.
// Long: the chat escalation contract in order (bot key, validation, flag an existing ticket or
// open one with its history) in one transaction; the steps share the input and the ticket.
pub async fn escalate(
    store: &Store,
    bot_key: Option<&str>,
    input: Escalation,
) -> Result<ChatOutcome> {
    let mut errors = Vec::new();
    check_conversation(&input.conversation_id, &mut errors);
    let reason: String = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("the bot could not help")
        .chars()
        .take(500)
        .collect();
    let context = input.context.clone().unwrap_or(Value::Null);
    if !(context.is_null() || context.is_object()) {
        errors.push(FieldError::new("context", "must be an object"));
    }
    if context.to_string().len() > 64 * 1024 {
        errors.push(FieldError::new("context", "must be at most 64 KiB"));
    }
    let history: Vec<ChatMessage> = match context.get("chat_history") {
        None | Some(Value::Null) => vec![],
        Some(h) => serde_json::from_value(h.clone()).unwrap_or_else(|_| {
            errors.push(FieldError::new(
                "context.chat_history",
                "must be a list of {role, content}",
            ));
            vec![]
        }),
    };
    check_history(&history, "context.chat_history", &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let bot = bot_name(input.bot_id.as_deref());
    let note = format!(
        "{bot} handed this conversation to the team: {reason}\n\nContext:\n{}",
        serde_json::to_string_pretty(&context).unwrap_or_default()
    );
    let mut tx = store.begin().await?;
    let ws =
        crate::portal::workspace(&mut tx, input.workspace_id, input.workspace.as_deref()).await?;
    bot_allowed(&mut tx, ws, bot_key).await?;
    let existing: Option<TicketId> =
        store::integrations::lookup(&mut tx, ws, "chat", &input.conversation_id).await?;
    let (mut row, token, created) = match existing {
        Some(id) => {
            let row = store::tickets::find(&mut tx, ws, id, true)
                .await?
                .ok_or(Error::NotFound)?;
            (row, None, false)
        }
        None => {
            let text = |k: &str| context.get(k).and_then(Value::as_str).map(str::to_owned);
            let Some(email) = text("customer_email") else {
                return Err(Error::field(
                    "context.customer_email",
                    "is required when the conversation has no ticket yet",
                ));
            };
            let (row, token) = open(
                &mut tx,
                ws,
                Channel::Ai,
                &input.conversation_id,
                text("subject"),
                text("description"),
                email,
                text("customer_name"),
                &history,
                None,
                &bot,
            )
            .await?;
            (row, Some(token), true)
        }
    };
    let mut tags = service::tags(&mut tx, &row).await?;
    if !tags.iter().any(|t| t == "bot_escalated") {
        store::tickets::add_tags(&mut tx, ws, row.id, &["bot_escalated".to_owned()]).await?;
        tags.push("bot_escalated".into());
    }
    if row.priority.rank() < Priority::High.rank() {
        let from = row.priority;
        row.priority = Priority::High;
        service::save(&mut tx, &mut row).await?;
        service::record(
            &mut tx,
            &row,
            Author {
                kind: "ai",
                id: None,
            },
            "priority_changed",
            None,
            None,
            json!({"from": from.as_str(), "to": "high", "reason": "bot escalation"}),
        )
        .await?;
    }
    crate::tickets::comments::add_external(
        &mut tx,
        &mut row,
        crate::tickets::comments::External {
            author_type: "ai",
            author_id: None,
            author_name: &bot,
            body: note,
            is_internal: true,
            channel: Channel::Chat.as_str(),
            at: now_micros(),
        },
    )
    .await?;
    if matches!(row.status.as_str(), "pending" | "resolved" | "closed") {
        service::apply_status(
            &mut tx,
            &mut row,
            &tags,
            Status::Open,
            Author {
                kind: "ai",
                id: None,
            },
        )
        .await?;
    }
    service::record(
        &mut tx,
        &row,
        Author {
            kind: "ai",
            id: None,
        },
        "bot_escalated",
        None,
        None,
        json!({"conversation_id": input.conversation_id, "bot_id": input.bot_id, "reason": reason}),
    )
    .await?;
    service::publish(
        &mut tx,
        &row,
        &tags,
        crate::tickets::events::DomainEvent::TicketUpdated,
        json!({"changes": {"bot_escalated": true}}),
    )
    .await?;
    tx.commit().await?;
    Ok(ChatOutcome {
        ticket: row,
        access_token: token,
        created,
    })
}
