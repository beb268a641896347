//! Which retrieval the built-in provider uses on this server: the database's full-text
//! ranking (BM25 on SQLite, `ts_rank_cd` on PostgreSQL), fused with sentence embeddings when
//! the model is loaded ([`super::semantic`]).

use super::semantic::Availability;
use super::settings::Retrieval;

/// The retrieval in use, for the settings answer.
#[must_use]
pub fn status(semantic: &Availability) -> Retrieval {
    match semantic {
        Availability::Loaded(_) => Retrieval {
            mode: "embeddings+full_text",
            model: Some(super::embed::MODEL.into()),
            detail: "sentence embeddings fused with full-text ranking (reciprocal-rank fusion)"
                .into(),
        },
        Availability::Missing(why) => Retrieval {
            mode: "full_text",
            model: None,
            detail: why.clone(),
        },
    }
}
