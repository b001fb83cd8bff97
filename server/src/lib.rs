//! Flightdeck's server: everything that touches the world.
//!
//! `main.rs` only parses the command line; [`startup::Application`] builds the real server so
//! integration tests can start it on port 0 exactly as production does.

pub mod auth;
pub mod aws;
pub mod backend;
pub mod background;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod costs;
pub mod demo;
pub mod deploy;
pub mod error;
pub mod health;
pub mod http;
pub mod incidents;
pub mod leptos_options;
pub mod logs;
pub mod notify;
pub mod random_id;
pub mod runbooks;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod views;
