//! Editing a ticket's fields (`PATCH /api/tickets/:id`): every changed field is validated,
//! recorded in one `updated` timeline entry and published as one `ticket.updated` event.
//! Problems with several fields are reported together; a missing permission ends at once.

use serde::Serialize;
use serde_json::json;

use super::{
    Author, apply_assignee, apply_status, authorize_assignment, check_group, check_version,
    custom_fields_json, links_json, load, publish, recompute_sla, record, reindex, save, tags,
};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, FieldError, Result};
use crate::ids::{CategoryId, GroupId};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store, Tx};
use crate::tickets::events::DomainEvent;
use crate::tickets::model::{Links, Patch, TicketPatch};
use crate::validate;
use crate::workflow::rules::model::Trigger;

/// What a patch changed (`{"field": {"from", "to"}}`) and what was wrong with it.
#[derive(Default)]
struct Changes {
    changed: serde_json::Map<String, serde_json::Value>,
    errors: Vec<FieldError>,
    /// The subject or description changed: the search document must be rebuilt.
    reindex: bool,
}

impl Changes {
    /// Notes `field` as changed when `old` and `new` differ; says whether they did.
    fn note<T: PartialEq + Serialize + ?Sized>(&mut self, field: &str, old: &T, new: &T) -> bool {
        if old == new {
            return false;
        }
        self.changed
            .insert(field.into(), json!({"from": old, "to": new}));
        true
    }

    /// Keeps a valid value, or records its error.
    fn valid<T>(&mut self, r: std::result::Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }
}

/// `PATCH`/`PUT /api/tickets/:id`.
pub async fn update(
    store: &Store,
    actor: &Actor,
    key: &str,
    patch: TicketPatch,
    if_match: Option<i64>,
) -> Result<(TicketRow, Vec<String>)> {
    let mut tx = store.begin().await?;
    let mut row = load(&mut tx, actor.workspace_id, key, true).await?;
    check_version(if_match, row.version)?;
    let version_before = row.version;
    let old_tags = tags(&mut tx, &row).await?;
    let by = Author::user(actor);
    if touches_fields(&patch) {
        actor.require(Permission::ChangeStatus)?;
    }
    let mut c = Changes::default();
    edit_text(&mut row, &patch, &mut c);
    edit_priority_and_kind(actor, &mut row, &patch, &mut c)?;
    edit_category(&mut tx, &mut row, patch.category_id, &mut c).await?;
    edit_group(&mut tx, &mut row, patch.group_id, &mut c).await?;
    let mut new_tags = edit_extras(&mut row, &patch, &old_tags, &mut c);
    if !c.errors.is_empty() {
        return Err(Error::Validation(c.errors));
    }
    if !c.changed.is_empty() {
        save_changes(&mut tx, &mut row, by, &c.changed, &old_tags, &new_tags).await?;
    }
    match patch.assignee_id {
        Patch::Absent => {}
        Patch::Null => {
            authorize_assignment(actor, row.assignee_id, None)?;
            apply_assignee(&mut tx, &mut row, &new_tags, None, by).await?;
        }
        Patch::Value(a) => {
            authorize_assignment(actor, row.assignee_id, Some(a))?;
            apply_assignee(&mut tx, &mut row, &new_tags, Some(a), by).await?;
        }
    }
    if let Some(s) = patch.status {
        actor.require(Permission::ChangeStatus)?;
        apply_status(&mut tx, &mut row, &new_tags, s, by).await?;
    }
    if c.reindex {
        reindex(&mut tx, &row).await?;
    }
    if row.version != version_before {
        crate::workflow::rules::engine::run(
            &mut tx,
            Trigger::TicketUpdated,
            &mut row,
            &mut new_tags,
        )
        .await?;
    }
    tx.commit().await?;
    Ok((row, new_tags))
}

/// Whether the patch edits more than priority, assignee and status (which have their own
/// permissions).
fn touches_fields(patch: &TicketPatch) -> bool {
    patch.subject.is_some()
        || patch.description.is_some()
        || patch.kind.is_some()
        || !matches!(patch.category_id, Patch::Absent)
        || !matches!(patch.group_id, Patch::Absent)
        || patch.tags.is_some()
        || patch.custom_fields.is_some()
        || !matches!(patch.external_ref, Patch::Absent)
        || patch.links.is_some()
}

/// Subject and description.
fn edit_text(row: &mut TicketRow, patch: &TicketPatch, c: &mut Changes) {
    if let Some(s) = &patch.subject
        && let Some(s) = c.valid(validate::required_text("subject", s, 255))
        && c.note("subject", &row.subject, &s)
    {
        row.subject = s;
        c.reindex = true;
    }
    if let Some(d) = &patch.description
        && let Some(d) = c.valid(validate::required_text("description", d, 64 * 1024))
        && c.note("description", &row.description, &d)
    {
        row.description = d;
        c.reindex = true;
    }
}

/// Priority (its own permission) and kind.
fn edit_priority_and_kind(
    actor: &Actor,
    row: &mut TicketRow,
    patch: &TicketPatch,
    c: &mut Changes,
) -> Result<()> {
    if let Some(p) = patch.priority
        && row.priority != p
    {
        actor.require(Permission::ChangePriority)?;
        c.note("priority", row.priority.as_str(), p.as_str());
        row.priority = p;
    }
    if let Some(k) = patch.kind
        && c.note("kind", row.kind.as_str(), k.as_str())
    {
        row.kind = k;
    }
    Ok(())
}

/// The category: it must exist, live, in this workspace (a missing one is a 422 at once).
async fn edit_category(
    tx: &mut Tx,
    row: &mut TicketRow,
    to: Patch<CategoryId>,
    c: &mut Changes,
) -> Result<()> {
    let to = match to {
        Patch::Absent => return Ok(()),
        Patch::Null => None,
        Patch::Value(id) => {
            if row.category_id != Some(id) {
                crate::workflow::categories::check_for_ticket(tx, row.workspace_id, id).await?;
            }
            Some(id)
        }
    };
    if c.note("category_id", &row.category_id, &to) {
        row.category_id = to;
    }
    Ok(())
}

/// The group: it must exist in this workspace.
async fn edit_group(
    tx: &mut Tx,
    row: &mut TicketRow,
    to: Patch<GroupId>,
    c: &mut Changes,
) -> Result<()> {
    let to = match to {
        Patch::Absent => return Ok(()),
        Patch::Null => None,
        Patch::Value(id) => {
            check_group(tx, row.workspace_id, id).await?;
            Some(id)
        }
    };
    if c.note("group_id", &row.group_id, &to) {
        row.group_id = to;
    }
    Ok(())
}

/// Tags, custom fields, the external reference and the links; answers the tags after the
/// patch.
fn edit_extras(
    row: &mut TicketRow,
    patch: &TicketPatch,
    old_tags: &[String],
    c: &mut Changes,
) -> Vec<String> {
    let mut new_tags = old_tags.to_vec();
    if let Some(t) = &patch.tags
        && let Some(t) = c.valid(validate::tags(t))
        && c.note("tags", old_tags, &t)
    {
        new_tags = t;
    }
    if let Some(cf) = &patch.custom_fields
        && let Some(s) = c.valid(custom_fields_json(cf))
    {
        let old: serde_json::Value = serde_json::from_str(&row.custom_fields).unwrap_or_default();
        if c.note(
            "custom_fields",
            &old,
            &serde_json::Value::Object(cf.clone()),
        ) {
            row.custom_fields = s;
        }
    }
    match &patch.external_ref {
        Patch::Absent => {}
        Patch::Null => {
            if c.note("external_ref", &row.external_ref, &None) {
                row.external_ref = None;
            }
        }
        Patch::Value(s) => {
            if let Some(s) = c.valid(validate::bounded("external_ref", s, 255))
                && c.note("external_ref", &row.external_ref, &Some(s.clone()))
            {
                row.external_ref = Some(s);
            }
        }
    }
    if let Some(l) = &patch.links
        && let Some(s) = c.valid(links_json(l))
    {
        let old: Links = serde_json::from_str(&row.links).unwrap_or_default();
        if c.note("links", &old, l) {
            row.links = s;
        }
    }
    new_tags
}

/// Saves the changed fields (new SLA clocks when priority or category changed), the tags,
/// one `updated` timeline entry and one `ticket.updated` event.
async fn save_changes(
    tx: &mut Tx,
    row: &mut TicketRow,
    by: Author,
    changed: &serde_json::Map<String, serde_json::Value>,
    old_tags: &[String],
    new_tags: &[String],
) -> Result<()> {
    // Priority, category and kind choose the policy: recompute the clocks.
    if changed.contains_key("priority") || changed.contains_key("category_id") {
        recompute_sla(tx, row, now_micros()).await?;
    }
    save(tx, row).await?;
    if new_tags != old_tags {
        store::tickets::set_tags(tx, row.workspace_id, row.id, new_tags).await?;
    }
    let changes = json!({"changes": changed});
    record(tx, row, by, "updated", None, None, changes.clone()).await?;
    publish(tx, row, new_tags, DomainEvent::TicketUpdated, changes).await
}
