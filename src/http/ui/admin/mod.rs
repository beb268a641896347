//! The admin pages: categories, groups, users, SLA policies and business hours (with a due-date
//! preview), canned responses, automation rules (a form that builds conditions and actions),
//! the knowledge base (article editor with preview and versions), webhooks (with the delivery
//! log and redelivery), and workspace, email and integration
//! settings. Forms post to the same domain services as the API, so the rules (validation,
//! roles) are the API's; a refused change comes back as a message on the page.

mod audit;
mod canned;
mod categories;
mod customers;
mod kb;
mod people;
mod rule_form;
mod rule_pickers;
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
use kb::*;
use people::*;
use rules::*;
use settings::*;
use sla::*;
use webhooks::*;

/// A text field, trimmed; `None` when left empty.
fn opt(f: &Fields, k: &str) -> Option<String> {
    Some(field(f, k).trim().to_owned()).filter(|v| !v.is_empty())
}

/// An optional field as a patch: empty clears, anything else sets.
fn cleared<T>(v: Option<T>) -> crate::tickets::model::Patch<T> {
    v.map_or(
        crate::tickets::model::Patch::Null,
        crate::tickets::model::Patch::Value,
    )
}

/// An id field; `None` when left empty, a 422 naming the field when it is not an id.
fn id<T: std::str::FromStr>(f: &Fields, k: &'static str) -> Result<Option<T>, UiError> {
    opt(f, k)
        .map(|v| v.parse::<T>())
        .transpose()
        .map_err(|_| UiError(Error::field(k, "is not a valid id")))
}

/// Every value of a repeated id field (checkboxes, multiple selects).
fn ids<T: std::str::FromStr>(f: &Fields, k: &'static str) -> Result<Vec<T>, UiError> {
    super::all(f, k)
        .iter()
        .map(|v| v.parse::<T>())
        .collect::<Result<_, _>>()
        .map_err(|_| UiError(Error::field(k, "is not a valid id")))
}

/// A number field (hours, percentages).
fn number<T: std::str::FromStr>(f: &Fields, k: &'static str) -> Result<T, UiError> {
    field(f, k)
        .trim()
        .parse::<T>()
        .map_err(|_| UiError(Error::field(k, "must be a number")))
}

/// The time zones to pick from (the bundled IANA database, sorted), with `current` marked;
/// a stored zone the database does not list is kept as the first choice.
fn time_zones(current: &str) -> Vec<(String, bool)> {
    let mut zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|z| z.as_str().to_owned())
        .collect();
    zones.sort();
    if !zones.iter().any(|z| z == current) {
        zones.insert(0, current.to_owned());
    }
    zones
        .into_iter()
        .map(|z| {
            let selected = z == current;
            (z, selected)
        })
        .collect()
}

/// A role picked in a form.
fn role(f: &Fields, k: &'static str) -> Result<crate::tickets::status::Role, UiError> {
    let r = crate::tickets::status::Role::parse(field(f, k));
    r.ok_or_else(|| {
        UiError(Error::field(
            k,
            format!(
                "must be one of: {}",
                crate::tickets::status::Role::expected()
            ),
        ))
    })
}

fn checked(f: &Fields, k: &str) -> bool {
    matches!(field(f, k), "on" | "true" | "1")
}

/// Reads the rule document the rule builder makes from its form rows: a rule's conditions and
/// actions are polymorphic, and the domain reads that one document (the API's) for both.
/// Shape errors are 422s.
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
        .route("/admin/kb", get(kb_list).post(kb_create))
        .route("/admin/kb/{id}", get(kb_edit).post(kb_save))
        .route("/admin/rules", get(rules).post(rule_create))
        .route("/admin/rules/{id}", post(rule_update))
        .route("/admin/webhooks", get(webhooks).post(webhook_create))
        .route("/admin/webhooks/{id}", post(webhook_update))
        .route("/admin/settings", get(settings))
        .route("/admin/audit", get(audit::audit))
        .route("/admin/customers", get(customers::customers))
        .route(
            "/admin/customers/{id}/export",
            get(customers::customer_export),
        )
        .route(
            "/admin/customers/{id}/erase",
            post(customers::customer_erase),
        )
        .route("/admin/settings/{part}", post(settings_save))
}
