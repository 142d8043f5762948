//! A fresh database per run: a temporary SQLite directory, or a PostgreSQL
//! database created for the run and dropped after it.

use anyhow::Context;
use serde::Serialize;
use sqlx::Connection;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the server keeps its data for one run.
pub struct FreshDatabase {
    /// The server's data directory (SQLite's file and generated key live here).
    pub data_dir: PathBuf,
    /// `None` on SQLite: the server's default inside `data_dir`.
    pub url: Option<String>,
    postgres: Option<(PgServer, String)>,
}

impl FreshDatabase {
    pub async fn create(backend: Backend, postgres_url: &str) -> anyhow::Result<Self> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let data_dir = std::env::temp_dir().join(format!("roster-bench-{run}"));
        std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
        let (url, postgres) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let server = PgServer::parse(postgres_url);
                let name = format!("roster_bench_{run}");
                let mut conn = admin(&server).await?;
                // The name is ours (hex only), so it needs no quoting beyond this.
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
                conn.close().await?;
                (Some(server.database(&name)), Some((server, name)))
            }
        };
        Ok(Self { data_dir, url, postgres })
    }

    /// Drops the PostgreSQL database and removes the data directory.
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((server, name)) = &self.postgres {
            let mut conn = admin(server).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await?;
            conn.close().await?;
        }
        std::fs::remove_dir_all(&self.data_dir).with_context(|| format!("remove {}", self.data_dir.display()))?;
        Ok(())
    }
}

/// `--postgres-url` split where a database name goes: before it the
/// server, after it the settings (`?sslmode=…`) every connection keeps.
pub struct PgServer {
    server: String,
    settings: String,
}

impl PgServer {
    fn parse(url: &str) -> Self {
        let (server, settings) = match url.split_once('?') {
            Some((server, settings)) => (server, format!("?{settings}")),
            None => (url, String::new()),
        };
        Self { server: server.trim_end_matches('/').to_owned(), settings }
    }

    fn database(&self, name: &str) -> String {
        format!("{}/{name}{}", self.server, self.settings)
    }
}

async fn admin(server: &PgServer) -> anyhow::Result<sqlx::PgConnection> {
    let url = server.database("postgres");
    sqlx::PgConnection::connect(&url)
        .await
        .context("connect to the PostgreSQL server of --postgres-url (is it running?)")
}

#[cfg(test)]
mod tests {
    use super::PgServer;

    #[test]
    fn puts_the_database_before_the_settings() {
        let s = PgServer::parse("postgres://u@h:5432/?sslmode=disable");
        assert_eq!(s.database("db"), "postgres://u@h:5432/db?sslmode=disable");
        assert_eq!(PgServer::parse("postgres://u@h:5432").database("db"), "postgres://u@h:5432/db");
    }
}
