//! Bulk loads (`ferrodesk seed`, `ferrodesk import`): new tickets written with their threads
//! in a few large statements, and the secondary indexes of the loaded tables set aside while
//! rows pour in and built once at the end, a sort of the whole table instead of a B-tree
//! insertion per row and index.

use super::{Link, Store};
use crate::error::Result;

/// New tickets with their threads, tags, timelines and search documents.
#[derive(Debug, Default)]
pub struct NewTickets {
    pub rows: Vec<super::tickets::TicketRow>,
    pub comments: Vec<super::comments::CommentRow>,
    pub events: Vec<super::events::EventRow>,
    pub tags: Vec<(crate::ids::TicketId, String)>,
    pub docs: Vec<(crate::ids::TicketId, String)>,
}

/// Writes new tickets of one workspace, in statements under SQLite's 32,766 bound variables.
/// On SQLite the thread, tags and timeline go in before their tickets, with the foreign keys
/// checked at commit: a reply or tag added to an existing ticket moves it in the change feed
/// (a trigger rewrites the ticket row), and here the ticket is new in this very transaction,
/// so those rewrites (two a reply) would be wasted work.
pub async fn insert_new_tickets(
    tx: &mut super::Tx,
    ws: crate::ids::WorkspaceId,
    new: &NewTickets,
) -> Result<()> {
    let sqlite = tx.backend() == super::Backend::Sqlite;
    if sqlite {
        tx.execute_raw("PRAGMA defer_foreign_keys = ON").await?;
    } else {
        insert_rows(tx, &new.rows).await?;
    }
    for chunk in new.tags.chunks(2000) {
        super::tickets::add_tags_many(tx, ws, chunk).await?;
    }
    for chunk in new.comments.chunks(1000) {
        super::comments::insert_many(tx, chunk).await?;
    }
    for chunk in new.events.chunks(1000) {
        super::events::insert_many(tx, chunk).await?;
    }
    if sqlite {
        insert_rows(tx, &new.rows).await?;
    }
    super::dialect::index_many(tx, ws, &new.docs).await
}

async fn insert_rows(tx: &mut super::Tx, rows: &[super::tickets::TicketRow]) -> Result<()> {
    for chunk in rows.chunks(400) {
        super::tickets::insert_many(tx, chunk).await?;
    }
    Ok(())
}

/// Definitions of the indexes [`set_aside`] dropped, for [`restore`].
#[derive(Debug, Default)]
pub struct SetAside(Vec<String>);

/// The indexes of `table` that no constraint needs (neither unique nor primary): name and
/// definition.
async fn secondary(tx: &mut super::Tx, table: &str) -> Result<Vec<(String, String)>> {
    Ok(match tx.link().await? {
        Link::SqliteTx(c) => {
            sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? \
                 AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
            )
            .bind(table)
            .fetch_all(&mut **c)
            .await?
        }
        Link::PgTx(c) => {
            sqlx::query_as(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i \
                 JOIN pg_class c ON c.relname = i.indexname \
                 AND c.relnamespace = current_schema()::regnamespace \
                 JOIN pg_index x ON x.indexrelid = c.oid \
                 WHERE i.schemaname = current_schema() AND i.tablename = $1 \
                 AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.indexname",
            )
            .bind(table)
            .fetch_all(&mut **c)
            .await?
        }
        _ => return Err(anyhow::anyhow!("bulk load outside a transaction").into()),
    })
}

/// The names of the secondary indexes of `table` (to check that a load put them back).
pub async fn index_names(store: &Store, table: &str) -> Result<Vec<String>> {
    let mut tx = store.begin().await?;
    let names = secondary(&mut tx, table)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    tx.commit().await?;
    Ok(names)
}

/// Drops the indexes of `tables` that no constraint and no write during the load needs
/// (unique indexes and those named in `keep` stay) and returns their definitions.
pub async fn set_aside(store: &Store, tables: &[&str], keep: &[&str]) -> Result<SetAside> {
    let mut tx = store.begin().await?;
    let mut defs = Vec::new();
    for table in tables {
        for (name, sql) in secondary(&mut tx, table).await? {
            if keep.contains(&name.as_str()) {
                continue;
            }
            tx.execute_text(format!("DROP INDEX \"{}\"", name.replace('"', "")))
                .await?;
            defs.push(sql);
        }
    }
    tx.commit().await?;
    Ok(SetAside(defs))
}

/// Builds the indexes [`set_aside`] dropped.
pub async fn restore(store: &Store, set_aside: SetAside) -> Result<()> {
    let mut tx = store.begin().await?;
    for sql in set_aside.0 {
        tx.execute_text(sql).await?;
    }
    tx.commit().await
}

/// Merges the ticket search index into one segment (SQLite; nothing to do on PostgreSQL) at
/// the end of an offline load. A load writes the index a batch at a time, as segments of
/// a thousand documents stacked over three or four levels; left so, the first few thousand
/// writes after it merge most of them again (step by step since migration 0030, inside single
/// writes before it, which stood still for seconds at a million tickets). One merge here
/// (about seven seconds at a million tickets) leaves the next writes only their own small
/// segments to merge, and searches one segment to read instead of twenty-five.
pub async fn merge_search_index(store: &Store) -> Result<()> {
    if store.backend() != super::Backend::Sqlite {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.execute_text("INSERT INTO tickets_fts (tickets_fts) VALUES ('optimize')".to_owned())
        .await?;
    tx.commit().await
}
