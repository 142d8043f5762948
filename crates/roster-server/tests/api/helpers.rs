//! `TestApp`: the real application on port 0 with a fresh database and a
//! real SMTP server, plus typed helpers so that the right test is the easy one.

use reqwest::{Method, StatusCode};
use roster_core::ids::{CustomerId, OrganizationId, TeamId};
use roster_server::{Application, Config};
use roster_store::Store;
use roster_testkit::{ReceivedMail, SmtpServer};
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::oneshot;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once on SQLite and once on PostgreSQL, as `<name>::sqlite`
/// and `<name>::postgres`. Without a reachable PostgreSQL the second says it
/// was skipped, unless `ROSTER_TEST_REQUIRE_POSTGRES=1` makes that a failure.
macro_rules! dual_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            #[tokio::test]
            async fn sqlite() {
                let $app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await.expect("SQLite is always available");
                $body
            }
            $(#[$meta])*
            #[tokio::test]
            async fn postgres() {
                let Some($app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await else { return };
                $body
            }
        }
    };
}
pub(crate) use dual_test;

/// Runs `$body` with `$conn` connected straight to the test's database: for
/// fixtures the API has no route for (rows it never lets a caller write).
macro_rules! on_db {
    ($app:expr, |$conn:ident| $body:expr) => {{
        use sqlx::Connection;
        let url = $app.config.database_url.as_ref().expect("the test database's URL").expose().to_owned();
        let out = match $app.backend {
            $crate::helpers::Backend::Sqlite => {
                let mut $conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                $body
            }
            $crate::helpers::Backend::Postgres => {
                let mut $conn = sqlx::PgConnection::connect(&url).await.unwrap();
                $body
            }
        };
        // A write behind the server's back: tell its principal cache, as the
        // server does after its own writes (on PostgreSQL the triggers would
        // too, a moment later; the next request must not race them).
        $app.store.principals_changed();
        out
    }};
}
pub(crate) use on_db;

/// A unique email address starting with `prefix`.
pub fn fresh_address(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A timestamp as the API wrote it: an RFC 3339 string, or the 9-element
/// tuple that `time`'s default serde representation produces.
#[track_caller]
pub fn time_of(v: &Value) -> time::OffsetDateTime {
    match v {
        Value::String(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {s}")),
        other => serde_json::from_value(other.clone()).unwrap_or_else(|e| panic!("not a timestamp ({e}): {other}")),
    }
}

/// The invitation token in an email: `rsi_` and 36 letters or digits.
pub fn token_in(text: &str) -> Option<String> {
    text.match_indices("rsi_").find_map(|(i, _)| {
        let body: String = text[i + 4..].chars().take_while(char::is_ascii_alphanumeric).collect();
        (body.len() == 36).then(|| format!("rsi_{body}"))
    })
}

pub const PASSWORD: &str = "correct horse battery staple";
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub smtp: SmtpServer,
    pub store: Store,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: TestDb,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// The problem's stable code, for error responses.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The fields named in a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }

    /// Asserts the status, and for errors the problem+json envelope and its code.
    #[track_caller]
    pub fn assert(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        if status >= 400 {
            let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(ct.starts_with("application/problem+json"), "error without problem+json ({ct}): {}", self.text);
            assert_eq!(self.body["status"], status, "problem status mismatch: {}", self.text);
        }
        if let Some(code) = code {
            assert_eq!(self.code(), code, "unexpected problem code: {}", self.text);
        }
        self
    }
}

/// A signed-up owner with their session.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub email: String,
    pub customer_id: CustomerId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the application with the test configuration, changed by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        let smtp = SmtpServer::start().await;
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            // Messages queued but not yet sent must survive a restart.
            shutdown_grace_secs: 10,
            data_dir: db.dir.clone(),
            database_url: Some(roster_server::config::Secret::new(db.url.clone())),
            database_max_connections: 4,
            secret_key: Some(roster_server::config::Secret::new(random_hex(32))),
            smtp_url: Some(roster_server::config::Secret::new(smtp.url())),
            log_level: "warn".into(),
            ..Config::default()
        };
        config.worker.poll_interval_ms = 200;
        adjust(&mut config);
        let app = Application::build(config.clone(), true).await.expect("the application starts");
        let addr = app.local_addr();
        let store = app.state().store().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Some(TestApp {
            addr,
            backend,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            smtp,
            store,
            config,
            stop: Some(stop),
            server: Some(server),
            _db: db,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("the server answers")).await
    }

    pub async fn read(res: reqwest::Response) -> Resp {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.call(Method::DELETE, path, Some(token), body).await
    }

    /// Signs up a new organization whose owner has a unique address.
    pub async fn signup(&self) -> Account {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        self.signup_as(&email, "Acme Inc").await
    }

    /// Signs up as `email`: asks (202), reads the code from the email, confirms (201).
    pub async fn signup_as(&self, email: &str, organization: &str) -> Account {
        self.request_signup(email, organization).await.assert(202, None);
        let code = self.code_for(email).await;
        let r = self.confirm_signup(email, &code).await;
        r.assert(201, None);
        Account {
            token: r.body["token"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            customer_id: r.body["customer_id"].as_str().unwrap().parse().unwrap(),
            organization_id: r.body["organization_id"].as_str().unwrap().parse().unwrap(),
            team_id: r.body["team_id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// The first step of a sign-up, with the test password and names.
    pub async fn request_signup(&self, email: &str, organization: &str) -> Resp {
        self.post(
            "/v1/auth/signup",
            None,
            json!({ "email": email, "password": PASSWORD, "name": "Ann", "surname": "Lee", "organization_name": organization }),
        )
        .await
    }

    /// The second step of a sign-up.
    pub async fn confirm_signup(&self, email: &str, code: &str) -> Resp {
        self.post("/v1/auth/signup/confirm", None, json!({ "email": email, "code": code })).await
    }

    /// Makes `account`'s address unverified, as an account made before sign-up proved it,
    /// and answers the code a fresh verification email carries.
    pub async fn unverify(&self, account: &Account) -> String {
        on_db!(self, |conn| {
            sqlx::query("UPDATE customers SET email_verified_at = NULL WHERE id = $1")
                .bind(account.customer_id.0)
                .execute(&mut conn)
                .await
                .unwrap();
        });
        self.call(Method::POST, "/v1/auth/email/verification/resend", Some(&account.token), None)
            .await
            .assert(202, None);
        self.code_for(&account.email).await
    }

    /// Logs in, answering the token.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.post("/v1/auth/login", None, json!({ "email": email, "password": password })).await
    }

    /// Adds a member with `role` to `account`'s organization and first team, and logs them in.
    pub async fn add_member(&self, account: &Account, role: roster_core::role::Role) -> Account {
        let email = format!("{}-{}@example.com", role.as_str(), uuid::Uuid::new_v4().simple());
        let hash = roster_server::app::passwords::Passwords::new(1)
            .hash(&roster_core::password::Password::parse(PASSWORD).unwrap())
            .await
            .unwrap();
        let customer_id = self.insert_member(account, &email, Some(hash), ("Max", "Mustermann"), role).await;
        let r = self.login(&email, PASSWORD).await;
        r.assert(200, None);
        Account {
            token: r.body["token"].as_str().unwrap().to_owned(),
            email,
            customer_id,
            organization_id: account.organization_id,
            team_id: account.team_id,
        }
    }

    /// Writes a person with a verified `email` into `account`'s organization
    /// and first team through the store; without a password hash they cannot log in.
    pub async fn insert_member(
        &self,
        account: &Account,
        email: &str,
        password_hash: Option<String>,
        (name, surname): (&str, &str),
        role: roster_core::role::Role,
    ) -> CustomerId {
        let customer_id = CustomerId::new();
        self.store
            .add_member(&roster_store::NewMember {
                organization_id: account.organization_id,
                team_id: account.team_id,
                customer_id,
                membership_id: roster_core::ids::MembershipId::new(),
                email: email.to_owned(),
                email_verified: true,
                password_hash,
                name: name.into(),
                surname: surname.into(),
                role,
                audit: roster_server::app::audit::Actor::default().event(
                    "member.added",
                    "customer",
                    Some(customer_id.0),
                    json!({}),
                ),
                now: roster_core::clock::now(),
            })
            .await
            .unwrap();
        customer_id
    }

    /// The next email to `to`, as the SMTP server received it.
    pub async fn mail_to(&self, to: &str) -> ReceivedMail {
        self.smtp.wait_for(to, WAIT).await.unwrap_or_else(|| panic!("no email reached {to}"))
    }

    /// The 6-digit code in the next email to `to`.
    pub async fn code_for(&self, to: &str) -> String {
        let mail = self.mail_to(to).await;
        mail.code().unwrap_or_else(|| panic!("no code in the email to {to}: {}", mail.text))
    }

    /// The delivery `id` once the worker has settled it, read as `token`'s caller reads it: the
    /// receiver has its message by then, and the record follows within moments.
    pub async fn settled_delivery(&self, token: &str, id: impl std::fmt::Display) -> Resp {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let r = self.get(&format!("/v1/deliveries/{id}"), token).await;
            r.assert(200, None);
            if r.body["settled_at"].is_string() {
                return r;
            }
            assert!(std::time::Instant::now() < deadline, "delivery {id} never settled: {}", r.text);
            tokio::task::yield_now().await;
        }
    }

    /// Creates a team in the organization of `token`'s caller, which must succeed, answering its id.
    pub async fn create_team(&self, token: &str, name: &str) -> TeamId {
        let r = self.post("/v1/team", Some(token), json!({ "name": name })).await;
        r.assert(201, None);
        r.body["team_id"].as_str().unwrap().parse().unwrap()
    }

    /// The audit records about `target`, oldest first, as (action, data).
    pub async fn audit_trail(&self, target: uuid::Uuid) -> Vec<(String, Value)> {
        let events = self.store.audit_events_for_target(target).await.unwrap();
        events.into_iter().map(|e| (e.action, e.data.0)).collect()
    }

    /// Gives `customer` the role `role` on their record and every membership, as
    /// an ownership transfer would: the API never grants `root` by a role change.
    pub async fn set_role(&self, customer: CustomerId, role: roster_core::role::Role) {
        on_db!(self, |conn| {
            for table in ["customers", "memberships"] {
                let column = if table == "customers" { "id" } else { "customer_id" };
                sqlx::query(&format!("UPDATE {table} SET role = $1 WHERE {column} = $2"))
                    .bind(role.as_str())
                    .bind(customer.0)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        })
    }

    /// A second membership for `customer`, in `team` (only invitations make these through the API).
    pub async fn add_membership(
        &self,
        org: OrganizationId,
        team: TeamId,
        customer: CustomerId,
        role: roster_core::role::Role,
    ) {
        let now = roster_core::clock::now();
        on_db!(self, |conn| {
            sqlx::query(
                "INSERT INTO memberships (id, organization_id, team_id, customer_id, role, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(org.0)
            .bind(team.0)
            .bind(customer.0)
            .bind(role.as_str())
            .bind(now)
            .execute(&mut conn)
            .await
            .unwrap();
        })
    }

    /// A service owned by `team`, written directly (for tests of what services block).
    pub async fn insert_service(&self, org: OrganizationId, team: TeamId) {
        let now = roster_core::clock::now();
        on_db!(self, |conn| {
            sqlx::query(
                "INSERT INTO services (id, organization_id, team_id, name, resource_count, heartbeat_count,
                                       created_at, updated_at)
                 VALUES ($1, $2, $3, 'api', 0, 0, $4, $4)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(org.0)
            .bind(team.0)
            .bind(now)
            .execute(&mut conn)
            .await
            .unwrap();
        })
    }

    /// Stops the server gracefully, waits for it, and starts it again on the
    /// same database and SMTP server: what survives a restart.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        let app = Application::build(self.config.clone(), true).await.expect("the application restarts");
        self.addr = app.local_addr();
        self.store = app.state().store().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        })));
        self.stop = Some(stop);
        self
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task ends").expect("the server stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// A database that lives as long as the test: a temporary SQLite file, or a
/// fresh PostgreSQL database dropped afterwards.
struct TestDb {
    dir: PathBuf,
    url: String,
    pg: Option<(String, String)>,
}

impl TestDb {
    async fn create(backend: Backend) -> Option<TestDb> {
        let dir = std::env::temp_dir().join(format!("roster-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.join("roster.db").display());
                Some(TestDb { dir, url, pg: None })
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = postgres_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => {
                        postgres_unavailable(&admin, &e);
                        let _ = std::fs::remove_dir_all(&dir);
                        return None;
                    }
                };
                let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
                conn.close().await.ok();
                let url = with_database(&admin, &name);
                Some(TestDb { dir, url, pg: Some((admin, name)) })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg.take() {
            // The test's runtime is going away; drop the database from a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn postgres_admin_url() -> String {
    roster_testkit::postgres::admin_url()
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map(|(b, q)| (b, Some(q))).unwrap_or((url, None));
    let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Without PostgreSQL, its half of the suite is skipped (said once, on the
/// terminal, past the test harness's capture) or, when required, fails.
fn postgres_unavailable(url: &str, error: &sqlx::Error) {
    let url = roster_store::redact_url(url);
    if roster_testkit::postgres::required() {
        panic!("PostgreSQL is required (ROSTER_TEST_REQUIRE_POSTGRES=1) but {url} is not reachable: {error}");
    }
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED: the PostgreSQL half of the suite: {url} is not reachable ({error}).\n\
             Start PostgreSQL or set ROSTER_TEST_POSTGRES_URL; ROSTER_TEST_REQUIRE_POSTGRES=1 makes this a failure.\n"
        );
    });
}
