//! The admin pages: categories, groups, users, SLA policies and business hours (with a due-date
//! preview), canned responses, automation rules (a form that builds conditions and actions),
//! webhooks (with the delivery log and redelivery), and workspace, email and integration
//! settings. Forms post to the same domain services as the API, so the rules (validation,
//! roles) are the API's; a refused change comes back as a message on the page.

mod canned;
mod categories;
mod people;
mod rules;
mod settings;
mod sla;
mod webhooks;

use std::collections::BTreeMap;

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;

use super::{Staff, UiError, UiResult, go, page};
use crate::app::AppState;
use crate::error::Error;

use super::{Fields, field};
use canned::*;
use categories::*;
use people::*;
use rules::*;
use settings::*;
use sla::*;
use webhooks::*;

fn opt(f: &Fields, k: &str) -> Value {
    match field(f, k).trim() {
        "" => Value::Null,
        v => Value::String(v.to_owned()),
    }
}

fn checked(f: &Fields, k: &str) -> bool {
    matches!(field(f, k), "on" | "true" | "1")
}

/// Deserializes a JSON body built from a form into a domain input; shape errors are 422s.
fn input<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, UiError> {
    serde_json::from_value(v).map_err(|e| UiError(Error::field("form", e.to_string())))
}

/// One admin page: the section's tabs, flash messages, and its own HTML built by its template.
#[derive(Template)]
#[template(path = "admin/page.html")]
struct AdminPage {
    me: String,
    csrf: String,
    can_admin: bool,
    section: &'static str,
    notice: Option<String>,
    body: String,
}

fn render(
    staff: &Staff,
    section: &'static str,
    q: &BTreeMap<String, String>,
    body: &impl Template,
) -> UiResult {
    let body = body
        .render()
        .map_err(|e| UiError(Error::Internal(anyhow::anyhow!("template: {e}"))))?;
    Ok(page(
        StatusCode::OK,
        &AdminPage {
            me: staff.actor.name.clone(),
            csrf: staff.csrf.clone(),
            can_admin: true,
            section,
            notice: q.get("done").map(|d| match d.as_str() {
                "saved" => "Saved.".to_owned(),
                "deleted" => "Deleted.".to_owned(),
                other => other.chars().take(200).collect(),
            }),
            body,
        },
    ))
}

fn done(headers: &HeaderMap, section: &str, what: &str) -> UiResult {
    Ok(go(headers, &format!("/admin/{section}?done={what}")))
}

// ------------------------------------------------------------------ categories

async fn admin_home() -> impl IntoResponse {
    axum::response::Redirect::to("/admin/categories")
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin", get(admin_home))
        .route("/admin/categories", get(categories).post(category_create))
        .route("/admin/categories/{id}", post(category_update))
        .route("/admin/groups", get(groups).post(group_create))
        .route("/admin/groups/{id}", post(group_update))
        .route("/admin/users", get(users).post(user_create))
        .route("/admin/users/{id}", post(user_update))
        .route("/admin/sla", get(sla).post(sla_create))
        .route("/admin/sla/hours", post(hours_save))
        .route("/admin/sla/{id}", post(sla_update))
        .route("/admin/canned", get(canned).post(canned_create))
        .route("/admin/canned/{id}", post(canned_update))
        .route("/admin/rules", get(rules).post(rule_create))
        .route("/admin/rules/{id}", post(rule_update))
        .route("/admin/webhooks", get(webhooks).post(webhook_create))
        .route("/admin/webhooks/{id}", post(webhook_update))
        .route("/admin/settings", get(settings))
        .route("/admin/settings/{part}", post(settings_save))
}
