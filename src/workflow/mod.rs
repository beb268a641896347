//! Workflow: what lets a small team keep up with a large queue — categories, canned responses,
//! watchers, merging, assignment strategies, the automation rules engine and the
//! notifications they queue.

pub(crate) mod assignment;
pub(crate) mod canned;
pub(crate) mod categories;
pub(crate) mod merge;
pub(crate) mod notify;
pub mod rules;
pub(crate) mod watchers;
