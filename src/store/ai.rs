//! AI assistance: stored summary versions, the AI fields of tickets, reply drafts, usage
//! counts and per-workspace settings.

use sea_query::{Expr, ExprTrait, Iden, Order, Query, SimpleExpr};

use super::tickets::Tickets;
use super::{Conn, Tx};
use crate::error::Result;
use crate::ids::{CommentId, TicketId, UserId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
enum AiSummaries {
    Table,
    TicketId,
    Version,
    WorkspaceId,
    Summary,
    KeyPoints,
    Sentiment,
    SuggestedActions,
    Conversation,
    Provider,
    ContentChars,
    PublicMessages,
    GeneratedAt,
}

/// One stored summary; list fields are JSON.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    pub ticket_id: TicketId,
    pub version: i64,
    pub workspace_id: WorkspaceId,
    pub summary: String,
    pub key_points: String,
    pub sentiment: String,
    pub suggested_actions: String,
    pub conversation: String,
    pub provider: String,
    /// Characters of the thread it covered (to tell significant new content).
    pub content_chars: i64,
    /// Public messages it covered.
    pub public_messages: i64,
    pub generated_at: i64,
}

const SUMMARY_COLUMNS: [AiSummaries; 12] = [
    AiSummaries::TicketId,
    AiSummaries::Version,
    AiSummaries::WorkspaceId,
    AiSummaries::Summary,
    AiSummaries::KeyPoints,
    AiSummaries::Sentiment,
    AiSummaries::SuggestedActions,
    AiSummaries::Conversation,
    AiSummaries::Provider,
    AiSummaries::ContentChars,
    AiSummaries::PublicMessages,
    AiSummaries::GeneratedAt,
];

/// Stores a summary version and copies its text to the ticket's `ai_summary`. A version
/// that already exists (a job run twice) is an error the caller retries with the next one.
pub async fn insert_summary(tx: &mut Tx, s: &SummaryRow) -> Result<()> {
    let q = Query::insert()
        .into_table(AiSummaries::Table)
        .columns(SUMMARY_COLUMNS)
        .values_panic([
            s.ticket_id.into(),
            s.version.into(),
            s.workspace_id.into(),
            s.summary.clone().into(),
            s.key_points.clone().into(),
            s.sentiment.clone().into(),
            s.suggested_actions.clone().into(),
            s.conversation.clone().into(),
            s.provider.clone().into(),
            s.content_chars.into(),
            s.public_messages.into(),
            s.generated_at.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    let q = Query::update()
        .table(Tickets::Table)
        .value(Tickets::AiSummary, s.summary.clone())
        .and_where(Expr::col(Tickets::Id).eq(s.ticket_id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(s.workspace_id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// The stored summaries of a ticket, newest first, at most `limit`.
pub async fn summaries(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    limit: u64,
) -> Result<Vec<SummaryRow>> {
    let q = Query::select()
        .columns(SUMMARY_COLUMNS)
        .from(AiSummaries::Table)
        .and_where(Expr::col(AiSummaries::WorkspaceId).eq(ws))
        .and_where(Expr::col(AiSummaries::TicketId).eq(ticket))
        .order_by(AiSummaries::Version, Order::Desc)
        .limit(limit)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Writes one AI field of a ticket (never through a ticket save, so never a version bump).
fn set_field(
    tx: &mut Tx,
    ws: WorkspaceId,
    ticket: TicketId,
    col: Tickets,
    value: sea_query::Value,
    only_if_unset: bool,
) {
    let mut q = Query::update();
    q.table(Tickets::Table)
        .value(col, value)
        .and_where(Expr::col(Tickets::Id).eq(ticket))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws));
    if only_if_unset {
        q.and_where(Expr::col(col).is_null());
    }
    tx.defer(&q);
}

/// Sets a ticket's `ai_confidence_score` (the latest draft's confidence).
pub fn set_confidence(tx: &mut Tx, ws: WorkspaceId, ticket: TicketId, confidence: f64) {
    set_field(
        tx,
        ws,
        ticket,
        Tickets::AiConfidenceScore,
        confidence.into(),
        false,
    );
}

/// Sets a ticket's `ai_first_response_time` unless it has one.
pub fn set_first_response_time(tx: &mut Tx, ws: WorkspaceId, ticket: TicketId, seconds: i64) {
    set_field(
        tx,
        ws,
        ticket,
        Tickets::AiFirstResponseTime,
        seconds.into(),
        true,
    );
}

/// Sets a ticket's `ai_auto_resolved`.
pub fn set_auto_resolved(tx: &mut Tx, ws: WorkspaceId, ticket: TicketId, value: bool) {
    set_field(tx, ws, ticket, Tickets::AiAutoResolved, value.into(), false);
}

#[derive(Iden, Clone, Copy)]
enum AiDrafts {
    Table,
    Id,
    WorkspaceId,
    TicketId,
    UserId,
    Draft,
    Tone,
    Confidence,
    Provider,
    SentCommentId,
    EditRatio,
    CreatedAt,
}

/// A generated draft, kept to learn whether and how much agents edit drafts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DraftRow {
    pub id: uuid::Uuid,
    pub workspace_id: WorkspaceId,
    pub ticket_id: TicketId,
    pub user_id: UserId,
    pub draft: String,
    pub tone: String,
    pub confidence: f64,
    pub provider: String,
    pub created_at: i64,
}

/// The columns of [`DraftRow`], in its order.
const DRAFT_COLUMNS: [AiDrafts; 9] = [
    AiDrafts::Id,
    AiDrafts::WorkspaceId,
    AiDrafts::TicketId,
    AiDrafts::UserId,
    AiDrafts::Draft,
    AiDrafts::Tone,
    AiDrafts::Confidence,
    AiDrafts::Provider,
    AiDrafts::CreatedAt,
];

pub fn insert_draft(tx: &mut Tx, d: &DraftRow) {
    let q = Query::insert()
        .into_table(AiDrafts::Table)
        .columns(DRAFT_COLUMNS)
        .values_panic([
            d.id.into(),
            d.workspace_id.into(),
            d.ticket_id.into(),
            d.user_id.into(),
            d.draft.clone().into(),
            d.tone.clone().into(),
            d.confidence.into(),
            d.provider.clone().into(),
            d.created_at.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// The latest unsent draft a user generated for a ticket since `since`.
pub async fn open_draft(
    tx: &mut Conn,
    ws: WorkspaceId,
    ticket: TicketId,
    user: UserId,
    since: i64,
) -> Result<Option<DraftRow>> {
    let q = Query::select()
        .columns(DRAFT_COLUMNS)
        .from(AiDrafts::Table)
        .and_where(Expr::col(AiDrafts::WorkspaceId).eq(ws))
        .and_where(Expr::col(AiDrafts::TicketId).eq(ticket))
        .and_where(Expr::col(AiDrafts::UserId).eq(user))
        .and_where(Expr::col(AiDrafts::SentCommentId).is_null())
        .and_where(Expr::col(AiDrafts::CreatedAt).gte(since))
        .order_by(AiDrafts::CreatedAt, Order::Desc)
        .limit(1)
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Whether `user` has a draft for the ticket of the row being read (correlated with
/// `tickets.id`) made since `since` and not sent yet: lets a reply skip [`open_draft`].
pub(crate) fn draft_pending(user: UserId, since: i64) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(AiDrafts::Table)
            .and_where(
                Expr::col((AiDrafts::Table, AiDrafts::WorkspaceId))
                    .equals((Tickets::Table, Tickets::WorkspaceId)),
            )
            .and_where(
                Expr::col((AiDrafts::Table, AiDrafts::TicketId))
                    .equals((Tickets::Table, Tickets::Id)),
            )
            .and_where(Expr::col((AiDrafts::Table, AiDrafts::UserId)).eq(user))
            .and_where(Expr::col((AiDrafts::Table, AiDrafts::SentCommentId)).is_null())
            .and_where(Expr::col((AiDrafts::Table, AiDrafts::CreatedAt)).gte(since))
            .to_owned(),
    )
}

/// Marks a draft as sent in `comment`, edited by `edit_ratio`.
pub fn mark_draft_sent(tx: &mut Tx, id: uuid::Uuid, comment: CommentId, edit_ratio: f64) {
    let q = Query::update()
        .table(AiDrafts::Table)
        .value(AiDrafts::SentCommentId, comment)
        .value(AiDrafts::EditRatio, edit_ratio)
        .and_where(Expr::col(AiDrafts::Id).eq(id))
        .to_owned();
    tx.defer(&q);
}

#[derive(Iden, Clone, Copy)]
enum AiUsage {
    Table,
    Id,
    WorkspaceId,
    Day,
    UserId,
    Kind,
    Provider,
    Amount,
    CreatedAt,
}

/// Counts one AI event (`draft`, `draft_sent`, `summary`, `provider_failure`).
#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub fn count_usage(
    tx: &mut Tx,
    ws: WorkspaceId,
    day: &str,
    user: Option<UserId>,
    kind: &str,
    provider: &str,
    amount: Option<f64>,
    now: i64,
) {
    let q = Query::insert()
        .into_table(AiUsage::Table)
        .columns([
            AiUsage::Id,
            AiUsage::WorkspaceId,
            AiUsage::Day,
            AiUsage::UserId,
            AiUsage::Kind,
            AiUsage::Provider,
            AiUsage::Amount,
            AiUsage::CreatedAt,
        ])
        .values_panic([
            uuid::Uuid::now_v7().into(),
            ws.into(),
            day.to_owned().into(),
            sea_query::Value::from(user.map(|u| u.0)).into(),
            kind.to_owned().into(),
            provider.to_owned().into(),
            amount.into(),
            now.into(),
        ])
        .to_owned();
    tx.defer(&q);
}

/// Usage by day, user and kind: how many, and the sum of their amounts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    pub day: String,
    pub user_id: Option<UserId>,
    pub kind: String,
    pub n: i64,
    pub amount: Option<f64>,
}

pub async fn usage(
    tx: &mut Conn,
    ws: WorkspaceId,
    from_day: &str,
    to_day: &str,
) -> Result<Vec<UsageRow>> {
    let q = Query::select()
        .columns([AiUsage::Day, AiUsage::UserId, AiUsage::Kind])
        .expr_as(Expr::cust("count(*)"), sea_query::Alias::new("n"))
        .expr_as(
            Expr::cust("CAST(sum(amount) AS DOUBLE PRECISION)"),
            sea_query::Alias::new("amount"),
        )
        .from(AiUsage::Table)
        .and_where(Expr::col(AiUsage::WorkspaceId).eq(ws))
        .and_where(Expr::col(AiUsage::Day).gte(from_day.to_owned()))
        .and_where(Expr::col(AiUsage::Day).lte(to_day.to_owned()))
        .group_by_columns([AiUsage::Day, AiUsage::UserId, AiUsage::Kind])
        .order_by(AiUsage::Day, Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

#[derive(Iden, Clone, Copy)]
enum AiSettings {
    Table,
    WorkspaceId,
    Settings,
    ApiKey,
    Version,
    UpdatedAt,
}

/// A workspace's AI settings document (JSON) and its write-only API key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettingsRow {
    pub settings: String,
    pub api_key: Option<String>,
    pub version: i64,
}

pub async fn settings(tx: &mut Conn, ws: WorkspaceId) -> Result<Option<SettingsRow>> {
    let q = Query::select()
        .columns([
            AiSettings::Settings,
            AiSettings::ApiKey,
            AiSettings::Version,
        ])
        .from(AiSettings::Table)
        .and_where(Expr::col(AiSettings::WorkspaceId).eq(ws))
        .to_owned();
    tx.fetch_optional(&q).await
}

/// Writes the settings (insert or replace).
pub async fn put_settings(tx: &mut Tx, ws: WorkspaceId, s: &SettingsRow, now: i64) -> Result<()> {
    let q = Query::insert()
        .into_table(AiSettings::Table)
        .columns([
            AiSettings::WorkspaceId,
            AiSettings::Settings,
            AiSettings::ApiKey,
            AiSettings::Version,
            AiSettings::UpdatedAt,
        ])
        .values_panic([
            ws.into(),
            s.settings.clone().into(),
            s.api_key.clone().into(),
            s.version.into(),
            now.into(),
        ])
        .on_conflict(
            sea_query::OnConflict::column(AiSettings::WorkspaceId)
                .update_columns([
                    AiSettings::Settings,
                    AiSettings::ApiKey,
                    AiSettings::Version,
                    AiSettings::UpdatedAt,
                ])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[derive(Iden, Clone, Copy)]
enum AiEmbeddings {
    Table,
    OwnerKind,
    OwnerId,
    WorkspaceId,
    Model,
    Vector,
    UpdatedAt,
}

/// Stores (or replaces) the vector of an article or ticket.
pub async fn put_embedding(
    tx: &mut Tx,
    kind: &str,
    id: uuid::Uuid,
    ws: WorkspaceId,
    model: &str,
    vector: &[u8],
    now: i64,
) -> Result<()> {
    let q = Query::insert()
        .into_table(AiEmbeddings::Table)
        .columns([
            AiEmbeddings::OwnerKind,
            AiEmbeddings::OwnerId,
            AiEmbeddings::WorkspaceId,
            AiEmbeddings::Model,
            AiEmbeddings::Vector,
            AiEmbeddings::UpdatedAt,
        ])
        .values_panic([
            kind.to_owned().into(),
            id.into(),
            ws.into(),
            model.to_owned().into(),
            vector.to_vec().into(),
            now.into(),
        ])
        .on_conflict(
            sea_query::OnConflict::columns([AiEmbeddings::OwnerKind, AiEmbeddings::OwnerId])
                .update_columns([
                    AiEmbeddings::Model,
                    AiEmbeddings::Vector,
                    AiEmbeddings::UpdatedAt,
                ])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// The vectors of `ws` and `kind` saved at or after `since`: (owner, bytes, saved at).
pub async fn embeddings_since(
    tx: &mut Conn,
    ws: WorkspaceId,
    kind: &str,
    since: i64,
) -> Result<Vec<(uuid::Uuid, Vec<u8>, i64)>> {
    let q = Query::select()
        .columns([
            AiEmbeddings::OwnerId,
            AiEmbeddings::Vector,
            AiEmbeddings::UpdatedAt,
        ])
        .from(AiEmbeddings::Table)
        .and_where(Expr::col(AiEmbeddings::WorkspaceId).eq(ws))
        .and_where(Expr::col(AiEmbeddings::OwnerKind).eq(kind.to_owned()))
        .and_where(Expr::col(AiEmbeddings::UpdatedAt).gte(since))
        .to_owned();
    tx.fetch_all(&q).await
}

/// Forgets the vector of an article or ticket.
pub async fn delete_embedding(tx: &mut Tx, kind: &str, id: uuid::Uuid) -> Result<()> {
    let q = Query::delete()
        .from_table(AiEmbeddings::Table)
        .and_where(Expr::col(AiEmbeddings::OwnerKind).eq(kind.to_owned()))
        .and_where(Expr::col(AiEmbeddings::OwnerId).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// A record without a vector yet: its workspace, id and the two texts a vector is made of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unembedded {
    pub workspace_id: WorkspaceId,
    pub id: uuid::Uuid,
    pub head: String,
    pub body: String,
}

/// Up to `limit` live tickets (`kind` "ticket") or articles ("article") after `after` (by id)
/// that have no vector: the backlog of `ferrodesk embed`.
pub async fn unembedded(
    tx: &mut Conn,
    kind: &str,
    after: uuid::Uuid,
    limit: u64,
) -> Result<Vec<Unembedded>> {
    use super::kb::KbArticles;
    use sea_query::{Alias, Cond, IntoIden};
    let (table, id, ws, head, body) = if kind == "ticket" {
        (
            Tickets::Table.into_iden(),
            Tickets::Id.into_iden(),
            Tickets::WorkspaceId.into_iden(),
            Tickets::Subject.into_iden(),
            Tickets::Description.into_iden(),
        )
    } else {
        (
            KbArticles::Table.into_iden(),
            KbArticles::Id.into_iden(),
            KbArticles::WorkspaceId.into_iden(),
            KbArticles::Title.into_iden(),
            KbArticles::Body.into_iden(),
        )
    };
    let mut q = Query::select();
    q.expr_as(Expr::col((table.clone(), ws)), Alias::new("workspace_id"))
        .expr_as(Expr::col((table.clone(), id.clone())), Alias::new("id"))
        .expr_as(Expr::col((table.clone(), head)), Alias::new("head"))
        .expr_as(Expr::col((table.clone(), body)), Alias::new("body"))
        .from(table.clone())
        .left_join(
            AiEmbeddings::Table,
            Cond::all()
                .add(Expr::col((AiEmbeddings::Table, AiEmbeddings::OwnerKind)).eq(kind.to_owned()))
                .add(
                    Expr::col((AiEmbeddings::Table, AiEmbeddings::OwnerId))
                        .equals((table.clone(), id.clone())),
                ),
        )
        .and_where(Expr::col((AiEmbeddings::Table, AiEmbeddings::OwnerId)).is_null())
        .and_where(Expr::col((table.clone(), id.clone())).gt(after))
        .order_by((table.clone(), id), Order::Asc)
        .limit(limit);
    if kind == "ticket" {
        q.and_where(Expr::col((table, Tickets::DeletedAt)).is_null());
    }
    tx.fetch_all(&q).await
}
