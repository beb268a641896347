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

use super::facts::{self, Fact};
use super::stats::{average, median_p90, rate};
use super::{Request, buckets};
use crate::error::Result;
use crate::store::{self, Conn};
use crate::tickets::status::{Priority, Status};

pub use super::view::{Facts, Memo, Outcome, unsolved};

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

/// One clock's outcomes and times, gathered ticket by ticket.
#[derive(Default)]
pub(super) struct ClockTally {
    pub times: Vec<i64>,
    pub met: i64,
    pub breached: i64,
    pub at_risk: i64,
}

impl ClockTally {
    pub fn add(&mut self, outcome: Outcome, time: Option<i64>) {
        match outcome {
            Outcome::Met => self.met += 1,
            Outcome::Breached => self.breached += 1,
            Outcome::AtRisk => self.at_risk += 1,
            Outcome::Open => {}
        }
        if let Some(t) = time {
            self.times.push(t);
        }
    }

    fn figures(mut self) -> ClockFigures {
        let (median_seconds, p90_seconds) = median_p90(&mut self.times);
        ClockFigures {
            count: i64::try_from(self.times.len()).unwrap_or(i64::MAX),
            median_seconds,
            p90_seconds,
            within_sla_rate: rate(self.met, self.met + self.breached),
        }
    }
}

/// Average rating and how many ratings.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CsatFigures {
    pub average: Option<f64>,
    pub count: i64,
}

fn csat(facts: &[&Fact]) -> CsatFigures {
    let ratings: Vec<i64> = facts.iter().filter_map(|f| f.rating()).collect();
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
    let created = &facts.created;
    let resolved = i64::try_from(facts.solved().len()).unwrap_or(0);
    let backlog = facts.backlog_at(req.scope.to.min(req.now));
    // One pass over the range's tickets for every figure.
    let (mut first, mut resolution) = (ClockTally::default(), ClockTally::default());
    let mut statuses = [0_i64; Status::ALL.len()];
    let (mut rating_sum, mut ratings, mut reopened, mut ever_solved) = (0, 0, 0, 0);
    for f in created {
        first.add(f.first_response_outcome(req.now), f.first_response());
        resolution.add(f.resolution_outcome(req.now), f.resolution());
        if let Some(n) = statuses.get_mut(f.status as usize) {
            *n += 1;
        }
        if let Some(r) = f.rating() {
            (rating_sum, ratings) = (rating_sum + r, ratings + 1);
        }
        reopened += i64::from(f.reopens > 0);
        ever_solved += i64::from(f.solved().is_some() || f.reopens > 0);
    }
    let by_status = Status::ALL
        .iter()
        .zip(statuses)
        .map(|(s, n)| (s.as_str().to_owned(), n))
        .collect();
    let total = i64::try_from(created.len()).unwrap_or(i64::MAX);
    Ok(Overview {
        total,
        by_status,
        backlog,
        created: total,
        resolved,
        reopened,
        first_response: first.figures(),
        resolution: resolution.figures(),
        csat: CsatFigures {
            average: average(rating_sum, ratings),
            count: ratings,
        },
        reopen_rate: rate(reopened, ever_solved),
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
    let n = edges.len() - 1;
    let (mut created, mut resolved) = (vec![0_i64; n], vec![0_i64; n]);
    for f in &facts.created {
        if let Some(i) = buckets::index(&edges, f.created_at) {
            created[i] += 1;
        }
    }
    for (at, _) in facts.solved() {
        if let Some(i) = buckets::index(&edges, at) {
            resolved[i] += 1;
        }
    }
    let mut backlog = facts.backlog_at(req.scope.from);
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
    let created = &facts.created;
    let dict = &facts.table.dict;
    let total = i64::try_from(created.len()).unwrap_or(i64::MAX);
    let count = |keep: &dyn Fn(&Fact) -> bool| created.iter().filter(|f| keep(f)).count() as i64;
    let buckets: Vec<DistributionBucket> = match by {
        "status" => Status::ALL
            .iter()
            .map(|s| DistributionBucket {
                key: Some(s.as_str().into()),
                name: s.label(),
                count: count(&|f| f.status == *s),
            })
            .collect(),
        "priority" => Priority::ALL
            .iter()
            .rev()
            .map(|p| DistributionBucket {
                key: Some(p.as_str().into()),
                name: p.label(),
                count: count(&|f| f.priority == *p),
            })
            .collect(),
        _ => {
            let names = if matches!(by, "category" | "group" | "assignee") {
                names(conn, req.scope.ws).await?
            } else {
                HashMap::new()
            };
            // Counts by code (tag code, channel, or id code).
            let size = match by {
                "tag" => dict.tag_codes(),
                "channel" => crate::tickets::status::Channel::ALL.len(),
                _ => dict.codes(),
            };
            let mut counts = vec![0_i64; size];
            let mut count = |code: u32| {
                if let Some(n) = counts.get_mut(code as usize) {
                    *n += 1;
                }
            };
            for f in created {
                match by {
                    "tag" => f.tags.iter().for_each(|t| count(*t)),
                    "channel" => count(f.channel as u32),
                    "category" => count(f.category),
                    "group" => count(f.group),
                    _ => count(f.assignee),
                }
            }
            let mut list: Vec<DistributionBucket> = (0_u32..)
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(code, count)| {
                    let (key, name) = match by {
                        "tag" => (Some(dict.tag(code).to_owned()), dict.tag(code).to_owned()),
                        "channel" => {
                            let all = crate::tickets::status::Channel::ALL;
                            match usize::try_from(code).ok().and_then(|i| all.get(i)) {
                                Some(c) => (Some(c.as_str().to_owned()), c.label()),
                                None => (None, String::new()),
                            }
                        }
                        _ => match dict.id(code) {
                            Some(id) => (
                                Some(id.to_string()),
                                names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                            ),
                            None => (
                                None,
                                match by {
                                    "category" => "No category",
                                    "group" => "No group",
                                    _ => "Unassigned",
                                }
                                .to_owned(),
                            ),
                        },
                    };
                    DistributionBucket { key, name, count }
                })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            if by == "tag" {
                list.truncate(100);
            }
            list
        }
    };
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
    let dict = &facts.table.dict;
    // Lists by assignee code.
    let mut mine: Vec<Vec<&Fact>> = vec![Vec::new(); dict.codes()];
    for f in &facts.created {
        if let Some(m) = mine.get_mut(f.assignee as usize) {
            m.push(f);
        }
    }
    let mut resolved = vec![0_i64; dict.codes()];
    for (_, a) in facts.solved() {
        if let Some(n) = resolved.get_mut(a as usize) {
            *n += 1;
        }
    }
    let replies = facts.replies();
    let users = store::users::list(conn, req.scope.ws, 10_000, 0).await?.0;
    let mut out = Vec::new();
    let empty = Vec::new();
    for u in users {
        let code = dict.code(u.id.0).map(|c| c as usize);
        let mine = code.and_then(|c| mine.get(c)).unwrap_or(&empty);
        let staff = u.active && u.role.can_be_assignee();
        if (req.own_only && u.id != me) || (!staff && mine.is_empty()) {
            continue;
        }
        let of = |m: &[i64]| code.and_then(|c| m.get(c)).copied().unwrap_or(0);
        let mut fr: Vec<i64> = mine.iter().filter_map(|f| f.first_response()).collect();
        let mut res: Vec<i64> = mine.iter().filter_map(|f| f.resolution()).collect();
        let ratings: Vec<i64> = mine.iter().filter_map(|f| f.rating()).collect();
        let csat_count = ratings.len() as i64;
        out.push(AgentFigures {
            user_id: u.id.0,
            name: u.name,
            email: u.email,
            assigned: mine.len() as i64,
            resolved: of(&resolved),
            public_replies: of(&replies),
            first_response_median_seconds: median_p90(&mut fr).0,
            resolution_median_seconds: median_p90(&mut res).0,
            csat_average: average(ratings.iter().sum(), csat_count),
            csat_count,
            reopened: mine.iter().map(|f| i64::from(f.reopens)).sum(),
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

/// How many rating comments the CSAT report lists.
const LATEST_COMMENTS: usize = 20;

pub async fn csat_report(conn: &mut Conn, req: &Request, memo: &mut Memo) -> Result<Csat> {
    let facts = memo.facts(conn, req).await?;
    let summary = csat(&facts.created);
    let mut distribution: BTreeMap<String, i64> = (1..=5).map(|r| (r.to_string(), 0)).collect();
    for r in facts.created.iter().filter_map(|f| f.rating()) {
        *distribution.entry(r.to_string()).or_default() += 1;
    }
    let satisfied = distribution["4"] + distribution["5"];
    let mut rated: Vec<(i64, uuid::Uuid, i64)> = facts
        .created
        .iter()
        .filter(|f| f.has_feedback)
        .filter_map(|f| Some((f.rated_at()?, f.id, f.rating()?)))
        .collect();
    rated.sort_unstable_by(|a, b| b.cmp(a));
    rated.truncate(LATEST_COMMENTS);
    let ids: Vec<uuid::Uuid> = rated.iter().map(|r| r.1).collect();
    let mut details = facts::rating_comments(conn, req.scope.ws, &ids).await?;
    let comments = rated
        .into_iter()
        .filter_map(|(at, id, rating)| {
            let (number, comment) = details.remove(&id)?;
            Some(CsatComment {
                ticket_id: id,
                ticket_number: number,
                rating,
                comment: comment?,
                rated_at: crate::clock::rfc3339(at),
            })
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
    // Every zone's hours start on a quarter hour of UTC: the weekday and hour are worked out
    // once per quarter hour, not once per ticket (checked at both ends of the quarter).
    const QUARTER: i64 = 900_000_000;
    let local = |at: i64| {
        let z = crate::store::timestamp(at).to_zoned(req.tz.clone());
        let day = usize::try_from(z.weekday().to_monday_one_offset() - 1).unwrap_or(0);
        (day, usize::try_from(z.hour()).unwrap_or(0))
    };
    let first = req.scope.from.div_euclid(QUARTER);
    let span = req.scope.to.div_euclid(QUARTER) - first + 1;
    let mut quarters: Vec<Option<Option<(usize, usize)>>> =
        vec![None; usize::try_from(span).unwrap_or(0)];
    for f in &facts.created {
        let q = f.created_at.div_euclid(QUARTER);
        let Some(cached) = usize::try_from(q - first)
            .ok()
            .and_then(|i| quarters.get_mut(i))
        else {
            continue;
        };
        let slot = *cached.get_or_insert_with(|| {
            let start = local(q * QUARTER);
            (start == local(q * QUARTER + QUARTER - 1)).then_some(start)
        });
        let (day, hour) = slot.unwrap_or_else(|| local(f.created_at));
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
