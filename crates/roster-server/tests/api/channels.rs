//! Notification channels of customers and teams: every behaviour is run for
//! both owner kinds through the shared helpers here. Codes are read from what
//! actually arrived at the test SMTP server.

mod access;
mod health;
mod lifecycle;
mod ordering;
mod quiet_hours;
mod signing;
mod unsubscribe;
mod values;
mod webhooks;

use crate::helpers::*;
use serde_json::{json, Value};

/// A channel owner as the tests drive it: its route prefix and a token allowed to manage it.
#[derive(Debug, Clone)]
pub struct Owner {
    pub kind: &'static str,
    pub base: String,
    pub token: String,
}

impl Owner {
    pub fn path(&self, rest: &str) -> String {
        format!("{}/{rest}", self.base)
    }
}

/// The signed-up owner's personal channels and their team's channels.
pub fn owners(acc: &Account) -> [Owner; 2] {
    [
        Owner { kind: "customer", base: format!("/v1/customer/{}", acc.customer_id), token: acc.token.clone() },
        Owner { kind: "team", base: format!("/v1/team/{}", acc.team_id), token: acc.token.clone() },
    ]
}

/// A fresh address for an email channel.
pub fn address() -> String {
    format!("alerts-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Adds an email channel, which must succeed.
pub async fn add_email(app: &TestApp, o: &Owner, email: &str) -> Value {
    let r = app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": "email", "value": email})).await;
    r.assert(201, None);
    r.body
}

/// Verifies the channel of `priority` with the code that reached `email`.
pub async fn verify_with_mail(app: &TestApp, o: &Owner, priority: i64, email: &str) -> Value {
    let code = app.code_for(email).await;
    let r = app
        .patch(&o.path("notification-channel/verification"), &o.token, json!({"priority": priority, "code": code}))
        .await;
    r.assert(200, None);
    r.body
}

/// The owner's channels as listed, by priority.
pub async fn list(app: &TestApp, o: &Owner) -> Vec<Value> {
    let r = app.get(&o.path("notification-channels?limit=100"), &o.token).await;
    r.assert(200, None);
    r.body["data"].as_array().unwrap().clone()
}

/// The listed values, by priority.
pub async fn values(app: &TestApp, o: &Owner) -> Vec<String> {
    list(app, o).await.iter().map(|c| c["value"].as_str().unwrap().to_owned()).collect()
}
