//! `/analytics`: the figures of the analytics API for supervisors and admins, with charts
//! drawn on the server (SVG), range and filter controls (a plain GET form), a CSV download and
//! a button that mails the daily queue report now.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::inbox::encode;
use crate::analytics::buckets::Interval;
use crate::analytics::{self, figures};
use crate::app::AppState;
use crate::auth::Permission;
use crate::error::Error;
use crate::http::ui::charts::{self, Point};
use crate::http::ui::{Staff, StaffForm, UiResult, go, page};
use crate::store;
use crate::tickets::status::{Channel, Priority, Role};

/// A headline figure.
pub struct Kpi {
    pub label: &'static str,
    pub value: String,
    pub note: String,
}

pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A table row of SLA figures.
pub struct SlaRow {
    pub name: String,
    pub tickets: i64,
    pub first: String,
    pub resolution: String,
    pub at_risk: i64,
}

pub struct AgentRow {
    pub name: String,
    pub assigned: i64,
    pub resolved: i64,
    pub replies: i64,
    pub first: String,
    pub resolution: String,
    pub csat: String,
}

pub struct CommentRow {
    pub number: String,
    pub id: String,
    pub rating: i64,
    pub comment: String,
}

#[derive(Template)]
#[template(path = "agent/analytics.html")]
pub(super) struct AnalyticsPage {
    me: String,
    csrf: String,
    can_admin: bool,
    errors: Vec<String>,
    notice: Option<String>,
    from: String,
    to: String,
    tz: String,
    channels: Vec<Opt>,
    priorities: Vec<Opt>,
    groups: Vec<Opt>,
    categories: Vec<Opt>,
    agents: Vec<Opt>,
    presets: Vec<(String, &'static str)>,
    export_csv: String,
    export_json: String,
    kpis: Vec<Kpi>,
    volume_svg: charts::Svg,
    interval: &'static str,
    status_svg: charts::Svg,
    category_svg: charts::Svg,
    channel_svg: charts::Svg,
    peak_svg: charts::Svg,
    sla_rows: Vec<SlaRow>,
    agent_rows: Vec<AgentRow>,
    csat_svg: charts::Svg,
    comments: Vec<CommentRow>,
    report_enabled: bool,
    report_hours: Vec<Opt>,
    report_tz: String,
    report_roles: Vec<Opt>,
    report_last: String,
}

/// "1 h 20 min", "3 d 4 h", "45 s", "—".
fn duration(secs: Option<i64>) -> String {
    match secs {
        None => "—".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min", s / 60),
        Some(s) if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        Some(s) => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{:.1} %", r * 100.0))
}

fn options(
    none: &str,
    items: impl Iterator<Item = (String, String)>,
    now: Option<&String>,
) -> Vec<Opt> {
    std::iter::once((String::new(), none.to_owned()))
        .chain(items)
        .map(|(value, label)| Opt {
            selected: now.is_some_and(|n| *n == value),
            value,
            label,
        })
        .collect()
}

/// The form's fields that the API reads, without empty ones.
fn api_params(q: &HashMap<String, String>) -> HashMap<String, String> {
    const KEYS: [&str; 8] = [
        "from",
        "to",
        "tz",
        "group_id",
        "category_id",
        "channel",
        "priority",
        "assignee_id",
    ];
    q.iter()
        .filter(|(k, v)| KEYS.contains(&k.as_str()) && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_owned()))
        .collect()
}

// Long: one page that gathers every figure and turns each into a chart or a table row.
pub(super) async fn analytics_page(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    actor.require(Permission::ViewTeamAnalytics)?;
    let mut params = api_params(&q);
    let mut errors = Vec::new();
    let req = match analytics::request(&app.store, actor, &params, &[]).await {
        Ok(r) => r,
        Err(Error::Validation(errs)) => {
            errors = errs
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            params.clear();
            analytics::request(&app.store, actor, &params, &[]).await?
        }
        Err(e) => return Err(e.into()),
    };
    let mut conn = app.store.read().await?;
    let memo = &mut figures::Memo::default();
    let o = figures::overview(&mut conn, &req, memo).await?;
    let days = (req.scope.to - req.scope.from) / 86_400_000_000;
    let interval = Interval::for_days(days);
    let v = figures::volume(&mut conn, &req, memo, interval).await?;
    let by_status = figures::distribution(&mut conn, &req, memo, "status").await?;
    let by_category = figures::distribution(&mut conn, &req, memo, "category").await?;
    let by_channel = figures::distribution(&mut conn, &req, memo, "channel").await?;
    let peak = figures::peak_hours(&mut conn, &req, memo).await?;
    let sla = crate::analytics::sla::detailed(&mut conn, &req, memo).await?;
    let agents = figures::agents(&mut conn, &req, memo, actor.user_id).await?;
    let csat = figures::csat_report(&mut conn, &req, memo).await?;
    let ws = actor.workspace_id;
    let report = analytics::report::settings(&app.store, actor).await?;
    let users = store::users::list(&mut conn, ws, 500, 0).await?.0;
    let groups = store::groups::list(&mut conn, ws).await?;
    let categories = store::categories::list(&mut conn, ws, false).await?;
    drop(conn);

    let local = |us: i64| {
        store::timestamp(us)
            .to_zoned(req.tz.clone())
            .date()
            .to_string()
    };
    let kpis = vec![
        Kpi {
            label: "Created",
            value: o.created.to_string(),
            note: "in the range".into(),
        },
        Kpi {
            label: "Solved",
            value: o.resolved.to_string(),
            note: "in the range".into(),
        },
        Kpi {
            label: "Backlog",
            value: o.backlog.to_string(),
            note: "open at the end".into(),
        },
        Kpi {
            label: "First response",
            value: duration(o.first_response.median_seconds),
            note: format!(
                "median · p90 {} · {} within SLA",
                duration(o.first_response.p90_seconds),
                percent(o.first_response.within_sla_rate)
            ),
        },
        Kpi {
            label: "Resolution",
            value: duration(o.resolution.median_seconds),
            note: format!(
                "median · p90 {} · {} within SLA",
                duration(o.resolution.p90_seconds),
                percent(o.resolution.within_sla_rate)
            ),
        },
        Kpi {
            label: "CSAT",
            value: o
                .csat
                .average
                .map_or_else(|| "—".into(), |a| format!("{a:.2} / 5")),
            note: format!("{} ratings", o.csat.count),
        },
        Kpi {
            label: "Reopened",
            value: o.reopened.to_string(),
            note: format!("{} of solved", percent(o.reopen_rate)),
        },
    ];
    let points: Vec<Point> = v
        .series
        .iter()
        .map(|p| Point {
            label: if interval == Interval::Hour {
                p.date.get(11..16).unwrap_or(&p.date).to_owned()
            } else {
                p.date.get(5..).unwrap_or(&p.date).to_owned()
            },
            created: p.created,
            resolved: p.resolved,
            backlog: p.backlog,
        })
        .collect();
    let pairs = |d: &figures::Distribution| -> Vec<(String, i64)> {
        d.buckets
            .iter()
            .take(12)
            .map(|b| (b.name.clone(), b.count))
            .collect()
    };
    let sla_row = |name: String, f: &crate::analytics::sla::SlaFigures| SlaRow {
        name,
        tickets: f.tickets,
        first: format!(
            "{} met · {} breached · {}",
            f.first_response.met,
            f.first_response.breached,
            percent(f.first_response.compliance_rate)
        ),
        resolution: format!(
            "{} met · {} breached · {}",
            f.resolution.met,
            f.resolution.breached,
            percent(f.resolution.compliance_rate)
        ),
        at_risk: f.first_response.at_risk + f.resolution.at_risk,
    };
    let mut sla_rows = vec![sla_row("All".into(), &sla.overall)];
    sla_rows.extend(sla.by_priority.iter().map(|p| {
        sla_row(
            Priority::parse(&p.priority).map_or_else(|| p.priority.clone(), Priority::label),
            &p.figures,
        )
    }));
    sla_rows.extend(sla.by_policy.iter().map(|p| {
        sla_row(
            format!("Policy: {} ({} time)", p.name, p.time_basis),
            &p.figures,
        )
    }));
    let query = encode(&{
        let mut k: Vec<(String, String)> =
            params.iter().map(|(a, b)| (a.clone(), b.clone())).collect();
        k.sort();
        k
    });
    let export = |format: &str| {
        if query.is_empty() {
            format!("/analytics/export?format={format}")
        } else {
            format!("/analytics/export?{query}&format={format}")
        }
    };
    let today = store::timestamp(req.now).to_zoned(req.tz.clone());
    let presets = [
        (7, "Last 7 days"),
        (30, "Last 30 days"),
        (90, "Last 90 days"),
        (365, "Last year"),
    ]
    .into_iter()
    .map(|(n, label)| {
        let from = today
            .checked_sub(jiff::ToSpan::days(n - 1))
            .map(|d| d.date().to_string())
            .unwrap_or_default();
        let q = encode(&[
            ("from".into(), from),
            ("to".into(), today.date().to_string()),
            ("tz".into(), req.tz_name.clone()),
        ]);
        (format!("/analytics?{q}"), label)
    })
    .collect();
    let csat_items: Vec<(String, i64)> = (1..=5)
        .rev()
        .map(|r| {
            (
                format!("{r} ★"),
                csat.distribution.get(&r.to_string()).copied().unwrap_or(0),
            )
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &AnalyticsPage {
            me: actor.name.clone(),
            csrf: staff.csrf.clone(),
            can_admin: actor.can(Permission::ReadSettings),
            errors,
            notice: q
                .get("sent")
                .map(|n| format!("The daily queue report was queued for {n} recipient(s)."))
                .or_else(|| {
                    q.get("saved")
                        .map(|_| "The report settings were saved.".to_owned())
                }),
            from: local(req.scope.from),
            to: local(req.scope.to - 1),
            tz: req.tz_name.clone(),
            channels: options(
                "Any channel",
                Channel::ALL
                    .iter()
                    .map(|c| (c.as_str().to_owned(), c.label())),
                params.get("channel"),
            ),
            priorities: options(
                "Any priority",
                Priority::ALL
                    .iter()
                    .rev()
                    .map(|p| (p.as_str().to_owned(), p.label())),
                params.get("priority"),
            ),
            groups: options(
                "Any group",
                groups.iter().map(|g| (g.id.0.to_string(), g.name.clone())),
                params.get("group_id"),
            ),
            categories: options(
                "Any category",
                categories
                    .iter()
                    .map(|c| (c.id.0.to_string(), c.name.clone())),
                params.get("category_id"),
            ),
            agents: options(
                "Anyone",
                users
                    .iter()
                    .filter(|u| u.role.can_be_assignee())
                    .map(|u| (u.id.0.to_string(), u.name.clone())),
                params.get("assignee_id"),
            ),
            presets,
            export_csv: export("csv"),
            export_json: export("json"),
            kpis,
            volume_svg: charts::volume("Created, solved and backlog", &points),
            interval: interval.as_str(),
            status_svg: charts::bars("Tickets by status", &pairs(&by_status), charts::COLOURS[0]),
            category_svg: charts::bars(
                "Tickets by category",
                &pairs(&by_category),
                charts::COLOURS[1],
            ),
            channel_svg: charts::bars(
                "Tickets by channel",
                &pairs(&by_channel),
                charts::COLOURS[2],
            ),
            peak_svg: charts::heatmap("Tickets by weekday and hour", &peak.heatmap),
            sla_rows,
            agent_rows: agents
                .agents
                .iter()
                .map(|a| AgentRow {
                    name: a.name.clone(),
                    assigned: a.assigned,
                    resolved: a.resolved,
                    replies: a.public_replies,
                    first: duration(a.first_response_median_seconds),
                    resolution: duration(a.resolution_median_seconds),
                    csat: a
                        .csat_average
                        .map_or_else(|| "—".into(), |x| format!("{x:.2} ({})", a.csat_count)),
                })
                .collect(),
            csat_svg: charts::bars("Ratings", &csat_items, charts::COLOURS[0]),
            comments: csat
                .comments
                .iter()
                .take(8)
                .map(|c| CommentRow {
                    number: c.ticket_number.clone(),
                    id: c.ticket_id.to_string(),
                    rating: c.rating,
                    comment: c.comment.clone(),
                })
                .collect(),
            report_enabled: report.daily_queue.enabled,
            report_hours: (0..24_u8)
                .map(|h| Opt {
                    value: h.to_string(),
                    label: format!("{h:02}:00"),
                    selected: h == report.daily_queue.hour,
                })
                .collect(),
            report_tz: report.daily_queue.timezone.clone().unwrap_or_default(),
            report_roles: [Role::Supervisor, Role::Admin, Role::Agent]
                .iter()
                .map(|r| Opt {
                    value: r.as_str().to_owned(),
                    label: format!("{}s", r.label()),
                    selected: report.daily_queue.roles.contains(r),
                })
                .collect(),
            report_last: report
                .last_sent_on
                .clone()
                .unwrap_or_else(|| "never".into()),
        },
    ))
}

/// Saves the daily queue report's settings from the page's form; a refused value comes back
/// as the page's error.
pub(super) async fn analytics_report_settings(
    State(app): State<AppState>,
    StaffForm { staff, form }: StaffForm<crate::http::ui::Fields>,
) -> UiResult {
    use crate::analytics::report::{DailyQueueSettings, ReportSettings};
    let field = |k: &str| crate::http::ui::field(&form, k).trim().to_owned();
    let roles: Vec<Role> = crate::http::ui::all(&form, "roles")
        .into_iter()
        .filter_map(Role::parse)
        .collect();
    let tz = field("timezone");
    let input = ReportSettings {
        daily_queue: DailyQueueSettings {
            enabled: field("enabled") == "1",
            hour: field("hour").parse().unwrap_or(u8::MAX),
            timezone: (!tz.is_empty()).then_some(tz),
            roles,
        },
        last_sent_on: None,
    };
    analytics::report::set_settings(&app.store, &staff.actor, input).await?;
    Ok(go(&axum::http::HeaderMap::new(), "/analytics?saved=1"))
}

/// The CSV (or JSON) download of the page's range and filters.
pub(super) async fn analytics_export(
    State(app): State<AppState>,
    staff: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> UiResult {
    let actor = &staff.actor;
    actor.require(Permission::ViewTeamAnalytics)?;
    let mut params = api_params(&q);
    if let Some(f) = q.get("format") {
        params.insert("format".into(), f.clone());
    }
    let req = analytics::request(&app.store, actor, &params, &["format"]).await?;
    Ok(crate::http::api::analytics::export_response(&app, actor, req).await?)
}

/// "Send the daily report now".
pub(super) async fn analytics_send_report(
    State(app): State<AppState>,
    StaffForm { staff, form }: StaffForm<HashMap<String, String>>,
) -> UiResult {
    let _ = form;
    let sent = analytics::report::send_now(&app.store, &staff.actor).await?;
    Ok(go(
        &axum::http::HeaderMap::new(),
        &format!("/analytics?sent={}", sent.recipients.len()),
    ))
}
