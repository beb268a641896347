//! All SQL lives here. One definition of each query (sea-query) serves SQLite and PostgreSQL;
//! the few places that must differ are in `dialect.rs`. Store functions take a `Tx` and, for
//! anything tenant-owned, a `WorkspaceId`.

pub(crate) mod ai;
pub(crate) mod analytics;
pub(crate) mod assignment;
pub(crate) mod attachments;
pub(crate) mod audit;
mod built;
pub mod bulk;
pub(crate) mod canned;
pub(crate) mod categories;
pub(crate) mod comments;
pub(crate) mod customers;
mod deferred;
pub mod dialect;
pub(crate) mod email;
pub mod erasure;
pub mod events;
mod explain;
pub(crate) mod facts;
pub(crate) mod gauges;
mod group;
pub(crate) mod groups;
pub(crate) mod idempotency;
mod inline;
pub(crate) mod integrations;
pub mod jobs;
pub(crate) mod kb;
mod listen;
pub(crate) mod logins;
pub mod memo;
mod migrations;
pub mod notifications;
mod prepared;
pub(crate) mod presence;
mod prune;
mod readers;
pub(crate) mod rules;
mod savepoint;
pub(crate) mod sla;
pub mod sqlite;
pub mod tickets;
pub mod tokens;
pub(crate) mod users;
pub mod watchers;
pub(crate) mod webhooks;
pub(crate) mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::SqlxBinder;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::Result;

/// Which database engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
enum Pools {
    /// SQLite allows one writer at a time: writes go through a one-connection pool so they
    /// queue in Rust instead of spinning on `SQLITE_BUSY`; reads use their own pool (WAL).
    Sqlite {
        read: std::sync::Arc<readers::Readers>,
        write: SqlitePool,
        /// Point reads on the calling thread (`None` for an in-memory database).
        inline: Option<std::sync::Arc<inline::Inline>>,
    },
    Postgres(PgPool),
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    memo: std::sync::Arc<memo::Memo>,
    /// SQLite: the group-commit writer of [`Store::write_grouped`].
    group: Option<group::GroupWriter>,
    /// PostgreSQL: the task hearing other nodes' sign-in changes, stopped with the last clone.
    _listener: Option<std::sync::Arc<listen::StopOnDrop>>,
    /// How many times a connection was taken for a transaction or a read (what an idle
    /// server costs the database is measured by it).
    uses: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub use built::Built;
pub use group::{Keep, PreparedWrites, Work};
pub use memo::Wake;

/// A connection in use: a plain pooled connection (reads) or a write transaction.
///
/// SQLite write transactions are driven by hand on the one writer connection: `BEGIN
/// IMMEDIATE` travels with the transaction's first statement and `COMMIT` with its queued
/// writes, so a typical change costs two trips to SQLite's worker thread instead of five. A
/// transaction dropped without commit closes its connection, which rolls it back.
pub enum Link {
    SqliteConn(readers::Reader),
    SqliteTx(PoolConnection<Sqlite>),
    PgConn(PoolConnection<Postgres>),
    PgTx(Transaction<'static, Postgres>),
    /// A PostgreSQL transaction after commit.
    Done,
}

/// A connection plus the statements deferred on it (see [`Tx::defer`]): on its own, a
/// connection for reads ([`Store::read`]); inside a [`Tx`], a write transaction.
pub struct Conn {
    link: Link,
    pending: Vec<(String, sea_query::Values)>,
    /// SQLite: search documents to write at commit (see [`Conn::defer_document`]).
    documents: Vec<dialect::SearchDoc>,
    /// SQLite: `BEGIN IMMEDIATE` is still to be sent with the next statement.
    begin_pending: bool,
    /// SQLite: a transaction is open on the connection (sent `BEGIN`, no `COMMIT` yet).
    open: bool,
    /// The store's in-process memory, reachable from code that holds only a transaction.
    memo: std::sync::Arc<memo::Memo>,
    /// SQLite: wake-ups to send once the transaction has committed (PostgreSQL sends them
    /// itself, from triggers, at commit).
    wakes: Vec<memo::Wake>,
    /// SQLite: memo entries this transaction changed ahead of its commit, forgotten when it
    /// does not commit (see [`Tx::changed_ahead`]).
    ahead: Vec<memo::Entry>,
    /// SQLite: the savepoint of the grouped write under way, sent only when that write's own
    /// statements go to SQLite before it ends (see [`savepoint`]).
    savepoint: Option<savepoint::Savepoint>,
    /// SQLite: set on a transaction prepared ahead on a read connection (see
    /// [`Store::prepare`]).
    prepared: Option<prepared::Ahead>,
    /// Writes of sign-in facts under way: dropped with the connection, after its commit or
    /// rollback (the last field, so after the link).
    writing: Vec<memo::Writing>,
}

/// A row type readable from both backends.
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

fn backend_changed() -> crate::error::Error {
    anyhow::anyhow!("connection used after commit or on the wrong backend").into()
}

/// Runs one query on either backend: on SQLite with everything queued before it in the same
/// command, on PostgreSQL after the queued writes.
macro_rules! run {
    ($self:ident, $q:expr, |$c:ident, $sql:ident, $args:ident| $body:expr) => {{
        if $self.backend() == Backend::Sqlite {
            $self.check_prepared_read()?;
            let ($sql, $args) = $self.sqlite_command(Some($q.build_sqlx(SqliteQueryBuilder)));
            let $c = $self.sqlite()?;
            let ran = $body;
            $self.ran(&ran);
            Ok(ran?)
        } else {
            $self.flush().await?;
            let ($sql, $args) = $q.build_sqlx(PostgresQueryBuilder);
            let $c = $self.pg()?;
            Ok($body?)
        }
    }};
}

impl Conn {
    fn new(link: Link, memo: &std::sync::Arc<memo::Memo>) -> Self {
        let begin = matches!(link, Link::SqliteTx(_));
        Conn {
            link,
            pending: Vec::new(),
            documents: Vec::new(),
            begin_pending: begin,
            open: false,
            memo: memo.clone(),
            wakes: Vec::new(),
            ahead: Vec::new(),
            savepoint: None,
            prepared: None,
            writing: Vec::new(),
        }
    }

    /// The in-process memory of the store this connection came from.
    #[must_use]
    pub fn memo(&self) -> &memo::Memo {
        &self.memo
    }

    /// Which backend this connection belongs to.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.link {
            Link::SqliteConn(_) | Link::SqliteTx(_) => Backend::Sqlite,
            Link::PgConn(_) | Link::PgTx(_) | Link::Done => Backend::Postgres,
        }
    }

    fn sqlite(&mut self) -> Result<&mut sqlx::SqliteConnection> {
        match &mut self.link {
            Link::SqliteConn(c) => Ok(&mut **c),
            Link::SqliteTx(c) => Ok(&mut **c),
            Link::PgConn(_) | Link::PgTx(_) | Link::Done => Err(backend_changed()),
        }
    }

    fn pg(&mut self) -> Result<&mut sqlx::PgConnection> {
        match &mut self.link {
            Link::PgConn(c) => Ok(&mut **c),
            Link::PgTx(t) => Ok(&mut **t),
            Link::SqliteConn(_) | Link::SqliteTx(_) | Link::Done => Err(backend_changed()),
        }
    }

    /// Runs the queued writes now.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.backend() == Backend::Sqlite {
            let (sql, args) = self.sqlite_command(None);
            let ran = sqlx::query_with(AssertSqlSafe(sql), args)
                .execute(self.sqlite()?)
                .await;
            self.ran(&ran);
            ran?;
            return Ok(());
        }
        for (s, v) in deferred::postgres_statements(std::mem::take(&mut self.pending)) {
            sqlx::query_with(AssertSqlSafe(s), sea_query_sqlx::SqlxValues(v))
                .execute(self.pg()?)
                .await?;
        }
        Ok(())
    }

    /// The underlying connection, after running queued writes (for dialect-specific SQL).
    pub(crate) async fn link(&mut self) -> Result<&mut Link> {
        if self.prepared.is_some() {
            return Err(self.give_up());
        }
        // What the caller runs on the link may write.
        self.place_savepoint(true);
        self.flush().await?;
        if self.begin_pending {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(self.sqlite()?)
                .await?;
            self.begin_pending = false;
            self.open = true;
        }
        Ok(&mut self.link)
    }

    /// Fetches all rows of a query.
    pub async fn fetch_all<T: Row>(&mut self, q: &impl SqlxBinder) -> Result<Vec<T>> {
        run!(self, q, |c, sql, args| sqlx::query_as_with::<_, T, _>(
            AssertSqlSafe(sql),
            args
        )
        .fetch_all(c)
        .await)
    }

    /// Fetches at most one row.
    pub async fn fetch_optional<T: Row>(&mut self, q: &impl SqlxBinder) -> Result<Option<T>> {
        run!(self, q, |c, sql, args| sqlx::query_as_with::<_, T, _>(
            AssertSqlSafe(sql),
            args
        )
        .fetch_optional(c)
        .await)
    }

    /// Fetches exactly one row.
    pub async fn fetch_one<T: Row>(&mut self, q: &impl SqlxBinder) -> Result<T> {
        run!(self, q, |c, sql, args| sqlx::query_as_with::<_, T, _>(
            AssertSqlSafe(sql),
            args
        )
        .fetch_one(c)
        .await)
    }

    /// Fetches one `i64` (a count, a sequence value).
    pub async fn fetch_i64(&mut self, q: &impl SqlxBinder) -> Result<i64> {
        let row: (i64,) = self.fetch_one(q).await?;
        Ok(row.0)
    }
}

/// A write transaction: a [`Conn`] whose writes commit together (or not at all, when it is
/// dropped uncommitted). Reads go through the connection it dereferences to.
pub struct Tx(Conn);

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.0
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.0
    }
}

impl Tx {
    /// Marks this transaction as changing sign-in facts (users, roles, tokens): what was read
    /// of them is not used again from now until after it ends ([`memo::Epoch`]).
    pub fn changes_sign_in(&mut self) {
        if self.0.prepared.is_some() {
            let _ = self.0.give_up();
            return;
        }
        if self.0.writing.is_empty() {
            let w = self.0.memo.writing();
            self.0.writing.push(w);
        }
    }

    /// Tells live pages `w` once this transaction has committed (SQLite; on PostgreSQL the
    /// tables' triggers notify every node at commit).
    pub fn wake_at_commit(&mut self, w: memo::Wake) {
        if self.backend() == Backend::Sqlite && !self.wakes.contains(&w) {
            self.wakes.push(w);
        }
    }

    /// Runs the queued writes, then a fixed statement of our own making.
    pub async fn execute_raw(&mut self, sql: &'static str) -> Result<()> {
        self.execute_text(sql.to_owned()).await
    }

    /// Runs the queued writes, then a statement text that never holds user input (fixed
    /// statements, index definitions read back from the schema).
    pub(super) async fn execute_text(&mut self, sql: String) -> Result<()> {
        self.link().await?;
        let sql = AssertSqlSafe(sql);
        if self.backend() == Backend::Sqlite {
            sqlx::query(sql).execute(self.sqlite()?).await?;
        } else {
            sqlx::query(sql).execute(self.pg()?).await?;
        }
        Ok(())
    }

    /// Runs a statement, returning the number of rows it affected.
    pub async fn execute(&mut self, q: &impl SqlxBinder) -> Result<u64> {
        // SQLite reports a row count for every statement of a command (`BEGIN` repeats the
        // last one) and they add up: run what is queued apart so the count is this one's.
        self.link().await?;
        run!(self, q, |c, sql, args| sqlx::query_with(
            AssertSqlSafe(sql),
            args
        )
        .execute(c)
        .await
        .map(|done| done.rows_affected()))
    }

    /// Runs queued writes and commits a transaction; a plain connection just runs the writes.
    pub async fn commit(mut self) -> Result<()> {
        self.commit_here().await
    }

    /// [`Tx::commit`], leaving the connection in place (the group writer keeps it).
    pub(super) async fn commit_here(&mut self) -> Result<()> {
        if self.0.prepared.is_some() {
            // Its writes are the group writer's to apply (`Store::write_prepared`).
            return Err(self.0.give_up());
        }
        let documents = dialect::document_writes(std::mem::take(&mut self.documents));
        self.pending.extend(documents);
        match self.link {
            Link::SqliteTx(_) => {
                if self.begin_pending && self.pending.is_empty() {
                    // Nothing was read or written: there is no transaction to commit.
                    self.begin_pending = false;
                    return Ok(());
                }
                let (mut sql, args) = self.sqlite_command(None);
                sql.push_str("COMMIT");
                sqlx::query_with(AssertSqlSafe(sql), args)
                    .execute(self.sqlite()?)
                    .await?;
                self.open = false;
                self.ahead.clear();
                for w in std::mem::take(&mut self.wakes) {
                    self.memo.wake(w);
                }
            }
            Link::PgTx(_) => {
                self.flush().await?;
                if let Link::PgTx(t) = std::mem::replace(&mut self.link, Link::Done) {
                    t.commit().await?;
                }
            }
            Link::SqliteConn(_) | Link::PgConn(_) | Link::Done => self.flush().await?,
        }
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // An SQLite transaction left open (an error, an early return) must not go back to the
        // pool: closing the connection rolls it back.
        if self.open
            && let Link::SqliteTx(c) = &mut self.link
        {
            c.close_on_drop();
        }
        // Before the connection goes back to the pool, so no other writer sees them.
        for e in self.ahead.drain(..) {
            self.memo.forget_entry(e);
        }
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). SQLite files are created if missing.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_pooled(url, 16).await
    }

    /// Connects with at most `pool` PostgreSQL connections (plus one that listens for other
    /// nodes' changes); SQLite's pools are fixed (one writer, four readers).
    pub async fn connect_pooled(url: &str, pool: u32) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(pool.max(2))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await
                .context("could not connect to PostgreSQL")?;
            let memo: std::sync::Arc<memo::Memo> = std::sync::Arc::default();
            memo.epoch().hearing(false);
            let listener = tokio::spawn(listen::hear_changes(pool.clone(), memo.clone()));
            return Ok(Store {
                pools: Pools::Postgres(pool),
                memo,
                group: None,
                _listener: Some(std::sync::Arc::new(listen::StopOnDrop(
                    listener.abort_handle(),
                ))),
                uses: std::sync::Arc::default(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .context("database URL must start with sqlite:// or postgres://")?;
        let (read, write) = sqlite::open(path).await?;
        let inline = inline::Inline::new(path).map(std::sync::Arc::new);
        let mut store = Store {
            pools: Pools::Sqlite {
                read,
                write,
                inline,
            },
            memo: std::sync::Arc::default(),
            group: None,
            _listener: None,
            uses: std::sync::Arc::default(),
        };
        store.group = Some(group::GroupWriter::spawn(store.clone())?);
        Ok(store)
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The store's in-process memory (see [`memo`]).
    #[must_use]
    pub fn memo(&self) -> &memo::Memo {
        &self.memo
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = Migrator::with_migrations(migrations::all(self.backend()));
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                migrator.run(write).await?;
                sqlite::analyze_unmeasured(write).await?;
            }
            Pools::Postgres(pool) => migrator.run(pool).await?,
        }
        Ok(())
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`)
    /// so a transaction that reads before it writes can never fail with a stale snapshot.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite { write, .. } => self.begin_on(write.acquire().await?),
            Pools::Postgres(pool) => {
                self.used();
                Tx(Conn::new(Link::PgTx(pool.begin().await?), &self.memo))
            }
        })
    }

    /// A SQLite write transaction on `conn`, the writer connection already taken from its
    /// pool (the group writer keeps it from one batch to the next).
    fn begin_on(&self, conn: PoolConnection<Sqlite>) -> Tx {
        self.used();
        Tx(Conn::new(Link::SqliteTx(conn), &self.memo))
    }

    /// A connection for reads outside a transaction.
    pub async fn read(&self) -> Result<Conn> {
        self.used();
        Ok(match &self.pools {
            Pools::Sqlite { read, .. } => {
                Conn::new(Link::SqliteConn(read.acquire().await?), &self.memo)
            }
            Pools::Postgres(pool) => Conn::new(Link::PgConn(pool.acquire().await?), &self.memo),
        })
    }

    pub(super) fn used(&self) {
        self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many transactions and reads this store has started (each takes a connection).
    #[must_use]
    pub fn uses(&self) -> u64 {
        self.uses.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Each pool's connections: name, open, idle.
    #[must_use]
    pub fn pool_use(&self) -> Vec<(&'static str, u32, usize)> {
        match &self.pools {
            Pools::Sqlite { read, write, .. } => {
                let (open, idle) = read.usage();
                vec![
                    ("read", open, idle),
                    ("write", write.size(), write.num_idle()),
                ]
            }
            Pools::Postgres(pool) => vec![("main", pool.size(), pool.num_idle())],
        }
    }

    /// True when the database answers a trivial query within two seconds (a load balancer
    /// asking `/readyz` must not wait for the pool's own ten-second timeout).
    pub async fn ping(&self) -> bool {
        self.used();
        let answer = async {
            match &self.pools {
                Pools::Sqlite { read, .. } => match read.acquire().await {
                    Ok(mut c) => sqlx::query("SELECT 1").execute(&mut *c).await.is_ok(),
                    Err(_) => false,
                },
                Pools::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
            }
        };
        tokio::time::timeout(Duration::from_secs(2), answer)
            .await
            .unwrap_or(false)
    }

    /// Refreshes the query planner's statistics where they went stale (hourly). SQLite samples
    /// up to 20,000 rows per index: its default sample of 400 misjudges the workspace column.
    pub async fn optimize(&self) -> Result<()> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let mut conn = write.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 20000")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA optimize").execute(&mut *conn).await?;
            }
            Pools::Postgres(pool) => {
                sqlx::query("ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Recomputes all planner statistics (after a bulk load). On PostgreSQL it also vacuums,
    /// which sets the visibility map that index-only scans (list counts) rely on.
    pub async fn analyze(&self) -> Result<()> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                sqlx::query("ANALYZE").execute(write).await?;
            }
            Pools::Postgres(pool) => {
                sqlx::query("VACUUM ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Closes every pool (used on shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite {
                read,
                write,
                inline,
            } => {
                if let Some(inline) = inline {
                    inline.close();
                }
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => {
                if let Some(l) = &self._listener {
                    l.0.abort();
                }
                pool.close().await;
            }
        }
    }

    /// Replaces the SQLite database at `url` with the backup `file` (see [`sqlite::restore`]).
    pub async fn restore_sqlite(
        file: &std::path::Path,
        url: &str,
        force: bool,
    ) -> anyhow::Result<sqlite::Restored> {
        sqlite::restore(file, url, force).await
    }

    /// Copies a consistent snapshot of the SQLite database to `path` (`VACUUM INTO`).
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> anyhow::Result<()> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let p = path.to_str().context("backup path must be UTF-8")?;
                sqlx::query("VACUUM INTO ?").bind(p).execute(write).await?;
                Ok(())
            }
            Pools::Postgres(_) => anyhow::bail!("use pg_dump to back up a PostgreSQL database"),
        }
    }
}

/// Microseconds since the Unix epoch: how every timestamp is stored.
#[must_use]
pub fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// The inverse of [`micros`].
#[must_use]
pub fn timestamp(us: i64) -> jiff::Timestamp {
    crate::clock::timestamp(us)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_exists_for_both_backends() {
        let names = |dir: &str| {
            let mut v: Vec<String> =
                std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                    .expect("migrations folder")
                    .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                    .collect();
            v.sort();
            v
        };
        assert_eq!(names("sqlite"), names("postgres"));
        assert_eq!(
            super::migrations::all(super::Backend::Sqlite).len(),
            names("sqlite").len()
        );
        assert_eq!(
            super::migrations::all(super::Backend::Postgres).len(),
            names("postgres").len()
        );
    }
}
