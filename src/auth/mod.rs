//! Authentication and authorization: passwords, bearer tokens, login throttling and the
//! role matrix.

pub mod cache;
pub(crate) mod password;
pub(crate) mod roles;
pub(crate) mod service;
pub(crate) mod session;
pub(crate) mod throttle;
pub mod tokens;

pub use roles::{Actor, Permission};
