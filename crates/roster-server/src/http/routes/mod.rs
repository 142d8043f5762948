//! One module per resource; handlers are named `verb_noun`.

pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod customer;
pub mod deliveries;
pub mod health;
pub mod invitations;
pub mod members;
pub mod organization;
pub mod security;
pub mod services;
pub mod teams;
pub mod unsubscribe;
