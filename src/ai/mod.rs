//! AI assistance (issue 14, in progress): what summaries and reply drafts are built from.
//! So far: masking personal data out of text before it is summarized or leaves the server,
//! and reading a customer's sentiment.

pub mod mask;
pub mod sentiment;
