//! One module per page.

pub mod account;
pub mod audit;
pub mod dashboard;
pub mod login;
pub mod not_found;
pub mod service;
pub mod tokens;
pub mod users;
