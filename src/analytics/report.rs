//! The daily queue report (seed 000: supervisors "run daily queue reports"): the queue as it
//! stands — open tickets by priority and group, breached and at-risk clocks, the oldest
//! unassigned tickets — with yesterday's created and solved counts and the week's CSAT,
//! mailed to the workspace's supervisors.
//!
//! A periodic scan sends it once a day at the configured local hour: it claims the day in
//! `report_runs` (primary key per workspace, report and day) in the transaction that queues
//! the mails, so however many nodes scan at once, one of them sends it. The mails are
//! notifications, delivered (and retried) by the outbox like every other mail.

use jiff::ToSpan;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::figures::Outcome;
use super::stats::average;
use crate::auth::{Actor, Permission};
use crate::error::{Error, FieldError, Result};
use crate::html::text_to_html as esc;
use crate::ids::WorkspaceId;
use crate::store::analytics::{self as reads, Fact, Scope};
use crate::store::tickets::TicketFilter;
use crate::store::{self, Conn, Store, Tx, timestamp};
use crate::tickets::status::{Priority, Role};

/// The name of the daily queue report in `report_runs` and of its mail template.
pub const DAILY_QUEUE: &str = "daily_queue_report";

/// Settings of the daily queue report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DailyQueueSettings {
    /// Whether the report is mailed every day.
    #[serde(default)]
    pub enabled: bool,
    /// The local hour (0–23) it goes out at.
    #[serde(default = "default_hour")]
    #[schema(minimum = 0, maximum = 23)]
    pub hour: u8,
    /// IANA zone of that hour; `null`: the zone of the business hours.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Which staff roles receive it.
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
}

fn default_hour() -> u8 {
    8
}

fn default_roles() -> Vec<Role> {
    vec![Role::Supervisor]
}

impl Default for DailyQueueSettings {
    fn default() -> Self {
        DailyQueueSettings {
            enabled: false,
            hour: default_hour(),
            timezone: None,
            roles: default_roles(),
        }
    }
}

/// `GET/PUT /api/settings/reports`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    #[serde(default)]
    pub daily_queue: DailyQueueSettings,
    /// The last day (local date) the report went out on schedule; read-only (accepted and
    /// ignored on input, so a document read can be sent back).
    #[serde(default)]
    pub last_sent_on: Option<String>,
}

fn parse_settings(doc: Option<&str>) -> ReportSettings {
    doc.and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// The report settings of the actor's workspace.
pub async fn settings(store: &Store, actor: &Actor) -> Result<ReportSettings> {
    actor.require(Permission::ViewTeamAnalytics)?;
    let mut conn = store.read().await?;
    let mut s = parse_settings(
        reads::report_settings(&mut conn, actor.workspace_id)
            .await?
            .as_deref(),
    );
    s.last_sent_on = reads::last_report_day(&mut conn, actor.workspace_id, DAILY_QUEUE).await?;
    Ok(s)
}

/// Replaces the report settings; every problem is reported at once.
pub async fn set_settings(
    store: &Store,
    actor: &Actor,
    input: ReportSettings,
) -> Result<ReportSettings> {
    actor.require(Permission::ViewTeamAnalytics)?;
    let d = &input.daily_queue;
    let mut errors = Vec::new();
    if d.hour > 23 {
        errors.push(FieldError::new(
            "daily_queue.hour",
            "must be an hour from 0 to 23",
        ));
    }
    if let Some(tz) = &d.timezone
        && TimeZone::get(tz).is_err()
    {
        errors.push(FieldError::new(
            "daily_queue.timezone",
            format!("`{tz}` is not an IANA time zone (such as Europe/Warsaw)"),
        ));
    }
    if d.enabled && d.roles.is_empty() {
        errors.push(FieldError::new(
            "daily_queue.roles",
            "name at least one role to send the report to",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let stored = ReportSettings {
        daily_queue: DailyQueueSettings {
            roles: {
                let mut r = d.roles.clone();
                r.dedup();
                r
            },
            ..d.clone()
        },
        last_sent_on: None,
    };
    let doc = serde_json::to_string(&stored).map_err(anyhow::Error::from)?;
    let mut tx = store.begin().await?;
    reads::set_report_settings(&mut tx, actor.workspace_id, &doc).await?;
    tx.commit().await?;
    settings(store, actor).await
}

/// Open tickets of one group.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupCount {
    pub group_id: Option<uuid::Uuid>,
    pub name: String,
    pub count: i64,
}

/// An unassigned ticket waiting in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Waiting {
    pub ticket_id: uuid::Uuid,
    pub ticket_number: String,
    pub subject: String,
    pub priority: String,
    pub created_at: String,
    pub age_hours: i64,
}

/// The daily queue report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DailyQueueReport {
    pub workspace: String,
    /// The local date the report is for ("yesterday" is the day before).
    pub date: String,
    pub timezone: String,
    pub generated_at: String,
    pub open_total: i64,
    /// Open tickets (new, open, pending) by priority, most urgent first.
    pub open_by_priority: Vec<(String, i64)>,
    pub open_by_group: Vec<GroupCount>,
    /// Open tickets with a clock past its due time.
    pub breached: i64,
    /// Open tickets with a clock past its at-risk instant, not yet due.
    pub at_risk: i64,
    pub unassigned: i64,
    /// The ten oldest unassigned open tickets.
    pub oldest_unassigned: Vec<Waiting>,
    pub yesterday_created: i64,
    pub yesterday_resolved: i64,
    /// Ratings of the tickets created in the last seven days.
    pub csat_average: Option<f64>,
    pub csat_count: i64,
}

fn breached_or_risk(f: &Fact, now: i64) -> (bool, bool) {
    let a = f.first_response_outcome(now);
    let b = f.resolution_outcome(now);
    let breached = a == Outcome::Breached || b == Outcome::Breached;
    (
        breached,
        !breached && (a == Outcome::AtRisk || b == Outcome::AtRisk),
    )
}

/// Builds the report of `ws` as of `now`, with days in `tz`.
pub async fn build(
    conn: &mut Conn,
    ws: WorkspaceId,
    tz: &TimeZone,
    tz_name: &str,
    now: i64,
) -> Result<DailyQueueReport> {
    let workspace = store::workspaces::find(conn, ws)
        .await?
        .ok_or(Error::NotFound)?;
    let open = reads::unsolved(conn, ws, &TicketFilter::default()).await?;
    let today = timestamp(now).to_zoned(tz.clone());
    let midnight = today.start_of_day().map_err(anyhow::Error::from)?;
    let yesterday = midnight.checked_sub(1.day()).map_err(anyhow::Error::from)?;
    let week_ago = midnight
        .checked_sub(7.days())
        .map_err(anyhow::Error::from)?;
    let scope = |from: &jiff::Zoned, to: &jiff::Zoned| Scope {
        ws,
        filter: TicketFilter::default(),
        from: from.timestamp().as_microsecond(),
        to: to.timestamp().as_microsecond(),
    };
    let day = scope(&yesterday, &midnight);
    let yesterday_created = i64::try_from(reads::facts(conn, &day).await?.len()).unwrap_or(0);
    let yesterday_resolved = i64::try_from(reads::solved(conn, &day).await?.len()).unwrap_or(0);
    let week = reads::facts(conn, &scope(&week_ago, &today)).await?;
    let ratings: Vec<i64> = week.iter().filter_map(|f| f.satisfaction_rating).collect();
    let names = super::figures::names(conn, ws).await?;

    let mut by_group: std::collections::BTreeMap<Option<uuid::Uuid>, i64> = Default::default();
    let (mut breached, mut at_risk) = (0, 0);
    for f in &open {
        *by_group.entry(f.group_id.map(|g| g.0)).or_default() += 1;
        let (b, r) = breached_or_risk(f, now);
        breached += i64::from(b);
        at_risk += i64::from(r);
    }
    let mut open_by_group: Vec<GroupCount> = by_group
        .into_iter()
        .map(|(id, count)| GroupCount {
            group_id: id,
            name: id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "No group".to_owned()),
            count,
        })
        .collect();
    open_by_group.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let mut waiting: Vec<&Fact> = open.iter().filter(|f| f.assignee_id.is_none()).collect();
    waiting.sort_by_key(|f| f.created_at);
    let ids: Vec<_> = waiting.iter().take(10).map(|f| f.id).collect();
    let mut subjects = std::collections::HashMap::new();
    for id in &ids {
        if let Some(t) = store::tickets::find(conn, ws, *id, false).await? {
            subjects.insert(*id, t.subject);
        }
    }
    let oldest_unassigned = waiting
        .iter()
        .take(10)
        .map(|f| Waiting {
            ticket_id: f.id.0,
            ticket_number: f.ticket_number.clone(),
            subject: subjects.remove(&f.id).unwrap_or_default(),
            priority: f.priority.as_str().to_owned(),
            created_at: crate::clock::rfc3339(f.created_at),
            age_hours: (now - f.created_at) / 3_600_000_000,
        })
        .collect();
    let csat_count = i64::try_from(ratings.len()).unwrap_or(0);
    Ok(DailyQueueReport {
        workspace: workspace.name,
        date: today.date().to_string(),
        timezone: tz_name.to_owned(),
        generated_at: crate::clock::rfc3339(now),
        open_total: i64::try_from(open.len()).unwrap_or(0),
        open_by_priority: Priority::ALL
            .iter()
            .rev()
            .map(|p| {
                (
                    p.as_str().to_owned(),
                    open.iter().filter(|f| f.priority == *p).count() as i64,
                )
            })
            .collect(),
        open_by_group,
        breached,
        at_risk,
        unassigned: i64::try_from(waiting.len()).unwrap_or(0),
        oldest_unassigned,
        yesterday_created,
        yesterday_resolved,
        csat_average: average(ratings.iter().sum(), csat_count),
        csat_count,
    })
}

/// The zone of a workspace's report: the settings' zone, else that of the business hours.
async fn zone_of(
    store: &Store,
    ws: WorkspaceId,
    s: &DailyQueueSettings,
) -> Result<(TimeZone, String)> {
    let name = match &s.timezone {
        Some(z) => z.clone(),
        None => super::default_zone(store, ws).await?,
    };
    Ok((TimeZone::get(&name).unwrap_or(TimeZone::UTC), name))
}

/// Queues the report mail to every active user of `roles`; returns their addresses.
async fn queue_mail(
    tx: &mut Tx,
    ws: WorkspaceId,
    roles: &[Role],
    report: &DailyQueueReport,
) -> Result<Vec<String>> {
    let payload = serde_json::to_value(report).map_err(anyhow::Error::from)?;
    let users = store::users::list(tx, ws, 10_000, 0).await?.0;
    let mut sent = Vec::new();
    for u in users.iter().filter(|u| u.active && roles.contains(&u.role)) {
        crate::workflow::notify::to_staff(tx, ws, u, DAILY_QUEUE, &payload).await?;
        sent.push(u.email.clone());
    }
    Ok(sent)
}

/// What `POST /api/reports/daily-queue/send` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    /// Who the report was queued for.
    pub recipients: Vec<String>,
    pub report: DailyQueueReport,
}

/// Builds the report now and queues it to the configured roles.
pub async fn send_now(store: &Store, actor: &Actor) -> Result<Sent> {
    actor.require(Permission::ViewTeamAnalytics)?;
    let ws = actor.workspace_id;
    let s = settings(store, actor).await?.daily_queue;
    let (tz, name) = zone_of(store, ws, &s).await?;
    let mut tx = store.begin().await?;
    let report = build(&mut tx, ws, &tz, &name, crate::clock::now_micros()).await?;
    let recipients = queue_mail(&mut tx, ws, &s.roles, &report).await?;
    if recipients.is_empty() {
        return Err(Error::conflict(format!(
            "no active user has a role the report goes to ({})",
            s.roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    tx.commit().await?;
    Ok(Sent { recipients, report })
}

/// The periodic scan: sends the report of every workspace whose hour has come today and that
/// has not had today's report yet. Safe on several nodes at once.
pub async fn scan(store: &Store, now: i64) -> Result<usize> {
    let all = {
        let mut conn = store.read().await?;
        reads::all_report_settings(&mut conn).await?
    };
    let mut sent = 0;
    for (ws, doc) in all {
        let s = parse_settings(Some(&doc)).daily_queue;
        if !s.enabled {
            continue;
        }
        // One workspace's failure is logged and retried next tick; the others still go out.
        match send_due(store, ws, &s, now).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(workspace = %ws, error = %e, "daily queue report failed"),
        }
    }
    Ok(sent)
}

/// Sends the report of `ws` if its hour has come today and today's run is not claimed yet.
async fn send_due(
    store: &Store,
    ws: WorkspaceId,
    s: &DailyQueueSettings,
    now: i64,
) -> Result<bool> {
    let (tz, name) = zone_of(store, ws, s).await?;
    let local = timestamp(now).to_zoned(tz.clone());
    if local.hour() < i8::try_from(s.hour).unwrap_or(0) {
        return Ok(false);
    }
    let day = local.date().to_string();
    // Once today's run is claimed, later ticks stop at this read instead of opening a write
    // transaction (which on SQLite takes the write lock) to find the claim taken.
    let last = {
        let mut conn = store.read().await?;
        reads::last_report_day(&mut conn, ws, DAILY_QUEUE).await?
    };
    if last.as_deref() == Some(day.as_str()) {
        return Ok(false);
    }
    let mut tx = store.begin().await?;
    if !reads::claim_report_run(&mut tx, ws, DAILY_QUEUE, &day, now).await? {
        return Ok(false);
    }
    let report = build(&mut tx, ws, &tz, &name, now).await?;
    queue_mail(&mut tx, ws, &s.roles, &report).await?;
    tx.commit().await?;
    Ok(true)
}

/// The mail of a report payload: subject, text and HTML body. Every name and subject is
/// escaped in the HTML.
#[must_use]
pub fn render(p: &Value) -> (String, String, String) {
    let r: Option<DailyQueueReport> = serde_json::from_value(p.clone()).ok();
    let Some(r) = r else {
        return (
            "Daily queue report".into(),
            "The report could not be read.".into(),
            "<p>The report could not be read.</p>".into(),
        );
    };
    let subject = format!(
        "Daily queue report {}: {} open, {} breached",
        r.date, r.open_total, r.breached
    );
    let csat = r.csat_average.map_or_else(
        || "no ratings".to_owned(),
        |a| format!("{a:.2} from {} ratings", r.csat_count),
    );
    let mut text = format!(
        "{} — queue on {} ({})\n\nOpen: {}  Breached: {}  At risk: {}  Unassigned: {}\nYesterday: {} created, {} solved\nCSAT, last 7 days: {csat}\n\nOpen by priority:\n",
        r.workspace,
        r.date,
        r.timezone,
        r.open_total,
        r.breached,
        r.at_risk,
        r.unassigned,
        r.yesterday_created,
        r.yesterday_resolved
    );
    for (p, n) in &r.open_by_priority {
        text.push_str(&format!("  {p}: {n}\n"));
    }
    text.push_str("\nOpen by group:\n");
    for g in &r.open_by_group {
        text.push_str(&format!("  {}: {}\n", g.name, g.count));
    }
    text.push_str("\nOldest unassigned:\n");
    for w in &r.oldest_unassigned {
        text.push_str(&format!(
            "  {} {} ({}, {} h)\n",
            w.ticket_number, w.subject, w.priority, w.age_hours
        ));
    }
    let rows = |items: Vec<(String, String)>| -> String {
        items
            .into_iter()
            .map(|(k, v)| {
                format!(
                    "<tr><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
                    esc(&k),
                    esc(&v)
                )
            })
            .collect()
    };
    let html = format!(
        "<h2>{} — queue on {}</h2><p>Open <strong>{}</strong> · breached <strong>{}</strong> · at risk <strong>{}</strong> · unassigned <strong>{}</strong></p><p>Yesterday: {} created, {} solved. CSAT, last 7 days: {}.</p><h3>Open by priority</h3><table>{}</table><h3>Open by group</h3><table>{}</table><h3>Oldest unassigned</h3><table>{}</table>",
        esc(&r.workspace),
        esc(&r.date),
        r.open_total,
        r.breached,
        r.at_risk,
        r.unassigned,
        r.yesterday_created,
        r.yesterday_resolved,
        esc(&csat),
        rows(
            r.open_by_priority
                .iter()
                .map(|(p, n)| (p.clone(), n.to_string()))
                .collect()
        ),
        rows(
            r.open_by_group
                .iter()
                .map(|g| (g.name.clone(), g.count.to_string()))
                .collect()
        ),
        rows(
            r.oldest_unassigned
                .iter()
                .map(|w| (
                    format!("{} {}", w.ticket_number, w.subject),
                    format!("{} h", w.age_hours)
                ))
                .collect()
        ),
    );
    (subject, text, html)
}
