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
const MMAP_BYTES: &str = "17179869184";

/// The reader and writer pools of the SQLite file at `path` (created if missing).
pub(super) async fn open(path: &str) -> anyhow::Result<(SqlitePool, SqlitePool)> {
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
    // The one writer keeps 64 MB of pages: every write walks the tables' and indexes'
    // upper levels, and with the readers' small cache a large database would be re-read
    // from the operating system on each (a third of the seed's time at 20k tickets).
    // A SQLite connection is a file handle that cannot go stale, so the pools do not
    // ping it before lending it out (sqlx's default): that ping was one more trip to the
    // connection's thread on every request.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts.clone().pragma("cache_size", "-65536"))
        .await
        .context("could not open the SQLite database")?;
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
    let read = SqlitePoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await
        .context("could not open the SQLite database")?;
    Ok((read, write))
}
