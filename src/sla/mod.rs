//! SLA: business calendars and the clocks computed on them. The arithmetic is pure (no I/O,
//! no `now()`): callers pass instants in.

pub(crate) mod calendar;
pub(crate) mod clock;
pub(crate) mod engine;
pub mod scan;
pub(crate) mod service;
