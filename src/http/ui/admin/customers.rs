//! `/admin/customers`: data subject requests. Find a customer, download everything held about
//! them (GDPR article 15), or erase them (article 17) after typing their email to confirm.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use crate::app::AppState;
use crate::error::Error;
use crate::http::ui::{Fields, Staff, StaffForm, UiError, UiResult, field};
use crate::ids::CustomerId;

use super::{done, render};

pub struct Row {
    pub id: String,
    pub name: String,
    pub email: String,
    pub created_at: String,
    pub erased_at: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/customers.html")]
pub(super) struct Customers {
    csrf: String,
    q: String,
    rows: Vec<Row>,
    total: i64,
}

pub(super) async fn customers(
    State(app): State<AppState>,
    staff: Staff,
    Query(params): Query<BTreeMap<String, String>>,
) -> UiResult {
    staff
        .actor
        .require(crate::auth::Permission::CustomerDataRights)?;
    let q = params
        .get("q")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let (found, total) =
        crate::workspace::customers::list(&app.store, &staff.actor, Some(&q), 50, 0).await?;
    let body = Customers {
        csrf: staff.csrf.clone(),
        rows: found
            .iter()
            .map(|c| Row {
                id: c.id.to_string(),
                name: c.name.clone(),
                email: c.email.clone(),
                created_at: crate::clock::rfc3339(c.created_at),
                erased_at: c.erased_at.map(crate::clock::rfc3339),
            })
            .collect(),
        q,
        total,
    };
    render(&staff, "customers", &params, &body)
}

/// The export as a downloaded JSON file.
pub(super) async fn customer_export(
    State(app): State<AppState>,
    staff: Staff,
    Path(id): Path<CustomerId>,
) -> Result<axum::response::Response, UiError> {
    let doc = crate::workspace::privacy::export(&app.store, &staff.actor, id, false).await?;
    let body = serde_json::to_vec_pretty(&doc).map_err(|e| UiError(Error::Internal(e.into())))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"customer-{}.json\"", id.0.simple()),
            ),
        ],
        body,
    )
        .into_response())
}

/// Erases the customer once the typed address matches theirs.
pub(super) async fn customer_erase(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<CustomerId>,
    f: StaffForm<Fields>,
) -> UiResult {
    f.staff
        .actor
        .require(crate::auth::Permission::CustomerDataRights)?;
    let c = crate::workspace::customers::get(&app.store, &f.staff.actor, id).await?;
    if !field(&f.form, "confirm")
        .trim()
        .eq_ignore_ascii_case(&c.email)
    {
        return Err(UiError(Error::field(
            "confirm",
            "type the customer's email address to confirm the erasure",
        )));
    }
    let r = crate::workspace::privacy::erase(&app, &f.staff.actor, id).await?;
    done(
        &headers,
        "customers",
        &format!(
            "Erased: {} tickets, {} messages, {} files.",
            r.tickets, r.comments, r.attachments
        ),
    )
}
