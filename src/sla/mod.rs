//! SLA: business calendars and the clocks computed on them. The arithmetic is pure (no I/O,
//! no `now()`): callers pass instants in.

pub mod calendar;
pub mod clock;
pub mod engine;
pub mod scan;
pub mod service;
