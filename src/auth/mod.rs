//! Authentication and authorization: passwords, bearer tokens, login throttling and the
//! role matrix.

pub mod password;
pub mod roles;
pub mod service;
pub mod session;
pub mod throttle;
pub mod tokens;

pub use roles::{Actor, Permission};
