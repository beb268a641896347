//! Housekeeping deletes, in batches.

use super::Tx;
use crate::error::Result;

/// Deletes up to `batch` rows of `table` that `cond` selects, by their `id` (neither backend
/// takes a `LIMIT` on `DELETE`); returns how many went. Housekeeping deletes in such batches so
/// that other writers never wait long for the write lock.
pub(super) async fn delete_batch<T, C>(
    tx: &mut Tx,
    table: T,
    id: C,
    cond: sea_query::Cond,
    batch: u64,
) -> Result<u64>
where
    T: sea_query::IntoTableRef + Clone,
    C: sea_query::IntoColumnRef + Clone,
{
    let some = sea_query::Query::select()
        .column(id.clone())
        .from(table.clone())
        .cond_where(cond)
        .limit(batch)
        .to_owned();
    let q = sea_query::Query::delete()
        .from_table(table)
        .and_where(sea_query::ExprTrait::in_subquery(
            sea_query::Expr::col(id),
            some,
        ))
        .to_owned();
    tx.execute(&q).await
}
