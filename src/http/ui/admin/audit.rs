//! `/admin/audit`: the audit log of administrative actions, newest first, filtered by action,
//! a page at a time.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};

use crate::app::AppState;
use crate::http::ui::{Staff, UiResult};

use super::render;

pub struct Entry {
    pub at: String,
    pub who: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub changes: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub(super) struct Audit {
    entries: Vec<Entry>,
    action: String,
    older: Option<String>,
}

pub(super) async fn audit(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let params: std::collections::HashMap<String, String> = q
        .iter()
        .filter(|(k, v)| ["action", "cursor"].contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (filter, limit) = crate::workspace::audit::query(&params)?;
    let page = crate::workspace::audit::page(&app.store, &staff.actor, filter, limit).await?;
    let action = params.get("action").cloned().unwrap_or_default();
    let older = page.next_cursor.map(|c| {
        serde_urlencoded::to_string([("action", action.as_str()), ("cursor", c.as_str())])
            .unwrap_or_default()
    });
    let body = Audit {
        entries: page
            .entries
            .into_iter()
            .map(|e| Entry {
                at: e.created_at,
                who: e.actor_name,
                address: e.address.unwrap_or_default(),
                action: e.action,
                target: match e.target_id {
                    Some(id) => format!("{} {id}", e.target_type),
                    None => e.target_type,
                },
                changes: e.changes.to_string(),
            })
            .collect(),
        action,
        older,
    };
    render(&staff, "audit", &q, &body)
}
