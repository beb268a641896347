//! Admin: categories (colour, parent, order, archive and restore).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use crate::app::AppState;
use crate::http::ui::{Staff, StaffForm, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

pub struct Cat {
    pub id: String,
    pub name: String,
    pub description: String,
    pub color: String,
    pub parent: String,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
pub(super) struct Categories {
    csrf: String,
    cats: Vec<Cat>,
}

pub(super) async fn categories(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::workflow::categories::list(&app.store, &staff.actor, true).await?;
    let name = |id: Option<crate::ids::CategoryId>| {
        id.and_then(|i| list.iter().find(|c| c.id == i))
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    let cats = list
        .iter()
        .map(|c| Cat {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            color: c.color.clone().unwrap_or_default(),
            parent: name(c.parent_id),
            archived: c.archived,
        })
        .collect();
    render(
        &staff,
        "categories",
        &q,
        &Categories {
            csrf: staff.csrf.clone(),
            cats,
        },
    )
}

pub(super) async fn category_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let new = crate::workflow::categories::NewCategory {
        name: field(&f.form, "name").to_owned(),
        description: field(&f.form, "description").to_owned(),
        color: opt(&f.form, "color"),
        parent_id: id(&f.form, "parent_id")?,
        position: None,
    };
    crate::workflow::categories::create(&app.store, &f.staff.actor, new).await?;
    done(&headers, "categories", "saved")
}

pub(super) async fn category_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<crate::ids::CategoryId>,
    f: StaffForm<Fields>,
) -> UiResult {
    let actor = &f.staff.actor;
    match field(&f.form, "action") {
        "archive" => crate::workflow::categories::archive(&app.store, actor, id).await?,
        "restore" => {
            crate::workflow::categories::update(
                &app.store,
                actor,
                id,
                crate::workflow::categories::CategoryPatch {
                    archived: Some(false),
                    ..Default::default()
                },
                None,
            )
            .await?;
        }
        dir @ ("up" | "down") => {
            let list = crate::workflow::categories::list(&app.store, actor, false).await?;
            let mut ids: Vec<crate::ids::CategoryId> = list.iter().map(|c| c.id).collect();
            if let Some(i) = ids.iter().position(|c| *c == id) {
                let j = if dir == "up" {
                    i.checked_sub(1)
                } else {
                    (i + 1 < ids.len()).then_some(i + 1)
                };
                if let Some(j) = j {
                    ids.swap(i, j);
                }
            }
            crate::workflow::categories::reorder(
                &app.store,
                actor,
                crate::workflow::categories::CategoryOrder { ids },
            )
            .await?;
        }
        _ => {
            let patch = crate::workflow::categories::CategoryPatch {
                name: Some(field(&f.form, "name").to_owned()),
                description: Some(field(&f.form, "description").to_owned()),
                color: cleared(opt(&f.form, "color")),
                parent_id: cleared(super::id(&f.form, "parent_id")?),
                ..Default::default()
            };
            crate::workflow::categories::update(&app.store, actor, id, patch, None).await?;
        }
    }
    done(&headers, "categories", "saved")
}

// ------------------------------------------------------------------ groups and users
