//! The email channel: parsing inbound mail, separating the visible reply, and turning
//! messages into tickets and comments.

pub mod imap;
pub mod inbound;
pub mod outbound;
pub mod parse;
pub mod reply;
pub mod settings;
