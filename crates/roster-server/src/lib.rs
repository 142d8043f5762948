//! The Roster service: configuration, telemetry, the HTTP API and the
//! `roster` command line. `main` only parses the command line; everything
//! else is a library, so tests start the real application on port 0.

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod startup;
pub mod state;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
