//! Admin: SLA policies with per-priority targets, business hours with a due-date preview.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;

use crate::app::AppState;
use crate::http::ui::{Staff, StaffForm, UiResult};

use super::*;
use crate::http::ui::{Fields, field};

pub struct Policy {
    pub id: String,
    pub name: String,
    pub first: String,
    pub resolution: String,
    pub business: bool,
    pub default: bool,
    pub risk: i64,
    pub overrides: Vec<(String, String, String)>,
    /// The conditions as pickers: (value, label, checked).
    pub priorities: Vec<(String, String, bool)>,
    pub categories: Vec<(String, String, bool)>,
    pub channels: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "admin/sla.html")]
pub(super) struct Sla {
    csrf: String,
    policies: Vec<Policy>,
    /// The pickers of the new-policy form (nothing checked, no overrides).
    blank: Policy,
    /// Every zone, with the hours' zone selected.
    zones: Vec<(String, bool)>,
    days: Vec<(String, String, String)>,
    holidays: String,
    preview_start: String,
    preview_hours: String,
    preview: Option<String>,
}

use crate::sla::calendar::DAYS as WEEK;

/// The priorities, most urgent first.
fn priorities() -> impl Iterator<Item = &'static str> {
    crate::tickets::status::Priority::ALL
        .iter()
        .rev()
        .map(|p| p.as_str())
}

/// A policy as its form shows it (`None`: the new-policy form).
fn policy_form(
    p: Option<&crate::sla::service::PolicyView>,
    cats: &[crate::workflow::categories::CategoryView],
) -> Policy {
    use crate::tickets::status::{Channel, Priority};
    let fmt = |h: f64| format!("{h}");
    let cond = p.map(|p| &p.conditions);
    Policy {
        id: p.map(|p| p.id.to_string()).unwrap_or_default(),
        name: p.map(|p| p.name.clone()).unwrap_or_default(),
        first: p.map(|p| fmt(p.first_response_hours)).unwrap_or_default(),
        resolution: p.map(|p| fmt(p.resolution_hours)).unwrap_or_default(),
        business: p.is_some_and(|p| p.business_hours_only),
        default: p.is_some_and(|p| p.is_default),
        risk: p.map_or(25, |p| p.at_risk_percent),
        overrides: priorities()
            .map(|k| {
                let o = p.and_then(|p| p.priority_overrides.get(k));
                (
                    k.to_owned(),
                    o.map(|o| fmt(o.first_response_hours)).unwrap_or_default(),
                    o.map(|o| fmt(o.resolution_hours)).unwrap_or_default(),
                )
            })
            .collect(),
        priorities: Priority::ALL
            .iter()
            .rev()
            .map(|x| {
                let on = cond.is_some_and(|c| c.priorities.contains(x));
                (x.as_str().to_owned(), x.label(), on)
            })
            .collect(),
        categories: cats
            .iter()
            .filter(|c| !c.archived || cond.is_some_and(|k| k.category_ids.contains(&c.id.0)))
            .map(|c| {
                let on = cond.is_some_and(|k| k.category_ids.contains(&c.id.0));
                (c.id.to_string(), c.name.clone(), on)
            })
            .collect(),
        channels: Channel::ALL
            .iter()
            .map(|x| {
                let on = cond.is_some_and(|c| c.channels.contains(x));
                (x.as_str().to_owned(), x.label(), on)
            })
            .collect(),
    }
}

pub(super) async fn sla(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> UiResult {
    let list = crate::sla::service::list(&app.store, &staff.actor).await?;
    let cats = crate::workflow::categories::list(&app.store, &staff.actor, true).await?;
    let hours = crate::sla::service::business_hours(&app.store, &staff.actor).await?;
    let preview = match (q.get("preview_start"), q.get("preview_hours")) {
        (Some(s), Some(h)) if !s.is_empty() && !h.is_empty() => Some(preview_due(&hours, s, h)),
        _ => None,
    };
    let day = |d: &str| -> (String, String) {
        use crate::sla::calendar::DaySpec;
        let first = match hours.schedule.get(d) {
            Some(Some(DaySpec::One(i))) => Some(i),
            Some(Some(DaySpec::Many(v))) => v.first(),
            _ => None,
        };
        first.map_or_else(Default::default, |i| (i.start.clone(), i.end.clone()))
    };
    let body = Sla {
        csrf: staff.csrf.clone(),
        policies: list.iter().map(|p| policy_form(Some(p), &cats)).collect(),
        blank: policy_form(None, &cats),
        zones: time_zones(&hours.timezone),
        days: WEEK
            .iter()
            .map(|d| {
                let (s, e) = day(d);
                ((*d).to_owned(), s, e)
            })
            .collect(),
        holidays: hours.holidays.join(", "),
        preview_start: q.get("preview_start").cloned().unwrap_or_default(),
        preview_hours: q.get("preview_hours").cloned().unwrap_or_default(),
        preview,
    };
    render(&staff, "sla", &q, &body)
}

/// When `hours` of business time after `start` ends under the saved calendar.
pub(super) fn preview_due(
    hours: &crate::sla::calendar::CalendarSpec,
    start: &str,
    h: &str,
) -> String {
    let Ok(cal) = crate::sla::calendar::Calendar::parse(hours) else {
        return "the business hours are not valid".into();
    };
    // A datetime-local field sends `YYYY-MM-DDTHH:MM` (read as UTC); full timestamps work too.
    let full = if start.len() == 16 {
        format!("{start}:00Z")
    } else {
        start.to_owned()
    };
    let Some(t) = crate::clock::parse_instant(&full) else {
        return "the start must be a date and time".into();
    };
    let Ok(h) = h.trim().parse::<f64>() else {
        return "the hours must be a number".into();
    };
    if !(0.0..=10_000.0).contains(&h) {
        return "the hours must be from 0 to 10000".into();
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded above")]
    let secs = (h * 3600.0).round() as i64;
    match cal.add(
        crate::store::timestamp(t),
        jiff::SignedDuration::from_secs(secs),
    ) {
        Some(due) => format!(
            "{h} business hours after {start} UTC end at {} ({})",
            due.to_zoned(cal.time_zone().clone())
                .strftime("%a %Y-%m-%d %H:%M %Z"),
            crate::clock::rfc3339(crate::store::micros(due))
        ),
        None => "no working time within three years".into(),
    }
}

/// The checked words of a group of checkboxes.
fn words<T>(f: &Fields, k: &'static str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, UiError> {
    crate::http::ui::all(f, k)
        .into_iter()
        .map(|w| parse(w).ok_or_else(|| UiError(Error::field(k, format!("unknown value `{w}`")))))
        .collect()
}

/// A policy from its form: the targets, a per-priority override where both its hours are
/// given, the conditions (checked priorities, categories, channels; none checked: any), the
/// switches and the at-risk percentage.
pub(super) fn policy_input(f: &Fields) -> Result<crate::sla::service::PolicyInput, UiError> {
    let hours = |k: &str| field(f, k).trim().parse::<f64>().ok();
    let priority_overrides = priorities()
        .filter_map(|p| {
            let first = hours(&format!("{p}_first"))?;
            let resolution = hours(&format!("{p}_resolution"))?;
            Some((
                p.to_owned(),
                crate::sla::service::TargetHours {
                    first_response_hours: first,
                    resolution_hours: resolution,
                },
            ))
        })
        .collect();
    Ok(crate::sla::service::PolicyInput {
        name: field(f, "name").to_owned(),
        first_response_hours: number(f, "first_response_hours")?,
        resolution_hours: number(f, "resolution_hours")?,
        priority_overrides,
        business_hours_only: checked(f, "business_hours_only"),
        is_default: checked(f, "is_default"),
        conditions: crate::sla::service::PolicyConditions {
            priorities: words(f, "priorities", crate::tickets::status::Priority::parse)?,
            category_ids: ids(f, "category_ids")?,
            channels: words(f, "channels", crate::tickets::status::Channel::parse)?,
        },
        at_risk_percent: field(f, "at_risk_percent").trim().parse::<i64>().ok(),
        position: None,
    })
}

pub(super) async fn sla_create(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    let p = policy_input(&f.form)?;
    crate::sla::service::create(&app.store, &f.staff.actor, &p).await?;
    done(&headers, "sla", "saved")
}

pub(super) async fn sla_update(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<uuid::Uuid>,
    f: StaffForm<Fields>,
) -> UiResult {
    if field(&f.form, "action") == "delete" {
        crate::sla::service::delete(&app.store, &f.staff.actor, id).await?;
        return done(&headers, "sla", "deleted");
    }
    let p = policy_input(&f.form)?;
    crate::sla::service::update(&app.store, &f.staff.actor, id, &p, None).await?;
    done(&headers, "sla", "saved")
}

pub(super) async fn hours_save(
    State(app): State<AppState>,
    headers: HeaderMap,
    f: StaffForm<Fields>,
) -> UiResult {
    use crate::sla::calendar::{CalendarSpec, DaySpec, IntervalSpec};
    let schedule = WEEK
        .iter()
        .map(|d| {
            let (s, e) = (
                field(&f.form, &format!("{d}_start")),
                field(&f.form, &format!("{d}_end")),
            );
            let day = (!s.is_empty() && !e.is_empty()).then(|| {
                DaySpec::One(IntervalSpec {
                    start: s.to_owned(),
                    end: e.to_owned(),
                })
            });
            ((*d).to_owned(), day)
        })
        .collect();
    let holidays = field(&f.form, "holidays")
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let spec = CalendarSpec {
        timezone: field(&f.form, "timezone").to_owned(),
        schedule,
        holidays,
    };
    crate::sla::service::set_business_hours(&app.store, &f.staff.actor, spec).await?;
    done(&headers, "sla", "saved")
}

// ------------------------------------------------------------------ canned responses
