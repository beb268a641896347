//! Admin: webhooks (the secret shown once), the delivery log and redelivery.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::json;

use crate::app::AppState;
use crate::error::Error;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult, go};

use super::*;
use crate::http::ui::{Fields, all, field};

pub struct Hook {
    pub id: String,
    pub url: String,
    pub events: String,
    pub active: bool,
}

pub struct Delivery {
    pub id: String,
    pub event: String,
    pub status: String,
    pub attempts: String,
    pub code: String,
    pub error: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
pub(super) struct Hooks {
    csrf: String,
    hooks: Vec<Hook>,
    events: Vec<&'static str>,
    secret: Option<String>,
    log_for: Option<String>,
    deliveries: Vec<Delivery>,
}

pub(super) async fn webhooks(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::webhooks::list(&app, &staff.actor).await?;
    let log_for = q.get("log").and_then(|l| l.parse::<uuid::Uuid>().ok());
    let deliveries = match log_for {
        Some(id) => crate::webhooks::deliveries(&app, &staff.actor, id).await?,
        None => vec![],
    };
    let body = Hooks {
        csrf: staff.csrf.clone(),
        hooks: list
            .iter()
            .map(|h| Hook {
                id: h.id.to_string(),
                url: h.url.clone(),
                events: h.events.join(", "),
                active: h.active,
            })
            .collect(),
        events: crate::tickets::events::DomainEvent::catalog()
            .map(crate::tickets::events::DomainEvent::name)
            .collect(),
        secret: q.get("secret").cloned(),
        log_for: log_for.map(|l| l.to_string()),
        deliveries: deliveries
            .iter()
            .map(|d| Delivery {
                id: d.id.to_string(),
                event: d.event.clone(),
                status: d.status.clone(),
                attempts: d.attempts.to_string(),
                code: d.response_code.map(|c| c.to_string()).unwrap_or_default(),
                error: d.last_error.clone().unwrap_or_default(),
                at: d.created_at.clone(),
            })
            .collect(),
    };
    render(&staff, "webhooks", &q, &body)
}

pub(super) async fn webhook_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let v = json!({"url": field(&f.form, "url"), "events": all(&f.form, "events"), "include_internal": checked(&f.form, "include_internal")});
    let made = crate::webhooks::create(&app, &f.staff.actor, input(v)?).await?;
    // The signing secret is shown once, on the page that follows.
    let secret = made.secret.unwrap_or_default();
    let q = serde_urlencoded::to_string([("done", "saved"), ("secret", secret.as_str())])
        .unwrap_or_default();
    Ok(go(&headers, &format!("/admin/webhooks?{q}")))
}

pub(super) async fn webhook_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "delete" => {
            crate::webhooks::delete(&app, actor, id).await?;
            done(&headers, "webhooks", "deleted")
        }
        "redeliver" => {
            let d = field(&f.form, "delivery")
                .parse::<uuid::Uuid>()
                .map_err(|_| Error::field("delivery", "unknown delivery"))?;
            crate::webhooks::redeliver(&app, actor, id, d).await?;
            Ok(go(
                &headers,
                &format!("/admin/webhooks?log={id}&done=Queued%20for%20redelivery."),
            ))
        }
        _ => Err(UiError(Error::field("action", "unknown action"))),
    }
}

// ------------------------------------------------------------------ settings
