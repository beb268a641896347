//! Workflow: what lets a small team keep up with a large queue — categories, canned responses,
//! watchers, merging, assignment strategies, the automation rules engine and the
//! notifications they queue.

pub mod assignment;
pub mod canned;
pub mod categories;
pub mod merge;
pub mod notify;
pub mod rules;
pub mod watchers;
