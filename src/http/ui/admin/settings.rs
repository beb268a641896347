//! Admin: workspace, email and integration settings (secrets are write-only).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Permission;
use crate::error::Error;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

#[derive(Template)]
#[template(path = "admin/settings.html")]
pub(super) struct Settings {
    csrf: String,
    /// Every zone, with the workspace's selected.
    zones: Vec<(String, bool)>,
    /// Why mail would not go out, when it would not.
    mail_warning: Option<&'static str>,
    ws: crate::workspace::workspaces::WorkspaceSettings,
    email: crate::email::settings::EmailSettings,
    i: crate::integrations::settings::IntegrationsView,
    /// The three outbound endpoints as (field prefix, label, settings).
    endpoints: Vec<(
        &'static str,
        &'static str,
        crate::integrations::settings::EndpointView,
    )>,
}

pub(super) async fn settings(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    actor.require(Permission::ManageSettings)?;
    let ws = crate::workspace::workspaces::WorkspaceSettings::from(
        &crate::workspace::workspaces::get(&app.store, actor).await?,
    );
    let email = crate::email::settings::get(&app.store, actor).await?;
    let integrations = crate::integrations::settings::get(&app, actor).await?;
    let mail = crate::email::outbound::mail_state(&app, actor.workspace_id).await?;
    render(
        &staff,
        "settings",
        &q,
        &Settings {
            csrf: staff.csrf.clone(),
            mail_warning: mail.warning(),
            zones: time_zones(&ws.timezone),
            ws,
            email,
            endpoints: vec![
                ("rma", "CSP (RMA cases)", integrations.rma.clone()),
                ("task", "TMS (on-site tasks)", integrations.task.clone()),
                (
                    "crm",
                    "CRM note sync (HubSpot API)",
                    integrations.crm.clone(),
                ),
            ],
            i: integrations,
        },
    )
}

pub(super) async fn settings_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(part): Path<String>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    let form = &f.form;
    match part.as_str() {
        "workspace" => {
            let patch = crate::workspace::workspaces::SettingsPatch {
                name: Some(field(form, "name").to_owned()),
                ticket_number_format: Some(field(form, "ticket_number_format").to_owned()),
                support_email: opt(form, "support_email"),
                timezone: Some(field(form, "timezone").to_owned()),
                ticket_number_start: None,
            };
            crate::workspace::workspaces::update_settings(&app.store, actor, patch, None).await?;
        }
        "email" => {
            let poll = field(form, "poll_seconds").trim().parse::<u64>().ok();
            let input = crate::email::settings::EmailSettingsInput {
                support_address: opt(form, "support_address"),
                imap_url: opt(form, "imap_url"),
                imap_folder: opt(form, "imap_folder"),
                poll_seconds: poll,
                rotate_inbound_token: checked(form, "rotate_inbound_token"),
            };
            crate::email::settings::put(&app.store, actor, input).await?;
        }
        "integrations" => {
            // Secrets left empty keep their stored value (write-only fields).
            let mut patch = serde_json::Map::new();
            for (k, v) in form.iter().filter(|(k, _)| k.contains('.')) {
                let Some((section, name)) = k.split_once('.') else {
                    continue;
                };
                let entry = patch.entry(section.to_owned()).or_insert_with(|| json!({}));
                let value = match name {
                    "enabled" => json!(v == "on"),
                    _ if v.trim().is_empty() => continue,
                    _ => json!(v.trim()),
                };
                entry[name] = value;
            }
            for section in ["thulium", "wecom", "rma", "task", "crm"] {
                if let Some(s) = patch.get_mut(section)
                    && s.get("enabled").is_none()
                {
                    s["enabled"] = json!(false);
                }
            }
            crate::integrations::settings::put(&app, actor, Value::Object(patch)).await?;
        }
        _ => return Err(UiError(Error::NotFound)),
    }
    done(&headers, "settings", "saved")
}
