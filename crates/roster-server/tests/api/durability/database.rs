//! A database shared by the processes of one test: a temporary SQLite file,
//! or a fresh PostgreSQL database dropped afterwards. The same approach as
//! `TestDb` in helpers.rs, which is private to that module.

use crate::helpers::Backend;
use sqlx::Connection;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use uuid::Uuid;

pub struct Database {
    pub backend: Backend,
    /// The processes' working and data directory.
    pub dir: PathBuf,
    pub url: String,
    /// The admin URL and the name of the database to drop.
    pg: Option<(String, String)>,
}

/// One outbox row as the store holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: Uuid,
    pub transport: String,
    pub recipient: String,
    pub status: String,
}

impl Database {
    /// `None` when PostgreSQL is not reachable (said once), unless
    /// `ROSTER_TEST_REQUIRE_POSTGRES=1` makes that a failure.
    pub async fn create(backend: Backend) -> Option<Database> {
        let dir = std::env::temp_dir().join(format!("roster-durability-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.join("roster.db").display());
                Some(Database { backend, dir, url, pg: None })
            }
            Backend::Postgres => {
                let admin = crate::helpers::postgres_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        postgres_unavailable(&admin, &e);
                        return None;
                    }
                };
                let name = format!("roster_durability_{}", Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
                conn.close().await.ok();
                let (base, query) = admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
                let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
                let url = match query {
                    Some(q) => format!("{server}/{name}?{q}"),
                    None => format!("{server}/{name}"),
                };
                Some(Database { backend, dir, url, pg: Some((admin, name)) })
            }
        }
    }

    /// Every outbox row, read straight from the database: what the store
    /// holds, whatever the API shows.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        let sql = "SELECT id, transport, recipient, status FROM outbox ORDER BY id";
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }
}

impl Database {
    /// The code of the sign-up email queued to `email`, read from its outbox
    /// row: for a deployment whose API sends nothing itself, before any worker
    /// has sent (and so forgotten) it.
    pub async fn signup_code(&self, email: &str) -> String {
        let sql = "SELECT secret FROM outbox WHERE recipient = $1 AND template = 'signup_code' AND status = 'pending'";
        let secret: Option<String> = match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).bind(email).fetch_one(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).bind(email).fetch_one(&mut conn).await.unwrap()
            }
        };
        secret.unwrap_or_else(|| panic!("the sign-up email to {email} carries no code"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg.take() {
            // The test's runtime is going away; drop the database from a thread of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(&drop).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

fn postgres_unavailable(url: &str, error: &sqlx::Error) {
    let url = roster_store::redact_url(url);
    if roster_testkit::postgres::required() {
        panic!("PostgreSQL is required (ROSTER_TEST_REQUIRE_POSTGRES=1) but {url} is not reachable: {error}");
    }
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "\nSKIPPED: the PostgreSQL durability tests: {url} is not reachable ({error}).\n\
             Start PostgreSQL or set ROSTER_TEST_POSTGRES_URL; ROSTER_TEST_REQUIRE_POSTGRES=1 makes this a failure.\n"
        );
    });
}
