//! Staff users: admin CRUD; everyone may read the directory; an agent may set their own
//! availability. Deactivation keeps history and revokes the user's tokens.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission, password};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::ids::{GroupId, UserId};
use crate::store::users::UserRow;
use crate::store::{self, Store};
use crate::tickets::status::Role;
use crate::validate;

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: String,
    pub active: bool,
    pub available: bool,
    pub group_ids: Vec<GroupId>,
    pub version: i64,
    pub created_at: String,
}

impl UserView {
    #[must_use]
    pub fn new(u: &UserRow, group_ids: Vec<GroupId>) -> Self {
        UserView {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            active: u.active,
            available: u.available,
            group_ids,
            version: u.version,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// `POST /api/users` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// `PATCH /api/users/:id` body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
    pub active: Option<bool>,
    pub available: Option<bool>,
}

/// Creates a user in the actor's workspace (admin).
pub async fn create(store: &Store, actor: &Actor, input: NewUser) -> Result<UserRow> {
    actor.require(Permission::ManageUsers)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let email = validate::email("email", &input.email)
        .map_err(|e| errors.push(e))
        .ok();
    let name = validate::required_text("name", &input.name, 255)
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(Error::Validation(e)) = password::validate(&input.password) {
        errors.extend(e);
    }
    let (Some(email), Some(name)) = (email, name) else {
        return Err(Error::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let hash = password::hash(input.password).await?;
    let now = now_micros();
    let user = UserRow {
        id: UserId::new(),
        workspace_id: actor.workspace_id,
        email,
        name,
        role: input.role,
        password_hash: Some(hash),
        active: true,
        available: true,
        is_owner: false,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await?;
    store::users::insert(&mut tx, &user).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "user.created",
        "user",
        Some(user.id.to_string()),
        serde_json::json!({"email": user.email, "name": user.name, "role": user.role.as_str()}),
    );
    tx.commit().await?;
    Ok(user)
}

/// Updates a user. Admins may change anything (but not demote or deactivate themselves);
/// any user may change their own `available`, `name` and `password`. `current` is the session
/// or token the change is made with.
// Long: one partial update where each field has its own check (role, last admin, email
// uniqueness).
pub async fn update(
    store: &Store,
    actor: &Actor,
    id: UserId,
    patch: UserPatch,
    if_match: Option<i64>,
    current: Option<crate::ids::TokenId>,
) -> Result<UserRow> {
    let is_self = id == actor.user_id;
    let mut changes = serde_json::json!({
        "email": patch.email,
        "name": patch.name,
        "role": patch.role.map(|r| r.as_str()),
        "active": patch.active,
        "available": patch.available,
    });
    let admin = actor.can(Permission::ManageUsers);
    let admin_only = patch.email.is_some() || patch.role.is_some() || patch.active.is_some();
    if !admin && (!is_self || admin_only) {
        return Err(Error::forbidden(if is_self {
            "only admins may change email, role or active"
        } else {
            "only admins may change other users"
        }));
    }
    let mut tx = store.begin().await?;
    let mut u = store::users::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(v) = if_match.filter(|v| *v != u.version) {
        return Err(Error::Client(
            crate::error::Code::PreconditionFailed,
            format!("the user is at version {}, not {v}", u.version),
        ));
    }
    let mut errors = Vec::new();
    if let Some(e) = &patch.email {
        match validate::email("email", e) {
            Ok(e) => u.email = e,
            Err(e) => errors.push(e),
        }
    }
    if let Some(n) = &patch.name {
        match validate::required_text("name", n, 255) {
            Ok(n) => u.name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(r) = patch.role {
        if is_self && r != Role::Admin {
            errors.push(FieldError::new(
                "role",
                "you cannot remove your own admin role",
            ));
        }
        u.role = r;
    }
    if let Some(a) = patch.active {
        if is_self && !a {
            errors.push(FieldError::new("active", "you cannot deactivate yourself"));
        }
        u.active = a;
    }
    if let Some(a) = patch.available {
        u.available = a;
    }
    if let Some(p) = &patch.password
        && let Err(Error::Validation(e)) = password::validate(p)
    {
        errors.extend(e);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let password_changed = if let Some(p) = patch.password {
        u.password_hash = Some(password::hash(p).await?);
        true
    } else {
        false
    };
    u.updated_at = now_micros();
    if !store::users::update(&mut tx, &u).await? {
        return Err(Error::conflict("the user was changed by someone else"));
    }
    u.version += 1;
    // Deactivation ends every session; a new password ends every other one (a user changing
    // their own keeps the session they changed it in).
    if !u.active || password_changed {
        let keep = if is_self { current } else { None };
        store::tokens::revoke_all(&mut tx, actor.workspace_id, u.id, keep, now_micros()).await?;
    }
    changes["password_changed"] = serde_json::Value::Bool(password_changed);
    if let Some(m) = changes.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "user.updated",
        "user",
        Some(u.id.to_string()),
        changes,
    );
    tx.commit().await?;
    Ok(u)
}

/// One user of the workspace with their groups.
pub async fn get(store: &Store, actor: &Actor, id: UserId) -> Result<UserView> {
    actor.require(Permission::ReadUsers)?;
    let mut tx = store.read().await?;
    let u = store::users::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let groups = store::groups::of_user(&mut tx, actor.workspace_id, u.id).await?;
    Ok(UserView::new(&u, groups))
}

/// A page of users with their groups.
pub async fn list(
    store: &Store,
    actor: &Actor,
    limit: u64,
    offset: u64,
) -> Result<(Vec<UserView>, i64)> {
    actor.require(Permission::ReadUsers)?;
    let mut tx = store.read().await?;
    let (rows, total) = store::users::list(&mut tx, actor.workspace_id, limit, offset).await?;
    let members = store::groups::members(&mut tx, actor.workspace_id, None).await?;
    let views = rows
        .iter()
        .map(|u| {
            UserView::new(
                u,
                members
                    .iter()
                    .filter(|(_, m)| *m == u.id)
                    .map(|(g, _)| *g)
                    .collect(),
            )
        })
        .collect();
    Ok((views, total))
}
