//! Workspaces, users, groups, customers and workspace settings.

pub mod audit;
pub mod customers;
pub mod groups;
pub mod privacy;
pub mod users;
pub mod workspaces;
