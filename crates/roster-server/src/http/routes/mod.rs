//! One module per resource; handlers are named `verb_noun`.

pub mod api_keys;
pub mod auth;
pub mod customer;
pub mod health;
