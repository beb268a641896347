//! Categories (SPEC §5): admin CRUD, nesting, ordering, archive instead of delete.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Error, FieldError, Result};
use crate::ids::{CategoryId, WorkspaceId};
use crate::store::categories::CategoryRow;
use crate::store::{self, Conn, Store, Tx};
use crate::tickets::model::Patch;
use crate::validate;

/// Deepest nesting allowed (a root category is level 1).
const MAX_DEPTH: usize = 5;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CategoryView {
    pub id: CategoryId,
    pub name: String,
    pub description: String,
    pub color: Option<String>,
    pub parent_id: Option<CategoryId>,
    pub position: i64,
    pub archived: bool,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&CategoryRow> for CategoryView {
    fn from(c: &CategoryRow) -> Self {
        CategoryView {
            id: c.id,
            name: c.name.clone(),
            description: c.description.clone(),
            color: c.color.clone(),
            parent_id: c.parent_id,
            position: c.position,
            archived: c.archived,
            version: c.version,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `#RGB` or `#RRGGBB`.
    pub color: Option<String>,
    pub parent_id: Option<CategoryId>,
    /// Where it goes in the list; after the last one when absent.
    pub position: Option<i64>,
}

/// `PUT /api/tickets/categories/:id`: every field optional; `null` clears color or parent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub color: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_id: Patch<CategoryId>,
    pub position: Option<i64>,
    /// `false` restores an archived category.
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryOrder {
    pub ids: Vec<CategoryId>,
}

fn color(s: &str) -> Result<String, FieldError> {
    let hex = s.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(FieldError::new(
            "color",
            "must be a hex colour such as #1f6feb or #f80",
        ))
    }
}

fn name(s: &str) -> Result<String, FieldError> {
    validate::required_text("name", s.trim(), 100)
}

fn position(p: i64) -> Result<i64, FieldError> {
    if (0..=1_000_000).contains(&p) {
        Ok(p)
    } else {
        Err(FieldError::new("position", "must be from 0 to 1000000"))
    }
}

/// Checks that `parent` exists in the workspace and that setting it on `id` makes no cycle and
/// no tree deeper than [`MAX_DEPTH`].
async fn check_parent(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: Option<CategoryId>,
    parent: CategoryId,
) -> Result<()> {
    let mut depth = 1;
    let mut cur = Some(parent);
    while let Some(c) = cur {
        if Some(c) == id {
            return Err(Error::field(
                "parent_id",
                "a category cannot be nested inside itself or its own children",
            ));
        }
        let row = store::categories::find(tx, ws, c)
            .await?
            .ok_or_else(|| Error::field("parent_id", "no such category in this workspace"))?;
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(Error::field(
                "parent_id",
                format!("categories nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        cur = row.parent_id;
    }
    Ok(())
}

pub async fn list(
    store: &Store,
    actor: &Actor,
    include_archived: bool,
) -> Result<Vec<CategoryView>> {
    actor.require(Permission::ReadCategories)?;
    let mut tx = store.read().await?;
    let rows = store::categories::list(&mut tx, actor.workspace_id, include_archived).await?;
    Ok(rows.iter().map(CategoryView::from).collect())
}

pub async fn get(store: &Store, actor: &Actor, id: CategoryId) -> Result<CategoryView> {
    actor.require(Permission::ReadCategories)?;
    let mut tx = store.read().await?;
    store::categories::find(&mut tx, actor.workspace_id, id)
        .await?
        .map(|c| CategoryView::from(&c))
        .ok_or(Error::NotFound)
}

pub async fn create(store: &Store, actor: &Actor, input: NewCategory) -> Result<CategoryView> {
    actor.require(Permission::ManageSettings)?;
    let mut errors = Vec::new();
    let n = name(&input.name).map_err(|e| errors.push(e)).ok();
    let description = validate::bounded("description", &input.description, 2000)
        .map_err(|e| errors.push(e))
        .ok();
    let col = input
        .color
        .as_deref()
        .map(color)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let pos = input
        .position
        .map(position)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (Some(n), Some(description), true) = (n, description, errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    if let Some(p) = input.parent_id {
        check_parent(&mut tx, ws, None, p).await?;
    }
    let pos = match pos {
        Some(p) => p,
        None => store::categories::next_position(&mut tx, ws).await?,
    };
    let now = now_micros();
    let row = CategoryRow {
        id: CategoryId::new(),
        workspace_id: ws,
        name: n,
        description,
        color: col,
        parent_id: input.parent_id,
        position: pos,
        archived: false,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store::categories::insert(&mut tx, &row).await?;
    let view = CategoryView::from(&row);
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "category.created",
        "category",
        Some(row.id.0.to_string()),
        serde_json::to_value(&view).unwrap_or_default(),
    );
    tx.commit().await?;
    Ok(view)
}

pub async fn update(
    store: &Store,
    actor: &Actor,
    id: CategoryId,
    patch: CategoryPatch,
    if_match: Option<i64>,
) -> Result<CategoryView> {
    actor.require(Permission::ManageSettings)?;
    let ws = actor.workspace_id;
    let mut tx = store.begin().await?;
    let mut row = store::categories::find(&mut tx, ws, id)
        .await?
        .ok_or(Error::NotFound)?;
    crate::tickets::service::check_version(if_match, row.version)?;
    let mut errors = Vec::new();
    if let Some(n) = &patch.name {
        match name(n) {
            Ok(n) => row.name = n,
            Err(e) => errors.push(e),
        }
    }
    if let Some(d) = &patch.description {
        match validate::bounded("description", d, 2000) {
            Ok(d) => row.description = d,
            Err(e) => errors.push(e),
        }
    }
    match &patch.color {
        Patch::Absent => {}
        Patch::Null => row.color = None,
        Patch::Value(c) => match color(c) {
            Ok(c) => row.color = Some(c),
            Err(e) => errors.push(e),
        },
    }
    if let Some(p) = patch.position {
        match position(p) {
            Ok(p) => row.position = p,
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    match patch.parent_id {
        Patch::Absent => {}
        Patch::Null => row.parent_id = None,
        Patch::Value(p) => {
            check_parent(&mut tx, ws, Some(id), p).await?;
            row.parent_id = Some(p);
        }
    }
    if let Some(a) = patch.archived {
        row.archived = a;
    }
    row.updated_at = now_micros();
    if !store::categories::update(&mut tx, &row).await? {
        return Err(Error::conflict("the category was changed by someone else"));
    }
    row.version += 1;
    let view = CategoryView::from(&row);
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "category.updated",
        "category",
        Some(row.id.0.to_string()),
        serde_json::to_value(&view).unwrap_or_default(),
    );
    tx.commit().await?;
    Ok(view)
}

/// `DELETE`: archives. Tickets keep the category; it leaves pickers and default lists.
pub async fn archive(store: &Store, actor: &Actor, id: CategoryId) -> Result<()> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    let mut row = store::categories::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    if row.archived {
        return Ok(());
    }
    row.archived = true;
    row.updated_at = now_micros();
    if !store::categories::update(&mut tx, &row).await? {
        return Err(Error::conflict("the category was changed by someone else"));
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "category.archived",
        "category",
        Some(id.0.to_string()),
        serde_json::json!({"name": row.name}),
    );
    tx.commit().await
}

/// `PUT …/order {"ids"}`: the listed categories take positions 0, 1, 2…; the others follow in
/// their previous order.
pub async fn reorder(
    store: &Store,
    actor: &Actor,
    order: CategoryOrder,
) -> Result<Vec<CategoryView>> {
    actor.require(Permission::ManageSettings)?;
    let ws = actor.workspace_id;
    let mut seen = std::collections::HashSet::new();
    if order.ids.iter().any(|i| !seen.insert(*i)) {
        return Err(Error::field("ids", "an id is listed twice"));
    }
    let mut tx = store.begin().await?;
    let all = store::categories::list(&mut tx, ws, true).await?;
    if let Some(missing) = order.ids.iter().find(|i| !all.iter().any(|c| c.id == **i)) {
        return Err(Error::field(
            "ids",
            format!("no category {missing} in this workspace"),
        ));
    }
    let rest = all.iter().filter(|c| !seen.contains(&c.id)).map(|c| c.id);
    let now = now_micros();
    for (pos, id) in order.ids.iter().copied().chain(rest).enumerate() {
        let pos = i64::try_from(pos).unwrap_or(i64::MAX);
        if all.iter().any(|c| c.id == id && c.position != pos) {
            store::categories::set_position(&mut tx, ws, id, pos, now);
        }
    }
    let rows = store::categories::list(&mut tx, ws, true).await?;
    tx.commit().await?;
    Ok(rows.iter().map(CategoryView::from).collect())
}

/// Checks a category given to a canned response or an article: when one is given, it must
/// exist in the workspace (archived ones included).
pub async fn check_exists(tx: &mut Conn, ws: WorkspaceId, id: Option<CategoryId>) -> Result<()> {
    if let Some(id) = id
        && store::categories::find(tx, ws, id).await?.is_none()
    {
        return Err(Error::field(
            "category_id",
            "no such category in this workspace",
        ));
    }
    Ok(())
}

/// Checks a category given to a ticket: it must exist in the workspace and, when newly set,
/// not be archived.
pub async fn check_for_ticket(tx: &mut Conn, ws: WorkspaceId, id: CategoryId) -> Result<()> {
    match store::categories::find(tx, ws, id).await? {
        None => Err(Error::field(
            "category_id",
            "no such category in this workspace",
        )),
        Some(c) if c.archived => Err(Error::field("category_id", "the category is archived")),
        Some(_) => Ok(()),
    }
}
