//! The `roster` binary as an operator runs it: a real process, real signals.

use crate::helpers::{PASSWORD, WAIT};
use roster_testkit::SmtpServer;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn roster(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).kill_on_drop(true);
    cmd
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("roster-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `roster serve` with `env` added and answers the process and the URL it logged.
async fn serve(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut child = roster(dir)
        .envs(env.iter().copied())
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("listening on http://") {
                let url = line[at + "listening on ".len()..].split_whitespace().next().unwrap().to_owned();
                return url;
            }
        }
        panic!("roster serve exited without listening");
    })
    .await
    .expect("roster serve logs its URL within 30 s");
    // Keep draining the log so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

async fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("roster stops after SIGTERM").unwrap()
}

#[tokio::test]
async fn help_explains_every_subcommand() {
    let out = roster(&temp_dir()).arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "worker", "migrate", "admin"] {
        assert!(help.contains(sub), "--help does not mention {sub}: {help}");
    }
    let out = roster(&temp_dir()).args(["admin", "create-org", "--help"]).output().await.unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--email") && help.contains("--organization") && help.contains("--password"), "{help}");
}

#[tokio::test]
async fn print_config_shows_defaults_and_hides_secrets() {
    let dir = temp_dir();
    let out = roster(&dir).args(["serve", "--print-config"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:8080\""), "{text}");
    assert!(text.contains("database_url = \"sqlite://data/roster.db\""), "{text}");

    let out = roster(&dir)
        .args(["serve", "--print-config"])
        .env("ROSTER_DATABASE_URL", "postgres://roster:hunter2hunter2@db.internal/roster")
        .env("ROSTER_SECRET_KEY", "ab".repeat(32))
        .env("ROSTER_SMTP_URL", "smtps://mailer:mailpass123@mail.internal:465")
        .env("ROSTER_WORKER__CONCURRENCY", "3")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for secret in ["hunter2hunter2", "mailpass123", &"ab".repeat(32)] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
    assert!(text.contains("postgres://roster:***@db.internal/roster"), "{text}");
    assert!(text.contains("concurrency = 3"), "environment variables reach nested settings: {text}");
    // Flags beat the environment.
    let out = roster(&dir)
        .args(["serve", "--print-config", "--listen", "0.0.0.0:9999"])
        .env("ROSTER_LISTEN", "127.0.0.1:7777")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("listen = \"0.0.0.0:9999\""));
    // Invalid settings are refused at start with a reason.
    let out =
        roster(&dir).args(["serve", "--print-config"]).env("ROSTER_DEFAULT_PLAN", "platinum").output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("platinum"));
}

#[tokio::test]
async fn serve_runs_on_the_embedded_default_and_stops_gracefully() {
    let dir = temp_dir();
    // Only the mail server is set: the sign-up's code has to come from somewhere.
    let smtp = SmtpServer::start().await;
    let (mut child, url) = serve(&dir, &[], &[("ROSTER_SMTP_URL", &smtp.url())]).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{url}/readyz")).send().await.unwrap().status(), 200);
    let r = client
        .post(format!("{url}/v1/auth/signup"))
        .json(&json!({ "email": "laptop@example.com", "password": PASSWORD, "name": "L", "surname": "T", "organization_name": "Laptop" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let mail = smtp.wait_for("laptop@example.com", WAIT).await.expect("the sign-up's code arrives");
    let r = client
        .post(format!("{url}/v1/auth/signup/confirm"))
        .json(&json!({ "email": "laptop@example.com", "code": mail.code().expect("a code") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let status = terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    assert!(dir.join("data/roster.db").exists(), "the embedded database lives in ./data");
    let key = std::fs::read_to_string(dir.join("data/secret.key")).unwrap();
    assert_eq!(key.trim().len(), 128, "a generated 64-byte key, hex");

    // A restart on the same data keeps the account and the key.
    let (mut child, url) = serve(&dir, &[], &[]).await;
    let r = client
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({ "email": "laptop@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(terminate(&mut child).await.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_creates_an_organization_with_a_verified_owner() {
    let dir = temp_dir();
    let out = roster(&dir).arg("migrate").output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = roster(&dir)
        .args(["admin", "create-org", "--email", "Ops@Example.com", "--organization", "Ops Corp", "--name", "Olga"])
        .env("ROSTER_ADMIN_PASSWORD", PASSWORD)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["organization_slug"], "ops-corp");
    // The same address again is refused.
    let out = roster(&dir)
        .args(["admin", "create-org", "--email", "ops@example.com", "--organization", "Other", "--password", PASSWORD])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let (mut child, url) = serve(&dir, &["--no-worker"], &[]).await;
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{url}/v1/auth/login"))
        .json(&json!({ "email": "ops@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("the operator's owner can log in");
    let profile: serde_json::Value =
        client.get(format!("{url}/v1/customer")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(profile["customer"]["email_verified"], true);
    assert_eq!(profile["customer"]["role"], "root");
    assert_eq!(profile["customer"]["name"], "Olga");
    assert_eq!(profile["customer"]["id"], created["customer_id"]);
    assert!(terminate(&mut child).await.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_toml_file_is_a_layer_between_defaults_and_the_environment() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("roster.toml"),
        "listen = \"127.0.0.1:9090\"\nsignup_enabled = false\nmail_from = \"Ops <ops@example.com>\"\n\n[worker]\nbatch_size = 7\n\n[plans.enterprise]\nteams = 1000\nmembers = 5000\nservices = 10000\nchannels_per_owner = 100\n",
    )
    .unwrap();
    let out = roster(&dir).args(["--config", "roster.toml", "serve", "--print-config"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "listen = \"127.0.0.1:9090\"",
        "signup_enabled = false",
        "batch_size = 7",
        "[plans.enterprise]",
        "Ops <ops@example.com>",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    // The environment beats the file.
    let out = roster(&dir)
        .args(["serve", "--print-config"])
        .env("ROSTER_CONFIG", "roster.toml")
        .env("ROSTER_LISTEN", "127.0.0.1:9191")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("listen = \"127.0.0.1:9191\""));
    // A misspelt setting is an error, not silently ignored.
    std::fs::write(dir.join("typo.toml"), "listne = \"127.0.0.1:1\"\n").unwrap();
    let out = roster(&dir).args(["--config", "typo.toml", "serve", "--print-config"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listne"));
    let _ = std::fs::remove_dir_all(&dir);
}
