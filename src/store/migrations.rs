//! The schema's migrations, in pairs: `migrations/sqlite/NNNN_name.sql` and
//! `migrations/postgres/NNNN_name.sql`, compiled into the binary.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType};

use super::Backend;

/// The migrations, in order: `NNNN_name.sql` in `migrations/sqlite` and `migrations/postgres`.
macro_rules! migration_files {
    ($($v:literal $file:literal $name:literal),* $(,)?) => {
        (
            &[$(($v, $name, include_str!(concat!("../../migrations/sqlite/", $file, "_", $name, ".sql")))),*],
            &[$(($v, $name, include_str!(concat!("../../migrations/postgres/", $file, "_", $name, ".sql")))),*],
        )
    };
}

type MigrationFiles = &'static [(i64, &'static str, &'static str)];

const MIGRATIONS: (MigrationFiles, MigrationFiles) = migration_files!(
    1 "0001" "init",
    2 "0002" "sla",
    3 "0003" "sla_notices",
    4 "0004" "workflow",
    5 "0005" "email",
    6 "0006" "webhooks",
    7 "0007" "integrations",
    8 "0008" "presence",
    9 "0009" "console_indexes",
    10 "0010" "knowledge_base",
    11 "0011" "ai",
    12 "0012" "change_feed",
    13 "0013" "analytics",
    14 "0014" "analytics_facts",
    15 "0015" "sign_in_notify",
    16 "0016" "scale",
    17 "0017" "live",
    18 "0018" "audit_log",
    19 "0019" "erasure",
    20 "0020" "facets_created",
    21 "0021" "change_number_on_insert",
    22 "0022" "search_is_not_a_change",
    23 "0023" "search_merges",
    24 "0024" "search_words",
    25 "0025" "status_recent",
    26 "0026" "assignee_counts",
    27 "0027" "queue_counts",
    28 "0028" "stale_writes",
    29 "0029" "ticket_watchers_by_ticket",
    30 "0030" "search_merges_in_steps",
);

pub(super) fn all(backend: Backend) -> Vec<Migration> {
    let files = match backend {
        Backend::Sqlite => MIGRATIONS.0,
        Backend::Postgres => MIGRATIONS.1,
    };
    files
        .iter()
        .map(|(v, name, sql)| {
            Migration::new(
                *v,
                Cow::Borrowed(*name),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(*sql),
                false,
            )
        })
        .collect()
}
