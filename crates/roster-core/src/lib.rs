//! Roster's domain: the values every other layer trusts once they are parsed.
//!
//! Nothing here performs IO. Values are parsed once at the edge (HTTP bodies,
//! CLI flags) into the types below and carried through the store and the
//! delivery engine unchanged.

pub mod alert;
pub mod channel;
pub mod clock;
pub mod email;
pub mod error;
pub mod ids;
pub mod message;
pub mod names;
pub mod password;
pub mod plan;
pub mod policy;
pub mod role;
pub mod scope;
pub mod secret;
pub mod totp;
pub mod validation;

pub use error::{Error, Result};
