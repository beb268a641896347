//! Importers: a team's history from another helpdesk (`ferrodesk import csv|zendesk`). Each
//! source reads its format into [`Record`]s; the [`Importer`] checks every record whole (a bad
//! one is reported with where it came from and skipped, never half-written) and writes the
//! good ones in large transactions, as `ferrodesk seed` does.
//!
//! What an imported ticket gets: its original times, status, priority, category (created when
//! new), tags, requester (a customer, created when new), assignee (an existing user by email;
//! an unknown agent is created inactive), its thread with authors, times and public/internal,
//! channel `import`, SLA clocks computed from its real times, and a search document. Clocks
//! already past are recorded as noticed, so the SLA scan fires nothing for them; no mail, no
//! webhook, no rule runs. Each record's source id is remembered (`integration_refs`, system
//! `import:<source>`): a second run skips what the first one wrote and says so.

pub mod csv;
mod record;
pub mod thulium;
pub mod zendesk;

use record::check;
pub use record::{Author, FileRef, Message, Record, priority_word, status_word, time_word};

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use crate::ctx::Ctx;
use crate::ids::{CategoryId, CommentId, CustomerId, EventId, TicketId, UserId, WorkspaceId};
use crate::sla::engine::{self, SlaContext};
use crate::store::comments::CommentRow;
use crate::store::customers::CustomerRow;
use crate::store::events::EventRow;
use crate::store::{self, Tx};
use crate::tickets::numbering::NumberFormat;
use crate::tickets::status::{Channel, Role, Status};

/// Records written per transaction.
pub const BATCH: usize = 1000;

/// A record that was not imported, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub origin: String,
    pub reason: String,
}

/// A file the source referenced and the import did not fetch.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub source_id: String,
    pub file_name: String,
    pub url: String,
}

/// What a run did (printed, and written to the report file).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub source: String,
    pub created: usize,
    pub skipped: usize,
    pub failed: Vec<Failure>,
    /// Staff users made for unknown agents (inactive, no password).
    pub agents_created: Vec<String>,
    pub categories_created: Vec<String>,
    pub customers_created: usize,
    pub comments: usize,
    /// Notes about what was read but left alone (attachments listed, not fetched, …).
    pub notes: Vec<String>,
    /// Attachments the source referenced by URL (not fetched).
    pub attachments: Vec<Listed>,
    /// Attachments fetched and stored (`--fetch-attachments`).
    pub files_fetched: usize,
    pub seconds: f64,
}

impl Report {
    /// The one-line summary.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{}: {} created, {} skipped (already imported), {} failed; {} messages, {} new customers, {} new agents, {} new categories ({:.1}s)",
            self.source,
            self.created,
            self.skipped,
            self.failed.len(),
            self.comments,
            self.customers_created,
            self.agents_created.len(),
            self.categories_created.len(),
            self.seconds
        )
    }
}

/// Writes records into one workspace.
pub struct Importer<'a> {
    ctx: &'a Ctx,
    ws: WorkspaceId,
    system: String,
    /// Where message ids are remembered, when the source's messages have ids a live bridge
    /// also sees.
    message_system: Option<String>,
    channel: Channel,
    format: NumberFormat,
    number_start: i64,
    sla: SlaContext,
    users: HashMap<String, UserId>,
    categories: HashMap<String, CategoryId>,
    started: std::time::Instant,
    /// Fetches the files messages reference (`--fetch-attachments`); `None` lists them.
    fetch: Option<(reqwest::Client, usize)>,
    pub report: Report,
}

impl<'a> Importer<'a> {
    /// An importer for `source` (`csv`, `zendesk`) into the workspace with this slug.
    pub async fn new(ctx: &'a Ctx, slug: &str, source: &str) -> anyhow::Result<Importer<'a>> {
        let mut tx = ctx.store.begin().await?;
        let w = store::workspaces::find_by_slug(&mut tx, slug)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no workspace with slug {slug}"))?;
        let sla = engine::load(&mut tx, w.id).await?;
        let (users, _) = store::users::list(&mut tx, w.id, 100_000, 0).await?;
        let categories = store::categories::list(&mut tx, w.id, true).await?;
        tx.commit().await?;
        Ok(Importer {
            ctx,
            ws: w.id,
            system: format!("import:{source}"),
            message_system: None,
            channel: Channel::Import,
            format: NumberFormat::parse(&w.ticket_number_format).unwrap_or_default(),
            number_start: w.ticket_number_start,
            sla,
            users: users.into_iter().map(|u| (u.email, u.id)).collect(),
            categories: categories
                .into_iter()
                .map(|c| (store::categories::name_key(&c.name), c.id))
                .collect(),
            started: std::time::Instant::now(),
            fetch: None,
            report: Report {
                source: source.to_owned(),
                ..Report::default()
            },
        })
    }

    /// Keys records as a live bridge does (tickets under `tickets`, messages under `messages` in
    /// `integration_refs`) and writes them on its channel: what either path wrote, the other
    /// skips.
    pub fn keyed_like_bridge(&mut self, tickets: &str, messages: &str, channel: Channel) {
        self.system = tickets.to_owned();
        self.message_system = Some(messages.to_owned());
        self.channel = channel;
    }

    /// The ids not yet written (by an earlier run or the live bridge); the others are counted
    /// as skipped. Lets a source avoid fetching what it would skip.
    pub async fn unseen(&mut self, ids: Vec<String>) -> anyhow::Result<Vec<String>> {
        let known = self.known(&ids).await?;
        self.report.skipped += known.len();
        Ok(ids.into_iter().filter(|i| !known.contains(i)).collect())
    }

    /// Which of these source ids were written before (read outside any write transaction).
    async fn known(&self, ids: &[String]) -> anyhow::Result<std::collections::HashSet<String>> {
        let mut conn = self.ctx.store.read().await?;
        let mut known = std::collections::HashSet::new();
        for chunk in ids.chunks(500) {
            known.extend(
                store::integrations::lookup_many(&mut conn, self.ws, &self.system, chunk)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id),
            );
        }
        Ok(known)
    }

    /// Fetches the files messages reference (each at most `max_bytes`) instead of listing them.
    pub fn fetch_files(&mut self, max_bytes: usize) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .user_agent("Ferrodesk import")
            .build()?;
        self.fetch = Some((client, max_bytes));
        Ok(())
    }

    /// Downloads one file into storage; answers its attachment row (not yet linked).
    async fn download(
        &self,
        f: &FileRef,
    ) -> anyhow::Result<crate::store::attachments::AttachmentRow> {
        let Some((client, max)) = &self.fetch else {
            anyhow::bail!("not fetching");
        };
        let mut res = client.get(&f.url).send().await?.error_for_status()?;
        if res.content_length().is_some_and(|n| n > *max as u64) {
            anyhow::bail!("larger than {max} bytes");
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            bytes.extend_from_slice(&chunk);
            anyhow::ensure!(bytes.len() <= *max, "larger than {max} bytes");
        }
        let id = uuid::Uuid::now_v7();
        let key = crate::files::Files::key(self.ws, id);
        let mime_type = crate::files::sniff(&bytes[..bytes.len().min(8192)]);
        let size = i64::try_from(bytes.len())?;
        self.ctx.files.put(&key, bytes).await?;
        Ok(crate::store::attachments::AttachmentRow {
            id,
            workspace_id: self.ws,
            ticket_id: None,
            comment_id: None,
            file_name: crate::files::clean_file_name(Some(&f.file_name)),
            mime_type,
            file_size: size,
            storage_key: key,
            content_id: None,
            is_inline: false,
            uploaded_by: None,
            created_at: crate::clock::now_micros(),
        })
    }

    /// Notes a record the source could not read.
    pub fn fail(&mut self, origin: impl Into<String>, reason: impl Into<String>) {
        self.report.failed.push(Failure {
            origin: origin.into(),
            reason: reason.into(),
        });
    }

    /// Ends the run: its report.
    #[must_use]
    pub fn finish(mut self) -> Report {
        self.report.seconds = self.started.elapsed().as_secs_f64();
        // In file order: a record that failed its checks is reported when its batch is
        // written, after later lines that could not be read at all.
        let mut files: Vec<String> = Vec::new();
        for f in &self.report.failed {
            let (file, _) = split_origin(&f.origin);
            if !files.iter().any(|x| x == file) {
                files.push(file.to_owned());
            }
        }
        self.report.failed.sort_by_key(|f| {
            let (file, n) = split_origin(&f.origin);
            (files.iter().position(|x| x == file), n)
        });
        self.report
    }

    /// Checks and writes up to [`BATCH`] records in one transaction; records seen before are
    /// skipped, bad ones reported.
    pub async fn write(&mut self, records: Vec<Record>) -> anyhow::Result<()> {
        let mut good = Vec::new();
        let mut seen_here = std::collections::HashSet::new();
        for r in records {
            match check(r) {
                Ok(r) if !seen_here.insert(r.source_id.clone()) => {
                    let origin = r.origin.clone();
                    self.fail(origin, format!("the id {} appears twice", r.source_id));
                }
                Ok(r) => good.push(r),
                Err((origin, reason)) => self.fail(origin, reason),
            }
        }
        if good.is_empty() {
            return Ok(());
        }
        let mut fetched = self.fetch_files_of(&good).await?;
        let mut tx = self.ctx.store.begin().await?;
        let ids: Vec<String> = good.iter().map(|r| r.source_id.clone()).collect();
        let known: std::collections::HashSet<String> =
            store::integrations::lookup_many(&mut tx, self.ws, &self.system, &ids)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
        good.retain(|r| !known.contains(&r.source_id));
        self.report.skipped += ids.len() - good.len();
        if good.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        let customers = self.customers(&mut tx, &good).await?;
        self.agents_and_categories(&mut tx, &good).await?;
        let now = crate::clock::now_micros();
        let first = store::tickets::reserve_numbers(
            &mut tx,
            self.ws,
            self.number_start,
            i64::try_from(good.len())?,
        )
        .await?;
        let mut out = Batch::default();
        for (k, r) in good.into_iter().enumerate() {
            let number = first + i64::try_from(k)?;
            self.build(&mut out, r, number, &customers, &mut fetched, now);
        }
        self.save(&mut tx, out, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Downloads the files of the records not imported yet (`--fetch-attachments`), before
    /// the batch's transaction opens: the single writer is never held while a remote host
    /// answers. Keyed by record, message and file.
    async fn fetch_files_of(&self, records: &[Record]) -> anyhow::Result<Fetched> {
        let mut fetched = Fetched::new();
        if self.fetch.is_none() {
            return Ok(fetched);
        }
        let ids: Vec<String> = records.iter().map(|r| r.source_id.clone()).collect();
        let known = self.known(&ids).await?;
        for r in records.iter().filter(|r| !known.contains(&r.source_id)) {
            for (mi, m) in r.messages.iter().enumerate() {
                for (fi, f) in m.files.iter().enumerate() {
                    let got = self.download(f).await.map_err(|e| e.to_string());
                    fetched.insert((r.source_id.clone(), mi, fi), got);
                }
            }
        }
        Ok(fetched)
    }

    /// Every customer the records name (requesters and authors), created when new.
    async fn customers(
        &mut self,
        tx: &mut Tx,
        records: &[Record],
    ) -> anyhow::Result<HashMap<String, CustomerRow>> {
        let mut wanted: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
        for r in records {
            wanted
                .entry(r.requester_email.clone())
                .or_insert_with(|| (r.requester_name.clone(), r.requester_company.clone()));
            for m in &r.messages {
                if let Author::Customer { email, name } = &m.author {
                    wanted
                        .entry(email.clone())
                        .or_insert_with(|| (name.clone(), None));
                }
            }
        }
        let emails: Vec<String> = wanted.keys().cloned().collect();
        let mut found: HashMap<String, CustomerRow> = HashMap::new();
        for chunk in emails.chunks(500) {
            for c in store::customers::by_emails(tx, self.ws, chunk).await? {
                found.insert(c.email.clone(), c);
            }
        }
        let now = crate::clock::now_micros();
        let new: Vec<CustomerRow> = wanted
            .into_iter()
            .filter(|(e, _)| !found.contains_key(e))
            .map(|(email, (name, company))| CustomerRow {
                id: CustomerId::new(),
                workspace_id: self.ws,
                name: name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned()),
                email,
                phone: None,
                company,
                notes: String::new(),
                version: 1,
                created_at: now,
                updated_at: now,
                erased_at: None,
            })
            .collect();
        for chunk in new.chunks(500) {
            store::customers::insert_many(tx, chunk).await?;
        }
        self.report.customers_created += new.len();
        found.extend(new.into_iter().map(|c| (c.email.clone(), c)));
        Ok(found)
    }

    /// Unknown assignees and agent authors become inactive agents; unknown categories are
    /// created.
    async fn agents_and_categories(
        &mut self,
        tx: &mut Tx,
        records: &[Record],
    ) -> Result<(), anyhow::Error> {
        let now = crate::clock::now_micros();
        for r in records {
            let agents = r.assignee_email.iter().map(|e| (e.clone(), None)).chain(
                r.messages.iter().filter_map(|m| match &m.author {
                    Author::Agent {
                        email: Some(e),
                        name,
                    } => Some((e.clone(), name.clone())),
                    _ => None,
                }),
            );
            for (email, name) in agents.collect::<Vec<_>>() {
                if self.users.contains_key(&email) {
                    continue;
                }
                // An address taken by a user of another workspace stays unassigned.
                if store::users::find_by_email(tx, &email).await?.is_some() {
                    self.users.insert(email, UserId(uuid::Uuid::nil()));
                    continue;
                }
                let u = store::users::UserRow {
                    id: UserId::new(),
                    workspace_id: self.ws,
                    name: name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned()),
                    email: email.clone(),
                    role: Role::Agent,
                    password_hash: None,
                    active: false,
                    available: false,
                    is_owner: false,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                store::users::insert(tx, &u).await?;
                self.report.agents_created.push(email.clone());
                self.users.insert(email, u.id);
            }
            if let Some(name) = &r.category {
                let key = store::categories::name_key(name);
                if self.categories.contains_key(&key) {
                    continue;
                }
                let c = store::categories::CategoryRow {
                    id: CategoryId::new(),
                    workspace_id: self.ws,
                    name: name.clone(),
                    description: String::new(),
                    color: None,
                    parent_id: None,
                    position: store::categories::next_position(tx, self.ws).await?,
                    archived: false,
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                store::categories::insert(tx, &c).await?;
                self.report.categories_created.push(name.clone());
                self.categories.insert(key, c.id);
            }
        }
        Ok(())
    }

    fn user(&self, email: Option<&String>) -> Option<UserId> {
        email
            .and_then(|e| self.users.get(e))
            .copied()
            .filter(|u| !u.0.is_nil())
    }

    /// The rows of one record.
    fn build(
        &mut self,
        out: &mut Batch,
        r: Record,
        number: i64,
        customers: &HashMap<String, CustomerRow>,
        fetched: &mut Fetched,
        now: i64,
    ) {
        let requester = &customers[&r.requester_email];
        let created = r.created_at;
        let civil = store::timestamp(created).to_zoned(jiff::tz::TimeZone::UTC);
        let description = r.messages[0].body.clone();
        let mut row = crate::tickets::service::new_row(
            requester,
            number,
            self.format.render(number, civil.year(), civil.month()),
            r.subject.clone(),
            description,
            created,
        );
        row.status = r.status;
        row.priority = r.priority;
        row.channel = self.channel;
        row.external_ref = r.external_ref.clone();
        row.category_id = r
            .category
            .as_ref()
            .and_then(|c| self.categories.get(&store::categories::name_key(c)))
            .copied();
        row.assignee_id = self.user(r.assignee_email.as_ref());
        let mut doc = crate::tickets::service::document_head(&row);
        for (mi, m) in r.messages.iter().enumerate() {
            let (author_type, author_id, author_name) = match &m.author {
                Author::Customer { email, name } => {
                    let c = &customers[email];
                    (
                        "customer",
                        Some(c.id.0),
                        name.clone().unwrap_or_else(|| c.name.clone()),
                    )
                }
                Author::Agent { email, name } => (
                    "agent",
                    self.user(email.as_ref()).map(|u| u.0),
                    name.clone()
                        .or_else(|| email.clone())
                        .unwrap_or_else(|| "Imported agent".into()),
                ),
            };
            let at = m.created_at.clamp(created, now.max(created));
            if author_type == "agent" && m.public {
                row.first_response_at.get_or_insert(at);
                row.last_agent_reply_at = Some(at);
            }
            if m.public {
                row.last_message_at = row.last_message_at.max(at);
            }
            if out.new.comments.len() > out.first_comment_of_ticket {
                doc.push('\n');
                doc.push_str(&m.body);
            }
            let comment_id = CommentId::new();
            if let Some(key) = m
                .source_id
                .clone()
                .filter(|_| self.message_system.is_some())
            {
                out.message_refs.push((key, row.id, Some(comment_id)));
            }
            for (fi, f) in m.files.iter().enumerate() {
                match fetched.remove(&(r.source_id.clone(), mi, fi)) {
                    Some(Ok(mut a)) => {
                        a.ticket_id = Some(row.id);
                        a.comment_id = Some(comment_id);
                        out.attachments.push(a);
                    }
                    Some(Err(e)) => self.report.notes.push(format!(
                        "{}: {} not fetched from {}: {e}",
                        r.source_id, f.file_name, f.url
                    )),
                    None => self.report.attachments.push(Listed {
                        source_id: r
                            .external_ref
                            .clone()
                            .unwrap_or_else(|| r.source_id.clone()),
                        file_name: f.file_name.clone(),
                        url: f.url.clone(),
                    }),
                }
            }
            out.new.comments.push(CommentRow {
                id: comment_id,
                workspace_id: self.ws,
                ticket_id: row.id,
                body: m.body.clone(),
                author_type: author_type.into(),
                author_id,
                author_name,
                is_internal: !m.public,
                channel: self.channel.as_str().into(),
                merged_from_ticket_id: None,
                html_body: None,
                version: 1,
                created_at: at,
                updated_at: at,
            });
        }
        out.first_comment_of_ticket = out.new.comments.len();
        row.updated_at = r.updated_at.clamp(created, now.max(created));
        match r.status {
            Status::Resolved => row.resolved_at = Some(row.updated_at),
            Status::Closed => {
                row.resolved_at = Some(row.updated_at);
                row.closed_at = Some(row.updated_at);
            }
            _ => {}
        }
        // As for a ticket created pending, resolved or closed through the API: its resolution
        // clock stands still from the start (a reopen starts it).
        let pauses: Vec<(i64, Option<i64>)> = if engine::pauses_resolution(row.status) {
            out.pauses.push((row.id, created));
            vec![(created, None)]
        } else {
            vec![]
        };
        engine::compute(&self.sla, &mut row, &pauses, now);
        // Clocks already past at import were missed in the old system: recorded as noticed,
        // so the scan does not fire for them now.
        let clocks = [
            (
                "first_response",
                row.first_response_at.is_none(),
                row.first_response_due_at,
                row.first_response_risk_at,
            ),
            (
                "resolution",
                matches!(row.status, Status::New | Status::Open),
                row.resolution_due_at,
                row.resolution_risk_at,
            ),
        ];
        for (clock, running, due, risk) in clocks {
            let Some(due) = due.filter(|_| running) else {
                continue;
            };
            if risk.is_some_and(|r| r <= now) {
                out.notices.push((row.id, clock, "at_risk", due));
            }
            if due <= now {
                out.notices.push((row.id, clock, "breached", due));
            }
        }
        out.new
            .tags
            .extend(r.tags.iter().map(|t| (row.id, t.clone())));
        out.new.events.push(EventRow {
            id: EventId::new(),
            workspace_id: self.ws,
            ticket_id: row.id,
            event_type: "created".into(),
            actor_type: "system".into(),
            actor_id: None,
            from_status: None,
            to_status: Some(row.status.as_str().to_owned()),
            metadata: json!({"imported": self.report.source, "source_id": r.source_id}).to_string(),
            created_at: created,
        });
        out.refs.push((r.source_id, row.id, None));
        out.new.docs.push((row.id, doc));
        out.new.rows.push(row);
    }

    /// Inserts a built batch.
    async fn save(&mut self, tx: &mut Tx, out: Batch, now: i64) -> anyhow::Result<()> {
        let ws = self.ws;
        store::bulk::insert_new_tickets(tx, ws, &out.new).await?;
        for (ticket, from) in &out.pauses {
            store::sla::start_pause(tx, ws, *ticket, *from);
        }
        for (ticket, clock, kind, due) in &out.notices {
            store::sla::insert_notice(tx, ws, *ticket, clock, kind, *due, now).await?;
        }
        for chunk in out.refs.chunks(1000) {
            store::integrations::remember_many(tx, ws, &self.system, chunk, now);
        }
        if let Some(system) = &self.message_system {
            for chunk in out.message_refs.chunks(1000) {
                store::integrations::remember_many(tx, ws, system, chunk, now);
            }
        }
        for a in &out.attachments {
            store::attachments::insert_attachment(tx, a);
        }
        self.report.files_fetched += out.attachments.len();
        self.report.created += out.new.rows.len();
        self.report.comments += out.new.comments.len();
        Ok(())
    }
}

/// `tickets line 12` → (`tickets line`, 12).
fn split_origin(origin: &str) -> (&str, u64) {
    match origin.rsplit_once(' ') {
        Some((file, n)) => n.parse().map_or((origin, 0), |n| (file, n)),
        None => (origin, 0),
    }
}

/// The rows of a batch, written together.
#[derive(Default)]
struct Batch {
    new: store::bulk::NewTickets,
    /// Where the current ticket's thread starts in `new.comments`.
    first_comment_of_ticket: usize,
    notices: Vec<(TicketId, &'static str, &'static str, i64)>,
    refs: Vec<(String, TicketId, Option<CommentId>)>,
    /// Message ids and the comments they became (sources with a live bridge).
    message_refs: Vec<(String, TicketId, Option<CommentId>)>,
    /// Resolution clocks that stand still from creation.
    pauses: Vec<(TicketId, i64)>,
    /// Files fetched for the batch's messages.
    attachments: Vec<crate::store::attachments::AttachmentRow>,
}

/// Downloads by record (source id), message and file index.
type Fetched =
    HashMap<(String, usize, usize), Result<crate::store::attachments::AttachmentRow, String>>;
