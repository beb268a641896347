//! Outbound mail: every notification is a durable row plus a `deliver_notification` job
//! written in the transaction of the change that caused it. The job renders the message (text
//! and HTML), threads it (`Message-ID`, `In-Reply-To`, `References`, the ticket token in the
//! subject) and sends it over SMTP with `lettre`.
//!
//! At-least-once: a worker that dies after sending and before recording sends again when the
//! job is retried; everything before the send is idempotent. Outcomes are recorded on the
//! notification: `sent`, or `undeliverable` (no SMTP configured, no support address, a
//! permanent 5xx) with the reason; temporary failures are retried with backoff.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::now_micros;
use crate::html::text_to_html;
use crate::jobs::{Job, JobContext};
use crate::store::notifications::NotificationRow;
use crate::store::{self};

/// The SMTP client of the process.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    /// Connects lazily to `url` (`smtp://host:port`, `smtps://user:pass@host`).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        Ok(Mailer { transport })
    }
}

/// Delivers one queued notification by email.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: uuid::Uuid,
}

/// Why a message cannot go out, for good.
struct Undeliverable(String);

/// A rendered message.
struct Rendered {
    subject: String,
    text: String,
    html: String,
    /// Automatic notices carry `Auto-Submitted: auto-generated`, so auto-responders stay
    /// quiet; replies written by people do not.
    automatic: bool,
}

fn s<'a>(p: &'a Value, k: &str) -> &'a str {
    p[k].as_str().unwrap_or_default()
}

fn wrap_html(body_html: &str, footer: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">{body_html}<hr><p style=\"color:#666;font-size:12px\">{footer}</p></body></html>"
    )
}

/// The text and HTML of a notification. Every value from a ticket or a person is escaped in
/// the HTML part.
// Long: one arm per notification template, each a text part and an escaped HTML part side by
// side so they stay in step.
fn render(
    n: &NotificationRow,
    p: &Value,
    comment_body: Option<&str>,
    workspace: &str,
    portal_link: &str,
) -> Rendered {
    let number = s(p, "ticket_number");
    let subject_line = s(p, "subject");
    let esc = text_to_html;
    let footer = if number.is_empty() {
        esc(workspace)
    } else {
        format!(
            "{} · reply to this email to add to ticket {}",
            esc(workspace),
            esc(number)
        )
    };
    let (subject, text, html, automatic) = match n.template.as_str() {
        "agent_reply" => {
            let body = comment_body.unwrap_or_default();
            (
                format!("Re: [{number}] {subject_line}"),
                format!("{body}\n\n--\n{workspace} · ticket {number}\n{portal_link}"),
                format!(
                    "<div>{}</div>",
                    crate::html::SanitizedHtml::from_markdown(body).into_string()
                ),
                false,
            )
        }
        "status_changed" => (
            format!("[{number}] {subject_line} — now {}", s(p, "to")),
            format!(
                "Your request {number} \"{subject_line}\" is now {}.\n\nView it: {portal_link}",
                s(p, "to")
            ),
            format!(
                "<p>Your request {} “{}” is now <strong>{}</strong>.</p><p><a href=\"{}\">View your request</a></p>",
                esc(number),
                esc(subject_line),
                esc(s(p, "to")),
                esc(portal_link)
            ),
            true,
        ),
        "satisfaction_request" => (
            format!("[{number}] {subject_line} — how did we do?"),
            format!(
                "Your request {number} \"{subject_line}\" was resolved.\nHow did we do? Rate us from 1 to 5: {portal_link}\n\nReply to this email if something is still wrong."
            ),
            format!(
                "<p>Your request {} “{}” was resolved.</p><p>How did we do? <a href=\"{}\">Rate us from 1 to 5</a>.</p><p>Reply to this email if something is still wrong.</p>",
                esc(number),
                esc(subject_line),
                esc(portal_link)
            ),
            true,
        ),
        "ticket_created" => (
            format!("[{number}] {subject_line}"),
            format!(
                "We received your request and opened ticket {number}.\nFollow it here: {portal_link}\n\nReply to this email to add information."
            ),
            format!(
                "<p>We received your request and opened ticket <strong>{}</strong>.</p><p><a href=\"{}\">Follow your request</a></p><p>Reply to this email to add information.</p>",
                esc(number),
                esc(portal_link)
            ),
            true,
        ),
        crate::analytics::report::DAILY_QUEUE => {
            let (subject, text, html) = crate::analytics::report::render(p);
            (subject, text, html, true)
        }
        "assigned" => (
            format!("[{number}] assigned to you: {subject_line}"),
            format!("Ticket {number} \"{subject_line}\" was assigned to you."),
            format!(
                "<p>Ticket {} “{}” was assigned to you.</p>",
                esc(number),
                esc(subject_line)
            ),
            true,
        ),
        "watcher_update" => (
            format!("[{number}] new message: {subject_line}"),
            format!(
                "A ticket you follow, {number} \"{subject_line}\", has a new message:\n\n{}",
                comment_body.unwrap_or_default()
            ),
            format!(
                "<p>A ticket you follow, {} “{}”, has a new message:</p><blockquote>{}</blockquote>",
                esc(number),
                esc(subject_line),
                esc(comment_body.unwrap_or_default())
            ),
            true,
        ),
        "portal_access" => {
            let links: Vec<&Value> = p["links"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let sign_in = s(p, "sign_in_url");
            let text_list: String = links
                .iter()
                .map(|l| {
                    format!(
                        "{} {} ({})\n  {}\n",
                        s(l, "ticket_number"),
                        s(l, "subject"),
                        s(l, "status"),
                        s(l, "url")
                    )
                })
                .collect();
            let html_list: String = links
                .iter()
                .map(|l| {
                    format!(
                        "<li><a href=\"{}\">{} {}</a> ({})</li>",
                        esc(s(l, "url")),
                        esc(s(l, "ticket_number")),
                        esc(s(l, "subject")),
                        esc(s(l, "status"))
                    )
                })
                .collect();
            (
                format!("Your requests with {workspace}"),
                format!(
                    "Here are the links to your requests:\n\n{text_list}\nOr sign in to see them all (the link works once, for 30 minutes):\n{sign_in}\n\nIf you did not ask for this email, you can ignore it."
                ),
                format!(
                    "<p>Here are the links to your requests:</p><ul>{html_list}</ul><p>Or <a href=\"{}\">sign in to see them all</a> (the link works once, for 30 minutes).</p><p>If you did not ask for this email, you can ignore it.</p>",
                    esc(sign_in)
                ),
                true,
            )
        }
        _ => (
            format!("[{number}] {subject_line}"),
            format!(
                "Automation rule \"{}\" asks you to look at ticket {number} \"{subject_line}\".",
                s(p, "rule_name")
            ),
            format!(
                "<p>Automation rule “{}” asks you to look at ticket {} “{}”.</p>",
                esc(s(p, "rule_name")),
                esc(number),
                esc(subject_line)
            ),
            true,
        ),
    };
    Rendered {
        subject,
        text,
        html: wrap_html(&html, &footer),
        automatic,
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("localhost", |(_, d)| d)
}

/// Builds the message; `Err` when it can never be sent (bad addresses).
fn build(
    from: &Mailbox,
    to: &str,
    r: &Rendered,
    message_id: &str,
    thread: &[String],
) -> Result<Message, Undeliverable> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| Undeliverable(format!("the recipient address is not valid: {e}")))?;
    let mut b = Message::builder()
        .from(from.clone())
        .reply_to(from.clone())
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(format!("<{message_id}>")));
    if let Some(last) = thread.last() {
        b = b.in_reply_to(format!("<{last}>"));
        let refs: Vec<String> = thread
            .iter()
            .rev()
            .take(20)
            .rev()
            .map(|m| format!("<{m}>"))
            .collect();
        b = b.references(refs.join(" "));
    }
    let mut msg = b
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(r.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(r.html.clone()),
                ),
        )
        .map_err(|e| Undeliverable(format!("the message could not be built: {e}")))?;
    if r.automatic {
        msg.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    }
    Ok(msg)
}

/// Whether mail to the customers of a workspace goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailState {
    /// No SMTP transport (`FERRODESK_SMTP_URL`): mail is kept and marked undeliverable.
    Off,
    /// A transport but no sender address: every mail is recorded undeliverable.
    NoSender,
    /// Mail goes out.
    Ready,
}

impl MailState {
    /// What an admin should be told, when anything.
    #[must_use]
    pub fn warning(self) -> Option<&'static str> {
        match self {
            MailState::Off => Some(
                "Outbound mail is off (FERRODESK_SMTP_URL is not set): replies and notices are kept and marked undeliverable.",
            ),
            MailState::NoSender => Some(
                "No support address is set: every email is recorded undeliverable until one is (Email below, or the workspace's support email).",
            ),
            MailState::Ready => None,
        }
    }
}

/// The mail state of `ws`: an SMTP transport and a sender address (the email settings'
/// support address, or the workspace's support email) are both needed.
pub async fn mail_state(
    ctx: &crate::ctx::Ctx,
    ws: crate::ids::WorkspaceId,
) -> crate::error::Result<MailState> {
    if ctx.mailer.is_none() {
        return Ok(MailState::Off);
    }
    let mut conn = ctx.store.read().await?;
    Ok(match sender(&mut conn, ws).await? {
        Some(_) => MailState::Ready,
        None => MailState::NoSender,
    })
}

/// The From of a workspace's mail: its support address, with its name.
async fn sender(
    tx: &mut store::Conn,
    ws: crate::ids::WorkspaceId,
) -> anyhow::Result<Option<(Mailbox, String, String)>> {
    let w = store::workspaces::find(tx, ws)
        .await?
        .ok_or_else(|| anyhow::anyhow!("workspace {ws} is gone"))?;
    let (settings, _) = super::settings::stored(tx, ws).await?;
    let Some(address) = settings.support_address.or(w.support_email) else {
        return Ok(None);
    };
    let mailbox = Mailbox::new(
        Some(w.name.clone()),
        address
            .parse()
            .map_err(|e| anyhow::anyhow!("support address {address}: {e}"))?,
    );
    Ok(Some((mailbox, w.name, w.slug)))
}

impl Job for DeliverNotification {
    const NAME: &'static str = "deliver_notification";
    const MAX_ATTEMPTS: i64 = 8;

    // Long: a delivery's states (no SMTP, sent, refused, retry) each recorded on the
    // notification and its comment; the mail is built once and used by all of them.
    async fn run(self, ctx: JobContext) -> anyhow::Result<()> {
        let store = &ctx.store;
        let mut conn = store.read().await?;
        let Some(n) = store::notifications::find(&mut conn, self.notification_id).await? else {
            return Ok(());
        };
        if n.status == "sent" || n.status == "undeliverable" {
            return Ok(());
        }
        let finish = |status: &'static str, error: Option<String>, message_id: Option<String>| {
            let store = store.clone();
            let n = n.clone();
            async move {
                let mut tx = store.begin().await?;
                store::notifications::set_outcome(
                    &mut tx,
                    n.id,
                    status,
                    error.as_deref(),
                    message_id.as_deref(),
                    now_micros(),
                )
                .await?;
                if let (Some(mid), Some(ticket)) = (message_id.as_deref(), n.ticket_id) {
                    store::email::remember_message(
                        &mut tx,
                        n.workspace_id,
                        mid,
                        ticket,
                        n.comment_id,
                        "out",
                        now_micros(),
                    )
                    .await?;
                }
                tx.commit().await?;
                anyhow::Ok(())
            }
        };
        if n.channel == "wecom" {
            let workspace = store::workspaces::find(&mut conn, n.workspace_id)
                .await?
                .map(|w| w.name)
                .unwrap_or_default();
            let payload: Value = serde_json::from_str(&n.payload).unwrap_or_default();
            let body = comment_text(&mut conn, &n).await?;
            drop(conn);
            let link = agent_link(&ctx.public_url, n.ticket_id);
            let r = render(&n, &payload, body.as_deref(), &workspace, &link);
            return crate::integrations::wecom::deliver(
                &ctx,
                &n,
                &r.subject,
                &format!("{}\n[{link}]({link})", r.text),
            )
            .await;
        }
        if n.address.ends_with(".invalid") {
            return finish(
                "undeliverable",
                Some("the recipient has no email address (they wrote through WeCom, Thulium or a chat)".into()),
                None,
            )
            .await;
        }
        let Some(mailer) = ctx.mailer.clone() else {
            return finish(
                "undeliverable",
                Some(
                    "no SMTP server is configured (FERRODESK_SMTP_URL); the message is kept".into(),
                ),
                None,
            )
            .await;
        };
        let Some((from, workspace, slug)) = sender(&mut conn, n.workspace_id).await? else {
            return finish(
                "undeliverable",
                Some("the workspace has no support address (PUT /api/settings/email)".into()),
                None,
            )
            .await;
        };
        let mut payload: Value = serde_json::from_str(&n.payload).unwrap_or_default();
        let comment_body = comment_text(&mut conn, &n).await?;
        if n.template == "agent_reply" && comment_body.is_none() {
            // The reply was deleted (or is an internal note): nothing may go out.
            return finish(
                "undeliverable",
                Some("the reply no longer exists".into()),
                None,
            )
            .await;
        }
        let thread = match n.ticket_id {
            Some(t) => store::email::thread_ids(&mut conn, n.workspace_id, t).await?,
            None => Vec::new(),
        };
        drop(conn);
        let portal = if n.recipient_type == "customer" {
            customer_links(store, &ctx.public_url, &slug, &n, &mut payload).await?
        } else {
            agent_link(&ctx.public_url, n.ticket_id)
        };
        let rendered = render(&n, &payload, comment_body.as_deref(), &workspace, &portal);
        // The Message-ID is derived from the notification, so a resend is the same message.
        let message_id = format!("{}@{}", n.id.simple(), domain_of(from.email.as_ref()));
        let message = match build(&from, &n.address, &rendered, &message_id, &thread) {
            Ok(m) => m,
            Err(Undeliverable(why)) => return finish("undeliverable", Some(why), None).await,
        };
        match mailer.transport.send(message).await {
            Ok(_) => finish("sent", None, Some(message_id)).await,
            Err(e) if e.is_permanent() => {
                finish(
                    "undeliverable",
                    Some(format!("the mail server refused it: {e}")),
                    None,
                )
                .await
            }
            Err(e) => {
                let mut tx = store.begin().await?;
                store::notifications::set_error(&mut tx, n.id, &e.to_string(), now_micros())
                    .await?;
                tx.commit().await?;
                Err(anyhow::anyhow!("sending failed, will retry: {e}"))
            }
        }
    }
}

/// The body of the comment a notification carries (internal notes only to staff).
async fn comment_text(
    conn: &mut store::Conn,
    n: &NotificationRow,
) -> anyhow::Result<Option<String>> {
    Ok(match (n.comment_id, n.ticket_id) {
        (Some(c), Some(t)) => store::comments::find(conn, n.workspace_id, t, c)
            .await?
            .filter(|c| !c.is_internal || n.recipient_type == "user")
            .map(|c| c.body),
        _ => None,
    })
}

/// The agent console's page of a ticket.
fn agent_link(public_url: &str, ticket: Option<crate::ids::TicketId>) -> String {
    let base = public_url.trim_end_matches('/');
    match ticket {
        Some(t) => format!("{base}/tickets/{t}"),
        None => format!("{base}/"),
    }
}

/// A customer's links, each with a fresh access token (tokens are stored only as digests, so
/// every message mints its own): the ticket's portal page, and for `portal_access` every
/// recent request plus a one-time sign-in link (added to `payload`).
async fn customer_links(
    store: &store::Store,
    public_url: &str,
    slug: &str,
    n: &NotificationRow,
    payload: &mut Value,
) -> anyhow::Result<String> {
    let base = public_url.trim_end_matches('/');
    let mut tx = store.begin().await?;
    let mut link = format!("{base}/portal/{slug}");
    if let Some(t) = n.ticket_id
        && let Some(row) = store::tickets::find(&mut tx, n.workspace_id, t, false).await?
    {
        let token = crate::portal::mint_ticket_token(&mut tx, &row);
        link = crate::portal::ticket_url(base, slug, row.id, &token);
    }
    if n.template == "portal_access"
        && let Some(c) = n.recipient_id.map(crate::ids::CustomerId)
    {
        let rows = store::tickets::of_customer(&mut tx, n.workspace_id, c, 20, 0).await?;
        let mut links = Vec::new();
        for r in &rows {
            let token = crate::portal::mint_ticket_token(&mut tx, r);
            links.push(serde_json::json!({
                "ticket_number": r.ticket_number,
                "subject": r.subject,
                "status": r.status,
                "url": crate::portal::ticket_url(base, slug, r.id, &token),
            }));
        }
        let magic = crate::portal::mint_magic_token(&mut tx, n.workspace_id, c);
        payload["links"] = Value::Array(links);
        payload["sign_in_url"] = Value::String(crate::portal::sign_in_url(base, slug, &magic));
    }
    tx.commit().await?;
    Ok(link)
}
