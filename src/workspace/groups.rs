//! Groups: teams of agents that tickets may be routed to. Admins write; staff read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, Result};
use crate::ids::{GroupId, UserId};
use crate::store::groups::GroupRow;
use crate::store::{self, Store, Tx};
use crate::validate;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub member_ids: Vec<UserId>,
    pub version: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub member_ids: Vec<UserId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub member_ids: Option<Vec<UserId>>,
}

fn view(g: &GroupRow, members: &[(GroupId, UserId)]) -> GroupView {
    GroupView {
        id: g.id,
        name: g.name.clone(),
        description: g.description.clone(),
        member_ids: members
            .iter()
            .filter(|(gid, _)| *gid == g.id)
            .map(|(_, u)| *u)
            .collect(),
        version: g.version,
        created_at: rfc3339(g.created_at),
    }
}

async fn check_members(tx: &mut Tx, actor: &Actor, ids: &[UserId]) -> Result<Vec<UserId>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    let found = store::users::many(tx, actor.workspace_id, &ids).await?;
    if found.len() != ids.len() {
        return Err(Error::field(
            "member_ids",
            "every member must be a user of this workspace",
        ));
    }
    Ok(ids)
}

pub async fn create(store: &Store, actor: &Actor, input: NewGroup) -> Result<GroupView> {
    actor.require(Permission::ManageGroups)?;
    let name = validate::required_text("name", &input.name, 100)
        .map_err(|e| Error::Validation(vec![e]))?;
    let description = validate::bounded("description", &input.description, 2000)
        .map_err(|e| Error::Validation(vec![e]))?;
    let mut tx = store.begin().await?;
    let members = check_members(&mut tx, actor, &input.member_ids).await?;
    let now = now_micros();
    let g = GroupRow {
        id: GroupId::new(),
        workspace_id: actor.workspace_id,
        name,
        description,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::groups::insert(&mut tx, &g).await?;
    store::groups::set_members(&mut tx, actor.workspace_id, g.id, &members).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "group.created",
        "group",
        Some(g.id.to_string()),
        serde_json::json!({"name": g.name, "member_ids": members}),
    );
    tx.commit().await?;
    Ok(view(
        &g,
        &members.into_iter().map(|u| (g.id, u)).collect::<Vec<_>>(),
    ))
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: GroupId,
    patch: GroupPatch,
) -> Result<GroupView> {
    actor.require(Permission::ManageGroups)?;
    let mut tx = store.begin().await?;
    let mut g = store::groups::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(n) = &patch.name {
        g.name = validate::required_text("name", n, 100).map_err(|e| Error::Validation(vec![e]))?;
    }
    if let Some(d) = &patch.description {
        g.description =
            validate::bounded("description", d, 2000).map_err(|e| Error::Validation(vec![e]))?;
    }
    g.updated_at = now_micros();
    if !store::groups::update(&mut tx, &g).await? {
        return Err(Error::conflict("the group was changed by someone else"));
    }
    g.version += 1;
    if let Some(m) = &patch.member_ids {
        let m = check_members(&mut tx, actor, m).await?;
        store::groups::set_members(&mut tx, actor.workspace_id, g.id, &m).await?;
    }
    let members = store::groups::members(&mut tx, actor.workspace_id, Some(&[g.id])).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "group.updated",
        "group",
        Some(g.id.to_string()),
        serde_json::json!({"name": g.name, "member_ids": patch.member_ids}),
    );
    tx.commit().await?;
    Ok(view(&g, &members))
}

pub async fn get(store: &Store, actor: &Actor, id: GroupId) -> Result<GroupView> {
    actor.require(Permission::ReadGroups)?;
    let mut tx = store.read().await?;
    let g = store::groups::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let members = store::groups::members(&mut tx, actor.workspace_id, Some(&[g.id])).await?;
    Ok(view(&g, &members))
}

pub async fn list(store: &Store, actor: &Actor) -> Result<Vec<GroupView>> {
    actor.require(Permission::ReadGroups)?;
    let mut tx = store.read().await?;
    let rows = store::groups::list(&mut tx, actor.workspace_id).await?;
    let members = store::groups::members(&mut tx, actor.workspace_id, None).await?;
    Ok(rows.iter().map(|g| view(g, &members)).collect())
}
