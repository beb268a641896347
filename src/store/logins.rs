//! Failed sign-ins, shared by every node (the login throttle, `auth/throttle.rs`).

use sea_query::{Expr, ExprTrait, Iden, Query};

use super::{Conn, Tx};
use crate::error::Result;

#[derive(Iden, Clone, Copy)]
enum LoginFailures {
    Table,
    Key,
    At,
}

/// For each of `keys` with failures at or after `since`: how many, and when the oldest was.
pub async fn failures(
    conn: &mut Conn,
    keys: &[&str],
    since: i64,
) -> Result<Vec<(String, i64, i64)>> {
    let q = Query::select()
        .column(LoginFailures::Key)
        .expr(Expr::col(LoginFailures::At).count())
        .expr(Expr::col(LoginFailures::At).min())
        .from(LoginFailures::Table)
        .and_where(Expr::col(LoginFailures::Key).is_in(keys.iter().copied()))
        .and_where(Expr::col(LoginFailures::At).gte(since))
        .group_by_col(LoginFailures::Key)
        .to_owned();
    conn.fetch_all(&q).await
}

/// Records a failure under each of `keys` at `at`.
pub async fn record(tx: &mut Tx, keys: &[&str], at: i64) -> Result<()> {
    let mut q = Query::insert();
    q.into_table(LoginFailures::Table)
        .columns([LoginFailures::Key, LoginFailures::At]);
    for k in keys {
        q.values_panic([(*k).into(), at.into()]);
    }
    tx.execute(&q).await?;
    Ok(())
}

/// Forgets the failures under `key` (a successful sign-in of the account).
pub async fn clear(tx: &mut Tx, key: &str) -> Result<()> {
    let q = Query::delete()
        .from_table(LoginFailures::Table)
        .and_where(Expr::col(LoginFailures::Key).eq(key))
        .to_owned();
    tx.defer(&q);
    Ok(())
}

/// Deletes failures older than `before` (housekeeping); returns how many went.
pub async fn prune(tx: &mut Tx, before: i64) -> Result<u64> {
    let q = Query::delete()
        .from_table(LoginFailures::Table)
        .and_where(Expr::col(LoginFailures::At).lt(before))
        .to_owned();
    tx.execute(&q).await
}
