//! `GET /v1/customer/export`, and account deletion leaving no personal data.
//!
//! One fixture builds a person with everything Roster can hold about them,
//! through the API: joined by invitation into two teams, personal channels
//! (an email and a webhook with a credential in a header), a test delivery,
//! quiet hours, an API key, two sessions, an invitation they sent, an offer of
//! ownership made to them. The export must show all of it and no secret; the
//! deletion must leave none of it in any table of the database.

use crate::helpers::*;
use crate::invitations::{invited, mail_about, token_for};
use roster_testkit::HttpReceiver;
use serde_json::{json, Value};

/// A person with everything, and what was made for them.
struct Subject {
    owner: Account,
    acc: Account,
    name: String,
    surname: String,
    night_shift: String,
    pager: String,
    webhook_url: String,
    header_secret: String,
    signing_secret: String,
    key_secret: String,
    first_session: String,
    friend: String,
    friend_token: String,
    test_delivery: String,
    /// Codes and invitation tokens that were mailed or posted to them.
    codes: Vec<String>,
    _receiver: HttpReceiver,
}

/// The application with webhooks allowed to reach a receiver on 127.0.0.1.
async fn app_for(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        c.channels.allow_private_targets = true;
        c.channels.allow_http_webhooks = true;
    })
    .await
}

/// Letters only, so that names pass validation and never occur by chance.
fn unique_word(prefix: &str) -> String {
    let tail: String = uuid::Uuid::new_v4().simple().to_string().chars().filter(char::is_ascii_alphabetic).collect();
    format!("{prefix}{tail}")
}

async fn accept(app: &TestApp, token: &str, body: Value) -> Resp {
    let r = app.post(&format!("/v1/invitations/{token}/accept"), None, body).await;
    r.assert(200, None);
    r
}

async fn subject_with_everything(app: &TestApp) -> Subject {
    let owner = app.signup().await;
    let mut codes = Vec::new();
    // The owner's own channel must never show in the subject's export.
    let owner_pager = fresh_address("owner-pager");
    let path = format!("/v1/customer/{}/notification-channel", owner.customer_id);
    app.post(&path, Some(&owner.token), json!({ "type": "email", "value": owner_pager })).await.assert(201, None);

    // Joined by invitation as an admin, then invited into a second team.
    let (name, surname) = (unique_word("Wilhelmina"), unique_word("Quackenbush"));
    let email = fresh_address("wq");
    let (_, token) = invited(app, &owner, owner.team_id, &email, Some("admin")).await;
    codes.push(token.clone());
    let r = accept(app, &token, json!({ "name": name, "surname": surname, "password": PASSWORD })).await;
    let acc = Account {
        token: r.body["token"].as_str().unwrap().to_owned(),
        email: email.clone(),
        customer_id: r.body["customer_id"].as_str().unwrap().parse().unwrap(),
        organization_id: owner.organization_id,
        team_id: owner.team_id,
    };
    let night_shift = unique_word("Nightshift");
    let team = app.create_team(&owner.token, &night_shift).await;
    let (_, token) = invited(app, &owner, team, &email, None).await;
    codes.push(token.clone());
    accept(app, &token, json!({ "password": PASSWORD })).await;

    // Personal channels: an email address and a webhook with a credential in a header.
    let base = format!("/v1/customer/{}/notification-channel", acc.customer_id);
    let pager = fresh_address("wq-pager");
    app.post(&base, Some(&acc.token), json!({ "type": "email", "value": pager })).await.assert(201, None);
    let code = app.code_for(&pager).await;
    codes.push(code.clone());
    let verify = json!({ "priority": 1, "code": code });
    app.patch(&format!("{base}/verification"), &acc.token, verify).await.assert(200, None);
    let receiver = HttpReceiver::start().await;
    let webhook_url = receiver.url_for(&format!("/hooks/{}", unique_word("wq")));
    let header_secret = format!("Bearer hdr-{}", uuid::Uuid::new_v4().simple());
    let body = json!({ "type": "webhook", "value": webhook_url, "webhook": { "headers": { "Authorization": header_secret } } });
    let r = app.post(&base, Some(&acc.token), body).await;
    r.assert(201, None);
    let signing_secret = r.body["signing_secret"].as_str().unwrap_or_default().to_owned();
    let request = receiver.next_request(WAIT).await.expect("the webhook's code was sent");
    let code = request.json().unwrap()["code"].as_str().unwrap().to_owned();
    codes.push(code.clone());
    let verify = json!({ "priority": 2, "code": code });
    app.patch(&format!("{base}/verification"), &acc.token, verify).await.assert(200, None);

    // A test message through the email channel, sent and settled.
    let r = app.post(&format!("{base}/test"), Some(&acc.token), json!({ "priority": 1 })).await;
    r.assert(202, None);
    let test_delivery = r.body["delivery_id"].as_str().unwrap().to_owned();
    app.mail_to(&pager).await;
    app.settled_delivery(&acc.token, &test_delivery).await;

    // A team alert that reaches their channels, and one for them alone.
    let body = json!({ "event": "down", "title": "db is down", "include_members": true });
    let r = app.post(&format!("/v1/team/{}/notify", owner.team_id), Some(&owner.token), body).await;
    assert!(r.status.is_success(), "{}", r.text);
    assert!(r.text.contains(&acc.customer_id.to_string()), "the alert reached them: {}", r.text);
    let body = json!({ "event": "down", "title": "my own pager check" });
    let r = app.post(&format!("/v1/customer/{}/notify", acc.customer_id), Some(&acc.token), body).await;
    assert!(r.status.is_success(), "{}", r.text);

    let quiet = json!({ "timezone": "Europe/Berlin", "windows": [{ "days": ["sat", "sun"], "start": "20:00", "end": "08:00" }] });
    app.put("/v1/customer/quiet-hours", &acc.token, quiet).await.assert(200, None);
    let r =
        app.post("/v1/api-keys", Some(&acc.token), json!({ "name": "wq laptop", "scopes": ["customers:read"] })).await;
    r.assert(201, None);
    let key_secret = r.body["secret"].as_str().unwrap().to_owned();

    // They invite a friend (whose email names them), and are offered the ownership.
    let friend = fresh_address("friend");
    let body = json!({ "channel_value": friend, "channel_type": "email" });
    app.post(&format!("/v1/team/{}/invitation", owner.team_id), Some(&acc.token), body).await.assert(201, None);
    let friend_token = token_for(app, &friend).await;
    let body = json!({ "customer_id": acc.customer_id });
    app.post("/v1/organization/ownership-transfer", Some(&owner.token), body).await.assert(201, None);
    mail_about(app, &email, "ownership").await;

    // One more session, beside those the two accepted invitations started.
    let first_session = acc.token.clone();
    let r = app.login(&email, PASSWORD).await;
    r.assert(200, None);
    let acc = Account { token: r.body["token"].as_str().unwrap().to_owned(), ..acc };
    Subject {
        owner,
        acc,
        name,
        surname,
        night_shift,
        pager,
        webhook_url,
        header_secret,
        signing_secret,
        key_secret,
        first_session,
        friend,
        friend_token,
        test_delivery,
        codes,
        _receiver: receiver,
    }
}

fn items<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    doc[key].as_array().unwrap_or_else(|| panic!("`{key}` is a list: {doc:#}"))
}

dual_test! {
    async fn the_export_holds_everything_about_the_caller_and_no_secret(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for(backend).await else { return };
        let s = subject_with_everything(&app).await;
        let r = app.get("/v1/customer/export", &s.acc.token).await;
        r.assert(200, None);
        assert_eq!(r.headers["cache-control"], "no-store");
        let doc = &r.body;

        assert!(time_of(&doc["exported_at"]) <= roster_core::clock::now());
        let p = &doc["profile"];
        assert_eq!(p["id"], s.acc.customer_id.to_string());
        assert_eq!((p["email"].as_str(), p["name"].as_str()), (Some(s.acc.email.as_str()), Some(s.name.as_str())));
        assert_eq!((p["surname"].as_str(), p["role"].as_str()), (Some(s.surname.as_str()), Some("admin")));
        assert_eq!((p["status"].as_str(), p["availability"].as_str()), (Some("active"), Some("offline")));
        assert!(p["email_verified_at"].is_string() && p["invited_at"].is_string() && p["last_login_at"].is_string());
        assert_eq!(doc["organization"]["id"], s.owner.organization_id.to_string());
        assert_eq!(doc["organization"]["name"], "Acme Inc");

        let teams: Vec<_> = items(doc, "memberships").iter().map(|m| m["team_name"].as_str().unwrap()).collect();
        assert_eq!(teams, ["Default team", s.night_shift.as_str()]);
        assert!(items(doc, "memberships").iter().all(|m| m["role"] == "admin"));

        let channels = items(doc, "notification_channels");
        assert_eq!(channels.len(), 2, "{doc:#}");
        assert_eq!((channels[0]["type"].as_str(), channels[0]["value"].as_str()), (Some("email"), Some(s.pager.as_str())));
        assert_eq!((channels[1]["type"].as_str(), channels[0]["verified"].as_bool()), (Some("webhook"), Some(true)));
        assert_eq!(channels[1]["webhook"]["headers"]["Authorization"], "********");
        assert_eq!(doc["quiet_hours"]["timezone"], "Europe/Berlin");
        assert_eq!(doc["quiet_hours"]["windows"][0]["start"], "20:00");

        let keys = items(doc, "api_keys");
        assert_eq!(keys.len(), 1);
        assert_eq!((keys[0]["name"].as_str(), keys[0]["status"].as_str()), (Some("wq laptop"), Some("active")));
        assert!(s.key_secret.starts_with(keys[0]["hint"].as_str().unwrap().trim_end_matches('…')));
        assert_eq!(items(doc, "sessions").len(), 3, "two accepted invitations and a login: {doc:#}");

        let received = items(doc, "invitations_received");
        assert_eq!(received.len(), 2, "{doc:#}");
        assert!(received.iter().all(|i| i["channel"] == s.acc.email.as_str() && i["status"] == "accepted"));
        assert!(received.iter().all(|i| i["sender_full_name"] == "Ann Lee"));
        let sent = items(doc, "invitations_sent");
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0]["channel"].as_str(), sent[0]["status"].as_str()), (Some(s.friend.as_str()), Some("pending")));
        let offers = items(doc, "ownership_offers");
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0]["to_customer_id"], s.acc.customer_id.to_string());
        assert_eq!(offers[0]["from_customer_id"], s.owner.customer_id.to_string());

        // What they did, newest first, each record theirs.
        let audit = items(doc, "audit_events");
        assert!(audit.iter().all(|e| e["actor_id"] == s.acc.customer_id.to_string()), "{audit:#?}");
        let actions: Vec<_> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
        for action in ["invitation.accepted", "channel.created", "api_key.created", "invitation.created"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        assert!(audit.windows(2).all(|w| time_of(&w[0]["created_at"]) >= time_of(&w[1]["created_at"])));

        // Messages to them: account emails and what went through their channels.
        let deliveries = items(doc, "deliveries");
        let test = deliveries.iter().find(|d| d["id"] == s.test_delivery.as_str()).expect("the test delivery");
        assert_eq!((test["kind"].as_str(), test["status"].as_str()), (Some("test"), Some("sent")));
        assert_eq!(test["channel_id"], channels[0]["id"]);
        assert_eq!(test["attempts"][0]["outcome"], "sent");
        assert!(deliveries.iter().any(|d| d["kind"] == "verification" && d["channel_id"] == channels[1]["id"]));
        assert!(deliveries.iter().any(|d| d["kind"] == "account" && d["channel_id"].is_null()), "{deliveries:#?}");
        assert!(deliveries.iter().filter(|d| d["kind"] == "alert").count() >= 4, "two alerts, two channels each");
        let alerts = items(doc, "alerts");
        assert_eq!(alerts.len(), 1, "their own alert, not the team's: {alerts:#?}");
        assert_eq!((alerts[0]["title"].as_str(), alerts[0]["event"].as_str()), (Some("my own pager check"), Some("down")));

        // No secret, and nobody else's data.
        let text = &r.text;
        let mut secrets = vec![PASSWORD, &s.header_secret, &s.key_secret, &s.first_session, &s.acc.token, &s.friend_token];
        secrets.extend(s.codes.iter().map(String::as_str));
        if !s.signing_secret.is_empty() {
            secrets.push(&s.signing_secret);
        }
        for secret in secrets {
            assert!(!text.contains(secret), "a secret is in the export: {secret}");
        }
        for field in ["password", "hash", "signing_secret\"", "totp_secret", "token\"", "error_detail"] {
            assert!(!text.contains(field), "`{field}` is in the export: {text}");
        }
        assert!(!text.contains(&s.owner.email) && !text.contains("owner-pager"), "another person's data: {text}");
        assert!(!text.contains(&s.webhook_url), "a webhook URL is a credential: shown masked");
    }
}

dual_test! {
    async fn the_export_is_the_callers_own(app) {
        let owner = app.signup().await;
        let r = app.get("/v1/customer/export", &owner.token).await;
        r.assert(200, None);
        assert_eq!(r.body["profile"]["email"], owner.email.as_str());
        assert_eq!(r.body["profile"]["role"], "root");
        assert_eq!(items(&r.body, "invitations_received").len(), 0, "an unverified login receives none");
        assert_eq!(items(&r.body, "notification_channels").len(), 0);
        assert!(r.body["quiet_hours"].is_null());
        let stranger = app.signup().await;
        let r = app.get("/v1/customer/export", &stranger.token).await;
        assert!(!r.text.contains(&owner.email) && !r.text.contains(&owner.customer_id.to_string()));

        let key = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "k", "scopes": ["customers:read"] })).await;
        let r = app.get("/v1/customer/export", key.body["secret"].as_str().unwrap()).await;
        r.assert(200, None);
        assert_eq!(r.body["profile"]["id"], owner.customer_id.to_string());
        let key = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "k2", "scopes": ["teams:read"] })).await;
        app.get("/v1/customer/export", key.body["secret"].as_str().unwrap()).await.assert(403, Some("FORBIDDEN"));
        app.call(reqwest::Method::GET, "/v1/customer/export", None, None).await.assert(401, Some("UNAUTHORIZED"));
    }
}

/// Every row of every table, as text: on SQLite each column `quote()`d (ids,
/// stored as blobs, read as `X'…'` hex), on PostgreSQL the row as JSON. The
/// tables are read from the catalogue, so a new table is covered unasked.
async fn every_row(app: &TestApp) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    on_db!(app, |conn| {
        let tables: Vec<String> = match app.backend {
            Backend::Sqlite => {
                let sql =
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let sql = "SELECT table_name::text FROM information_schema.tables
                           WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1";
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        };
        assert!(tables.len() >= 15 && tables.iter().any(|t| t == "audit_events"), "{tables:?}");
        for table in tables {
            let sql = match app.backend {
                Backend::Sqlite => {
                    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                    let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                    format!("SELECT {} FROM \"{table}\"", quoted.join(" || '|' || "))
                }
                Backend::Postgres => format!("SELECT CAST(row_to_json(t) AS TEXT) FROM \"{table}\" t"),
            };
            let texts: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&mut conn).await.unwrap();
            rows.extend(texts.into_iter().map(|t| (table.clone(), t)));
        }
    });
    rows
}

/// The rows that mention any of `needles` (case-insensitively), with the needle found.
fn mentions<'a>(rows: &'a [(String, String)], needles: &[String]) -> Vec<(&'a str, &'a str, String)> {
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut found = Vec::new();
    for (table, row) in rows {
        let lower = row.to_lowercase();
        for n in &needles {
            if lower.contains(n.as_str()) {
                found.push((table.as_str(), row.as_str(), n.clone()));
            }
        }
    }
    found
}

dual_test! {
    async fn deleting_the_account_leaves_no_personal_data_in_any_table(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for(backend).await else { return };
        let s = subject_with_everything(&app).await;
        let id = s.acc.customer_id;
        let before = app.get(&format!("/v1/audit-events?actor={id}&limit=100"), &s.owner.token).await;
        before.assert(200, None);
        let acted = before.body["total_count"].as_i64().unwrap();
        assert!(acted >= 5, "{}", before.text);

        let simple = id.0.simple().to_string();
        let full_name = format!("{} {}", s.name, s.surname);
        let needles = vec![
            id.to_string(),
            simple.clone(),
            s.acc.email.clone(),
            s.name.clone(),
            s.surname.clone(),
            full_name.clone(),
            s.pager.clone(),
            s.webhook_url.clone(),
            s.header_secret.clone(),
        ];
        // The fixture did reach every kind of row the check looks into.
        let rows = every_row(&app).await;
        let tables_before: std::collections::BTreeSet<&str> = mentions(&rows, &needles).iter().map(|m| m.0).collect();
        for table in ["customers", "memberships", "notification_channels", "api_keys", "access_tokens", "invitations",
                      "outbox", "audit_events", "ownership_transfers", "alerts"] {
            assert!(tables_before.contains(table), "the fixture leaves nothing in {table}: {tables_before:?}");
        }

        let r = app.delete("/v1/customer", &s.acc.token, Some(json!({ "reason": "moving-on" }))).await;
        r.assert(200, None);
        assert_eq!(r.body["organization_deleted"], false);

        let rows = every_row(&app).await;
        let found = mentions(&rows, &needles);
        // The one trace allowed: the record of the deletion, naming the id and nothing else personal.
        let (allowed, left): (Vec<_>, Vec<_>) = found.into_iter().partition(|(table, row, needle)| {
            *table == "audit_events" && row.contains("customer.deleted") && (*needle == id.to_string() || *needle == simple)
        });
        assert!(left.is_empty(), "personal data left behind: {left:#?}");
        assert!(!allowed.is_empty(), "the deletion is recorded");
        let deletion = allowed[0].1;
        assert!(allowed.iter().all(|a| a.1 == deletion), "one record: {allowed:#?}");
        assert!(deletion.contains("moving-on") && !deletion.contains("127.0.0.1"), "reason, no address: {deletion}");

        // The organization's trail keeps its shape: what they did is still there, by a stand-in.
        let after = app.get(&format!("/v1/audit-events?actor={id}"), &s.owner.token).await;
        assert_eq!(after.body["total_count"], 1, "only the deletion names them: {}", after.text);
        assert_eq!(after.body["data"][0]["action"], "customer.deleted");
        assert!(after.body["data"][0]["ip"].is_null());
        let all = app.get("/v1/audit-events?limit=100", &s.owner.token).await;
        let stand_ins: Vec<_> = all.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let actor = e["actor_id"].as_str().unwrap_or_default();
                !actor.is_empty() && actor != id.to_string() && actor != s.owner.customer_id.to_string()
            })
            .collect();
        assert_eq!(stand_ins.len() as i64, acted, "{:#}", all.body);
        assert!(stand_ins.iter().all(|e| e["actor_id"] == stand_ins[0]["actor_id"] && e["ip"].is_null()));

        // What they set going for others still works, in the organization's name.
        let r = app.call(reqwest::Method::GET, &format!("/v1/invitations/{}", s.friend_token), None, None).await;
        r.assert(200, None);
        assert_eq!(r.body["inviter_name"], "Acme Inc");
        assert_eq!(r.body["channel"], s.friend.as_str());
        app.login(&s.acc.email, PASSWORD).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn a_sole_member_leaves_no_personal_data_either(app) {
        let owner = app.signup().await;
        let pager = fresh_address("solo-pager");
        let path = format!("/v1/customer/{}/notification-channel", owner.customer_id);
        app.post(&path, Some(&owner.token), json!({ "type": "email", "value": pager })).await.assert(201, None);
        app.code_for(&pager).await;
        app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "ci", "scopes": ["teams:read"] })).await.assert(201, None);
        let friend = fresh_address("solo-friend");
        invited(&app, &owner, owner.team_id, &friend, None).await;

        let r = app.delete("/v1/customer", &owner.token, Some(json!({ "reason": "poor-features" }))).await;
        r.assert(200, None);
        assert_eq!(r.body["organization_deleted"], true);
        let id = owner.customer_id;
        let needles = vec![id.to_string(), id.0.simple().to_string(), owner.email.clone(), pager, friend, "Ann Lee".into()];
        let rows = every_row(&app).await;
        let left: Vec<_> = mentions(&rows, &needles)
            .into_iter()
            .filter(|(table, row, _)| !(*table == "audit_events" && row.contains("customer.deleted")))
            .collect();
        assert!(left.is_empty(), "personal data left behind: {left:#?}");
    }
}

dual_test! {
    async fn a_person_removed_by_the_owner_leaves_no_personal_data_either(app) {
        let backend = app.backend;
        drop(app);
        let Some(app) = app_for(backend).await else { return };
        let s = subject_with_everything(&app).await;
        let id = s.acc.customer_id;
        let simple = id.0.simple().to_string();
        let needles = vec![
            id.to_string(),
            simple.clone(),
            s.acc.email.clone(),
            s.name.clone(),
            s.surname.clone(),
            s.pager.clone(),
            s.webhook_url.clone(),
            s.header_secret.clone(),
        ];
        // An open ownership offer protects them from removal: the owner withdraws it first.
        app.delete("/v1/organization/ownership-transfer", &s.owner.token, None).await;
        let r = app.delete(&format!("/v1/members/{id}"), &s.owner.token, None).await;
        assert!(r.status.is_success(), "{}", r.text);
        let rows = every_row(&app).await;
        let left: Vec<_> = mentions(&rows, &needles)
            .into_iter()
            .filter(|(table, row, needle)| {
                // The record of the removal names the id it removed, and nothing else personal.
                !(*table == "audit_events" && row.contains("removed") && (*needle == id.to_string() || *needle == simple))
            })
            .collect();
        assert!(left.is_empty(), "personal data left behind: {left:#?}");
    }
}
