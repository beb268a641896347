//! Which retrieval the built-in provider uses on this server. Retrieval ranks knowledge-base
//! articles and past tickets with the database's full-text search (BM25 on SQLite,
//! `ts_rank_cd` on PostgreSQL).

use super::settings::Retrieval;

/// The retrieval in use, for the settings answer.
#[must_use]
pub fn status() -> Retrieval {
    Retrieval {
        mode: "full_text",
        model: None,
        detail: "ranking by the database's full-text search".into(),
    }
}
