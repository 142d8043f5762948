//! Seeding through the real API, as a person would: sign up, verify the
//! address with the emailed code, add channels and verify each with the code
//! it received.

use crate::receiver::Receiver;
use anyhow::{bail, Context};
use roster_testkit::SmtpServer;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse battery staple";

pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

/// A signed-up, verified owner and their first team.
pub struct Owner {
    pub token: String,
    pub team_id: String,
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

    pub async fn signup(&self, smtp: &SmtpServer) -> anyhow::Result<Owner> {
        let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": PASSWORD, "name": "Bench", "surname": "Owner", "organization_name": "Bench Inc"});
        let r = self.expect(reqwest::Method::POST, "/v1/auth/signup", None, body, 201).await?;
        let field = |name: &str| {
            r[name].as_str().map(str::to_owned).with_context(|| format!("no {name} in the sign-up answer: {r}"))
        };
        let owner = Owner { token: field("token")?, team_id: field("team_id")? };
        let mail = smtp.wait_for(&email, WAIT).await.context("no verification mail within 30 s")?;
        let code = mail.code().with_context(|| format!("no code in the verification mail: {}", mail.text))?;
        self.expect(
            reqwest::Method::POST,
            "/v1/auth/email/verification",
            Some(&owner.token),
            json!({"code": code}),
            200,
        )
        .await?;
        Ok(owner)
    }

    /// Adds a webhook channel to the owner's team pointing at `path` on the
    /// receiver, and verifies it with the code the receiver got there.
    pub async fn add_verified_webhook(&self, owner: &Owner, receiver: &Receiver, path: &str) -> anyhow::Result<()> {
        let base = format!("/v1/team/{}/notification-channel", owner.team_id);
        let body = json!({"type": "webhook", "value": receiver.url_for(path)});
        let created = self.expect(reqwest::Method::POST, &base, Some(&owner.token), body, 201).await?;
        let priority = created["priority"].as_i64().with_context(|| format!("no priority in {created}"))?;
        let code = receiver
            .code_at(path, WAIT)
            .await
            .with_context(|| format!("no verification code reached {path} within 30 s"))?;
        let verified = self
            .expect(
                reqwest::Method::PATCH,
                &format!("{base}/verification"),
                Some(&owner.token),
                json!({"priority": priority, "code": code}),
                200,
            )
            .await?;
        if verified["verified"] != true {
            bail!("the channel at {path} is not verified after its code: {verified}");
        }
        Ok(())
    }
}
