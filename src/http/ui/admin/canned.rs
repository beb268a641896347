//! Admin: canned responses.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use crate::app::AppState;
use crate::http::ui::{Staff, StaffForm, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

pub struct Canned {
    pub id: String,
    pub title: String,
    pub shortcut: String,
    pub content: String,
    pub shared: bool,
    pub usage: i64,
}

#[derive(Template)]
#[template(path = "admin/canned.html")]
pub(super) struct CannedPage {
    csrf: String,
    items: Vec<Canned>,
}

pub(super) async fn canned(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::canned::list(&app.store, &staff.actor, None, None).await?;
    let items = list
        .iter()
        .map(|c| Canned {
            id: c.id.to_string(),
            title: c.title.clone(),
            shortcut: c.shortcut.clone().unwrap_or_default(),
            content: c.content.clone(),
            shared: c.shared,
            usage: c.usage_count,
        })
        .collect();
    render(
        &staff,
        "canned",
        &q,
        &CannedPage {
            csrf: staff.csrf.clone(),
            items,
        },
    )
}

pub(super) async fn canned_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let form = &f.form;
    let new = crate::workflow::canned::NewCanned {
        title: field(form, "title").to_owned(),
        content: field(form, "content").to_owned(),
        shortcut: opt(form, "shortcut"),
        category_id: None,
        shared: Some(checked(form, "shared")),
    };
    crate::workflow::canned::create(&app.store, &f.staff.actor, new).await?;
    done(&headers, "canned", "saved")
}

pub(super) async fn canned_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    if field(&f.form, "action") == "delete" {
        crate::workflow::canned::delete(&app.store, &f.staff.actor, id).await?;
        return done(&headers, "canned", "deleted");
    }
    let form = &f.form;
    let patch = crate::workflow::canned::CannedPatch {
        title: Some(field(form, "title").to_owned()),
        content: Some(field(form, "content").to_owned()),
        shortcut: cleared(opt(form, "shortcut")),
        shared: Some(checked(form, "shared")),
        ..Default::default()
    };
    crate::workflow::canned::update(&app.store, &f.staff.actor, id, patch, None).await?;
    done(&headers, "canned", "saved")
}

// ------------------------------------------------------------------ automation rules
