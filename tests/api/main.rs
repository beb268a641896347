//! Integration tests: a real server over HTTP, each test on SQLite and on PostgreSQL.

mod common;

mod auth;
mod errors;
mod jobs;
mod roles;
mod tenancy;
mod tickets;
mod listing;
mod cli;
mod store;
