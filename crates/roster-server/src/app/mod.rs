//! Use cases that more than one entry point needs (the API and the CLI),
//! and the helpers they share.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod passwords;
pub mod rate_limit;
