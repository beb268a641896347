//! Tickets: lifecycle, numbering, threads, events, assignment and queue statistics.

pub mod comments;
pub mod events;
pub mod feed;
pub mod list;
pub mod live;
pub mod model;
pub mod numbering;
pub mod service;
pub mod status;
