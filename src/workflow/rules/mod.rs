//! The automation rules engine (SPEC §5 Automation): rules stored per workspace, evaluated in
//! `position` order inside the transaction of the change that triggers them, and time rules
//! evaluated by the scanner.

pub(crate) mod engine;
pub(crate) mod model;
pub mod scan;
pub(crate) mod service;
