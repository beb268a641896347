//! Integration tests: a real server over HTTP, each test on SQLite and on PostgreSQL.

mod common;

mod ai;
mod analytics;
mod audit;
mod auth;
mod browser;
mod cli;
mod email;
mod errors;
mod feed;
mod imap;
mod import;
mod integrations;
mod jobs;
mod kb;
mod listing;
mod mail_out;
mod metrics;
mod nodes;
mod portal;
mod privacy;
mod roles;
mod sla;
mod store;
mod tenancy;
mod thulium_import;
mod tickets;
mod ui_forms;
mod webhooks;
mod workflow;
