//! Black-box tests of the API over HTTP: each test starts the real server on
//! a free port with a fresh database, once on SQLite and once on PostgreSQL.

mod helpers;

mod alerts;
mod api_keys;
mod audit;
mod auth;
mod channels;
mod cli;
mod customer;
mod deliveries;
mod delivery_health;
mod durability;
mod export;
mod invitations;
mod isolation;
mod members;
mod organization;
mod passwords;
mod permissions;
mod platform;
mod principal_cache;
mod reauthentication;
mod redaction;
mod scale_out;
mod services;
mod teams;
mod totp;
