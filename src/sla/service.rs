//! SLA policies and business hours: validation, storage and views (admin writes, supervisors
//! read).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::{Calendar, CalendarSpec};
use super::clock::{Conditions, Policy, Targets};
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::error::{Code, Error, FieldError, Result};
use crate::store::{self, Store, sla::SlaPolicyRow};
use crate::tickets::status::{Channel, Priority};
use crate::validate;

/// Targets of one priority.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetHours {
    pub first_response_hours: f64,
    pub resolution_hours: f64,
}

/// Which tickets a policy applies to; each list optional, all given must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConditions {
    #[serde(default)]
    pub priorities: Vec<Priority>,
    #[serde(default)]
    pub category_ids: Vec<uuid::Uuid>,
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// `POST`/`PUT /api/tickets/sla-policies` body (seed 003's shape plus `conditions`,
/// `at_risk_percent` and `position`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub name: String,
    pub first_response_hours: f64,
    pub resolution_hours: f64,
    /// Keys are priorities: `urgent`, `high`, `medium`, `low`.
    #[serde(default)]
    pub priority_overrides: BTreeMap<String, TargetHours>,
    #[serde(default)]
    pub business_hours_only: bool,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub conditions: PolicyConditions,
    pub at_risk_percent: Option<i64>,
    pub position: Option<i64>,
}

/// A policy as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub first_response_hours: f64,
    pub resolution_hours: f64,
    pub priority_overrides: BTreeMap<String, TargetHours>,
    pub business_hours_only: bool,
    pub is_default: bool,
    pub conditions: PolicyConditions,
    pub at_risk_percent: i64,
    pub position: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredOverride {
    first_response_minutes: i64,
    resolution_minutes: i64,
}

#[expect(
    clippy::cast_precision_loss,
    reason = "minutes of a target are far below 2^52"
)]
fn hours(minutes: i64) -> f64 {
    minutes as f64 / 60.0
}

/// Hours (fractions allowed) to whole minutes: more than zero, at most a year.
fn minutes(field: &str, h: f64, errors: &mut Vec<FieldError>) -> i64 {
    if !h.is_finite() || h <= 0.0 || h > 8760.0 {
        errors.push(FieldError::new(
            field,
            "must be more than 0 and at most 8760 hours",
        ));
        return 0;
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded to 8760 h above")]
    let m = (h * 60.0).round() as i64;
    m.max(1)
}

impl PolicyView {
    fn from_row(r: &SlaPolicyRow) -> Self {
        let overrides: BTreeMap<String, StoredOverride> =
            serde_json::from_str(&r.priority_overrides).unwrap_or_default();
        PolicyView {
            id: r.id,
            name: r.name.clone(),
            first_response_hours: hours(r.first_response_minutes),
            resolution_hours: hours(r.resolution_minutes),
            priority_overrides: overrides
                .into_iter()
                .map(|(k, o)| {
                    (
                        k,
                        TargetHours {
                            first_response_hours: hours(o.first_response_minutes),
                            resolution_hours: hours(o.resolution_minutes),
                        },
                    )
                })
                .collect(),
            business_hours_only: r.business_hours_only,
            is_default: r.is_default,
            conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
            at_risk_percent: r.at_risk_percent,
            position: r.position,
            version: r.version,
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// The clock's view of a stored policy.
#[must_use]
pub fn to_policy(r: &SlaPolicyRow) -> Policy {
    let overrides: BTreeMap<String, StoredOverride> =
        serde_json::from_str(&r.priority_overrides).unwrap_or_default();
    let conditions: PolicyConditions = serde_json::from_str(&r.conditions).unwrap_or_default();
    let target = |fr: i64, res: i64| Targets {
        first_response: jiff::SignedDuration::from_mins(fr),
        resolution: jiff::SignedDuration::from_mins(res),
    };
    Policy {
        id: r.id,
        position: r.position,
        is_default: r.is_default,
        base: target(r.first_response_minutes, r.resolution_minutes),
        overrides: overrides
            .iter()
            .filter_map(|(k, o)| {
                Some((
                    Priority::parse(k)?,
                    target(o.first_response_minutes, o.resolution_minutes),
                ))
            })
            .collect(),
        business_hours_only: r.business_hours_only,
        conditions: Conditions {
            priorities: conditions.priorities,
            category_ids: conditions.category_ids,
            channels: conditions.channels,
        },
        at_risk_percent: u8::try_from(r.at_risk_percent.clamp(1, 99)).unwrap_or(25),
    }
}

/// Validates an input into the stored fields of `row` (every problem reported at once).
fn apply(input: &PolicyInput, row: &mut SlaPolicyRow) -> Result<()> {
    let mut errors = Vec::new();
    match validate::required_text("name", &input.name, 100) {
        Ok(n) => row.name = n,
        Err(e) => errors.push(e),
    }
    row.first_response_minutes = minutes(
        "first_response_hours",
        input.first_response_hours,
        &mut errors,
    );
    row.resolution_minutes = minutes("resolution_hours", input.resolution_hours, &mut errors);
    let mut overrides = BTreeMap::new();
    for (key, t) in &input.priority_overrides {
        let Some(p) = Priority::parse(key) else {
            errors.push(FieldError::new(
                format!(
                    "priority_overrides.{}",
                    key.chars().take(20).collect::<String>()
                ),
                format!(
                    "is not a priority; expected one of: {}",
                    Priority::expected()
                ),
            ));
            continue;
        };
        let fr = minutes(
            &format!("priority_overrides.{p}.first_response_hours"),
            t.first_response_hours,
            &mut errors,
        );
        let res = minutes(
            &format!("priority_overrides.{p}.resolution_hours"),
            t.resolution_hours,
            &mut errors,
        );
        overrides.insert(
            p.as_str().to_owned(),
            StoredOverride {
                first_response_minutes: fr,
                resolution_minutes: res,
            },
        );
    }
    row.priority_overrides = serde_json::to_string(&overrides).unwrap_or_else(|_| "{}".into());
    if input.conditions.category_ids.len()
        + input.conditions.priorities.len()
        + input.conditions.channels.len()
        > 200
    {
        errors.push(FieldError::new("conditions", "at most 200 values"));
    }
    row.conditions = serde_json::to_string(&input.conditions).unwrap_or_else(|_| "{}".into());
    row.at_risk_percent = input.at_risk_percent.unwrap_or(25);
    if !(1..=99).contains(&row.at_risk_percent) {
        errors.push(FieldError::new("at_risk_percent", "must be from 1 to 99"));
    }
    row.position = input.position.unwrap_or(row.position);
    if !(0..=1_000_000).contains(&row.position) {
        errors.push(FieldError::new("position", "must be from 0 to 1000000"));
    }
    row.business_hours_only = input.business_hours_only;
    row.is_default = input.is_default;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// Policies of the workspace in evaluation order.
pub async fn list(store: &Store, actor: &Actor) -> Result<Vec<PolicyView>> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = store.read().await?;
    Ok(store::sla::list(&mut conn, actor.workspace_id)
        .await?
        .iter()
        .map(PolicyView::from_row)
        .collect())
}

pub async fn get(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<PolicyView> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = store.read().await?;
    store::sla::find(&mut conn, actor.workspace_id, id)
        .await?
        .map(|r| PolicyView::from_row(&r))
        .ok_or(Error::NotFound)
}

/// Creates a policy; a new default replaces the old one.
pub async fn create(store: &Store, actor: &Actor, input: &PolicyInput) -> Result<PolicyView> {
    actor.require(Permission::ManageSettings)?;
    let now = now_micros();
    let mut row = SlaPolicyRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: actor.workspace_id,
        name: String::new(),
        position: 0,
        is_default: false,
        first_response_minutes: 0,
        resolution_minutes: 0,
        priority_overrides: "{}".into(),
        business_hours_only: false,
        conditions: "{}".into(),
        at_risk_percent: 25,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    apply(input, &mut row)?;
    let mut tx = store.begin().await?;
    if row.is_default {
        store::sla::clear_default(&mut tx, actor.workspace_id, row.id, now).await?;
    }
    store::sla::insert(&mut tx, &row).await?;
    let view = PolicyView::from_row(&row);
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "sla_policy.created",
        "sla_policy",
        Some(row.id.to_string()),
        serde_json::to_value(&view).unwrap_or_default(),
    );
    super::engine::forget(store, actor.workspace_id);
    tx.commit().await?;
    Ok(view)
}

/// Replaces a policy.
pub async fn update(
    store: &Store,
    actor: &Actor,
    id: uuid::Uuid,
    input: &PolicyInput,
    if_match: Option<i64>,
) -> Result<PolicyView> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    let mut row = store::sla::find(&mut tx, actor.workspace_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    if let Some(v) = if_match.filter(|v| *v != row.version) {
        return Err(Error::Client(
            Code::PreconditionFailed,
            format!("the policy is at version {}, not {v}", row.version),
        ));
    }
    apply(input, &mut row)?;
    row.updated_at = now_micros();
    if row.is_default {
        store::sla::clear_default(&mut tx, actor.workspace_id, row.id, row.updated_at).await?;
    }
    if !store::sla::update(&mut tx, &row).await? {
        return Err(Error::conflict("the policy was changed by someone else"));
    }
    row.version += 1;
    let view = PolicyView::from_row(&row);
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "sla_policy.updated",
        "sla_policy",
        Some(id.to_string()),
        serde_json::to_value(&view).unwrap_or_default(),
    );
    super::engine::forget(store, actor.workspace_id);
    tx.commit().await?;
    Ok(view)
}

/// Deletes a policy; tickets keep their due dates until their clocks are next recomputed.
pub async fn delete(store: &Store, actor: &Actor, id: uuid::Uuid) -> Result<()> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    if !store::sla::delete(&mut tx, actor.workspace_id, id).await? {
        return Err(Error::NotFound);
    }
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "sla_policy.deleted",
        "sla_policy",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    super::engine::forget(store, actor.workspace_id);
    tx.commit().await
}

/// Monday to Friday, 09:00–17:00, in the workspace's zone: what a workspace has until an
/// admin sets its hours.
pub(crate) fn default_hours(timezone: &str) -> CalendarSpec {
    use super::calendar::{DAYS, DaySpec, IntervalSpec};
    let day = || {
        Some(DaySpec::One(IntervalSpec {
            start: "09:00".into(),
            end: "17:00".into(),
        }))
    };
    CalendarSpec {
        timezone: timezone.to_owned(),
        schedule: DAYS
            .iter()
            .enumerate()
            .map(|(i, d)| ((*d).to_owned(), if i < 5 { day() } else { None }))
            .collect(),
        holidays: Vec::new(),
    }
}

/// The workspace's business hours document (the default when none is set).
pub async fn business_hours(store: &Store, actor: &Actor) -> Result<CalendarSpec> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = store.read().await?;
    let (zone, doc) = store::sla::calendar_settings(&mut conn, actor.workspace_id)
        .await?
        .ok_or(Error::NotFound)?;
    match doc {
        Some(doc) => Ok(serde_json::from_str(&doc).map_err(anyhow::Error::from)?),
        None => Ok(default_hours(&zone)),
    }
}

/// Validates and stores the workspace's business hours.
pub async fn set_business_hours(
    store: &Store,
    actor: &Actor,
    spec: CalendarSpec,
) -> Result<CalendarSpec> {
    actor.require(Permission::ManageSettings)?;
    Calendar::parse(&spec).map_err(Error::Validation)?;
    let doc = serde_json::to_string(&spec).map_err(anyhow::Error::from)?;
    let mut tx = store.begin().await?;
    store::sla::set_business_hours(&mut tx, actor.workspace_id, &doc, now_micros()).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "business_hours.updated",
        "business_hours",
        None,
        serde_json::to_value(&spec).unwrap_or_default(),
    );
    tx.commit().await?;
    Ok(spec)
}

/// What to do to a ticket when one of its clocks turns at risk or breaches.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EscalationAction {
    /// Raise the priority one step (low → medium → high → urgent); the clocks keep the
    /// targets they had, so an escalation never re-breaches the ticket by itself.
    #[serde(default)]
    pub raise_priority: bool,
    /// Assign the ticket to this user (an active admin, supervisor or agent).
    #[serde(default)]
    pub assign_to: Option<crate::ids::UserId>,
    /// Add this tag.
    #[serde(default)]
    pub add_tag: Option<String>,
}

/// `GET/PUT /api/settings/sla-escalation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EscalationSettings {
    #[serde(default)]
    pub on_at_risk: EscalationAction,
    #[serde(default)]
    pub on_breach: EscalationAction,
}

/// The workspace's escalation settings (nothing happens until an admin sets them).
pub async fn escalation(store: &Store, actor: &Actor) -> Result<EscalationSettings> {
    actor.require(Permission::ReadSettings)?;
    let mut conn = store.read().await?;
    load_escalation(&mut conn, actor.workspace_id).await
}

/// Reads the settings for the scanner.
pub async fn load_escalation(
    tx: &mut store::Conn,
    ws: crate::ids::WorkspaceId,
) -> Result<EscalationSettings> {
    Ok(store::sla::escalation(tx, ws)
        .await?
        .and_then(|doc| serde_json::from_str(&doc).ok())
        .unwrap_or_default())
}

/// Validates and stores the escalation settings (admin).
pub async fn set_escalation(
    store: &Store,
    actor: &Actor,
    mut settings: EscalationSettings,
) -> Result<EscalationSettings> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = store.begin().await?;
    let mut errors = Vec::new();
    for (name, action) in [
        ("on_at_risk", &mut settings.on_at_risk),
        ("on_breach", &mut settings.on_breach),
    ] {
        if let Some(tag) = &action.add_tag {
            match validate::tag(tag) {
                Ok(t) => action.add_tag = Some(t),
                Err(e) => errors.push(FieldError::new(format!("{name}.add_tag"), e.message)),
            }
        }
        if let Some(user) = action.assign_to {
            let ok = store::users::find(&mut tx, actor.workspace_id, user)
                .await?
                .is_some_and(|u| u.active && u.role.can_be_assignee());
            if !ok {
                errors.push(FieldError::new(
                    format!("{name}.assign_to"),
                    "must be an active admin, supervisor or agent of this workspace",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let doc = serde_json::to_string(&settings).map_err(anyhow::Error::from)?;
    store::sla::set_escalation(&mut tx, actor.workspace_id, &doc, now_micros()).await?;
    crate::workspace::audit::record(
        &mut tx,
        actor,
        "sla_escalation.updated",
        "sla_escalation",
        None,
        serde_json::to_value(&settings).unwrap_or_default(),
    );
    tx.commit().await?;
    Ok(settings)
}
