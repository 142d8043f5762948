//! Secrets never reach the logs: passwords, tokens, codes, signing secrets, database passwords.
//!
//! The real `roster serve` runs as a process with every log line at `trace`
//! captured, while the test drives the flows that handle secrets: sign-up and
//! login with passwords (and a wrong one), the sign-up code (and a wrong one), an
//! API key, an invitation answered through its link, a webhook channel whose
//! headers carry credentials (verified with the code posted to it, tested
//! against a receiver that echoes them back in an error), bearer tokens that
//! are bad, a password change, a TOTP second factor and its recovery codes, a
//! password reset by emailed code, and a database URL with a password in the
//! configuration file.
//! Then not one of those secrets may appear anywhere in the log.

use crate::helpers::{fresh_address, token_in, PASSWORD, WAIT};
use roster_testkit::{Behavior, HttpReceiver, SmtpServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// A PostgreSQL database for the process, reached with a password in its URL
/// (the test server trusts local connections, so any password is accepted;
/// an admin URL that has its own password keeps it, and that one is the secret).
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
    password: String,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        use sqlx::Connection;
        let admin = roster_testkit::postgres::admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                assert!(!roster_testkit::postgres::required(), "PostgreSQL is required but not reachable: {e}");
                return None;
            }
        };
        let name = format!("roster_redaction_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        conn.close().await.ok();
        let (scheme, rest) = admin.split_once("://").expect("a URL");
        let (userinfo, host_and_db) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user.to_owned(), password.to_owned()),
            None => (userinfo.to_owned(), format!("db-pass-{}", uuid::Uuid::new_v4().simple())),
        };
        let host = host_and_db.split('/').next().unwrap();
        let url = format!("{scheme}://{user}:{password}@{host}/{name}");
        Some(PgDatabase { admin, name, url, password })
    }

    async fn drop_database(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ =
                sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn).await;
        }
    }
}

/// `roster serve` with its whole log kept.
struct Served {
    child: tokio::process::Child,
    url: String,
    log: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

async fn serve(dir: &PathBuf, envs: &[(&str, String)]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["--config", "roster.toml", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let kept = log.clone();
    // Every line is kept; the first that names the URL tells the test where to go.
    let reader = tokio::spawn(async move {
        let mut url_tx = Some(url_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("listening on http://") {
                if let Some(tx) = url_tx.take() {
                    let url = line[at + "listening on ".len()..].split_whitespace().next().unwrap().to_owned();
                    let _ = tx.send(url);
                }
            }
            let mut log = kept.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let url = tokio::time::timeout(Duration::from_secs(60), url_rx)
        .await
        .expect("roster serve logs its URL within 60 s")
        .unwrap_or_else(|_| panic!("roster serve exited without listening: {}", log.lock().unwrap()));
    Served { child, url, log, reader }
}

impl Served {
    /// Stops the process with SIGTERM and answers everything it logged.
    async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status:?}");
        self.reader.await.unwrap();
        let log = self.log.lock().unwrap().clone();
        log
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, body) = self.call(reqwest::Method::POST, path, token, Some(body)).await;
        assert!((200..300).contains(&status), "POST {path}: {status} {body}");
        body
    }
}

/// Whether `secret` is in the log line. A code of digits only counts as a
/// whole number outside the line's leading timestamp, whose fraction of a
/// second is six digits too.
fn appears(line: &str, secret: &str) -> bool {
    if !secret.bytes().all(|b| b.is_ascii_digit()) {
        return line.contains(secret);
    }
    let rest = line.split_once(' ').map_or(line, |(_, rest)| rest);
    rest.split(|c: char| !c.is_ascii_digit()).any(|number| number == secret)
}

#[tokio::test]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let dir = std::env::temp_dir().join(format!("roster-redaction-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let smtp = SmtpServer::start().await;
    let receiver = HttpReceiver::start().await;
    let pg = PgDatabase::create().await;
    // The database URL, with its password, comes from the configuration file.
    let database_url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", dir.join("roster.db").display()),
    };
    std::fs::write(dir.join("roster.toml"), format!("database_url = \"{database_url}\"\n")).unwrap();
    let secret_key: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let served = serve(
        &dir,
        &[
            ("RUST_LOG", "trace".into()),
            ("ROSTER_SECRET_KEY", secret_key.clone()),
            ("ROSTER_SMTP_URL", smtp.url()),
            ("ROSTER_CHANNELS__ALLOW_PRIVATE_TARGETS", "true".into()),
            ("ROSTER_CHANNELS__ALLOW_HTTP_WEBHOOKS", "true".into()),
            ("ROSTER_WORKER__POLL_INTERVAL_MS", "200".into()),
        ],
    )
    .await;
    let c = Client { http: reqwest::Client::new(), base: served.url.clone() };
    let mut secrets: Vec<(&str, String)> = vec![("password", PASSWORD.into()), ("secret key", secret_key)];
    if let Some(pg) = &pg {
        secrets.push(("database password", pg.password.clone()));
    }

    // Sign-up with its emailed code (a wrong one first), a wrong password, a login.
    let email = fresh_address("redact");
    let body = json!({ "email": email, "password": PASSWORD, "name": "Rita", "surname": "Dact", "organization_name": "Quiet Ltd" });
    c.post("/v1/auth/signup", None, body).await;
    let code = smtp.wait_for(&email, WAIT).await.expect("the sign-up's code").code().expect("a code");
    let wrong_code = if code == "123456" { "654321" } else { "123456" };
    let wrong_confirm = json!({ "email": email, "code": wrong_code });
    let (status, _) = c.call(reqwest::Method::POST, "/v1/auth/signup/confirm", None, Some(wrong_confirm)).await;
    assert_eq!(status, 422);
    let signup = c.post("/v1/auth/signup/confirm", None, json!({ "email": email, "code": code })).await;
    secrets.push(("sign-up code", code));
    let signup_token = signup["token"].as_str().unwrap().to_owned();
    let customer = signup["customer_id"].as_str().unwrap().to_owned();
    let team = signup["team_id"].as_str().unwrap().to_owned();
    let wrong = format!("wrong-pass-{}", uuid::Uuid::new_v4().simple());
    let (status, _) =
        c.call(reqwest::Method::POST, "/v1/auth/login", None, Some(json!({ "email": email, "password": wrong }))).await;
    assert_eq!(status, 401);
    let login = c.post("/v1/auth/login", None, json!({ "email": email, "password": PASSWORD })).await;
    let token = login["token"].as_str().unwrap().to_owned();
    secrets.extend([("wrong password", wrong), ("sign-up token", signup_token), ("session token", token.clone())]);

    // An API key, used once; a made-up token, refused.
    let key = c.post("/v1/api-keys", Some(&token), json!({ "name": "ci", "scopes": ["customers:read"] })).await;
    let key = key["secret"].as_str().unwrap().to_owned();
    assert_eq!(c.call(reqwest::Method::GET, "/v1/customer", Some(&key), None).await.0, 200);
    let forged = format!("rst_{}", uuid::Uuid::new_v4().simple());
    assert_eq!(c.call(reqwest::Method::GET, "/v1/customer", Some(&forged), None).await.0, 401);
    secrets.extend([("API key", key), ("forged token", forged)]);

    // An invitation, opened and accepted through its link by a newcomer with a password.
    let friend = fresh_address("friend");
    let body = json!({ "channel_value": friend, "channel_type": "email" });
    c.post(&format!("/v1/team/{team}/invitation"), Some(&token), body).await;
    let mail = smtp.wait_for(&friend, WAIT).await.expect("the invitation");
    let invitation = token_in(&mail.text).expect("a token in the invitation");
    assert_eq!(c.call(reqwest::Method::GET, &format!("/v1/invitations/{invitation}"), None, None).await.0, 200);
    let newcomer_password = format!("newcomer-pass-{}", uuid::Uuid::new_v4().simple());
    let body = json!({ "name": "Nia", "surname": "Comer", "password": newcomer_password });
    let joined = c.post(&format!("/v1/invitations/{invitation}/accept"), None, body).await;
    let newcomer_token = joined["token"].as_str().unwrap().to_owned();
    secrets.extend([("invitation token", invitation), ("newcomer password", newcomer_password)]);
    secrets.push(("newcomer session", newcomer_token));

    // A webhook channel whose headers hold credentials, verified with the code posted to it.
    let header_token = format!("Bearer hdr-{}", uuid::Uuid::new_v4().simple());
    let header_key = format!("key-{}", uuid::Uuid::new_v4().simple());
    let config = json!({ "headers": { "Authorization": header_token, "X-Api-Key": header_key } });
    let base = format!("/v1/customer/{customer}/notification-channel");
    let body = json!({ "type": "webhook", "value": receiver.url_for("/hook"), "webhook": config });
    let created = c.post(&base, Some(&token), body).await;
    if let Some(s) = created["signing_secret"].as_str() {
        secrets.push(("signing secret", s.to_owned()));
    }
    let request = receiver.next_request(WAIT).await.expect("the webhook's code");
    assert_eq!(request.header("x-api-key"), Some(header_key.as_str()));
    let channel_code = request.json().unwrap()["code"].as_str().unwrap().to_owned();
    c.call(
        reqwest::Method::PATCH,
        &format!("{base}/verification"),
        Some(&token),
        Some(json!({ "priority": 1, "code": channel_code.clone() })),
    )
    .await;
    secrets.extend([
        ("channel code", channel_code),
        ("header token", header_token.clone()),
        ("header key", header_key.clone()),
    ]);
    // A receiver whose error page echoes the credentials it was sent.
    let echo = format!("unauthorized: got Authorization={header_token} X-Api-Key={header_key}");
    receiver.respond_with(Behavior::Body { status: 500, body: echo });
    let test = c.post(&format!("{base}/test"), Some(&token), json!({ "priority": 1 })).await;
    receiver.next_request(WAIT).await.expect("the test was sent");
    // Wait until the failure is recorded, so its log line is written.
    let delivery = format!("/v1/deliveries/{}", test["delivery_id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, d) = c.call(reqwest::Method::GET, &delivery, Some(&token), None).await;
        if d["settled_at"].is_string() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the test delivery never settled: {d}");
        tokio::task::yield_now().await;
    }

    // A new password, a second factor with its recovery codes, then a reset by emailed code.
    let changed = format!("changed-pass-{}", uuid::Uuid::new_v4().simple());
    let body = json!({ "current_password": PASSWORD, "new_password": changed });
    let (status, _) = c.call(reqwest::Method::PUT, "/v1/customer/password", Some(&token), Some(body)).await;
    assert_eq!(status, 200);
    let enrolment = c.post("/v1/customer/totp", Some(&token), json!({ "password": changed })).await;
    let totp_secret = enrolment["secret"].as_str().unwrap().to_owned();
    let key = roster_core::totp::base32_decode(&totp_secret).expect("a base32 secret");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let totp_code = roster_core::totp::code_at(&key, now);
    let enabled = c.post("/v1/customer/totp/confirm", Some(&token), json!({ "code": totp_code })).await;
    let recovery: Vec<String> =
        enabled["recovery_codes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert!(!recovery.is_empty());
    secrets.extend([("changed password", changed), ("TOTP secret", totp_secret), ("TOTP code", totp_code)]);
    secrets.extend(recovery.into_iter().map(|r| ("recovery code", r)));
    c.post("/v1/auth/logout", Some(&token), json!({})).await;
    c.post("/v1/auth/password/reset", None, json!({ "email": email })).await;
    let reset_code = loop {
        let mail = smtp.wait_for(&email, WAIT).await.expect("the reset code");
        if mail.subject.contains("reset") {
            break mail.code().expect("a code in the reset email");
        }
    };
    let reset_password = format!("reset-pass-{}", uuid::Uuid::new_v4().simple());
    let body = json!({ "email": email, "code": reset_code, "new_password": reset_password });
    c.post("/v1/auth/password/reset/confirm", None, body).await;
    secrets.extend([("reset code", reset_code), ("reset password", reset_password)]);

    let log = served.stop().await;
    if let Some(pg) = pg {
        pg.drop_database().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The log really was at trace level, and went through the flows above.
    assert!(log.contains("TRACE") && log.contains("DEBUG"), "not a trace-level log");
    for expected in [
        "/v1/auth/signup/confirm",
        "/v1/invitations/{token}/accept",
        "outbox: message sent",
        "/v1/customer/{id}/notification-channel",
    ] {
        assert!(log.contains(expected), "the log does not mention {expected}");
    }
    let leaked: Vec<_> = secrets.iter().filter(|(_, s)| log.lines().any(|l| appears(l, s))).collect();
    let lines: Vec<_> = log.lines().filter(|l| leaked.iter().any(|(_, s)| appears(l, s))).take(10).collect();
    assert!(leaked.is_empty(), "secrets in the log: {leaked:?}\n{}", lines.join("\n"));
}
