//! The durable job table: enqueue in the caller's transaction, claim, finish, retry.

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Backend, Conn, Tx, dialect};
use crate::error::Result;
use crate::ids::{JobId, WorkspaceId};

#[derive(Iden, Clone, Copy)]
enum Jobs {
    Table,
    Id,
    WorkspaceId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedUntil,
    LockedBy,
    LastError,
    CreatedAt,
    UpdatedAt,
}

/// A claimed job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: JobId,
    pub workspace_id: Option<WorkspaceId>,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Job state for inspection (tests, admin).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: JobId,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "one column each; called from one place"
)]
pub async fn insert(
    tx: &mut Tx,
    id: JobId,
    ws: Option<WorkspaceId>,
    kind: &str,
    payload: &str,
    max_attempts: i64,
    run_at: i64,
    now: i64,
) -> Result<()> {
    let q = Query::insert()
        .into_table(Jobs::Table)
        .columns([
            Jobs::Id,
            Jobs::WorkspaceId,
            Jobs::Kind,
            Jobs::Payload,
            Jobs::Status,
            Jobs::Attempts,
            Jobs::MaxAttempts,
            Jobs::RunAt,
            Jobs::CreatedAt,
            Jobs::UpdatedAt,
        ])
        .values_panic([
            id.into(),
            Expr::val(ws.map(|w| w.0)),
            kind.into(),
            payload.into(),
            "pending".into(),
            0i64.into(),
            max_attempts.into(),
            run_at.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.defer(&q);
    Ok(())
}

/// Claims up to `limit` due jobs for `node` until `lease_until` (also ones whose lease ran
/// out: their node died).
pub async fn claim(
    tx: &mut Tx,
    now: i64,
    lease_until: i64,
    limit: i64,
    node: &str,
) -> Result<Vec<ClaimedJob>> {
    let sql = dialect::claim_jobs_sql(tx.backend());
    tx.link().await?;
    Ok(match tx.backend() {
        Backend::Sqlite => {
            sqlx::query_as(sql)
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .bind(node)
                .fetch_all(tx.sqlite()?)
                .await?
        }
        Backend::Postgres => {
            sqlx::query_as(sql)
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .bind(node)
                .fetch_all(tx.pg()?)
                .await?
        }
    })
}

/// Extends `node`'s hold on the jobs `ids` it is still running or about to run.
pub async fn renew(tx: &mut Tx, ids: &[JobId], node: &str, until: i64) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let q = Query::update()
        .table(Jobs::Table)
        .values([(Jobs::LockedUntil, until.into())])
        .and_where(Expr::col(Jobs::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(Jobs::Status).eq("running"))
        .and_where(Expr::col(Jobs::LockedBy).eq(node))
        .to_owned();
    tx.execute(&q).await
}

/// Gives back jobs `node` claimed but did not start (it is shutting down): due again at once,
/// the claim's attempt not counted.
pub async fn release(tx: &mut Tx, ids: &[JobId], node: &str, now: i64) -> Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let q = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, "pending".into()),
            (Jobs::LockedUntil, Expr::val(None::<i64>)),
            (Jobs::LockedBy, Expr::val(None::<String>)),
            (Jobs::Attempts, Expr::col(Jobs::Attempts).sub(1)),
            (Jobs::RunAt, now.into()),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).is_in(ids.iter().copied()))
        .and_where(Expr::col(Jobs::Status).eq("running"))
        .and_where(Expr::col(Jobs::LockedBy).eq(node))
        .to_owned();
    tx.execute(&q).await
}

/// Which node holds a job (`None` when none does): for operators and tests.
pub async fn holder(conn: &mut Conn, id: JobId) -> Result<Option<String>> {
    let q = Query::select()
        .column(Jobs::LockedBy)
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::Id).eq(id))
        .and_where(Expr::col(Jobs::Status).eq("running"))
        .to_owned();
    let row: Option<(Option<String>,)> = conn.fetch_optional(&q).await?;
    Ok(row.and_then(|r| r.0))
}

/// Marks a job done.
pub async fn finish(tx: &mut Tx, id: JobId, now: i64) -> Result<()> {
    let q = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, "done".into()),
            (Jobs::LockedUntil, Expr::val(None::<i64>)),
            (Jobs::LockedBy, Expr::val(None::<String>)),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Records a failure: back to `pending` at `retry_at`, or `failed` when `retry_at` is `None`.
pub async fn fail(
    tx: &mut Tx,
    id: JobId,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<()> {
    let status = if retry_at.is_some() {
        "pending"
    } else {
        "failed"
    };
    let q = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, status.into()),
            (
                Jobs::LastError,
                error.chars().take(2000).collect::<String>().into(),
            ),
            (Jobs::RunAt, retry_at.unwrap_or(now).into()),
            (Jobs::LockedUntil, Expr::val(None::<i64>)),
            (Jobs::LockedBy, Expr::val(None::<String>)),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

/// Every job of a kind (inspection).
pub async fn of_kind(tx: &mut Conn, kind: &str) -> Result<Vec<JobRow>> {
    let q = Query::select()
        .columns([
            Jobs::Id,
            Jobs::Kind,
            Jobs::Status,
            Jobs::Attempts,
            Jobs::RunAt,
            Jobs::LastError,
        ])
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::Kind).eq(kind))
        .order_by(Jobs::CreatedAt, sea_query::Order::Asc)
        .order_by(Jobs::Id, sea_query::Order::Asc)
        .to_owned();
    tx.fetch_all(&q).await
}

/// Deletes up to `batch` done jobs last touched before `before` (housekeeping); returns how
/// many went.
pub async fn purge_done(tx: &mut Tx, before: i64, batch: u64) -> Result<u64> {
    let done = sea_query::Cond::all()
        .add(Expr::col(Jobs::Status).eq("done"))
        .add(Expr::col(Jobs::UpdatedAt).lt(before));
    super::prune::delete_batch(tx, Jobs::Table, Jobs::Id, done, batch).await
}

/// How many jobs a workspace has in a status (all statuses with `None`).
pub async fn count(tx: &mut Conn, ws: WorkspaceId, status: Option<&str>) -> Result<i64> {
    let mut q = Query::select();
    q.expr(Expr::col(Jobs::Id).count())
        .from(Jobs::Table)
        .and_where(Expr::col(Jobs::WorkspaceId).eq(ws));
    if let Some(s) = status {
        q.and_where(Expr::col(Jobs::Status).eq(s));
    }
    tx.fetch_i64(&q).await
}

/// A page of a workspace's jobs in a status, newest first (admin inspection).
pub async fn list(
    tx: &mut Conn,
    ws: WorkspaceId,
    status: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Vec<JobDetail>> {
    let mut q = Query::select();
    q.columns([
        Jobs::Id,
        Jobs::Kind,
        Jobs::Status,
        Jobs::Attempts,
        Jobs::MaxAttempts,
        Jobs::RunAt,
        Jobs::LastError,
        Jobs::Payload,
        Jobs::CreatedAt,
        Jobs::UpdatedAt,
        Jobs::LockedBy,
    ])
    .from(Jobs::Table)
    .and_where(Expr::col(Jobs::WorkspaceId).eq(ws));
    if let Some(s) = status {
        q.and_where(Expr::col(Jobs::Status).eq(s));
    }
    q.order_by(Jobs::CreatedAt, sea_query::Order::Desc)
        .order_by(Jobs::Id, sea_query::Order::Desc)
        .limit(limit)
        .offset(offset);
    tx.fetch_all(&q).await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobDetail {
    pub id: JobId,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub payload: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The node holding a running job.
    pub locked_by: Option<String>,
}

/// Puts a failed job of the workspace back in the queue with a fresh set of attempts; false
/// when there is no such failed job.
pub async fn retry(tx: &mut Tx, ws: WorkspaceId, id: JobId, now: i64) -> Result<bool> {
    let q = Query::update()
        .table(Jobs::Table)
        .values([
            (Jobs::Status, "pending".into()),
            (Jobs::Attempts, 0i64.into()),
            (Jobs::RunAt, now.into()),
            (Jobs::LockedUntil, Expr::val(None::<i64>)),
            (Jobs::UpdatedAt, now.into()),
        ])
        .and_where(Expr::col(Jobs::Id).eq(id))
        .and_where(Expr::col(Jobs::WorkspaceId).eq(ws))
        .and_where(Expr::col(Jobs::Status).eq("failed"))
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}
