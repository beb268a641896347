//! Canned responses (SPEC §5): shared and personal templates with `{{variables}}`.
//!
//! Rendering is one pass over the template: a variable's value is inserted as it is and never
//! read again as template text, so a customer named `{{agent_email}}` stays literal.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::ids::{CategoryId, UserId, WorkspaceId};
use crate::store::canned::{CannedFilter, CannedRow};
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Store, Tx};
use crate::tickets::model::Patch;
use crate::validate;

/// The variables a template may use.
pub const VARIABLES: [&str; 5] = [
    "customer_name",
    "ticket_number",
    "ticket_subject",
    "agent_name",
    "agent_email",
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CannedView {
    pub id: uuid::Uuid,
    pub title: String,
    pub shortcut: Option<String>,
    pub category_id: Option<CategoryId>,
    pub content: String,
    pub shared: bool,
    pub owner_id: Option<UserId>,
    pub usage_count: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&CannedRow> for CannedView {
    fn from(c: &CannedRow) -> Self {
        CannedView {
            id: c.id,
            title: c.title.clone(),
            shortcut: c.shortcut.clone(),
            category_id: c.category_id,
            content: c.content.clone(),
            shared: c.shared,
            owner_id: c.owner_id,
            usage_count: c.usage_count,
            version: c.version,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCanned {
    pub title: String,
    pub content: String,
    /// Used as `/shortcut` in the reply box: letters, digits, `-` and `_`.
    pub shortcut: Option<String>,
    pub category_id: Option<CategoryId>,
    /// Shared with the team (admins and supervisors) or personal (default for agents).
    pub shared: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedPatch {
    pub title: Option<String>,
    pub content: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub shortcut: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category_id: Patch<CategoryId>,
    pub shared: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    pub ticket_id: String,
}

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// A variable name and the text it was written as.
    Var(&'a str, &'a str),
}

/// Splits a template into text and `{{ name }}` variables (a name is letters, digits and
/// `_`). Braces around anything else, or without a closing `}}`, are text.
fn parse(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut text_from = 0;
    let mut at = 0;
    while let Some(rel) = template[at..].find("{{") {
        let start = at + rel;
        let Some(len) = template[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + len + 2;
        let name = template[start + 2..start + 2 + len].trim();
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            if start > text_from {
                out.push(Piece::Text(&template[text_from..start]));
            }
            out.push(Piece::Var(name, &template[start..end]));
            text_from = end;
            at = end;
        } else {
            at = start + 2;
        }
    }
    if text_from < template.len() {
        out.push(Piece::Text(&template[text_from..]));
    }
    out
}

/// Checks that a template uses only known variables.
pub fn check_template(field: &str, template: &str) -> Result<(), FieldError> {
    let unknown: Vec<&str> = parse(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v, _) if !VARIABLES.contains(&v) => Some(v),
            _ => None,
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "unknown variable(s) {}; known: {}",
                unknown
                    .iter()
                    .map(|v| format!("{{{{{v}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                VARIABLES.join(", ")
            ),
        ))
    }
}

/// Values of the variables for one ticket and agent.
pub struct Values<'a> {
    pub customer_name: &'a str,
    pub ticket_number: &'a str,
    pub ticket_subject: &'a str,
    pub agent_name: &'a str,
    pub agent_email: &'a str,
}

/// Fills a template in one pass (values are never re-read as template text).
#[must_use]
pub fn render(template: &str, v: &Values<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    for p in parse(template) {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var("customer_name", _) => out.push_str(v.customer_name),
            Piece::Var("ticket_number", _) => out.push_str(v.ticket_number),
            Piece::Var("ticket_subject", _) => out.push_str(v.ticket_subject),
            Piece::Var("agent_name", _) => out.push_str(v.agent_name),
            Piece::Var("agent_email", _) => out.push_str(v.agent_email),
            // Saved templates only hold known variables; anything else stays as written.
            Piece::Var(_, raw) => out.push_str(raw),
        }
    }
    out
}

fn shortcut(s: &str) -> Result<String, FieldError> {
    let s = s.trim().trim_start_matches('/');
    if (1..=50).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            "shortcut",
            "must be 1 to 50 letters, digits, '-' or '_'",
        ))
    }
}

/// Whether `actor` may change or delete `c`.
fn may_manage(actor: &Actor, c: &CannedRow) -> Result<()> {
    if actor.can(Permission::ManageCanned) {
        return Ok(());
    }
    actor.require(Permission::UseCanned)?;
    if !c.shared && c.owner_id == Some(actor.user_id) {
        Ok(())
    } else {
        Err(Error::forbidden(
            "agents may only change their own personal canned responses",
        ))
    }
}

/// Whether `actor` may see and use `c` (404 otherwise, as for a foreign id).
fn visible(actor: &Actor, c: &CannedRow) -> bool {
    c.shared || c.owner_id == Some(actor.user_id) || actor.can(Permission::ManageCanned)
}

pub async fn list(
    store: &Store,
    actor: &Actor,
    category_id: Option<CategoryId>,
    shortcut: Option<String>,
) -> Result<Vec<CannedView>> {
    actor.require(Permission::UseCanned)?;
    let mut tx = store.read().await?;
    let filter = CannedFilter {
        visible_to: (!actor.can(Permission::ManageCanned)).then_some(actor.user_id),
        category_id,
        shortcut,
    };
    let rows = store::canned::list(&mut tx, actor.workspace_id, &filter).await?;
    Ok(rows.iter().map(CannedView::from).collect())
}

async fn load(tx: &mut Conn, actor: &Actor, id: uuid::Uuid) -> Result<CannedRow> {
    actor.require(Permission::UseCanned)?;
    match store::canned::find(tx, actor.workspace_id, id).await? {
        Some(c) if visible(actor, &c) => Ok(c),
        _ => Err(Error::NotFound),
    }
}

/// A canned response `actor` may use (404 otherwise).
pub async fn visible_to(tx: &mut Conn, actor: &Actor, id: uuid::Uuid) -> Result<CannedRow> {
    load(tx, actor, id).await
}

pub async fn get(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<CannedView> {
    let mut tx = store.read().await?;
    Ok(CannedView::from(&load(&mut tx, actor, id).await?))
}

pub async fn create(store: &Store, actor: &Actor, input: NewCanned) -> Result<CannedView> {
    actor.require(Permission::UseCanned)?;
    let shared = input
        .shared
        .unwrap_or_else(|| actor.can(Permission::ManageCanned));
    if shared {
        actor
            .require(Permission::ManageCanned)
            .map_err(|_| Error::forbidden("agents may only create personal canned responses"))?;
    }
    let mut errors = Vec::new();
    let title = validate::required_text("title", &input.title, 200)
        .map_err(|e| errors.push(e))
        .ok();
    let content = validate::required_text("content", &input.content, 64 * 1024)
        .and_then(|c| check_template("content", &c).map(|()| c))
        .map_err(|e| errors.push(e))
        .ok();
    let sc = input
        .shortcut
        .as_deref()
        .map(shortcut)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (Some(title), Some(content), true) = (title, content, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let mut tx = store.begin().await?;
    crate::workflow::categories::check_exists(&mut tx, actor.workspace_id, input.category_id)
        .await?;
    let now = now_micros();
    let row = CannedRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: actor.workspace_id,
        title,
        shortcut: sc,
        category_id: input.category_id,
        content,
        shared,
        owner_id: Some(actor.user_id),
        usage_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::canned::insert(&mut tx, &row).await?;
    let view = CannedView::from(&row);
    // Shared responses are the team's: their changes are administrative.
    if row.shared {
        crate::workspace::audit::record(
            &mut tx,
            actor,
            "canned_response.created",
            "canned_response",
            Some(row.id.to_string()),
            serde_json::to_value(&view).unwrap_or_default(),
        );
    }
    tx.commit().await?;
    Ok(view)
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: uuid::Uuid,
    patch: CannedPatch,
    if_match: Option<i64>,
) -> Result<CannedView> {
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor, id).await?;
    may_manage(actor, &row)?;
    let mut errors = Vec::new();
    if let Some(t) = &patch.title {
        match validate::required_text("title", t, 200) {
            Ok(t) => row.title = t,
            Err(e) => errors.push(e),
        }
    }
    if let Some(c) = &patch.content {
        match validate::required_text("content", c, 64 * 1024)
            .and_then(|c| check_template("content", &c).map(|()| c))
        {
            Ok(c) => row.content = c,
            Err(e) => errors.push(e),
        }
    }
    match &patch.shortcut {
        Patch::Absent => {}
        Patch::Null => row.shortcut = None,
        Patch::Value(s) => match shortcut(s) {
            Ok(s) => row.shortcut = Some(s),
            Err(e) => errors.push(e),
        },
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    // The body is checked first: a malformed change is refused whatever version it names.
    crate::tickets::service::check_version(if_match, row.version)?;
    match patch.category_id {
        Patch::Absent => {}
        Patch::Null => row.category_id = None,
        Patch::Value(c) => {
            crate::workflow::categories::check_exists(&mut tx, actor.workspace_id, Some(c)).await?;
            row.category_id = Some(c);
        }
    }
    if let Some(s) = patch.shared
        && s != row.shared
    {
        actor.require(Permission::ManageCanned).map_err(|_| {
            Error::forbidden("only admins and supervisors may share canned responses")
        })?;
        row.shared = s;
    }
    row.updated_at = now_micros();
    if !store::canned::update(&mut tx, &row).await? {
        return Err(Error::conflict(
            "the canned response was changed by someone else",
        ));
    }
    row.version += 1;
    let view = CannedView::from(&row);
    if row.shared {
        crate::workspace::audit::record(
            &mut tx,
            actor,
            "canned_response.updated",
            "canned_response",
            Some(row.id.to_string()),
            serde_json::to_value(&view).unwrap_or_default(),
        );
    }
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    let mut tx = store.begin().await?;
    let row = load(&mut tx, actor, id).await?;
    may_manage(actor, &row)?;
    store::canned::delete(&mut tx, actor.workspace_id, id).await?;
    if row.shared {
        crate::workspace::audit::record(
            &mut tx,
            actor,
            "canned_response.deleted",
            "canned_response",
            Some(id.to_string()),
            serde_json::json!({"title": row.title}),
        );
    }
    tx.commit().await
}

/// `POST …/:id/use`: counts one use.
pub async fn count_use(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<CannedView> {
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor, id).await?;
    row.usage_count = store::canned::count_use(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    Ok(CannedView::from(&row))
}

/// Fills a canned response for a ticket, as written by `agent` (name, email).
pub fn fill(c: &CannedRow, t: &TicketRow, agent_name: &str, agent_email: &str) -> String {
    render(
        &c.content,
        &Values {
            customer_name: &t.requester_name,
            ticket_number: &t.ticket_number,
            ticket_subject: &t.subject,
            agent_name,
            agent_email,
        },
    )
}

/// `POST …/:id/render {"ticket_id"}`: the content with the ticket's and caller's values.
pub async fn render_for(
    store: &Store,
    actor: &Actor,
    id: uuid::Uuid,
    ticket: &str,
) -> Result<String> {
    let mut tx = store.read().await?;
    let c = load(&mut tx, actor, id).await?;
    let t = crate::tickets::service::load(&mut tx, actor.workspace_id, ticket, false)
        .await
        .map_err(|_| Error::field("ticket_id", "no such ticket in this workspace"))?;
    Ok(fill(&c, &t, &actor.name, &actor.email))
}

/// A canned response of the workspace by id (automation).
pub async fn find(tx: &mut Tx, ws: WorkspaceId, id: uuid::Uuid) -> Result<Option<CannedRow>> {
    store::canned::find(tx, ws, id).await
}

#[cfg(test)]
mod tests {
    use super::{Values, check_template, render};

    fn values<'a>(customer: &'a str) -> Values<'a> {
        Values {
            customer_name: customer,
            ticket_number: "#1001",
            ticket_subject: "Printer {{jam}}",
            agent_name: "Ana",
            agent_email: "ana@example.com",
        }
    }

    #[test]
    fn fills_known_variables_with_spacing() {
        assert_eq!(
            render(
                "Hi {{customer_name}}, re {{ ticket_number }}: {{ticket_subject}} — {{agent_name}} <{{agent_email}}>",
                &values("Bo")
            ),
            "Hi Bo, re #1001: Printer {{jam}} — Ana <ana@example.com>"
        );
    }

    #[test]
    fn values_are_never_rendered_again() {
        assert_eq!(
            render("Dear {{customer_name}}", &values("{{agent_email}}")),
            "Dear {{agent_email}}"
        );
    }

    #[test]
    fn unclosed_braces_are_text_and_unknown_variables_are_refused() {
        assert_eq!(
            render("a {{ b and {{agent_name}} {{ x", &values("x")),
            "a {{ b and Ana {{ x"
        );
        assert!(check_template("content", "ok {{customer_name}} {{").is_ok());
        let e = check_template("content", "{{customer_name}} {{ password }}")
            .expect_err("unknown variable");
        assert!(e.message.contains("{{password}}"), "{}", e.message);
    }
}
