//! Seeding through the real API, as a person would: sign up, verify the
//! address with the emailed code, add teams, services and channels, and
//! verify each channel with the code it received.

use crate::receiver::Receiver;
use anyhow::{bail, Context};
use roster_testkit::SmtpServer;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
/// Every account the benchmarks sign up has this password (login measures it).
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

/// A signed-up, verified owner and their first team.
pub struct Owner {
    pub token: String,
    pub email: String,
    pub customer_id: String,
    pub organization_id: String,
    pub team_id: String,
}

impl Owner {
    /// Where the owner's personal resources (channels) live.
    pub fn personal_path(&self) -> String {
        format!("/v1/customer/{}", self.customer_id)
    }
}

/// Where a team's resources (channels, notify) live.
pub fn team_path(team_id: &str) -> String {
    format!("/v1/team/{team_id}")
}

impl Api {
    pub fn new(client: reqwest::Client, base: &str) -> Self {
        Self { client, base: base.trim_end_matches('/').to_owned() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.client.request(method.clone(), self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// The call's JSON answer, or an error naming the call when its status is not `expected`.
    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Value,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(method.clone(), path, token, body).await?;
        if status != expected {
            bail!("{method} {path} answered {status}, expected {expected}: {answer}");
        }
        Ok(answer)
    }

    /// Signs up a new owner: asks, reads the code from the mail, confirms (which verifies the address).
    pub async fn signup(&self, smtp: &SmtpServer) -> anyhow::Result<Owner> {
        let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD, "name": "Bench", "surname": "Owner", "organization_name": "Bench Inc"});
        self.expect(reqwest::Method::POST, "/v1/auth/signup", None, body, 202).await?;
        let mail = smtp.wait_for(&email, WAIT).await.context("no sign-up mail within 30 s")?;
        let code = mail.code().with_context(|| format!("no code in the sign-up mail: {}", mail.text))?;
        let body = json!({"email": email, "code": code});
        let r = self.expect(reqwest::Method::POST, "/v1/auth/signup/confirm", None, body, 201).await?;
        let field = |name: &str| {
            r[name].as_str().map(str::to_owned).with_context(|| format!("no {name} in the sign-up answer: {r}"))
        };
        Ok(Owner {
            token: field("token")?,
            customer_id: field("customer_id")?,
            organization_id: field("organization_id")?,
            team_id: field("team_id")?,
            email: email.clone(),
        })
    }

    /// Creates a team; answers its id.
    pub async fn create_team(&self, owner: &Owner, name: &str) -> anyhow::Result<String> {
        let r = self.expect(reqwest::Method::POST, "/v1/team", Some(&owner.token), json!({"name": name}), 201).await?;
        r["team_id"].as_str().map(str::to_owned).with_context(|| format!("no team_id in {r}"))
    }

    pub async fn create_service(&self, owner: &Owner, team_id: &str, name: &str) -> anyhow::Result<()> {
        let body = json!({"name": name, "team_id": team_id});
        self.expect(reqwest::Method::POST, "/v1/service", Some(&owner.token), body, 201).await?;
        Ok(())
    }

    /// Adds a webhook channel to `of` (a [`team_path`] or [`Owner::personal_path`])
    /// pointing at `path` on the receiver, and verifies it with the code the
    /// receiver got there.
    pub async fn add_verified_webhook(
        &self,
        owner: &Owner,
        of: &str,
        receiver: &Receiver,
        path: &str,
    ) -> anyhow::Result<()> {
        let priority = self.add_channel(owner, of, json!({"type": "webhook", "value": receiver.url_for(path)})).await?;
        let code = receiver
            .code_at(path, WAIT)
            .await
            .with_context(|| format!("no verification code reached {path} within 30 s"))?;
        self.verify_channel(owner, of, priority, &code).await
    }

    /// Adds an email channel to `of`, and verifies it with the code mailed to `address`.
    pub async fn add_verified_email(
        &self,
        owner: &Owner,
        of: &str,
        smtp: &SmtpServer,
        address: &str,
    ) -> anyhow::Result<()> {
        let priority = self.add_channel(owner, of, json!({"type": "email", "value": address})).await?;
        let mail = smtp.wait_for(address, WAIT).await.with_context(|| format!("no mail to {address} within 30 s"))?;
        let code = mail.code().with_context(|| format!("no code in the mail to {address}: {}", mail.text))?;
        self.verify_channel(owner, of, priority, &code).await
    }

    /// Creates a channel; answers its priority.
    async fn add_channel(&self, owner: &Owner, of: &str, body: Value) -> anyhow::Result<i64> {
        let path = format!("{of}/notification-channel");
        let created = self.expect(reqwest::Method::POST, &path, Some(&owner.token), body, 201).await?;
        created["priority"].as_i64().with_context(|| format!("no priority in {created}"))
    }

    async fn verify_channel(&self, owner: &Owner, of: &str, priority: i64, code: &str) -> anyhow::Result<()> {
        let verified = self
            .expect(
                reqwest::Method::PATCH,
                &format!("{of}/notification-channel/verification"),
                Some(&owner.token),
                json!({"priority": priority, "code": code}),
                200,
            )
            .await?;
        if verified["verified"] != true {
            bail!("the channel {priority} of {of} is not verified after its code: {verified}");
        }
        Ok(())
    }
}
