//! The figures of the analytics routes, computed from the facts of the tickets in range.
//!
//! Definitions (docs/analytics.md): a ticket is *in range* when it was created in it; it is
//! *solved* when resolved or closed, at its resolution time (or closing time when it was
//! closed without being resolved); first-response and resolution times are wall-clock seconds
//! from creation. A clock is *met* when its event came by its due time and *breached* when it
//! came later or is still running past its due time.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use utoipa::ToSchema;

use super::stats::{average, median_p90, rate};
use super::{Request, buckets};
use crate::error::Result;
use crate::store::analytics::{self as reads, Fact};
use crate::store::{self, Conn};
use crate::tickets::status::{Priority, Status};

/// Whether a ticket is still being worked on.
#[must_use]
pub fn unsolved(s: Status) -> bool {
    matches!(s, Status::New | Status::Open | Status::Pending)
}

/// When each ticket solved in the range was solved, and who had it.
type Solved = Vec<(i64, Option<crate::ids::UserId>)>;

/// The reads of one request, done once however many figures use them (the page shows them
/// all).
#[derive(Default)]
pub struct Memo {
    facts: Option<std::sync::Arc<Vec<Fact>>>,
    solved: Option<std::sync::Arc<Solved>>,
    reopens: Option<std::sync::Arc<HashMap<uuid::Uuid, i64>>>,
}

impl Memo {
    /// The tickets created in the range.
    pub async fn facts(
        &mut self,
        conn: &mut Conn,
        req: &Request,
    ) -> Result<std::sync::Arc<Vec<Fact>>> {
        if self.facts.is_none() {
            self.facts = Some(std::sync::Arc::new(reads::facts(conn, &req.scope).await?));
        }
        Ok(self.facts.clone().unwrap_or_default())
    }

    /// When each ticket solved in the range was solved, and who had it.
    pub async fn solved(
        &mut self,
        conn: &mut Conn,
        req: &Request,
    ) -> Result<std::sync::Arc<Solved>> {
        if self.solved.is_none() {
            self.solved = Some(std::sync::Arc::new(reads::solved(conn, &req.scope).await?));
        }
        Ok(self.solved.clone().unwrap_or_default())
    }

    /// How often each reopened ticket of the range was reopened.
    pub async fn reopens(
        &mut self,
        conn: &mut Conn,
        req: &Request,
    ) -> Result<std::sync::Arc<HashMap<uuid::Uuid, i64>>> {
        if self.reopens.is_none() {
            let mut counts = HashMap::new();
            for (id, _) in reads::reopens(conn, &req.scope).await? {
                *counts.entry(id.0).or_insert(0) += 1;
            }
            self.reopens = Some(std::sync::Arc::new(counts));
        }
        Ok(self.reopens.clone().unwrap_or_default())
    }
}

/// A clock's outcome for one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    Breached,
    /// Running, past its at-risk instant, not yet due.
    AtRisk,
    /// Running and on time, or never started (no due date, solved without a response).
    Open,
}

impl Fact {
    /// First response time in microseconds.
    #[must_use]
    pub fn first_response(&self) -> Option<i64> {
        self.first_response_at.map(|t| (t - self.created_at).max(0))
    }

    /// When the ticket was solved, if it is.
    #[must_use]
    pub fn solved(&self) -> Option<i64> {
        self.solved_at.filter(|_| !unsolved(self.status))
    }

    /// Resolution time in microseconds.
    #[must_use]
    pub fn resolution(&self) -> Option<i64> {
        self.solved().map(|t| (t - self.created_at).max(0))
    }

    /// The first-response clock at `now`.
    #[must_use]
    pub fn first_response_outcome(&self, now: i64) -> Outcome {
        let Some(due) = self.first_response_due_at else {
            return Outcome::Open;
        };
        match self.first_response_at {
            Some(at) if at <= due => Outcome::Met,
            Some(_) => Outcome::Breached,
            None if !unsolved(self.status) => Outcome::Open,
            None if due <= now => Outcome::Breached,
            None if self.first_response_risk_at.is_some_and(|r| r <= now) => Outcome::AtRisk,
            None => Outcome::Open,
        }
    }

    /// The resolution clock at `now` (it runs while the ticket is new or open).
    #[must_use]
    pub fn resolution_outcome(&self, now: i64) -> Outcome {
        let Some(due) = self.resolution_due_at else {
            return Outcome::Open;
        };
        match self.solved() {
            Some(at) if at <= due => Outcome::Met,
            Some(_) => Outcome::Breached,
            None if !matches!(self.status, Status::New | Status::Open) => Outcome::Open,
            None if due <= now => Outcome::Breached,
            None if self.first_response_at.is_some()
                && self.resolution_risk_at.is_some_and(|r| r <= now) =>
            {
                Outcome::AtRisk
            }
            None => Outcome::Open,
        }
    }
}

/// Median, 90th percentile and SLA compliance of one clock.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ClockFigures {
    /// How many tickets have the event (responded, solved).
    pub count: i64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    /// Met ÷ (met + breached); `null` when no clock has an outcome yet.
    pub within_sla_rate: Option<f64>,
}

fn clock(facts: &[Fact], now: i64, first: bool) -> ClockFigures {
    let mut times: Vec<i64> = facts
        .iter()
        .filter_map(|f| {
            if first {
                f.first_response()
            } else {
                f.resolution()
            }
        })
        .collect();
    let (mut met, mut breached) = (0, 0);
    for f in facts {
        let o = if first {
            f.first_response_outcome(now)
        } else {
            f.resolution_outcome(now)
        };
        match o {
            Outcome::Met => met += 1,
            Outcome::Breached => breached += 1,
            Outcome::AtRisk | Outcome::Open => {}
        }
    }
    let count = i64::try_from(times.len()).unwrap_or(i64::MAX);
    let (median_seconds, p90_seconds) = median_p90(&mut times);
    ClockFigures {
        count,
        median_seconds,
        p90_seconds,
        within_sla_rate: rate(met, met + breached),
    }
}

/// Average rating and how many ratings.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CsatFigures {
    pub average: Option<f64>,
    pub count: i64,
}

fn csat(facts: &[Fact]) -> CsatFigures {
    let ratings: Vec<i64> = facts.iter().filter_map(|f| f.satisfaction_rating).collect();
    let count = i64::try_from(ratings.len()).unwrap_or(i64::MAX);
    CsatFigures {
        average: average(ratings.iter().sum(), count),
        count,
    }
}

/// `GET /api/tickets/analytics/overview`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// Tickets created in the range.
    pub total: i64,
    /// Those tickets by their status now (every status present).
    pub by_status: BTreeMap<String, i64>,
    /// Tickets not solved at the end of the range.
    pub backlog: i64,
    /// Tickets created in the range (as `total`).
    pub created: i64,
    /// Tickets solved in the range, whenever created.
    pub resolved: i64,
    /// Tickets created in the range that were reopened at least once.
    pub reopened: i64,
    pub first_response: ClockFigures,
    pub resolution: ClockFigures,
    pub csat: CsatFigures,
    /// Reopened ÷ tickets created in the range that were ever solved.
    pub reopen_rate: Option<f64>,
    pub from: String,
    pub to: String,
    pub timezone: String,
}

pub async fn overview(conn: &mut Conn, req: &Request, memo: &mut Memo) -> Result<Overview> {
    let facts = memo.facts(conn, req).await?;
    let reopens = memo.reopens(conn, req).await?;
    let resolved = i64::try_from(memo.solved(conn, req).await?.len()).unwrap_or(0);
    let backlog = reads::backlog_at(conn, &req.scope, req.scope.to.min(req.now)).await?;
    let mut by_status: BTreeMap<String, i64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for f in facts.iter() {
        *by_status.entry(f.status.as_str().to_owned()).or_default() += 1;
    }
    let total = i64::try_from(facts.len()).unwrap_or(i64::MAX);
    let reopened = i64::try_from(reopens.len()).unwrap_or(0);
    let ever_solved = facts
        .iter()
        .filter(|f| f.solved().is_some() || reopens.contains_key(&f.id.0))
        .count();
    Ok(Overview {
        total,
        by_status,
        backlog,
        created: total,
        resolved,
        reopened,
        first_response: clock(&facts, req.now, true),
        resolution: clock(&facts, req.now, false),
        csat: csat(&facts),
        reopen_rate: rate(reopened, i64::try_from(ever_solved).unwrap_or(0)),
        from: crate::clock::rfc3339(req.scope.from),
        to: crate::clock::rfc3339(req.scope.to),
        timezone: req.tz_name.clone(),
    })
}

/// One bucket of the volume series.
#[derive(Debug, Serialize, ToSchema)]
pub struct VolumePoint {
    /// The bucket's start in the zone: `YYYY-MM-DD` (day, week, month) or RFC 3339 with the
    /// zone's offset (hour).
    pub date: String,
    /// The bucket's start as an instant (RFC 3339, UTC).
    pub start: String,
    pub created: i64,
    pub resolved: i64,
    /// Tickets not solved at the end of the bucket.
    pub backlog: i64,
}

/// `GET /api/tickets/analytics/volume`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Volume {
    pub interval: String,
    pub timezone: String,
    pub series: Vec<VolumePoint>,
}

pub async fn volume(
    conn: &mut Conn,
    req: &Request,
    memo: &mut Memo,
    interval: buckets::Interval,
) -> Result<Volume> {
    let edges = buckets::edges(req.scope.from, req.scope.to, &req.tz, interval)?;
    let facts = memo.facts(conn, req).await?;
    let solved = memo.solved(conn, req).await?;
    let n = edges.len() - 1;
    let (mut created, mut resolved) = (vec![0_i64; n], vec![0_i64; n]);
    for f in facts.iter() {
        if let Some(i) = buckets::index(&edges, f.created_at) {
            created[i] += 1;
        }
    }
    for (at, _) in solved.iter() {
        if let Some(i) = buckets::index(&edges, *at) {
            resolved[i] += 1;
        }
    }
    let mut backlog = reads::backlog_at(conn, &req.scope, req.scope.from).await?;
    let series = (0..n)
        .map(|i| {
            backlog += created[i] - resolved[i];
            VolumePoint {
                date: buckets::label(edges[i], &req.tz, interval),
                start: crate::clock::rfc3339(edges[i]),
                created: created[i],
                resolved: resolved[i],
                backlog,
            }
        })
        .collect();
    Ok(Volume {
        interval: interval.as_str().to_owned(),
        timezone: req.tz_name.clone(),
        series,
    })
}

/// One bucket of a distribution.
#[derive(Debug, Serialize, ToSchema)]
pub struct DistributionBucket {
    /// The value (`high`, a category id…); `null` for none (no category, unassigned).
    pub key: Option<String>,
    pub name: String,
    pub count: i64,
}

/// `GET /api/tickets/analytics/distribution`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Distribution {
    pub by: String,
    pub total: i64,
    pub buckets: Vec<DistributionBucket>,
}

/// What a distribution may be by.
pub const DISTRIBUTIONS: [&str; 7] = [
    "status", "priority", "category", "channel", "group", "assignee", "tag",
];

/// Names of the workspace's categories, groups and users by id.
pub async fn names(
    conn: &mut Conn,
    ws: crate::ids::WorkspaceId,
) -> Result<HashMap<uuid::Uuid, String>> {
    let mut names = HashMap::new();
    for c in store::categories::list(conn, ws, true).await? {
        names.insert(c.id.0, c.name);
    }
    for g in store::groups::list(conn, ws).await? {
        names.insert(g.id.0, g.name);
    }
    for u in store::users::list(conn, ws, 10_000, 0).await?.0 {
        names.insert(u.id.0, u.name);
    }
    Ok(names)
}

pub async fn distribution(
    conn: &mut Conn,
    req: &Request,
    memo: &mut Memo,
    by: &str,
) -> Result<Distribution> {
    let facts = memo.facts(conn, req).await?;
    let total = i64::try_from(facts.len()).unwrap_or(i64::MAX);
    let mut buckets: Vec<DistributionBucket> = match by {
        "tag" => reads::tag_counts(conn, &req.scope)
            .await?
            .into_iter()
            .map(|(tag, count)| DistributionBucket {
                key: Some(tag.clone()),
                name: tag,
                count,
            })
            .collect(),
        "status" => Status::ALL
            .iter()
            .map(|s| DistributionBucket {
                key: Some(s.as_str().into()),
                name: s.label(),
                count: facts.iter().filter(|f| f.status == *s).count() as i64,
            })
            .collect(),
        "priority" => Priority::ALL
            .iter()
            .rev()
            .map(|p| DistributionBucket {
                key: Some(p.as_str().into()),
                name: p.label(),
                count: facts.iter().filter(|f| f.priority == *p).count() as i64,
            })
            .collect(),
        _ => {
            let names = names(conn, req.scope.ws).await?;
            let mut counts: BTreeMap<Option<String>, (String, i64)> = BTreeMap::new();
            for f in facts.iter() {
                let (key, name) = match by {
                    "channel" => (Some(f.channel.as_str().to_owned()), f.channel.label()),
                    _ => {
                        let (id, none) = match by {
                            "category" => (f.category_id.map(|c| c.0), "No category"),
                            "group" => (f.group_id.map(|g| g.0), "No group"),
                            _ => (f.assignee_id.map(|u| u.0), "Unassigned"),
                        };
                        match id {
                            Some(id) => (
                                Some(id.to_string()),
                                names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                            ),
                            None => (None, none.to_owned()),
                        }
                    }
                };
                counts.entry(key).or_insert((name, 0)).1 += 1;
            }
            let mut list: Vec<DistributionBucket> = counts
                .into_iter()
                .map(|(key, (name, count))| DistributionBucket { key, name, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            list
        }
    };
    if by == "tag" {
        buckets.truncate(100);
    }
    Ok(Distribution {
        by: by.to_owned(),
        total,
        buckets,
    })
}

/// One agent's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentFigures {
    pub user_id: uuid::Uuid,
    pub name: String,
    pub email: String,
    /// Tickets created in the range and assigned to the agent now.
    pub assigned: i64,
    /// Tickets the agent has that were solved in the range.
    pub resolved: i64,
    /// Public replies the agent wrote in the range.
    pub public_replies: i64,
    pub first_response_median_seconds: Option<i64>,
    pub resolution_median_seconds: Option<i64>,
    pub csat_average: Option<f64>,
    pub csat_count: i64,
    /// Reopens of the agent's tickets created in the range.
    pub reopened: i64,
}

/// `GET /api/tickets/analytics/agents`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agents {
    pub agents: Vec<AgentFigures>,
}

pub async fn agents(
    conn: &mut Conn,
    req: &Request,
    memo: &mut Memo,
    me: crate::ids::UserId,
) -> Result<Agents> {
    let facts = memo.facts(conn, req).await?;
    let solved = memo.solved(conn, req).await?;
    let replies: HashMap<uuid::Uuid, i64> = reads::public_replies(conn, &req.scope)
        .await?
        .into_iter()
        .collect();
    let reopens = memo.reopens(conn, req).await?;
    let users = store::users::list(conn, req.scope.ws, 10_000, 0).await?.0;
    let mut out = Vec::new();
    for u in users {
        let mine: Vec<&Fact> = facts
            .iter()
            .filter(|f| f.assignee_id == Some(u.id))
            .collect();
        let staff = u.active && u.role.can_be_assignee();
        if (req.own_only && u.id != me) || (!staff && mine.is_empty()) {
            continue;
        }
        let mut fr: Vec<i64> = mine.iter().filter_map(|f| f.first_response()).collect();
        let mut res: Vec<i64> = mine.iter().filter_map(|f| f.resolution()).collect();
        let ratings: Vec<i64> = mine.iter().filter_map(|f| f.satisfaction_rating).collect();
        let csat_count = ratings.len() as i64;
        out.push(AgentFigures {
            user_id: u.id.0,
            name: u.name,
            email: u.email,
            assigned: mine.len() as i64,
            resolved: solved.iter().filter(|(_, a)| *a == Some(u.id)).count() as i64,
            public_replies: replies.get(&u.id.0).copied().unwrap_or(0),
            first_response_median_seconds: median_p90(&mut fr).0,
            resolution_median_seconds: median_p90(&mut res).0,
            csat_average: average(ratings.iter().sum(), csat_count),
            csat_count,
            reopened: mine
                .iter()
                .map(|f| reopens.get(&f.id.0).copied().unwrap_or(0))
                .sum(),
        });
    }
    out.sort_by(|a, b| {
        b.resolved
            .cmp(&a.resolved)
            .then_with(|| b.assigned.cmp(&a.assigned))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(Agents { agents: out })
}

/// A rating's comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CsatComment {
    pub ticket_id: uuid::Uuid,
    pub ticket_number: String,
    pub rating: i64,
    pub comment: String,
    pub rated_at: String,
}

/// `GET /api/tickets/analytics/csat`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Csat {
    pub average: Option<f64>,
    pub count: i64,
    /// Ratings 4 and 5 ÷ all ratings.
    pub satisfied_rate: Option<f64>,
    /// How many of each rating, `"1"` to `"5"`.
    pub distribution: BTreeMap<String, i64>,
    /// The latest comments, newest first.
    pub comments: Vec<CsatComment>,
}

pub async fn csat_report(conn: &mut Conn, req: &Request, memo: &mut Memo) -> Result<Csat> {
    let facts = memo.facts(conn, req).await?;
    let summary = csat(&facts);
    let mut distribution: BTreeMap<String, i64> = (1..=5).map(|r| (r.to_string(), 0)).collect();
    for r in facts.iter().filter_map(|f| f.satisfaction_rating) {
        *distribution.entry(r.to_string()).or_default() += 1;
    }
    let satisfied = distribution["4"] + distribution["5"];
    let comments = reads::rating_comments(conn, &req.scope, 20)
        .await?
        .into_iter()
        .map(|c| CsatComment {
            ticket_id: c.ticket_id.0,
            ticket_number: c.ticket_number,
            rating: c.rating,
            comment: c.feedback,
            rated_at: crate::clock::rfc3339(c.rated_at),
        })
        .collect();
    Ok(Csat {
        average: summary.average,
        count: summary.count,
        satisfied_rate: rate(satisfied, summary.count),
        distribution,
        comments,
    })
}

/// Tickets created in one hour of the day.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourCount {
    pub hour: i8,
    pub created: i64,
}

/// Tickets created on one day of the week.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekdayCount {
    /// 1 = Monday … 7 = Sunday (ISO 8601).
    pub weekday: i8,
    pub name: String,
    pub created: i64,
}

/// `GET /api/tickets/analytics/peak-hours`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeakHours {
    pub timezone: String,
    pub hours: Vec<HourCount>,
    pub weekdays: Vec<WeekdayCount>,
    /// `heatmap[weekday − 1][hour]`: tickets created in that hour of that weekday.
    pub heatmap: Vec<Vec<i64>>,
}

pub async fn peak_hours(conn: &mut Conn, req: &Request, memo: &mut Memo) -> Result<PeakHours> {
    let facts = memo.facts(conn, req).await?;
    let mut heat = vec![vec![0_i64; 24]; 7];
    for f in facts.iter() {
        let z = crate::store::timestamp(f.created_at).to_zoned(req.tz.clone());
        let day = usize::try_from(z.weekday().to_monday_one_offset() - 1).unwrap_or(0);
        let hour = usize::try_from(z.hour()).unwrap_or(0);
        heat[day][hour] += 1;
    }
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    Ok(PeakHours {
        timezone: req.tz_name.clone(),
        hours: (0..24_i8)
            .map(|h| HourCount {
                hour: h,
                created: heat.iter().map(|d| d[h as usize]).sum(),
            })
            .collect(),
        weekdays: (0..7_i8)
            .map(|d| WeekdayCount {
                weekday: d + 1,
                name: DAYS[d as usize].to_owned(),
                created: heat[d as usize].iter().sum(),
            })
            .collect(),
        heatmap: heat,
    })
}
