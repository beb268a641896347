//! The facts of one request: the workspace's fact table read-locked once for every figure the
//! request computes, the tickets of its range, and the SLA outcome of a ticket's clocks.

use super::Request;
use super::facts::{self, Fact, Sel, Table, View};
use crate::error::Result;
use crate::store::Conn;
use crate::tickets::status::Status;

/// Whether a ticket is still being worked on.
#[must_use]
pub fn unsolved(s: Status) -> bool {
    matches!(s, Status::New | Status::Open | Status::Pending)
}

/// The facts of one request, loaded once however many figures use them (the page shows them
/// all).
#[derive(Default)]
pub struct Memo {
    loaded: Option<(View, Sel)>,
}

impl Memo {
    /// The facts of the request's scope.
    pub async fn facts<'m>(&'m mut self, conn: &mut Conn, req: &Request) -> Result<Facts<'m>> {
        let (view, sel) = match self.loaded.take() {
            Some(loaded) => self.loaded.insert(loaded),
            None => self.loaded.insert(facts::load(conn, &req.scope).await?),
        };
        Ok(Facts::new(view, sel, req))
    }
}

/// The tickets of a request: those passing its filters, and among them those created in its
/// range.
pub struct Facts<'a> {
    pub table: &'a Table,
    sel: &'a Sel,
    from: i64,
    to: i64,
    /// Created in the range.
    pub created: Vec<&'a Fact>,
}

impl<'a> Facts<'a> {
    fn new(table: &'a Table, sel: &'a Sel, req: &Request) -> Facts<'a> {
        let (from, to) = (req.scope.from, req.scope.to);
        let all = sel.is_all();
        let created = table
            .created
            .iter()
            .zip(&table.facts)
            .filter(|(c, f)| (from..to).contains(*c) && (all || sel.matches(f)))
            .map(|(_, f)| f)
            .collect();
        Facts {
            table,
            sel,
            from,
            to,
            created,
        }
    }

    /// The rows (by index) whose time in `times` passes `keep` and that pass the filters.
    fn passing(
        &self,
        times: &'a [i64],
        keep: impl Fn(i64) -> bool + 'a,
    ) -> impl Iterator<Item = usize> + 'a {
        let (facts, sel) = (&self.table.facts, self.sel);
        let all = sel.is_all();
        times
            .iter()
            .enumerate()
            .filter(move |(i, t)| keep(**t) && (all || sel.matches(&facts[*i])))
            .map(|(i, _)| i)
    }

    /// When each ticket solved in the range was solved, and who has it (tickets moved back to
    /// pending keep their resolution time and are not counted).
    #[must_use]
    pub fn solved(&self) -> Vec<(i64, u32)> {
        let (from, to) = (self.from, self.to);
        self.passing(&self.table.settled, move |t| (from..to).contains(&t))
            .map(|i| (self.table.settled[i], self.table.facts[i].assignee))
            .collect()
    }

    /// The backlog at instant `at`: tickets created before it and not solved by then
    /// (unsolved now, or solved at or after it).
    #[must_use]
    pub fn backlog_at(&self, at: i64) -> i64 {
        let (t, facts, sel) = (self.table, &self.table.facts, self.sel);
        let all = sel.is_all();
        t.created
            .iter()
            .zip(&t.settled)
            .enumerate()
            .filter(|(i, (c, s))| **c < at && **s >= at && (all || sel.matches(&facts[*i])))
            .count() as i64
    }

    /// Public replies by staff in the range, by author code.
    #[must_use]
    pub fn replies(&self) -> Vec<i64> {
        let mut by = vec![0; self.table.dict.codes()];
        let from = self.from;
        for i in self.passing(&self.table.last_reply, move |t| t >= from) {
            for r in self.table.facts[i]
                .replies
                .iter()
                .filter(|r| (self.from..self.to).contains(&r.at))
            {
                if let Some(n) = by.get_mut(r.author as usize) {
                    *n += 1;
                }
            }
        }
        by
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

/// The first-response clock at `now` of a ticket in `status` responded to `at` (if it was).
#[must_use]
pub fn first_response_outcome(
    status: Status,
    at: Option<i64>,
    due: Option<i64>,
    risk: Option<i64>,
    now: i64,
) -> Outcome {
    let Some(due) = due else {
        return Outcome::Open;
    };
    match at {
        Some(at) if at <= due => Outcome::Met,
        Some(_) => Outcome::Breached,
        None if !unsolved(status) => Outcome::Open,
        None if due <= now => Outcome::Breached,
        None if risk.is_some_and(|r| r <= now) => Outcome::AtRisk,
        None => Outcome::Open,
    }
}

/// The resolution clock at `now` (it runs while the ticket is new or open) of a ticket solved
/// at `solved` (if it is) and responded to at `responded`.
#[must_use]
pub fn resolution_outcome(
    status: Status,
    solved: Option<i64>,
    responded: Option<i64>,
    due: Option<i64>,
    risk: Option<i64>,
    now: i64,
) -> Outcome {
    let Some(due) = due else {
        return Outcome::Open;
    };
    match solved {
        Some(at) if at <= due => Outcome::Met,
        Some(_) => Outcome::Breached,
        None if !matches!(status, Status::New | Status::Open) => Outcome::Open,
        None if due <= now => Outcome::Breached,
        None if responded.is_some() && risk.is_some_and(|r| r <= now) => Outcome::AtRisk,
        None => Outcome::Open,
    }
}

impl crate::store::analytics::Fact {
    /// First response time in microseconds.
    #[must_use]
    pub fn first_response(&self) -> Option<i64> {
        self.first_response_at.map(|t| (t - self.created_at).max(0))
    }

    /// Resolution time in microseconds.
    #[must_use]
    pub fn resolution(&self) -> Option<i64> {
        self.solved().map(|t| (t - self.created_at).max(0))
    }

    /// When the ticket was solved, if it is.
    #[must_use]
    pub fn solved(&self) -> Option<i64> {
        self.solved_at.filter(|_| !unsolved(self.status))
    }

    /// The first-response clock at `now`.
    #[must_use]
    pub fn first_response_outcome(&self, now: i64) -> Outcome {
        first_response_outcome(
            self.status,
            self.first_response_at,
            self.first_response_due_at,
            self.first_response_risk_at,
            now,
        )
    }

    /// The resolution clock at `now`.
    #[must_use]
    pub fn resolution_outcome(&self, now: i64) -> Outcome {
        resolution_outcome(
            self.status,
            self.solved(),
            self.first_response_at,
            self.resolution_due_at,
            self.resolution_risk_at,
            now,
        )
    }
}

impl Fact {
    /// First response time in microseconds.
    #[must_use]
    pub fn first_response(&self) -> Option<i64> {
        self.first_response_at()
            .map(|t| (t - self.created_at).max(0))
    }

    /// When the ticket was solved, if it is.
    #[must_use]
    pub fn solved(&self) -> Option<i64> {
        self.solved_at().filter(|_| !unsolved(self.status))
    }

    /// Resolution time in microseconds.
    #[must_use]
    pub fn resolution(&self) -> Option<i64> {
        self.solved().map(|t| (t - self.created_at).max(0))
    }

    /// The first-response clock at `now`.
    #[must_use]
    pub fn first_response_outcome(&self, now: i64) -> Outcome {
        first_response_outcome(
            self.status,
            self.first_response_at(),
            self.first_response_due_at(),
            self.first_response_risk_at(),
            now,
        )
    }

    /// The resolution clock at `now`.
    #[must_use]
    pub fn resolution_outcome(&self, now: i64) -> Outcome {
        resolution_outcome(
            self.status,
            self.solved(),
            self.first_response_at(),
            self.resolution_due_at(),
            self.resolution_risk_at(),
            now,
        )
    }
}
