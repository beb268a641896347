//! Opening a SQLite database: one writer and four readers, their pragmas, and a check of the
//! bundled SQLite's build.

use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// How much of a SQLite database its connections read through a memory map (SQLite stops at
/// the file's end). Pages then come from the operating system's page cache, which every
/// connection shares, instead of being copied into each connection's own small cache: four
/// readers each counting 10,000 rows of a 2.5 GB database spent their time re-reading pages
/// their 4 MB caches had just dropped.
pub(super) const MMAP_BYTES: &str = "17179869184";

/// How often the checkpointer copies the WAL back into the database file: every 100 ms left
/// the writer's own checkpoint a fifth of a second's commits to copy and made it the
/// replies' slowest step (p99 38 ms under a stream of replies, 27 ms at 25 ms).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// WAL pages after which the writer checkpoints itself (SQLite's default is 1,000). Each of
/// its checkpoints syncs the WAL and the database file, which at 1,000 pages was 17 % of the
/// writer's time under a stream of replies; at 4,000 (a WAL of 16 MB at most) the same stream
/// ran 8–12 % faster.
const WRITER_CHECKPOINT_PAGES: &str = "4000";

/// The writer's page cache, in KiB (negative, as SQLite takes it): 8 MB. What it reads
/// without changing comes from the memory map, so its cache holds mostly pages it wrote and
/// the upper levels of the trees it writes to. A larger cache costs every commit more:
/// when a b-tree page split reorders pages, SQLite parks one under the lock page's number
/// (page 262,145 of 4 KiB pages), and the next commit then visits every cached page to drop
/// those past the end of the file (`pcache1TruncateUnsafe`). With 64 MB that visit was 9.8 %
/// of SQLite's thread during replies at 10k tickets (6,000 pages a commit), and it grows with
/// the database up to the cache's size (docs/performance.md, ninth session).
const WRITER_CACHE_KIB: &str = "-8192";

/// Copies committed pages from the WAL into the database file on a connection of its own,
/// so that the single writer, which still checkpoints every [`WRITER_CHECKPOINT_PAGES`],
/// finds most of them copied already (a checkpoint was 6 % of its time under a stream of
/// replies). The writer's own checkpoint stays: it runs between two of its writes, so it
/// can finish the copy and let the next write start the WAL over from its beginning, which
/// one running beside a busy writer never sees (the WAL then grows, and readers fetch every
/// page it holds with a read instead of through the memory map). A PASSIVE checkpoint
/// waits for no one. A tick that finds the WAL file as the last checkpoint left it (see
/// [`WalWatch`]) skips the checkpoint, so an idle server does not wake SQLite's thread forty
/// times a second. The task ends when the writer's pool closes.
async fn spawn_checkpointer(
    path: &str,
    opts: &SqliteConnectOptions,
    write: &SqlitePool,
) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    let mut conn = opts
        .clone()
        .connect()
        .await
        .context("could not open the SQLite database for checkpoints")?;
    let write = write.clone();
    let wal = std::path::PathBuf::from(format!("{path}-wal"));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut watch = WalWatch::default();
        loop {
            tick.tick().await;
            if write.is_closed() {
                break;
            }
            // A stat of a local file: microseconds, cheaper than a trip to SQLite's thread.
            if !watch.due(WalState::of(&wal)) {
                continue;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut conn)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer checkpoints instead");
            }
        }
    });
    Ok(())
}

/// Ticks of the checkpointer after which it checkpoints even though the WAL file looks
/// unchanged (one second): its modification time moves in the kernel's coarse steps, so a
/// write just after a checkpoint can leave length and time as they were.
const CHECKPOINT_AT_LEAST_EVERY: u32 = 40;

/// The WAL file's length and modification time, or `None` when it cannot be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct WalState(Option<(u64, std::time::SystemTime)>);

impl WalState {
    fn of(wal: &std::path::Path) -> WalState {
        WalState(
            std::fs::metadata(wal)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?))),
        )
    }
}

/// Decides, tick by tick, whether the checkpointer has anything to copy: only when the WAL
/// file changed since the last checkpoint, or could not be read, or after
/// [`CHECKPOINT_AT_LEAST_EVERY`] ticks without one.
#[derive(Default)]
struct WalWatch {
    last: Option<WalState>,
    skipped: u32,
}

impl WalWatch {
    fn due(&mut self, now: WalState) -> bool {
        let unchanged = now.0.is_some() && self.last == Some(now);
        if unchanged && self.skipped + 1 < CHECKPOINT_AT_LEAST_EVERY {
            self.skipped += 1;
            return false;
        }
        self.skipped = 0;
        self.last = Some(now);
        true
    }
}

/// Gives planner statistics to the indexes that lack them in a database that has them (an
/// index a migration built or rebuilt, as 0020 did the facets index and 0025 adds one), by
/// measuring their whole tables. SQLite drops an index's rows of
/// `sqlite_stat1` with the index; the planner then guesses its selectivity while it knows the
/// others', and at a million tickets it chose the new index for the plain status list (30 ms
/// instead of 0.5). Only tables with rows count (SQLite leaves some indexes of an empty table
/// unmeasured); a database never analyzed is left to the hourly `PRAGMA optimize`.
pub(super) async fn analyze_unmeasured(write: &SqlitePool) -> anyhow::Result<()> {
    let mut conn = write.acquire().await?;
    let analyzed: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if analyzed.is_none() {
        return Ok(());
    }
    // Tables, not indexes: the planner weighs one index against another by their figures,
    // so all of a table's are measured at the same moment. A new index measured alone, beside
    // others measured when the table was a sixth of its size, made it sort a status's tickets
    // instead of walking the new index made for that page.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'index' \
         AND tbl_name IN (SELECT tbl FROM sqlite_stat1 WHERE CAST(stat AS INTEGER) > 0) \
         AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)",
    )
    .fetch_all(&mut *conn)
    .await?;
    if tables.is_empty() {
        return Ok(());
    }
    // A whole measure (seconds at a million tickets, once): a sampled one
    // (`analysis_limit`) put the workspace column of the rebuilt index at 20,001 rows of a
    // million while the other indexes said a million, and the planner trusted the new one.
    sqlx::query("PRAGMA analysis_limit = 0")
        .execute(&mut *conn)
        .await?;
    for table in tables {
        tracing::info!(
            table,
            "Measuring a table with a new index for the query planner"
        );
        // The name comes from the schema itself, quoted as an identifier.
        let sql = format!("ANALYZE \"{}\"", table.replace('"', "\"\""));
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The reader and writer pools of the SQLite file at `path` (created if missing).
pub(super) async fn open(
    path: &str,
) -> anyhow::Result<(std::sync::Arc<super::readers::Readers>, SqlitePool)> {
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-4000")
        .pragma("mmap_size", MMAP_BYTES)
        .pragma("temp_store", "memory");
    // A SQLite connection is a file handle that cannot go stale, so the pools do not
    // ping it before lending it out (sqlx's default): that ping was one more trip to the
    // connection's thread on every request.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(
            opts.clone()
                .pragma("cache_size", WRITER_CACHE_KIB)
                .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES),
        )
        .await
        .context("could not open the SQLite database")?;
    spawn_checkpointer(path, &opts, &write).await?;
    let options: Vec<(String,)> = sqlx::query_as("PRAGMA compile_options")
        .fetch_all(&write)
        .await
        .context("could not read SQLite's compile options")?;
    if !options.iter().any(|o| o.0 == "ENABLE_QPSG") {
        tracing::warn!(
            "this SQLite was built without SQLITE_ENABLE_QPSG (see .cargo/config.toml): \
             statements are compiled again on every run and reads are several times slower"
        );
    }
    // Two cores serve four concurrent readers well; each connection keeps up to 4 MB of
    // page cache, which bounds the memory of an idle-to-busy server.
    let read = super::readers::Readers::new(opts, 4);
    Ok((read, write))
}

/// What a restore found in the backup.
pub struct Restored {
    /// The backup's newest migration.
    pub migration: i64,
    pub tickets: i64,
    pub users: i64,
}

/// A count from `sql`, or 0 when its table is missing.
async fn count(conn: &mut sqlx::SqliteConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(conn)
        .await
        .unwrap_or(0)
}

/// Replaces the SQLite database at `target` with the backup `file` (written by `ferrodesk
/// backup`): the backup must pass SQLite's integrity check and be a Ferrodesk database; a
/// target holding any user or ticket is replaced only with `force`. The copy is written beside
/// the target and renamed over it, so a failed restore leaves the target as it was; the
/// target's WAL files go with it. The server must be stopped.
pub async fn restore(
    file: &std::path::Path,
    target: &str,
    force: bool,
) -> anyhow::Result<Restored> {
    use sqlx::{ConnectOptions, Connection};
    let target = std::path::PathBuf::from(
        target
            .strip_prefix("sqlite://")
            .or_else(|| target.strip_prefix("sqlite:"))
            .context(
                "restore writes an SQLite database; on PostgreSQL use pg_restore (docs/deploy.md)",
            )?,
    );
    anyhow::ensure!(file.is_file(), "{} is not a file", file.display());
    let mut backup = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .with_context(|| format!("{} cannot be opened as an SQLite database", file.display()))?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut backup)
        .await
        .with_context(|| format!("{} is not an SQLite database", file.display()))?;
    anyhow::ensure!(
        check == "ok",
        "{} fails SQLite's integrity check: {check}",
        file.display()
    );
    let migration = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut backup)
    .await
    .ok()
    .flatten()
    .with_context(|| {
        format!(
            "{} is not a Ferrodesk database (no migrations)",
            file.display()
        )
    })?;
    let restored = Restored {
        migration,
        tickets: count(&mut backup, "SELECT count(*) FROM tickets").await,
        users: count(&mut backup, "SELECT count(*) FROM users").await,
    };
    backup.close().await?;
    if target.exists() && !force {
        let mut current = SqliteConnectOptions::new()
            .filename(&target)
            .read_only(true)
            .connect()
            .await?;
        let held = count(&mut current, "SELECT count(*) FROM tickets").await
            + count(&mut current, "SELECT count(*) FROM users").await;
        current.close().await?;
        anyhow::ensure!(
            held == 0,
            "{} already holds data ({held} users and tickets); add --force to replace it",
            target.display()
        );
    }
    if let Some(parent) = target.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut partial = target.clone().into_os_string();
    partial.push(".restoring");
    let partial = std::path::PathBuf::from(partial);
    std::fs::copy(file, &partial)
        .with_context(|| format!("could not copy the backup to {}", partial.display()))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.clone().into_os_string();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            std::fs::remove_file(&side)
                .with_context(|| format!("could not remove {}", side.display()))?;
        }
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("could not move the backup to {}", target.display()))?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::{CHECKPOINT_AT_LEAST_EVERY, WalState, WalWatch};
    use std::time::{Duration, SystemTime};

    fn state(len: u64, secs: u64) -> WalState {
        WalState(Some((
            len,
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        )))
    }

    #[test]
    fn an_unchanged_wal_is_checkpointed_once_a_second_and_a_changed_one_at_once() {
        let mut watch = WalWatch::default();
        assert!(watch.due(state(4096, 10)), "the first tick checkpoints");
        let skipped = (1..CHECKPOINT_AT_LEAST_EVERY)
            .filter(|_| !watch.due(state(4096, 10)))
            .count();
        assert_eq!(skipped as u32, CHECKPOINT_AT_LEAST_EVERY - 1);
        assert!(
            watch.due(state(4096, 10)),
            "after a second of ticks it checkpoints anyway"
        );
        assert!(!watch.due(state(4096, 10)));
        assert!(watch.due(state(8192, 10)), "a longer WAL");
        assert!(!watch.due(state(8192, 10)));
        assert!(watch.due(state(8192, 11)), "a newer WAL of the same length");
        assert!(watch.due(WalState(None)), "a WAL that cannot be read");
        assert!(watch.due(WalState(None)), "still cannot be read");
    }

    #[test]
    fn a_write_to_the_wal_file_changes_its_state() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("temporary directory");
        let wal = dir.path().join("db-wal");
        assert_eq!(WalState::of(&wal), WalState(None));
        std::fs::write(&wal, b"header").expect("write");
        let before = WalState::of(&wal);
        assert!(before.0.is_some());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&wal)
            .expect("open");
        f.write_all(b" and a frame").expect("append");
        drop(f);
        assert_ne!(WalState::of(&wal), before);
    }
}
