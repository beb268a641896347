//! Editing a ticket's fields (`PATCH /api/tickets/:id`): every changed field is validated,
//! recorded in one `updated` timeline entry and published as one `ticket.updated` event.

use serde_json::json;

use super::{
    Author, apply_assignee, apply_status, authorize_assignment, check_group, check_version,
    custom_fields_json, links_json, load, publish, recompute_sla, record, reindex, save, tags,
};
use crate::auth::{Actor, Permission};
use crate::clock::now_micros;
use crate::error::{Error, Result};
use crate::store::tickets::TicketRow;
use crate::store::{self, Store};
use crate::tickets::model::{Links, Patch, TicketPatch};
use crate::validate;
use crate::workflow::rules::model::Trigger;

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
    let ws = actor.workspace_id;
    let old_tags = tags(&mut tx, &row).await?;
    let by = Author::user(actor);
    let mut errors = Vec::new();
    let mut changes = serde_json::Map::new();
    let mut needs_reindex = false;
    let touches_fields = patch.subject.is_some()
        || patch.description.is_some()
        || patch.kind.is_some()
        || !matches!(patch.category_id, Patch::Absent)
        || !matches!(patch.group_id, Patch::Absent)
        || patch.tags.is_some()
        || patch.custom_fields.is_some()
        || !matches!(patch.external_ref, Patch::Absent)
        || patch.links.is_some();
    if touches_fields {
        actor.require(Permission::ChangeStatus)?;
    }
    macro_rules! change {
        ($field:literal, $old:expr, $new:expr) => {{
            let (old, new) = ($old, $new);
            if old != new {
                changes.insert($field.into(), json!({"from": old, "to": new}));
                true
            } else {
                false
            }
        }};
    }
    if let Some(s) = &patch.subject {
        match validate::required_text("subject", s, 255) {
            Ok(s) => {
                if change!("subject", &row.subject, &s) {
                    row.subject = s;
                    needs_reindex = true;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(d) = &patch.description {
        match validate::required_text("description", d, 64 * 1024) {
            Ok(d) => {
                if change!("description", &row.description, &d) {
                    row.description = d;
                    needs_reindex = true;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(p) = patch.priority
        && row.priority != p
    {
        actor.require(Permission::ChangePriority)?;
        change!("priority", row.priority.as_str(), p.as_str());
        row.priority = p;
    }
    if let Some(k) = patch.kind
        && change!("kind", row.kind.as_str(), k.as_str())
    {
        row.kind = k;
    }
    match patch.category_id {
        Patch::Absent => {}
        Patch::Null => {
            if change!(
                "category_id",
                row.category_id,
                None::<crate::ids::CategoryId>
            ) {
                row.category_id = None;
            }
        }
        Patch::Value(c) => {
            if row.category_id != Some(c) {
                crate::workflow::categories::check_for_ticket(&mut tx, ws, c).await?;
            }
            if change!("category_id", row.category_id, Some(c)) {
                row.category_id = Some(c);
            }
        }
    }
    match patch.group_id {
        Patch::Absent => {}
        Patch::Null => {
            if change!("group_id", row.group_id, None::<crate::ids::GroupId>) {
                row.group_id = None;
            }
        }
        Patch::Value(g) => {
            check_group(&mut tx, ws, g).await?;
            if change!("group_id", row.group_id, Some(g)) {
                row.group_id = Some(g);
            }
        }
    }
    let mut new_tags = old_tags.clone();
    if let Some(t) = &patch.tags {
        match validate::tags(t) {
            Ok(t) => {
                if change!("tags", &old_tags, &t) {
                    new_tags = t;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(cf) = &patch.custom_fields {
        match custom_fields_json(cf) {
            Ok(s) => {
                let old: serde_json::Value =
                    serde_json::from_str(&row.custom_fields).unwrap_or_default();
                if change!(
                    "custom_fields",
                    &old,
                    &serde_json::Value::Object(cf.clone())
                ) {
                    row.custom_fields = s;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match &patch.external_ref {
        Patch::Absent => {}
        Patch::Null => {
            if change!("external_ref", &row.external_ref, &None::<String>) {
                row.external_ref = None;
            }
        }
        Patch::Value(s) => match validate::bounded("external_ref", s, 255) {
            Ok(s) => {
                if change!("external_ref", &row.external_ref, &Some(s.clone())) {
                    row.external_ref = Some(s);
                }
            }
            Err(e) => errors.push(e),
        },
    }
    if let Some(l) = &patch.links {
        match links_json(l) {
            Ok(s) => {
                let old: Links = serde_json::from_str(&row.links).unwrap_or_default();
                if change!("links", &old, l) {
                    row.links = s;
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    if !changes.is_empty() {
        // Priority, category and kind choose the policy: recompute the clocks.
        if changes.contains_key("priority") || changes.contains_key("category_id") {
            recompute_sla(&mut tx, &mut row, now_micros()).await?;
        }
        save(&mut tx, &mut row).await?;
        if new_tags != old_tags {
            store::tickets::set_tags(&mut tx, ws, row.id, &new_tags).await?;
        }
        record(
            &mut tx,
            &row,
            by,
            "updated",
            None,
            None,
            json!({"changes": changes}),
        )
        .await?;
        publish(
            &mut tx,
            &row,
            &new_tags,
            crate::tickets::events::DomainEvent::TicketUpdated,
            json!({"changes": changes}),
        )
        .await?;
    }
    if let Patch::Value(a) = patch.assignee_id {
        authorize_assignment(actor, row.assignee_id, Some(a))?;
        apply_assignee(&mut tx, &mut row, &new_tags, Some(a), by).await?;
    } else if let Patch::Null = patch.assignee_id {
        authorize_assignment(actor, row.assignee_id, None)?;
        apply_assignee(&mut tx, &mut row, &new_tags, None, by).await?;
    }
    if let Some(s) = patch.status {
        actor.require(Permission::ChangeStatus)?;
        apply_status(&mut tx, &mut row, &new_tags, s, by).await?;
    }
    if needs_reindex {
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
