//! Agent assist on a ticket: reply drafts (never sent or stored as replies), similar tickets
//! with how they were resolved, proposals for category, priority and tags (never applied),
//! and the usage counts of all of it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::draft::{self, Candidate, Context};
use super::sentiment::{self, Sentiment};
use super::settings::{self, Provider, Tone};
use super::summaries::Input;
use crate::auth::{Actor, Permission};
use crate::clock::{now_micros, rfc3339};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::ids::{CategoryId, TicketId, UserId, WorkspaceId};
use crate::store::ai::DraftRow;
use crate::store::tickets::TicketRow;
use crate::store::{self, Conn, Tx};
use crate::tickets::status::Status;

/// `POST /api/tickets/:id/draft-response` (seed 001's names).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DraftRequest {
    /// `professional` (default: the workspace's), `friendly` or `concise`; `formal` is read as
    /// `professional`.
    pub tone: Option<Tone>,
    /// Cite knowledge-base articles (default true).
    pub include_knowledge_base: Option<bool>,
    /// A canned response to start from.
    pub canned_response_id: Option<uuid::Uuid>,
}

/// An article a draft cites.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment {
    /// Always `knowledge_base`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    pub title: String,
}

/// A draft for the agent to edit; nothing is sent or stored in the thread.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftView {
    pub draft: String,
    /// 0–1: how well a cited article answers the question (see docs/ai.md).
    pub confidence: f64,
    pub suggested_attachments: Vec<Attachment>,
    pub tone: String,
    /// The draft asks the customer for what is missing instead of answering.
    pub clarifying: bool,
    /// `builtin` or `openai_compatible`.
    pub provider: String,
    /// Tracks whether the draft is sent and how much it was edited.
    pub draft_id: uuid::Uuid,
}

/// How long after generating a draft a public reply by the same agent counts as sent from it.
const DRAFT_WINDOW_MICROS: i64 = 24 * 3600 * 1_000_000;
/// A reply further from its draft than this edit ratio was written afresh, not from the draft.
const FROM_DRAFT_MAX_EDIT: f64 = 0.9;

/// The customer's latest public message (the question a draft answers), or the description.
fn question(input: &Input) -> String {
    input
        .thread
        .iter()
        .rev()
        .find(|c| c.author_type == "customer" && !c.is_internal)
        .map_or_else(|| input.ticket.description.clone(), |c| c.body.clone())
}

async fn candidates(
    tx: &mut Conn,
    ctx: &Ctx,
    ws: WorkspaceId,
    query: &str,
) -> Result<Vec<Candidate>> {
    let slug = store::workspaces::find(tx, ws)
        .await?
        .map(|w| w.slug)
        .unwrap_or_default();
    let hits = crate::kb::search_in(tx, ws, query, 5, ctx.semantic.get()).await?;
    let ids: Vec<_> = hits.iter().map(|h| h.id).collect();
    let rows = store::kb::find_many(tx, ws, &ids).await?;
    Ok(hits
        .into_iter()
        .filter_map(|h| {
            let a = rows.iter().find(|r| r.id == h.id)?;
            Some(Candidate {
                id: h.id.to_string(),
                title: h.title.clone(),
                text: format!("{}\n{}", a.title, crate::kb::text::plain_text(&a.body)),
                steps: crate::kb::text::steps(&a.body),
                snippet: h.snippet,
                url: format!("{}/portal/{slug}/help/articles/{}", ctx.public_url, h.id),
            })
        })
        .collect())
}

/// Writes a reply draft for the caller. Counted in usage; the ticket's
/// `ai_confidence_score` becomes the draft's confidence.
pub async fn draft_response(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    req: DraftRequest,
) -> Result<DraftView> {
    actor.require(Permission::PublicReply)?;
    let ws = actor.workspace_id;
    let mut conn = ctx.store.read().await?;
    let (settings, api_key, _) = settings::load(&mut conn, ws).await?;
    if !settings.features.drafts {
        return Err(Error::forbidden(
            "reply drafts are turned off in the support-AI settings",
        ));
    }
    let t = crate::tickets::service::load(&mut conn, ws, key, false).await?;
    // The summary's article is not needed here; the draft's own search follows.
    let input = Input::read(&mut conn, ws, t.id, None)
        .await?
        .ok_or(Error::NotFound)?;
    let canned = match req.canned_response_id {
        Some(id) => {
            let c = crate::workflow::canned::visible_to(&mut conn, actor, id)
                .await
                .map_err(|_| Error::field("cannedResponseId", "no such canned response"))?;
            Some(crate::workflow::canned::fill(
                &c,
                &input.ticket,
                &actor.name,
                &actor.email,
            ))
        }
        None => None,
    };
    let q = question(&input);
    let query = format!("{} {}", input.ticket.subject, q);
    let articles = if req.include_knowledge_base.unwrap_or(true) {
        candidates(&mut conn, ctx, ws, &query).await?
    } else {
        Vec::new()
    };
    drop(conn);
    let tone = req.tone.unwrap_or(settings.default_tone);
    let mood = sentiment::read(&super::mask::mask(&q).text).sentiment;
    let dctx = Context {
        tone,
        requester_name: &input.ticket.requester_name,
        agent_name: &actor.name,
        subject: &input.ticket.subject,
        sentiment: mood,
        canned,
        articles,
        terminology: &settings.terminology,
    };
    let terms = crate::kb::text::query_terms(&query);
    let built = draft::write(&dctx, &terms);
    let mut text = built.text.clone();
    let mut provider = "builtin";
    let mut failed = false;
    if settings.provider == Provider::OpenaiCompatible {
        match super::llm::draft(ctx, &settings, api_key.as_deref(), &input, &dctx, &built).await {
            Ok(t) => {
                text = t;
                provider = "openai_compatible";
            }
            Err(e) => {
                tracing::warn!("draft provider failed, built-in draft kept: {e}");
                failed = true;
            }
        }
    }
    let now = now_micros();
    let row = DraftRow {
        id: uuid::Uuid::now_v7(),
        workspace_id: ws,
        ticket_id: t.id,
        user_id: actor.user_id,
        draft: text.clone(),
        tone: tone.as_str().into(),
        confidence: built.confidence,
        provider: provider.into(),
        created_at: now,
    };
    let mut tx = ctx.store.begin().await?;
    store::ai::insert_draft(&mut tx, &row);
    store::ai::set_confidence(&mut tx, ws, t.id, built.confidence);
    let day = &rfc3339(now)[..10];
    store::ai::count_usage(
        &mut tx,
        ws,
        day,
        Some(actor.user_id),
        "draft",
        provider,
        None,
        now,
    );
    if failed {
        store::ai::count_usage(
            &mut tx,
            ws,
            day,
            Some(actor.user_id),
            "provider_failure",
            "openai_compatible",
            None,
            now,
        );
    }
    tx.commit().await?;
    Ok(DraftView {
        draft: text,
        confidence: built.confidence,
        suggested_attachments: built
            .cited
            .iter()
            .map(|&i| Attachment {
                kind: "knowledge_base",
                id: dctx.articles[i].id.clone(),
                title: dctx.articles[i].title.clone(),
            })
            .collect(),
        tone: tone.as_str().into(),
        clarifying: built.clarifying,
        provider: provider.into(),
        draft_id: row.id,
    })
}

/// The share of `draft` an agent changed before sending `sent` (0 = sent as drafted,
/// 1 = nothing kept): one minus the normalized Levenshtein similarity of the first 5000
/// characters of each.
#[must_use]
pub fn edit_ratio(draft: &str, sent: &str) -> f64 {
    let a: String = draft.trim().chars().take(5000).collect();
    let b: String = sent.trim().chars().take(5000).collect();
    let r = 1.0 - strsim::normalized_levenshtein(&a, &b);
    (r * 1000.0).round() / 1000.0
}

/// The oldest a draft may be for a reply sent at `now` to count as sent from it.
pub fn drafts_since(now: i64) -> i64 {
    now - DRAFT_WINDOW_MICROS
}

/// The draft a public reply by `user` may be sent from: the latest unsent one they generated
/// for the ticket in the last 24 hours. Only reads, so a reply prepared ahead asks it before it
/// queues its first write.
pub async fn draft_to_send(tx: &mut Conn, t: &TicketRow, user: UserId) -> Result<Option<DraftRow>> {
    store::ai::open_draft(tx, t.workspace_id, t.id, user, drafts_since(now_micros())).await
}

/// After a public reply by `user`, given the draft of [`draft_to_send`]: when the reply was
/// sent from it (edited by at most a set share), records that (with how much was edited) and,
/// for a first response, the ticket's `ai_first_response_time`.
pub fn on_reply_sent(
    tx: &mut Tx,
    t: &TicketRow,
    user: UserId,
    d: &DraftRow,
    comment: crate::ids::CommentId,
    body: &str,
    first_response: bool,
) {
    let now = now_micros();
    let ratio = edit_ratio(&d.draft, body);
    if ratio > FROM_DRAFT_MAX_EDIT {
        return;
    }
    store::ai::mark_draft_sent(tx, d.id, comment, ratio);
    store::ai::count_usage(
        tx,
        t.workspace_id,
        &rfc3339(now)[..10],
        Some(user),
        "draft_sent",
        &d.provider,
        Some(ratio),
        now,
    );
    if first_response {
        store::ai::set_first_response_time(
            tx,
            t.workspace_id,
            t.id,
            (now - t.created_at).max(0) / 1_000_000,
        );
    }
}

/// A similar ticket and how it ended.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Similar {
    pub id: TicketId,
    pub ticket_number: String,
    pub subject: String,
    pub status: String,
    /// Relevance (higher is better; comparable within one answer).
    pub score: f64,
    pub resolved_at: Option<String>,
    /// The last public reply of staff on a resolved or closed ticket: how it was resolved.
    pub resolution: Option<String>,
    pub category_id: Option<CategoryId>,
}

/// The distinctive search terms of a ticket: its subject and opening, without filler words,
/// longest first, at most 8.
fn ticket_terms(t: &TicketRow) -> Vec<String> {
    let opening: String = t.description.chars().take(2000).collect();
    let mut terms = crate::kb::text::query_terms(&format!("{} {opening}", t.subject));
    terms.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    terms.dedup();
    terms.retain(|w| w.chars().count() >= 3);
    terms.truncate(8);
    terms
}

/// Tickets like `t`: the full-text ranking of its distinctive terms, fused with its nearest
/// tickets by meaning when the sentence model is loaded (cosine at least
/// [`SIMILAR_MIN_COSINE`]).
async fn similar_rows(
    tx: &mut Conn,
    ctx: &Ctx,
    t: &TicketRow,
    limit: u64,
) -> Result<Vec<(TicketRow, f64)>> {
    use super::semantic::{Kind, fuse};
    let found = store::tickets::similar(tx, t.workspace_id, &ticket_terms(t), t.id, limit).await?;
    let Some(sem) = ctx.semantic.get() else {
        return Ok(found);
    };
    let near = match sem
        .embed(&format!("{}\n{}", t.subject, t.description))
        .await
    {
        Ok(v) => {
            sem.nearest(tx, t.workspace_id, Kind::Ticket, &v, 20, Some(t.id.0))
                .await?
        }
        Err(e) => {
            tracing::warn!("ticket embedding failed, full-text ranking only: {e}");
            return Ok(found);
        }
    };
    let near: Vec<uuid::Uuid> = near
        .into_iter()
        .filter(|(_, c)| *c >= SIMILAR_MIN_COSINE)
        .map(|(id, _)| id)
        .collect();
    let fts: Vec<uuid::Uuid> = found.iter().map(|(r, _)| r.id.0).collect();
    let mut rows: Vec<TicketRow> = found.into_iter().map(|(r, _)| r).collect();
    for id in near.iter().filter(|id| !fts.contains(id)) {
        if let Some(r) = store::tickets::find(tx, t.workspace_id, TicketId(*id), false).await?
            && r.merged_into_id.is_none()
        {
            rows.push(r);
        }
    }
    Ok(fuse(&[fts, near])
        .into_iter()
        .filter_map(|(id, score)| {
            let i = rows.iter().position(|r| r.id.0 == id)?;
            Some((rows.swap_remove(i), score))
        })
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect())
}

/// Cosine from which another ticket is near enough in meaning to be similar.
pub const SIMILAR_MIN_COSINE: f32 = 0.45;

fn is_done(s: Status) -> bool {
    matches!(s, Status::Resolved | Status::Closed)
}

/// `GET /api/tickets/:id/similar`: resolved tickets first (with how they were resolved),
/// then open ones; best match first within each.
pub async fn similar(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Vec<Similar>> {
    actor.require(Permission::ViewTickets)?;
    let mut tx = ctx.store.read().await?;
    let (settings, _, _) = settings::load(&mut tx, actor.workspace_id).await?;
    let t = crate::tickets::service::load(&mut tx, actor.workspace_id, key, false).await?;
    if !settings.features.similar {
        return Ok(Vec::new());
    }
    let mut rows = similar_rows(&mut tx, ctx, &t, 20).await?;
    rows.sort_by(|a, b| {
        is_done(b.0.status)
            .cmp(&is_done(a.0.status))
            .then(b.1.total_cmp(&a.1))
    });
    rows.truncate(10);
    let mut out = Vec::with_capacity(rows.len());
    for (r, score) in rows {
        let resolution = if is_done(r.status) {
            store::comments::list(&mut tx, r.workspace_id, r.id, false)
                .await?
                .iter()
                .rev()
                .find(|c| c.author_type == "agent")
                .map(|c| {
                    let m = super::mask::mask(&c.body).text;
                    super::extract::key_sentences(&m, 2).join(" ")
                })
                .filter(|s| !s.is_empty())
        } else {
            None
        };
        out.push(Similar {
            id: r.id,
            ticket_number: r.ticket_number,
            subject: r.subject,
            status: r.status.as_str().into(),
            score: (score * 1000.0).round() / 1000.0,
            resolved_at: r.resolved_at.or(r.closed_at).map(rfc3339),
            resolution,
            category_id: r.category_id,
        });
    }
    Ok(out)
}

/// One proposal, with how sure it is and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Proposal<T: Serialize + ToSchema> {
    pub value: T,
    /// 0–1.
    pub confidence: f64,
    pub reason: String,
}

/// `GET /api/tickets/:id/suggestions`: proposals only; nothing is applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Suggestions {
    pub category: Option<Proposal<CategoryId>>,
    pub priority: Option<Proposal<String>>,
    pub tags: Vec<Proposal<String>>,
    #[schema(value_type = String)]
    pub sentiment: Sentiment,
}

/// Words that make a ticket urgent.
const URGENT: [&str; 10] = [
    "urgent",
    "asap",
    "outage",
    "is down",
    "are down",
    "production",
    "cannot work",
    "can't work",
    "all users",
    "emergency",
];

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// Long: three proposals, each a vote over similar tickets with its own fallbacks.
pub async fn suggestions(ctx: &Ctx, actor: &Actor, key: &str) -> Result<Suggestions> {
    use crate::tickets::status::Priority;
    actor.require(Permission::ViewTickets)?;
    let mut tx = ctx.store.read().await?;
    let t = crate::tickets::service::load(&mut tx, actor.workspace_id, key, false).await?;
    let (settings, _, _) = settings::load(&mut tx, actor.workspace_id).await?;
    let text = super::mask::mask(&format!("{}\n{}", t.subject, t.description)).text;
    let mood = sentiment::read(&text).sentiment;
    if !settings.features.suggestions {
        return Ok(Suggestions {
            category: None,
            priority: None,
            tags: Vec::new(),
            sentiment: mood,
        });
    }
    let rows = similar_rows(&mut tx, ctx, &t, 10).await?;
    let total: f64 = rows.iter().map(|r| r.1.max(0.0)).sum::<f64>().max(1e-9);
    // Category: the score-weighted vote of similar tickets.
    let mut cats: Vec<(CategoryId, f64, usize)> = Vec::new();
    for (r, s) in &rows {
        if let Some(c) = r.category_id {
            match cats.iter_mut().find(|x| x.0 == c) {
                Some(x) => {
                    x.1 += s.max(0.0);
                    x.2 += 1;
                }
                None => cats.push((c, s.max(0.0), 1)),
            }
        }
    }
    cats.sort_by(|a, b| b.1.total_cmp(&a.1));
    let category = cats
        .first()
        .filter(|_| t.category_id.is_none())
        .map(|(c, w, n)| Proposal {
            value: *c,
            confidence: round2((w / total).min(0.95)),
            reason: format!("{n} of {} similar tickets have this category", rows.len()),
        });
    // Priority: urgency words first, then the mood, then similar tickets.
    let lower = text.to_lowercase();
    let urgent: Vec<&str> = URGENT
        .iter()
        .copied()
        .filter(|w| lower.contains(w))
        .collect();
    let priority = if !urgent.is_empty() {
        Some(Proposal {
            value: if urgent.len() >= 2 {
                Priority::Urgent
            } else {
                Priority::High
            },
            confidence: if urgent.len() >= 2 { 0.8 } else { 0.65 },
            reason: format!("the request says: {}", urgent.join(", ")),
        })
    } else if mood == Sentiment::Frustrated {
        Some(Proposal {
            value: Priority::High,
            confidence: 0.55,
            reason: "the customer is frustrated".into(),
        })
    } else if !rows.is_empty() {
        let mut counts = [0usize; 4];
        for (r, _) in &rows {
            counts[usize::try_from(r.priority.rank() - 1).unwrap_or(0).min(3)] += 1;
        }
        let (i, n) = counts
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))
            .map(|(i, n)| (i, *n))
            .unwrap_or((1, 0));
        let p = [
            Priority::Low,
            Priority::Medium,
            Priority::High,
            Priority::Urgent,
        ][i];
        #[expect(clippy::cast_precision_loss, reason = "small counts")]
        let share = n as f64 / rows.len() as f64;
        Some(Proposal {
            value: p,
            confidence: round2(share * 0.7),
            reason: format!("{n} of {} similar tickets have this priority", rows.len()),
        })
    } else {
        None
    }
    .filter(|p| p.value != t.priority)
    .map(|p| Proposal {
        value: p.value.as_str().to_owned(),
        confidence: p.confidence,
        reason: p.reason,
    });
    // Tags: those at least two similar tickets share, that this one lacks.
    let own: Vec<String> = store::tickets::tags_of(&mut tx, t.workspace_id, &[t.id])
        .await?
        .into_iter()
        .map(|(_, tag)| tag)
        .collect();
    let ids: Vec<TicketId> = rows.iter().map(|r| r.0.id).collect();
    let mut tag_counts: Vec<(String, usize)> = Vec::new();
    for (_, tag) in store::tickets::tags_of(&mut tx, t.workspace_id, &ids).await? {
        match tag_counts.iter_mut().find(|x| x.0 == tag) {
            Some(x) => x.1 += 1,
            None => tag_counts.push((tag, 1)),
        }
    }
    tag_counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let tags = tag_counts
        .into_iter()
        .filter(|(tag, n)| *n >= 2 && !own.contains(tag))
        .take(5)
        .map(|(tag, n)| {
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let share = n as f64 / rows.len().max(1) as f64;
            Proposal {
                value: tag,
                confidence: round2(share.min(0.95)),
                reason: format!("{n} of {} similar tickets carry it", rows.len()),
            }
        })
        .collect();
    Ok(Suggestions {
        category,
        priority,
        tags,
        sentiment: mood,
    })
}
