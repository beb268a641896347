//! AI assistance (issue 14, in progress): what summaries and reply drafts are built from.
//! So far: masking personal data out of text before it is summarized or leaves the server,
//! reading a customer's sentiment, and picking a conversation's key sentences.

pub mod assist;
pub mod draft;
pub mod embed;
pub mod extract;
pub mod llm;
pub mod mask;
pub mod retrieval;
pub mod semantic;
pub mod sentiment;
pub mod settings;
pub mod summaries;
pub mod summary;
pub mod usage;
