//! The facts analytics compute from: one compact row per live ticket of a workspace (about
//! 150 bytes: times, coded dimensions, tags, staff replies, reopens), kept in memory and
//! brought up to date from the change feed before every request, so a request reads only the
//! tickets that changed since the last one instead of every ticket of its range.
//!
//! - The first request of a workspace loads every ticket, in pages in feed order (at a
//!   million tickets this takes tens of seconds once per process; README figures).
//! - Every later request asks the feed for changes after the table's position (one indexed
//!   read that returns nothing when nothing changed) and applies them. Replies, tags, reopens
//!   and ratings move a ticket in the feed (migration 0014), deletions arrive as changes.
//! - Each node keeps its own table and follows the same feed, so nodes stay stateless: on
//!   PostgreSQL the newest committed changes are applied at once, and read again until every
//!   older transaction has ended (`store::dialect::changes_since`).
//! - The filters (group, category, channel, priority, assignee; tags, status and creation
//!   time too, for callers inside the crate) are applied to the facts in memory.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, RwLock};
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{TicketId, WorkspaceId};
use crate::store::facts::{self as reads, FactRow};
use crate::store::tickets::{AssigneeFilter, TicketFilter};
use crate::store::{Conn, analytics::Scope};
use crate::tickets::status::{Channel, Priority, Status};

/// A time that is not there.
const NONE: i64 = i64::MIN;

fn opt(v: i64) -> Option<i64> {
    (v != NONE).then_some(v)
}

/// A public reply by staff: when, and who (coded).
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub at: i64,
    pub author: u32,
}

/// What analytics know of one ticket. Ids (category, group, assignee, policy, tags) are coded
/// by the table's [`Dict`]; 0 is none.
#[derive(Debug, Clone)]
pub struct Fact {
    pub id: Uuid,
    pub created_at: i64,
    first_response_at: i64,
    first_response_due_at: i64,
    first_response_risk_at: i64,
    solved_at: i64,
    resolution_due_at: i64,
    resolution_risk_at: i64,
    rated_at: i64,
    /// The latest of `replies` (so a pass over replies in a range skips old tickets without
    /// following the pointer).
    pub last_reply_at: i64,
    pub category: u32,
    pub group: u32,
    pub assignee: u32,
    pub policy: u32,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    rating: u8,
    pub has_feedback: bool,
    /// How many times the ticket was reopened.
    pub reopens: u16,
    pub tags: Box<[u32]>,
    pub replies: Box<[Reply]>,
}

impl Fact {
    #[must_use]
    pub fn first_response_at(&self) -> Option<i64> {
        opt(self.first_response_at)
    }
    #[must_use]
    pub fn first_response_due_at(&self) -> Option<i64> {
        opt(self.first_response_due_at)
    }
    #[must_use]
    pub fn first_response_risk_at(&self) -> Option<i64> {
        opt(self.first_response_risk_at)
    }
    /// When it was resolved (or closed without being resolved), even if reopened since.
    #[must_use]
    pub fn solved_at(&self) -> Option<i64> {
        opt(self.solved_at)
    }
    #[must_use]
    pub fn resolution_due_at(&self) -> Option<i64> {
        opt(self.resolution_due_at)
    }
    #[must_use]
    pub fn resolution_risk_at(&self) -> Option<i64> {
        opt(self.resolution_risk_at)
    }
    /// When the latest rating came.
    #[must_use]
    pub fn rated_at(&self) -> Option<i64> {
        opt(self.rated_at)
    }
    #[must_use]
    pub fn rating(&self) -> Option<i64> {
        (self.rating > 0).then_some(i64::from(self.rating))
    }
}

/// Codes for ids and tags, so a fact holds four bytes where the id has sixteen.
#[derive(Debug, Default)]
pub struct Dict {
    ids: Vec<Uuid>,
    by_id: HashMap<Uuid, u32>,
    tags: Vec<String>,
    by_tag: HashMap<String, u32>,
}

/// A code no fact has: what an unknown id in a filter stands for.
const NOWHERE: u32 = u32::MAX;

impl Dict {
    fn intern(&mut self, id: Option<Uuid>) -> u32 {
        let Some(id) = id else { return 0 };
        if let Some(c) = self.by_id.get(&id) {
            return *c;
        }
        self.ids.push(id);
        let c = u32::try_from(self.ids.len()).unwrap_or(NOWHERE);
        self.by_id.insert(id, c);
        c
    }

    fn tag_code(&mut self, tag: String) -> u32 {
        if let Some(c) = self.by_tag.get(&tag) {
            return *c;
        }
        self.tags.push(tag.clone());
        let c = u32::try_from(self.tags.len()).unwrap_or(NOWHERE);
        self.by_tag.insert(tag, c);
        c
    }

    /// The id a code stands for.
    #[must_use]
    pub fn id(&self, code: u32) -> Option<Uuid> {
        let i = usize::try_from(code.checked_sub(1)?).ok()?;
        self.ids.get(i).copied()
    }

    /// The tag a code stands for.
    #[must_use]
    pub fn tag(&self, code: u32) -> &str {
        code.checked_sub(1)
            .and_then(|i| self.tags.get(usize::try_from(i).ok()?))
            .map_or("", String::as_str)
    }

    fn lookup(&self, id: Uuid) -> u32 {
        self.by_id.get(&id).copied().unwrap_or(NOWHERE)
    }

    /// The code of an id, if any fact has it.
    #[must_use]
    pub fn code(&self, id: Uuid) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// One more than the highest tag code.
    #[must_use]
    pub fn tag_codes(&self) -> usize {
        self.tags.len() + 1
    }

    /// One more than the highest id code: the length of a list indexed by code.
    #[must_use]
    pub fn codes(&self) -> usize {
        self.ids.len() + 1
    }
}

/// The facts of one workspace's tickets, with the three times every figure scans kept apart
/// in arrays of their own (a pass over a million of them reads 8 MB, not the rows' 150).
#[derive(Debug, Default)]
pub struct Table {
    pub facts: Vec<Fact>,
    /// `facts[i].created_at`.
    pub created: Vec<i64>,
    /// When `facts[i]` was solved if it is solved now, else `i64::MAX` (`i64::MIN`: solved at
    /// no known time).
    pub settled: Vec<i64>,
    /// `facts[i].last_reply_at`.
    pub last_reply: Vec<i64>,
    slots: HashMap<Uuid, u32>,
    pub dict: Dict,
    /// The feed position every change up to which is applied.
    xid: String,
    seq: i64,
}

impl Table {
    fn put(&mut self, f: Fact) {
        // Unsolved: never settled. Solved without a time (no import should do that): settled
        // before anything, so neither in a range nor in a backlog, as the SQL counted it.
        let settled = if crate::analytics::figures::unsolved(f.status) {
            i64::MAX
        } else {
            f.solved_at().unwrap_or(i64::MIN)
        };
        let times = (f.created_at, settled, f.last_reply_at);
        match self.slots.get(&f.id) {
            Some(&i) => {
                let i = i as usize;
                self.facts[i] = f;
                (self.created[i], self.settled[i], self.last_reply[i]) = times;
            }
            None => {
                let i = u32::try_from(self.facts.len()).unwrap_or(u32::MAX);
                self.slots.insert(f.id, i);
                self.facts.push(f);
                self.created.push(times.0);
                self.settled.push(times.1);
                self.last_reply.push(times.2);
            }
        }
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(i) = self.slots.remove(&id) {
            let i = i as usize;
            self.facts.swap_remove(i);
            self.created.swap_remove(i);
            self.settled.swap_remove(i);
            self.last_reply.swap_remove(i);
            if let Some(moved) = self.facts.get(i) {
                self.slots
                    .insert(moved.id, u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
    }
}

/// Replies, reopens and ratings of a batch of tickets.
#[derive(Default)]
struct Extras {
    tags: HashMap<Uuid, Vec<u32>>,
    replies: HashMap<Uuid, Vec<Reply>>,
    reopens: HashMap<Uuid, u16>,
    rated: HashMap<Uuid, i64>,
}

/// Most ids in one `IN (…)` list.
const BATCH: usize = 2000;

async fn extras(conn: &mut Conn, ids: &[TicketId], dict: &mut Dict) -> Result<Extras> {
    let mut x = Extras::default();
    for chunk in ids.chunks(BATCH) {
        for (t, tag) in reads::tags(conn, chunk).await? {
            x.tags.entry(t.0).or_default().push(dict.tag_code(tag));
        }
        for (t, at, author) in reads::staff_replies(conn, chunk).await? {
            let author = dict.intern(Some(author));
            x.replies.entry(t.0).or_default().push(Reply { at, author });
        }
        for (t, kind, at) in reads::fact_events(conn, chunk).await? {
            if kind == "reopened" {
                let n = x.reopens.entry(t.0).or_default();
                *n = n.saturating_add(1);
            } else {
                let r = x.rated.entry(t.0).or_insert(at);
                *r = (*r).max(at);
            }
        }
    }
    Ok(x)
}

fn fact(r: FactRow, x: &mut Extras, dict: &mut Dict) -> Fact {
    let t = |v: Option<i64>| v.unwrap_or(NONE);
    let replies = x.replies.remove(&r.id.0).unwrap_or_default();
    Fact {
        last_reply_at: replies.iter().map(|r| r.at).max().unwrap_or(NONE),
        id: r.id.0,
        created_at: r.created_at,
        first_response_at: t(r.first_response_at),
        first_response_due_at: t(r.first_response_due_at),
        first_response_risk_at: t(r.first_response_risk_at),
        solved_at: t(r.solved_at),
        resolution_due_at: t(r.resolution_due_at),
        resolution_risk_at: t(r.resolution_risk_at),
        rated_at: t(x.rated.remove(&r.id.0)),
        category: dict.intern(r.category_id.map(|c| c.0)),
        group: dict.intern(r.group_id.map(|g| g.0)),
        assignee: dict.intern(r.assignee_id.map(|u| u.0)),
        policy: dict.intern(r.sla_policy_id),
        status: r.status,
        priority: r.priority,
        channel: r.channel,
        rating: r
            .satisfaction_rating
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0),
        has_feedback: r.has_feedback,
        reopens: x.reopens.remove(&r.id.0).unwrap_or(0),
        tags: x.tags.remove(&r.id.0).unwrap_or_default().into(),
        replies: replies.into(),
    }
}

/// Applies read rows: deleted tickets leave the table, the others replace what it had.
async fn apply(conn: &mut Conn, t: &mut Table, rows: Vec<FactRow>) -> Result<()> {
    let live: Vec<TicketId> = rows
        .iter()
        .filter(|r| r.deleted_at.is_none())
        .map(|r| r.id)
        .collect();
    let mut x = extras(conn, &live, &mut t.dict).await?;
    for r in rows {
        if r.deleted_at.is_some() {
            t.remove(r.id.0);
        } else {
            let f = fact(r, &mut x, &mut t.dict);
            t.put(f);
        }
    }
    Ok(())
}

/// Changes read per page.
const PAGE: u64 = 20_000;

/// Reads and applies every change after the table's position.
async fn catch_up(conn: &mut Conn, ws: WorkspaceId, t: &mut Table) -> Result<()> {
    let (mut xid, mut seq) = (t.xid.clone(), t.seq);
    loop {
        let rows = reads::changes(conn, ws, &xid, seq, PAGE).await?;
        let more = rows.len() as u64 == PAGE;
        if let Some(last) = rows.last() {
            (xid, seq) = (last.change_xid.clone(), last.change_seq);
        }
        // Settled rows come first in feed order: the table's position moves past them only.
        let settled = rows
            .iter()
            .take_while(|r| r.settled)
            .last()
            .map(|r| (r.change_xid.clone(), r.change_seq));
        apply(conn, t, rows).await?;
        if let Some((x, s)) = settled {
            (t.xid, t.seq) = (x, s);
        }
        if !more {
            return Ok(());
        }
    }
}

type Shared = Arc<RwLock<Table>>;

/// The workspace's table, current as of now, shared with the requests reading it.
async fn current(conn: &mut Conn, ws: WorkspaceId) -> Result<OwnedRwLockReadGuard<Table>> {
    let shared = match conn.memo().get::<Shared>(ws) {
        Some(s) => s,
        None => {
            let fresh: Shared = Arc::new(RwLock::new(Table {
                xid: "0".into(),
                ..Table::default()
            }));
            conn.memo()
                .update::<Shared, _>(ws, |e| e.map(|s| s.clone()))
                .unwrap_or_else(|| {
                    conn.memo().put::<Shared>(ws, fresh.clone());
                    fresh
                })
        }
    };
    // Usually nothing changed: look with a read lock, so readers run side by side.
    let read = shared.clone().read_owned().await;
    if reads::changes(conn, ws, &read.xid, read.seq, 1)
        .await?
        .is_empty()
    {
        return Ok(read);
    }
    drop(read);
    let mut write = shared.write_owned().await;
    catch_up(conn, ws, &mut write).await?;
    Ok(write.downgrade())
}

/// The table a request computes from, read-locked while it does.
pub struct View(OwnedRwLockReadGuard<Table>);

impl std::ops::Deref for View {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.0
    }
}

/// The ticket filters, applied to facts.
#[derive(Debug, Default)]
pub struct Sel {
    statuses: Option<Vec<Status>>,
    priorities: Option<Vec<Priority>>,
    channels: Option<Vec<Channel>>,
    categories: Option<Vec<u32>>,
    groups: Option<Vec<u32>>,
    assignees: Option<(Vec<u32>, bool)>,
    tags: Option<Vec<u32>>,
    created_after: Option<i64>,
    created_before: Option<i64>,
}

impl Sel {
    /// Whether no filter is set (every ticket passes).
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.statuses.is_none()
            && self.priorities.is_none()
            && self.channels.is_none()
            && self.categories.is_none()
            && self.groups.is_none()
            && self.assignees.is_none()
            && self.tags.is_none()
            && self.created_after.is_none()
            && self.created_before.is_none()
    }

    /// The filters as applied to facts, or `None` when one of them needs the database.
    pub fn compile(f: &TicketFilter, dict: &Dict) -> Option<Sel> {
        let rest = TicketFilter {
            statuses: Vec::new(),
            priorities: Vec::new(),
            channels: Vec::new(),
            category_ids: Vec::new(),
            group_ids: Vec::new(),
            assignee: AssigneeFilter::Any,
            tags: Vec::new(),
            created_after: None,
            created_before: None,
            ..f.clone()
        };
        if rest != TicketFilter::default() {
            return None;
        }
        fn some<T>(v: Vec<T>) -> Option<Vec<T>> {
            (!v.is_empty()).then_some(v)
        }
        let tags: Vec<u32> = f
            .tags
            .iter()
            .map(|t| dict.by_tag.get(t).copied().unwrap_or(NOWHERE))
            .collect();
        Some(Sel {
            // Every word was checked by the list's parser.
            statuses: some(f.statuses.iter().filter_map(|s| Status::parse(s)).collect()),
            priorities: some(
                f.priorities
                    .iter()
                    .filter_map(|p| Priority::try_from(*p).ok())
                    .collect(),
            ),
            channels: some(
                f.channels
                    .iter()
                    .filter_map(|c| Channel::parse(c))
                    .collect(),
            ),
            categories: some(f.category_ids.iter().map(|c| dict.lookup(c.0)).collect()),
            groups: some(f.group_ids.iter().map(|g| dict.lookup(g.0)).collect()),
            assignees: match &f.assignee {
                AssigneeFilter::Any => None,
                AssigneeFilter::Nobody => Some((Vec::new(), true)),
                AssigneeFilter::OneOf(ids, nobody) => {
                    Some((ids.iter().map(|u| dict.lookup(u.0)).collect(), *nobody))
                }
            },
            tags: some(tags),
            created_after: f.created_after,
            created_before: f.created_before,
        })
    }

    /// Whether the ticket passes every filter.
    #[must_use]
    pub fn matches(&self, f: &Fact) -> bool {
        fn within<T: PartialEq>(set: Option<&Vec<T>>, v: &T) -> bool {
            set.is_none_or(|s| s.contains(v))
        }
        within(self.statuses.as_ref(), &f.status)
            && within(self.priorities.as_ref(), &f.priority)
            && within(self.channels.as_ref(), &f.channel)
            && within(self.categories.as_ref(), &f.category)
            && within(self.groups.as_ref(), &f.group)
            && self.assignees.as_ref().is_none_or(|(ids, nobody)| {
                if f.assignee == 0 {
                    *nobody
                } else {
                    ids.contains(&f.assignee)
                }
            })
            && self
                .tags
                .as_ref()
                .is_none_or(|t| f.tags.iter().any(|c| t.contains(c)))
            && self.created_after.is_none_or(|a| f.created_at >= a)
            && self.created_before.is_none_or(|b| f.created_at < b)
    }
}

/// The facts of a request's scope: the workspace's table, and the filters to apply to it.
pub async fn load(conn: &mut Conn, scope: &Scope) -> Result<(View, Sel)> {
    let table = current(conn, scope.ws).await?;
    let sel = Sel::compile(&scope.filter, &table.dict).ok_or_else(|| {
        crate::error::Error::field("query", "analytics take the filters group_id, category_id, channel, priority and assignee_id only")
    })?;
    Ok((View(table), sel))
}

/// Numbers and rating comments of the given tickets.
pub async fn rating_comments(
    conn: &mut Conn,
    ws: WorkspaceId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, (String, Option<String>)>> {
    let ids: Vec<TicketId> = ids.iter().map(|i| TicketId(*i)).collect();
    Ok(reads::rating_comments(conn, ws, &ids)
        .await?
        .into_iter()
        .map(|(id, number, comment)| (id.0, (number, comment)))
        .collect())
}

/// The plans of the reads that keep a workspace's fact table current (`EXPLAIN QUERY PLAN` on
/// SQLite, `EXPLAIN` on PostgreSQL), by name: `changes`, `replies`, `events`, `tags`. With
/// `no_seq_scan`, PostgreSQL plans as for tables too big to scan (for tests on a few rows).
pub async fn plans(
    store: &crate::store::Store,
    ws: WorkspaceId,
    no_seq_scan: bool,
) -> Result<Vec<(&'static str, String)>> {
    if no_seq_scan {
        let mut tx = store.begin().await?;
        return reads::plans_without_scans(&mut tx, ws).await;
    }
    let mut conn = store.read().await?;
    reads::plans(&mut conn, ws).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(n: u128, created: i64, solved: Option<i64>, status: Status) -> Fact {
        Fact {
            id: Uuid::from_u128(n),
            created_at: created,
            first_response_at: NONE,
            first_response_due_at: NONE,
            first_response_risk_at: NONE,
            solved_at: solved.unwrap_or(NONE),
            resolution_due_at: NONE,
            resolution_risk_at: NONE,
            rated_at: NONE,
            last_reply_at: NONE,
            category: 0,
            group: 0,
            assignee: 0,
            policy: 0,
            status,
            priority: Priority::Low,
            channel: Channel::Email,
            rating: 0,
            has_feedback: false,
            reopens: 0,
            tags: Box::default(),
            replies: Box::default(),
        }
    }

    fn consistent(t: &Table) {
        assert_eq!(t.facts.len(), t.created.len());
        assert_eq!(t.facts.len(), t.settled.len());
        assert_eq!(t.facts.len(), t.slots.len());
        for (i, f) in t.facts.iter().enumerate() {
            assert_eq!(t.slots[&f.id] as usize, i);
            assert_eq!(t.created[i], f.created_at);
            let settled = if matches!(f.status, Status::Resolved | Status::Closed) {
                f.solved_at().unwrap_or(i64::MIN)
            } else {
                i64::MAX
            };
            assert_eq!(t.settled[i], settled);
        }
    }

    #[test]
    fn the_time_arrays_follow_every_put_and_remove() {
        let mut t = Table::default();
        t.put(fact(1, 10, None, Status::Open));
        t.put(fact(2, 20, Some(25), Status::Resolved));
        t.put(fact(3, 30, Some(35), Status::Open));
        consistent(&t);
        assert_eq!(
            t.settled,
            [i64::MAX, 25, i64::MAX],
            "reopened: not solved now"
        );
        t.put(fact(1, 10, Some(15), Status::Closed));
        consistent(&t);
        t.put(fact(4, 40, None, Status::Closed));
        consistent(&t);
        assert_eq!(t.settled[3], i64::MIN, "closed at no known time");
        t.remove(Uuid::from_u128(4));
        t.remove(Uuid::from_u128(1));
        consistent(&t);
        assert_eq!(t.created, [30, 20], "the last row moved into the hole");
        t.remove(Uuid::from_u128(9));
        t.remove(Uuid::from_u128(2));
        t.remove(Uuid::from_u128(3));
        consistent(&t);
        assert!(t.facts.is_empty());
    }
}
