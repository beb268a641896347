//! Admin: groups and their members, staff users with role, availability and status.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use crate::app::AppState;
use crate::http::ui::{Staff, StaffForm, UiError, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Every role, with whether it is this person's.
    pub roles: Vec<(&'static str, bool)>,
    pub active: bool,
    pub available: bool,
}

pub struct Team {
    pub id: String,
    pub name: String,
    pub description: String,
    pub members: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
pub(super) struct People {
    csrf: String,
    groups_page: bool,
    people: Vec<Person>,
    teams: Vec<Team>,
}

pub(super) async fn people(
    app: &AppState,
    staff: &Staff,
    groups_page: bool,
) -> Result<People, UiError> {
    let (users, _) = crate::workspace::users::list(&app.store, &staff.actor, 500, 0).await?;
    let groups = if groups_page {
        crate::workspace::groups::list(&app.store, &staff.actor).await?
    } else {
        vec![]
    };
    Ok(People {
        csrf: staff.csrf.clone(),
        groups_page,
        teams: groups
            .iter()
            .map(|g| Team {
                id: g.id.to_string(),
                name: g.name.clone(),
                description: g.description.clone(),
                members: users
                    .iter()
                    .map(|u| {
                        (
                            u.id.to_string(),
                            u.name.clone(),
                            g.member_ids.contains(&u.id),
                        )
                    })
                    .collect(),
            })
            .collect(),
        people: users
            .iter()
            .map(|u| Person {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                roles: crate::tickets::status::Role::ALL
                    .iter()
                    .map(|r| (r.as_str(), u.role == r.as_str()))
                    .collect(),
                active: u.active,
                available: u.available,
            })
            .collect(),
    })
}

pub(super) async fn groups(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let p = people(&app, &staff, true).await?;
    render(&staff, "groups", &q, &p)
}

pub(super) async fn users(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let p = people(&app, &staff, false).await?;
    render(&staff, "users", &q, &p)
}

pub(super) async fn group_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    id: Option<Path<crate::ids::GroupId>>,
    f: StaffForm<Fields>,
) -> UiResult {
    let (name, description) = (field(&f.form, "name"), field(&f.form, "description"));
    let member_ids = ids(&f.form, "member_ids")?;
    match id {
        Some(Path(id)) => {
            let patch = crate::workspace::groups::GroupPatch {
                name: Some(name.to_owned()),
                description: Some(description.to_owned()),
                member_ids: Some(member_ids),
            };
            crate::workspace::groups::update(&app.store, &f.staff.actor, id, patch).await?;
        }
        None => {
            let new = crate::workspace::groups::NewGroup {
                name: name.to_owned(),
                description: description.to_owned(),
                member_ids,
            };
            crate::workspace::groups::create(&app.store, &f.staff.actor, new).await?;
        }
    }
    done(&headers, "groups", "saved")
}

pub(super) async fn group_create(
    state: State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    group_save(state, headers, None, f).await
}

pub(super) async fn group_update(
    state: State<AppState>,
    headers: HeaderMap,
    id: Path<crate::ids::GroupId>,
    f: StaffForm<Fields>,
) -> UiResult {
    group_save(state, headers, Some(id), f).await
}

pub(super) async fn user_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let new = crate::workspace::users::NewUser {
        email: field(&f.form, "email").to_owned(),
        name: field(&f.form, "name").to_owned(),
        role: role(&f.form, "role")?,
        password: field(&f.form, "password").to_owned(),
    };
    crate::workspace::users::create(&app.store, &f.staff.actor, new).await?;
    done(&headers, "users", "saved")
}

pub(super) async fn user_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<crate::ids::UserId>,
    f: StaffForm<Fields>,
) -> UiResult {
    let patch = crate::workspace::users::UserPatch {
        role: Some(role(&f.form, "role")?),
        active: Some(checked(&f.form, "active")),
        available: Some(checked(&f.form, "available")),
        ..Default::default()
    };
    crate::workspace::users::update(
        &app.store,
        &f.staff.actor,
        id,
        patch,
        None,
        Some(f.staff.token_id),
    )
    .await?;
    done(&headers, "users", "saved")
}

// ------------------------------------------------------------------ SLA and business hours
