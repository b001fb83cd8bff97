//! One module per page.

pub mod account;
pub mod audit;
pub mod costs;
pub mod dashboard;
pub mod deploy_panel;
pub mod deployment;
pub mod incidents;
pub mod login;
pub mod logs;
pub mod not_found;
pub mod notifications;
pub mod promote;
pub mod runbooks;
pub mod service;
pub mod tokens;
pub mod users;
