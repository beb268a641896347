//! Ferrodesk: a self-hosted customer-support helpdesk in one binary.
//!
//! Reading top-down: the domain modules carry the words a support lead uses — `tickets`
//! (lifecycle, numbering, threads, events, queue), `workspace` (tenants, users, groups,
//! customers, settings) and `auth` (passwords, tokens, the role matrix). Three adapters follow:
//! `http` (the only place axum appears: routes, extractors, problem+json, OpenAPI), `store`
//! (all SQL, one sea-query definition for SQLite and PostgreSQL, the few dialect differences
//! in `store::dialect`) and `jobs` (the durable job table and its runner). `app` wires them
//! together; `cli` and `config` are the binary's face.

pub mod ai;
pub mod analytics;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod ctx;
pub(crate) mod email;
pub mod error;
pub(crate) mod files;
pub(crate) mod html;
pub(crate) mod http;
pub mod ids;
pub(crate) mod import;
pub(crate) mod integrations;
pub mod jobs;
pub(crate) mod kb;
pub mod metrics;
pub(crate) mod net;
pub(crate) mod portal;
pub mod seed;
pub mod sla;
pub mod store;
pub(crate) mod tickets;
pub(crate) mod validate;
pub(crate) mod webhooks;
pub mod workflow;
pub(crate) mod workspace;
