//! Ticket writes: what a create reads first (requester, numbering, SLA settings in one
//! query), numbers, inserts, the optimistic update, soft delete, tags, read markers.

use sea_query::{Cond, Expr, ExprTrait, IntoIden, Query, SimpleExpr};

use super::*;
use crate::error::Result;
use crate::ids::{CustomerId, TicketId, WorkspaceId};
use crate::store::customers::Customers;
use crate::store::{Conn, Tx, dialect};

/// How a new ticket names its requester.
pub enum RequesterKey<'a> {
    Id(CustomerId),
    Email(&'a str),
}

/// What creating a ticket reads: the workspace's number format and start, and the requester
/// if it exists.
pub struct CreationContext {
    pub number_format: String,
    pub number_start: i64,
    pub timezone: String,
    pub business_hours: Option<String>,
    pub customer: Option<super::super::customers::CustomerRow>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CreationRow {
    ticket_number_format: String,
    ticket_number_start: i64,
    timezone: String,
    business_hours: Option<String>,
    c_id: Option<CustomerId>,
    c_email: Option<String>,
    c_name: Option<String>,
    c_phone: Option<String>,
    c_company: Option<String>,
    c_notes: Option<String>,
    c_version: Option<i64>,
    c_created_at: Option<i64>,
    c_updated_at: Option<i64>,
    c_erased_at: Option<i64>,
}

/// Reads the creation context in one query (one trip to the database per create).
pub async fn creation_context(
    tx: &mut Conn,
    ws: WorkspaceId,
    requester: RequesterKey<'_>,
) -> Result<Option<CreationContext>> {
    use crate::store::workspaces::Workspaces;
    let c = |col: Customers| Expr::col((Customers::Table, col));
    let matches = match requester {
        RequesterKey::Id(id) => c(Customers::Id).eq(id),
        RequesterKey::Email(e) => c(Customers::Email).eq(e),
    };
    let q = Query::select()
        .columns([
            (Workspaces::Table, Workspaces::TicketNumberFormat),
            (Workspaces::Table, Workspaces::TicketNumberStart),
            (Workspaces::Table, Workspaces::Timezone),
        ])
        .expr_as(
            Expr::col((Workspaces::Table, sea_query::Alias::new("business_hours"))),
            "business_hours",
        )
        .expr_as(c(Customers::Id), "c_id")
        .expr_as(c(Customers::Email), "c_email")
        .expr_as(c(Customers::Name), "c_name")
        .expr_as(c(Customers::Phone), "c_phone")
        .expr_as(c(Customers::Company), "c_company")
        .expr_as(c(Customers::Notes), "c_notes")
        .expr_as(c(Customers::Version), "c_version")
        .expr_as(c(Customers::CreatedAt), "c_created_at")
        .expr_as(c(Customers::UpdatedAt), "c_updated_at")
        .expr_as(c(Customers::ErasedAt), "c_erased_at")
        .from(Workspaces::Table)
        .left_join(
            Customers::Table,
            Cond::all()
                .add(c(Customers::WorkspaceId).equals((Workspaces::Table, Workspaces::Id)))
                .add(matches),
        )
        .and_where(Expr::col((Workspaces::Table, Workspaces::Id)).eq(ws))
        .to_owned();
    let Some(r) = tx.fetch_optional::<CreationRow>(&q).await? else {
        return Ok(None);
    };
    let customer = match (r.c_id, r.c_email) {
        (Some(id), Some(email)) => Some(super::super::customers::CustomerRow {
            id,
            workspace_id: ws,
            email,
            name: r.c_name.unwrap_or_default(),
            phone: r.c_phone,
            company: r.c_company,
            notes: r.c_notes.unwrap_or_default(),
            version: r.c_version.unwrap_or(1),
            created_at: r.c_created_at.unwrap_or_default(),
            updated_at: r.c_updated_at.unwrap_or_default(),
            erased_at: r.c_erased_at,
        }),
        _ => None,
    };
    Ok(Some(CreationContext {
        number_format: r.ticket_number_format,
        number_start: r.ticket_number_start,
        timezone: r.timezone,
        business_hours: r.business_hours,
        customer,
    }))
}

/// Reserves the next `count` gap-free numbers of a workspace and returns the first. Runs
/// inside the creating transaction: the counter row is locked until commit, and a rollback
/// gives the numbers back.
///
/// On SQLite the last number given out is also kept in the store's memory ([`Tx::keep`]), so
/// that a create need not wait for the counter's answer: its update of the counter goes with
/// the transaction's other queued writes, and a group commit of creates is one trip to
/// SQLite's thread instead of one a create. Write transactions there run one at a time, so the
/// memory and the table agree at every commit; a write that is undone forgets it
/// ([`Tx::changed_ahead`]) and the next one reads the table again, which keeps the numbers
/// gap-free. The table never goes back (`MAX`), should another process have written it
/// (unsupported: docs/deploy.md).
pub async fn reserve_numbers(tx: &mut Tx, ws: WorkspaceId, start: i64, count: i64) -> Result<i64> {
    /// The workspace's last number given out, as the table holds it once the write commits.
    #[derive(Clone, Copy)]
    struct LastNumber(i64);
    let counter = || Expr::col((TicketCounters::Table, TicketCounters::LastNumber));
    let last = match tx.kept::<LastNumber>(ws) {
        Some(LastNumber(before)) => {
            let last = before + count;
            tx.defer(
                &Query::update()
                    .table(TicketCounters::Table)
                    .value(
                        TicketCounters::LastNumber,
                        sea_query::Func::greatest([counter(), Expr::val(last)]),
                    )
                    .and_where(Expr::col(TicketCounters::WorkspaceId).eq(ws))
                    .to_owned(),
            );
            last
        }
        None => {
            let mut upsert = Query::insert();
            upsert
                .into_table(TicketCounters::Table)
                .columns([TicketCounters::WorkspaceId, TicketCounters::LastNumber])
                .values_panic([ws.into(), Expr::val(start + count - 1)])
                .on_conflict(
                    sea_query::OnConflict::column(TicketCounters::WorkspaceId)
                        .value(TicketCounters::LastNumber, counter().add(count))
                        .to_owned(),
                )
                .returning_col(TicketCounters::LastNumber);
            tx.fetch_i64(&upsert).await?
        }
    };
    tx.keep(ws, LastNumber(last));
    tx.changed_ahead::<LastNumber>(ws);
    Ok(last - count + 1)
}

/// Inserts one ticket with its search document `document` and remembers its indexed columns
/// as stored (see [`Indexed`]). On SQLite the row takes its change number in the insert itself
/// (migration 0021), so the `tickets_change_ins` trigger does not write it a second time to
/// number it, and the document goes to the index at commit; on PostgreSQL the insert writes
/// the document's vector ([`dialect::new_ticket_document`]).
pub async fn insert(tx: &mut Tx, row: &mut TicketRow, document: &str) -> Result<()> {
    let extra = match dialect::new_ticket_document(tx, row.workspace_id, row.id, document) {
        None => Extra::ChangeNumber,
        Some(vector) => Extra::Search(vector),
    };
    tx.defer(&insert_statement(std::slice::from_ref(row), extra));
    row.remember();
    Ok(())
}

/// What an insert of tickets writes besides their columns.
enum Extra {
    Nothing,
    /// The next change number (SQLite, one row: the subquery is evaluated once a statement,
    /// so rows of one statement would share it).
    ChangeNumber,
    /// The search vector (PostgreSQL, one row).
    Search(SimpleExpr),
}

/// The insert of `rows`, with `extra`.
fn insert_statement(rows: &[TicketRow], extra: Extra) -> sea_query::InsertStatement {
    debug_assert!(
        matches!(extra, Extra::Nothing) || rows.len() == 1,
        "one row a statement"
    );
    let extra_column = match extra {
        Extra::Nothing => None,
        Extra::ChangeNumber => Some(Tickets::ChangeSeq.into_iden()),
        Extra::Search(_) => Some(sea_query::Alias::new("search").into_iden()),
    };
    let mut q = Query::insert();
    q.into_table(Tickets::Table).columns(
        COLUMNS
            .into_iter()
            .map(IntoIden::into_iden)
            .chain(extra_column),
    );
    for row in rows {
        let mut values = values_of(row);
        match &extra {
            Extra::Nothing => {}
            Extra::ChangeNumber => values.push(next_change_number()),
            Extra::Search(vector) => values.push(vector.clone()),
        }
        q.values_panic(values);
    }
    q
}

/// SQLite's next change number (one writer at a time, so numbers follow commit order).
fn next_change_number() -> SimpleExpr {
    Expr::cust("COALESCE((SELECT MAX(\"change_seq\") FROM \"tickets\"), 0) + 1")
}

/// Inserts ticket rows (`requester_email`/`name` live on the customer and are ignored).
pub async fn insert_many(tx: &mut Tx, rows: &[TicketRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // Numbers come from the locked counter, so the insert cannot conflict: it may wait.
    tx.defer(&insert_statement(rows, Extra::Nothing));
    Ok(())
}

pub(super) fn values_of(r: &TicketRow) -> Vec<SimpleExpr> {
    vec![
        r.id.into(),
        r.workspace_id.into(),
        r.number.into(),
        r.ticket_number.clone().into(),
        r.subject.clone().into(),
        r.description.clone().into(),
        r.status.as_str().into(),
        r.priority.rank().into(),
        r.kind.as_str().into(),
        r.channel.as_str().into(),
        opt_uuid(r.category_id),
        opt_uuid(r.group_id),
        r.requester_id.into(),
        opt_uuid(r.assignee_id),
        r.custom_fields.clone().into(),
        r.external_ref.clone().into(),
        r.links.clone().into(),
        Expr::val(r.sla_policy_id),
        r.first_response_due_at.into(),
        r.resolution_due_at.into(),
        r.sla_due_at.into(),
        r.first_response_at.into(),
        r.resolved_at.into(),
        r.closed_at.into(),
        r.unread_by_agent.into(),
        r.unread_by_customer.into(),
        r.last_message_at.into(),
        opt_uuid(r.merged_into_id),
        opt_uuid(r.follow_up_of_id),
        r.satisfaction_rating.into(),
        r.satisfaction_feedback.clone().into(),
        r.first_response_risk_at.into(),
        r.resolution_risk_at.into(),
        r.last_agent_reply_at.into(),
        r.customer_replies_since_agent.into(),
        r.version.into(),
        r.created_at.into(),
        r.updated_at.into(),
        Expr::val(None::<i64>),
    ]
}

/// Writes every mutable column of `row` that may have changed (see [`Indexed`]) and bumps
/// its version. Returns false when the row changed since it was read (its version moved on).
pub async fn update(tx: &mut Tx, row: &mut TicketRow) -> Result<bool> {
    let written = tx.execute(&update_statement(tx.backend(), row)).await? == 1;
    if written {
        row.remember();
    }
    Ok(written)
}

/// The guard table of writes prepared ahead (migration 0028).
#[derive(sea_query::Iden, Clone, Copy)]
enum StaleWrites {
    Table,
    Stale,
}

/// In a write prepared ahead ([`Tx::guard`]): the write applies only while ticket `row` is,
/// undeleted, at the version it read, with the team's unread counter it read. A change of
/// the row, its tags, its assignment or its status moves its version; the one write that
/// does not, [`clear_agent_unread`] (reading is not an edit), is caught by the counter, which
/// a reply's save writes back. Either sends the write back to be redone under the lock.
/// Elsewhere it does nothing.
pub fn guard_unchanged(tx: &mut Tx, row: &TicketRow) {
    if !tx.is_prepared() {
        return;
    }
    let same = Query::select()
        .expr(Expr::val(1))
        .from(Tickets::Table)
        .and_where(Expr::col(Tickets::Id).eq(row.id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(row.workspace_id))
        .and_where(Expr::col(Tickets::Version).eq(row.version))
        .and_where(Expr::col(Tickets::UnreadByAgent).eq(row.unread_by_agent))
        .and_where(Expr::col(Tickets::DeletedAt).is_null())
        .to_owned();
    let changed = Query::select()
        .expr(Expr::val(1))
        .and_where(Expr::exists(same).not())
        .to_owned();
    let mut check = Query::insert();
    check
        .into_table(StaleWrites::Table)
        .columns([StaleWrites::Stale]);
    if check.select_from(changed).is_ok() {
        tx.guard(&check);
    }
}

/// [`update`] for a row this transaction read with its lock held (on SQLite the transaction
/// holds the write lock; on PostgreSQL the row was read `FOR UPDATE`): it cannot have changed
/// since, so the write waits to travel with the next statement.
pub fn update_locked(tx: &mut Tx, row: &mut TicketRow) {
    tx.defer(&update_statement(tx.backend(), row));
    row.remember();
}

/// The update of `row`. Indexed columns that hold what `row.stored` says the database holds
/// are left out of the statement. On SQLite the statement also takes the next change number
/// itself, so the `tickets_change_upd` trigger (which would rewrite the row a second time to
/// do it) does not fire.
fn update_statement(backend: crate::store::Backend, row: &TicketRow) -> sea_query::UpdateStatement {
    let values = values_of(row);
    let now = Indexed::of(row);
    let mut q = Query::update();
    q.table(Tickets::Table);
    // Skip id, workspace, number and ticket_number (never change) and deleted_at; set version+1.
    for (c, v) in COLUMNS.iter().zip(values).skip(4).take(COLUMNS.len() - 8) {
        if row.stored.is_some_and(|s| s.same(&now, *c)) {
            continue;
        }
        q.value(*c, v);
    }
    q.value(Tickets::Version, Expr::col(Tickets::Version).add(1))
        .value(Tickets::UpdatedAt, row.updated_at)
        .and_where(Expr::col(Tickets::Id).eq(row.id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(row.workspace_id))
        .and_where(Expr::col(Tickets::Version).eq(row.version));
    if backend == crate::store::Backend::Sqlite {
        q.value(Tickets::ChangeSeq, next_change_number());
    }
    q
}

/// Marks a ticket deleted (it disappears from every read).
pub async fn soft_delete(tx: &mut Tx, ws: WorkspaceId, id: TicketId, now: i64) -> Result<bool> {
    let q = Query::update()
        .table(Tickets::Table)
        .value(Tickets::DeletedAt, now)
        .value(Tickets::UpdatedAt, now)
        .value(Tickets::Version, Expr::col(Tickets::Version).add(1))
        .and_where(Expr::col(Tickets::Id).eq(id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .and_where(Expr::col(Tickets::DeletedAt).is_null())
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Replaces a ticket's tags.
pub async fn set_tags(tx: &mut Tx, ws: WorkspaceId, id: TicketId, tags: &[String]) -> Result<()> {
    let del = Query::delete()
        .from_table(TicketTags::Table)
        .and_where(Expr::col(TicketTags::TicketId).eq(id))
        .and_where(Expr::col(TicketTags::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&del).await?;
    add_tags(tx, ws, id, tags).await
}

/// Adds tags to a ticket that has none (a new ticket).
pub async fn add_tags(tx: &mut Tx, ws: WorkspaceId, id: TicketId, tags: &[String]) -> Result<()> {
    let pairs: Vec<(TicketId, String)> = tags.iter().map(|t| (id, t.clone())).collect();
    add_tags_many(tx, ws, &pairs).await
}

/// Adds (ticket, tag) pairs.
pub async fn add_tags_many(
    tx: &mut Tx,
    ws: WorkspaceId,
    pairs: &[(TicketId, String)],
) -> Result<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut ins = Query::insert();
    ins.into_table(TicketTags::Table).columns([
        TicketTags::TicketId,
        TicketTags::WorkspaceId,
        TicketTags::Tag,
    ]);
    for (id, t) in pairs {
        ins.values_panic([(*id).into(), ws.into(), t.clone().into()]);
    }
    tx.defer(&ins);
    Ok(())
}

/// Clears the team's unread counter. Reading is not an edit: the version and `updated_at`
/// stay, so nobody's open form goes stale because someone else read the ticket.
pub async fn clear_agent_unread(tx: &mut Tx, ws: WorkspaceId, id: TicketId) -> Result<()> {
    let q = Query::update()
        .table(Tickets::Table)
        .value(Tickets::UnreadByAgent, 0i64)
        .and_where(Expr::col(Tickets::Id).eq(id))
        .and_where(Expr::col(Tickets::WorkspaceId).eq(ws))
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Backend;
    use crate::store::customers::CustomerRow;
    use crate::tickets::status::Status;

    fn row() -> TicketRow {
        let c = CustomerRow {
            id: CustomerId::new(),
            workspace_id: WorkspaceId::new(),
            email: "ann@shop.example".into(),
            name: "Ann".into(),
            phone: None,
            company: None,
            notes: String::new(),
            version: 1,
            created_at: 1,
            updated_at: 1,
            erased_at: None,
        };
        crate::tickets::service::new_row(&c, 7, "#7".into(), "Printer".into(), "Jams".into(), 1)
    }

    /// The columns an update sets, as SQLite's text names them (`"col" = `).
    fn sets(backend: Backend, r: &TicketRow) -> String {
        let sql = match backend {
            Backend::Sqlite => {
                update_statement(backend, r).to_string(sea_query::SqliteQueryBuilder)
            }
            Backend::Postgres => {
                update_statement(backend, r).to_string(sea_query::PostgresQueryBuilder)
            }
        };
        sql[..sql.find(" WHERE ").unwrap_or(sql.len())].to_owned()
    }

    #[test]
    fn an_update_leaves_out_indexed_columns_that_hold_what_the_database_holds() {
        let mut r = row().remembered();
        r.last_message_at = 2;
        r.unread_by_customer = 1;
        let set = sets(Backend::Sqlite, &r);
        for moved in [
            "\"last_message_at\" = ",
            "\"unread_by_customer\" = ",
            "\"subject\" = ",
        ] {
            assert!(set.contains(moved), "{moved} missing from {set}");
        }
        for kept in [
            "\"status\" = ",
            "\"priority\" = ",
            "\"assignee_id\" = ",
            "\"requester_id\" = ",
        ] {
            assert!(!set.contains(kept), "{kept} set in {set}");
        }
        r.status = Status::Open;
        assert!(sets(Backend::Sqlite, &r).contains("\"status\" = "));
    }

    #[test]
    fn a_row_not_read_to_be_written_sets_every_column() {
        let r = row();
        let set = sets(Backend::Postgres, &r);
        for c in [
            "\"status\" = ",
            "\"priority\" = ",
            "\"last_message_at\" = ",
            "\"sla_due_at\" = ",
        ] {
            assert!(set.contains(c), "{c} missing from {set}");
        }
    }

    #[test]
    fn only_sqlite_takes_the_next_change_number_in_the_update_itself() {
        let r = row().remembered();
        assert!(sets(Backend::Sqlite, &r).contains("\"change_seq\" = COALESCE((SELECT MAX"));
        assert!(!sets(Backend::Postgres, &r).contains("change_seq"));
    }
}
