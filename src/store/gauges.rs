//! What `GET /metrics` reads from the database when it is scraped: grouped counts of the job
//! queue (without the done jobs, which housekeeping prunes) and the per-status ticket counters.

use sea_query::{Alias, Expr, ExprTrait, Order, Query};

use super::Conn;
use crate::error::Result;

/// Jobs not done by kind and status.
pub async fn jobs(conn: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let q = Query::select()
        .column(Alias::new("kind"))
        .column(Alias::new("status"))
        .expr(Expr::col(Alias::new("id")).count())
        .from(Alias::new("jobs"))
        .and_where(Expr::col(Alias::new("status")).is_in(["pending", "running", "failed"]))
        .group_by_col(Alias::new("kind"))
        .group_by_col(Alias::new("status"))
        .to_owned();
    conn.fetch_all(&q).await
}

/// By kind, when the job that has waited longest since it fell due was due (µs).
pub async fn oldest_due(conn: &mut Conn, now: i64) -> Result<Vec<(String, i64)>> {
    let q = Query::select()
        .column(Alias::new("kind"))
        .expr(Expr::col(Alias::new("run_at")).min())
        .from(Alias::new("jobs"))
        .and_where(Expr::col(Alias::new("status")).eq("pending"))
        .and_where(Expr::col(Alias::new("run_at")).lte(now))
        .group_by_col(Alias::new("kind"))
        .to_owned();
    conn.fetch_all(&q).await
}

/// Tickets by workspace (slug) and status, from the counters the triggers keep.
pub async fn tickets(conn: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let (c, w) = (Alias::new("ticket_status_counts"), Alias::new("workspaces"));
    let q = Query::select()
        .column((w.clone(), Alias::new("slug")))
        .column((c.clone(), Alias::new("status")))
        .column((c.clone(), Alias::new("n")))
        .from(c.clone())
        .inner_join(
            w.clone(),
            Expr::col((w.clone(), Alias::new("id")))
                .equals((c.clone(), Alias::new("workspace_id"))),
        )
        .order_by((w, Alias::new("slug")), Order::Asc)
        .to_owned();
    conn.fetch_all(&q).await
}
