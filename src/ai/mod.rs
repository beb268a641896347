//! AI assistance (seeds 001 and 002; docs/ai.md), offline by default and better with a
//! language model. The parts: `mask` (personal data out of text), `sentiment` (VADER tuned for
//! support), `extract` (TextRank key sentences), `embed` and `semantic` (sentence vectors,
//! nearest search, fusion with full text). The built-in provider: `summary` (extractive
//! summaries) and `draft` (template drafts with a documented confidence). The services:
//! `summaries` (versions and the job), `assist` (drafts, similar tickets, proposals), `usage`,
//! `settings`; `llm` is the optional OpenAI-compatible provider; `retrieval` reports which
//! ranking is in use.

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
