//! Scale-out on PostgreSQL (issue 8): two `roster serve --no-worker` and two
//! `roster worker` processes on one database take mixed traffic from
//! concurrent clients; one API instance and one worker are killed with
//! SIGKILL in the middle. Whatever was acknowledged (a 2xx) stays done, every
//! acknowledged alert is delivered, nothing is sent twice unless it was in
//! the killed worker's hands, and every organization keeps an active owner.

use super::database::Database;
use super::deployment::{command, environment};
use super::process::{says, Process};
use super::{BOUND, ID};
use crate::helpers::{token_in, Backend, Resp, PASSWORD};
use reqwest::Method;
use roster_testkit::{HttpReceiver, RecordedRequest, SmtpServer, Tally};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const CLIENTS: usize = 3;
const ROUNDS: usize = 6;
/// The roles a member goes through, one per round.
const ROLES: [&str; 4] = ["manager", "viewer", "admin", "user"];
/// Receiver arrivals before the kill: well into the traffic, well before its end.
const KILL_AFTER: usize = 12;

/// The API instances, and which of them the test has killed.
struct Cluster {
    urls: Vec<String>,
    down: Vec<AtomicBool>,
    client: reqwest::Client,
}

impl Cluster {
    /// The instance a client uses for its `n`th request: the instances in
    /// turn, skipping one known to be down.
    fn pick(&self, n: usize) -> usize {
        (0..self.urls.len()).map(|i| (n + i) % self.urls.len()).find(|&i| !self.down[i].load(Ordering::SeqCst)).unwrap()
    }

    /// `None` when the request failed at the transport level (the instance
    /// was killed): not acknowledged, whatever happened to it.
    async fn call(
        &self,
        at: usize,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Option<Resp> {
        let mut request = self.client.request(method, format!("{}{path}", self.urls[at]));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        // A body cut short by the kill is a transport failure too.
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.ok()?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Some(Resp { status, headers, body, text })
    }
}

/// A value written repeatedly: the last acknowledged one, and those sent
/// after it without an answer (any of which may have taken effect).
#[derive(Debug, Default, Clone)]
struct Written {
    acked: Option<String>,
    unanswered: BTreeSet<String>,
}

impl Written {
    fn record(&mut self, value: &str, acked: bool) {
        if acked {
            self.acked = Some(value.to_owned());
            self.unanswered.clear();
        } else {
            self.unanswered.insert(value.to_owned());
        }
    }

    fn allows(&self, value: &str) -> bool {
        self.acked.as_deref() == Some(value) || self.unanswered.contains(value)
    }
}

/// What one client was told was done.
#[derive(Debug, Default)]
struct Ledger {
    signups: Vec<String>,
    /// Team id → its name.
    teams: BTreeMap<String, Written>,
    /// The owner's session, to read deliveries back.
    token: String,
    /// The member's id, and their organization-wide role.
    member: String,
    role: Written,
    channels: BTreeSet<String>,
    verified: BTreeSet<String>,
    /// Channels acknowledged as changed to bypass quiet hours.
    changed: BTreeSet<String>,
    deliveries: BTreeSet<String>,
    /// Requests that got no answer.
    unanswered: usize,
}

/// A client's own organization: its owner and one invited member.
struct Org {
    token: String,
    team_id: String,
    member_id: String,
}

#[tokio::test]
async fn two_apis_and_two_workers_on_postgres_survive_losing_one_of_each() {
    let started = std::time::Instant::now();
    let Some(db) = Database::create(Backend::Postgres).await else { return };
    let smtp = Arc::new(SmtpServer::start().await);
    let receiver = Arc::new(HttpReceiver::start().await);
    let mut env = environment(&db, 4);
    env.extend([
        ("ROSTER_SMTP_URL", smtp.url()),
        ("ROSTER_SIGNUP_MAX_PER_IP", "1000".into()),
        ("ROSTER_NOTIFY_PER_MINUTE", "1000".into()),
        // A team more than the rounds, per organization.
        ("ROSTER_PLANS__FREE__TEAMS", "50".into()),
    ]);
    let serve = ["serve", "--no-worker", "--listen", "127.0.0.1:0"];
    let mut apis = Vec::new();
    let mut urls = Vec::new();
    for n in 1..=2 {
        let mut api = Process::spawn(command(&db, &env, &serve), format!("roster serve --no-worker #{n}"));
        let listening = api.wait_for_log("its URL", |line| says(line, "listening on http://")).await;
        assert_eq!(listening["worker"], false, "{listening}");
        urls.push(listening["url"].as_str().unwrap_or_else(|| panic!("no url in {listening}")).to_owned());
        apis.push(api);
    }
    let mut workers: Vec<Process> =
        (1..=2).map(|n| Process::spawn(command(&db, &env, &["worker"]), format!("roster worker #{n}"))).collect();
    for worker in &mut workers {
        worker.wait_for_log("its start", |line| says(line, "outbox worker started")).await;
    }
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cluster = Arc::new(Cluster { urls, down: (0..2).map(|_| AtomicBool::new(false)).collect(), client });

    // Each client's organization, with a member whose role it changes, made on both instances.
    let mut orgs = Vec::new();
    for c in 0..CLIENTS {
        orgs.push(organization(&cluster, &smtp, &db, c).await);
    }

    let tasks: Vec<_> = orgs
        .into_iter()
        .enumerate()
        .map(|(c, org)| tokio::spawn(traffic(Arc::clone(&cluster), Arc::clone(&receiver), Arc::clone(&smtp), c, org)))
        .collect();

    // Mid-traffic, by what the receiver got: one API instance and one worker die.
    let mid = receiver.wait_until_received(BOUND, |r| r.len() >= KILL_AFTER).await;
    assert!(mid.is_some(), "the traffic never got going:\n{}", apis[0].tail());
    let killed_api = apis.remove(0);
    killed_api.kill().await;
    cluster.down[0].store(true, Ordering::SeqCst);
    let mut killed_worker = workers.remove(0);
    let killed_log = killed_worker.tail();
    killed_worker.kill().await;
    let (mut survivor_api, survivor) = (apis.remove(0), workers.remove(0));

    let mut ledgers = Vec::new();
    for task in tasks {
        ledgers.push(task.await.expect("a client task panicked"));
    }
    let unanswered: usize = ledgers.iter().map(|l| l.unanswered).sum();

    // Everything queued to the receiver arrives; then the worker stops cleanly.
    let queued = queued_for(&db, &receiver.url(), &ledgers).await;
    let acked: BTreeSet<String> = ledgers.iter().flat_map(|l| l.deliveries.iter().cloned()).collect();
    assert!(acked.is_subset(&queued), "acknowledged alerts with no outbox row: {:?}", acked.difference(&queued));
    let everything = |r: &[RecordedRequest]| Tally::of(r, ID).missing(queued.iter().map(String::as_str)).is_empty();
    let mut survivor = survivor;
    if receiver.wait_until_received(BOUND, everything).await.is_none() {
        let missing = Tally::of(&receiver.requests(), ID).missing(queued.iter().map(String::as_str));
        let rows = raw_rows(&db, &missing).await;
        panic!(
            "not every message arrived: {missing:?} {rows:#?}\n{killed_log}\n{}\n{}",
            survivor.tail(),
            survivor_api.tail()
        );
    }
    // Some arrived but are not settled: the killed worker's (sent, never
    // recorded; the survivor sends them again when their lease ends) or the
    // survivor's own, about to be recorded. Either way the survivor says so.
    let rows = db.outbox().await;
    let mut unsettled: BTreeSet<String> =
        rows.iter().filter(|r| r.status != "sent").map(|r| r.id.to_string()).filter(|id| queued.contains(id)).collect();
    while !unsettled.is_empty() {
        let line = survivor
            .wait_for_log("every message sent", |line| {
                says(line, "outbox: message sent")
                    && line["message_id"].as_str().is_some_and(|id| unsettled.contains(id))
            })
            .await;
        unsettled.remove(line["message_id"].as_str().unwrap());
    }
    survivor.stop().await;

    // No message lost: every queued webhook message is sent, in the store.
    let rows = db.outbox().await;
    let unsent: Vec<_> = rows.iter().filter(|r| queued.contains(&r.id.to_string()) && r.status != "sent").collect();
    assert!(unsent.is_empty(), "not sent: {unsent:?}");

    // Nothing twice, unless the killed worker had it in flight: such a message
    // was taken over after its lease, its one recorded attempt numbered 2.
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let requests = receiver.requests();
    let tally = Tally::of(&requests, ID);
    // Only the queued messages came, each with its id.
    assert_eq!((tally.values().count(), tally.total()), (queued.len(), requests.len()), "{tally:?}");
    for (id, times) in tally.repeated() {
        let attempts: Vec<(i64,)> = sqlx::query_as("SELECT attempt FROM delivery_attempts WHERE message_id = $1")
            .bind(uuid::Uuid::parse_str(&id).unwrap())
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(times == 2 && attempts == [(2,)], "{id} arrived {times} times, attempts recorded: {attempts:?}");
    }

    // Acknowledged effects, read from the store.
    for ledger in &ledgers {
        check_ledger(&mut conn, ledger).await;
    }
    // Acknowledged alerts, read back through the surviving instance.
    for ledger in &ledgers {
        for id in &ledger.deliveries {
            let r = cluster.call(1, Method::GET, &format!("/v1/deliveries/{id}"), Some(&ledger.token), None).await;
            let r = r.expect("the surviving instance answers");
            r.assert(200, None);
            assert_eq!(r.body["status"], "sent", "{}", r.text);
        }
    }
    assert!(ledgers.iter().any(|l| !l.signups.is_empty()), "no sign-up was acknowledged");
    permission_invariants(&mut conn).await;
    let total_acked: usize = ledgers.iter().map(|l| l.deliveries.len()).sum();
    assert!(total_acked >= CLIENTS, "too few alerts acknowledged to prove anything: {total_acked}");
    let elapsed = started.elapsed();
    eprintln!(
        "scale-out: {total_acked} alerts acknowledged, {} webhook messages ({} sent twice, taken over from the killed \
         worker), {unanswered} requests unanswered, {elapsed:?}",
        queued.len(),
        tally.repeated().len()
    );
}

/// Signs an owner up on one instance, invites a member by email on the
/// other, and the member accepts.
async fn organization(cluster: &Cluster, smtp: &SmtpServer, db: &Database, c: usize) -> Org {
    let email = format!("owner-{c}-{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({ "email": email, "password": PASSWORD, "name": "Ann", "surname": "Lee", "organization_name": format!("Org {c}") });
    let r = cluster.call(c % 2, Method::POST, "/v1/auth/signup", None, Some(body)).await.expect("up");
    r.assert(202, None);
    let mail = smtp.wait_for(&email, BOUND).await.expect("the sign-up code arrived");
    let body = json!({ "email": email, "code": mail.code().unwrap_or_else(|| panic!("no code in {}", mail.text)) });
    let r = cluster.call((c + 1) % 2, Method::POST, "/v1/auth/signup/confirm", None, Some(body)).await.expect("up");
    r.assert(201, None);
    let (token, team_id) = (text(&r.body, "token"), text(&r.body, "team_id"));
    let member = format!("member-{c}-{}@example.com", uuid::Uuid::new_v4().simple());
    let path = format!("/v1/team/{team_id}/invitation");
    let body = json!({ "channel_type": "email", "channel_value": member, "role": "user" });
    let r = cluster.call((c + 1) % 2, Method::POST, &path, Some(&token), Some(body)).await.expect("up");
    r.assert(201, None);
    let mail = smtp.wait_for(&member, BOUND).await.expect("the invitation arrived");
    let invitation = token_in(&mail.text).unwrap_or_else(|| panic!("no token in {}", mail.text));
    let body = json!({ "password": PASSWORD, "name": "Bo", "surname": "Kim" });
    let path = format!("/v1/invitations/{invitation}/accept");
    cluster.call(c % 2, Method::POST, &path, None, Some(body)).await.expect("up").assert(200, None);
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let (id,): (uuid::Uuid,) =
        sqlx::query_as("SELECT id FROM customers WHERE email = $1").bind(&member).fetch_one(&mut conn).await.unwrap();
    Org { token, team_id, member_id: id.to_string() }
}

/// One client's traffic: each round a sign-up (asked on one instance,
/// confirmed on another with the emailed code), a team made and renamed, a
/// role change, a channel made, verified and changed, and an alert with an
/// idempotency key replayed on another instance. Any answer but a 2xx or no
/// answer at all fails the test.
async fn traffic(
    cluster: Arc<Cluster>,
    receiver: Arc<HttpReceiver>,
    smtp: Arc<SmtpServer>,
    c: usize,
    org: Org,
) -> Ledger {
    let mut ledger = Ledger { token: org.token.clone(), member: org.member_id.clone(), ..Ledger::default() };
    let mut n = c;
    let mut next = || {
        n += 1;
        cluster.pick(n)
    };
    let token = Some(org.token.as_str());
    let team = &org.team_id;
    for round in 0..ROUNDS {
        let email = format!("signup-{c}-{round}-{}@example.com", uuid::Uuid::new_v4().simple());
        // Distinct organization names: concurrent sign-ups naming the same one
        // collide on its slug and are refused as a taken email (reported).
        let org_name = format!("Solo {c}-{round}");
        let body = json!({ "email": email, "password": PASSWORD, "name": "Cy", "surname": "Ng", "organization_name": org_name });
        if answered(cluster.call(next(), Method::POST, "/v1/auth/signup", None, Some(body)).await, 202, &mut ledger)
            .is_some()
        {
            // Accepted, so its email is in the outbox: a worker sends it, the survivor if need be.
            let mail = smtp.wait_for(&email, BOUND).await.expect("the sign-up code arrived");
            let code = mail.code().unwrap_or_else(|| panic!("no code in {}", mail.text));
            let body = json!({ "email": email, "code": code });
            let r = cluster.call(next(), Method::POST, "/v1/auth/signup/confirm", None, Some(body)).await;
            if answered(r, 201, &mut ledger).is_some() {
                ledger.signups.push(email);
            }
        }

        let name = format!("Ops {c}-{round}");
        let r = cluster.call(next(), Method::POST, "/v1/team", token, Some(json!({ "name": name }))).await;
        if let Some(r) = answered(r, 201, &mut ledger) {
            let id = text(&r.body, "team_id");
            ledger.teams.entry(id.clone()).or_default().record(&name, true);
            let renamed = format!("{name} renamed");
            let path = format!("/v1/team/{id}");
            let r = cluster.call(next(), Method::PUT, &path, token, Some(json!({ "name": renamed }))).await;
            let acked = answered(r, 200, &mut ledger).is_some();
            ledger.teams.get_mut(&id).unwrap().record(&renamed, acked);
        }

        let role = ROLES[round % ROLES.len()];
        let path = format!("/v1/team/{team}/member/{}", org.member_id);
        let acked = answered(
            cluster.call(next(), Method::PATCH, &path, token, Some(json!({ "role": role }))).await,
            200,
            &mut ledger,
        );
        ledger.role.record(role, acked.is_some());

        let url = receiver.url_for(&format!("/c{c}/r{round}"));
        let path = format!("/v1/team/{team}/notification-channel");
        let body = json!({ "type": "webhook", "value": url });
        if let Some(r) = answered(cluster.call(next(), Method::POST, &path, token, Some(body)).await, 201, &mut ledger)
        {
            let id = text(&r.body, "id");
            let priority = r.body["priority"].as_i64().unwrap_or_else(|| panic!("no priority: {}", r.text));
            ledger.channels.insert(id.clone());
            // The code comes through whichever worker claims it (after a lease, if the killed one had it).
            let with_code =
                |requests: &[RecordedRequest]| requests.iter().any(|q| channel_of(q).as_deref() == Some(&id));
            let requests = receiver.wait_until_received(BOUND, with_code).await.expect("the channel's code arrived");
            let code = requests
                .iter()
                .find(|q| channel_of(q).as_deref() == Some(&id))
                .and_then(|q| q.json().ok()?["code"].as_str().map(str::to_owned))
                .expect("a code");
            let body = json!({ "priority": priority, "code": code });
            let r = cluster.call(next(), Method::PATCH, &format!("{path}/verification"), token, Some(body)).await;
            if answered(r, 200, &mut ledger).is_some() {
                ledger.verified.insert(id.clone());
            }
            let body = json!({ "priority": priority, "bypass_quiet_hours": true });
            if answered(cluster.call(next(), Method::PATCH, &path, token, Some(body)).await, 200, &mut ledger).is_some()
            {
                ledger.changed.insert(id);
            }
        }

        let key = format!("scale-out-{c}-{round}");
        let body = json!({ "event": "down", "title": format!("checkout is down ({c}/{round})"),
                           "message": "HTTP 503 from 3 of 3 locations", "idempotency_key": key });
        let path = format!("/v1/team/{team}/notify");
        let first = cluster.call(next(), Method::POST, &path, token, Some(body.clone())).await;
        // With no channel verified yet (a verification sent to the killed
        // instance may have gone unanswered), nobody would hear of it: a 409.
        let unreachable = |r: &Resp| r.status == 409 && r.body["code"] == "UNREACHABLE";
        if first.as_ref().is_some_and(unreachable) && ledger.verified.is_empty() {
            continue;
        }
        if let Some(first) = answered(first, 202, &mut ledger) {
            let ids = delivery_ids(&first);
            // The key is shared: another instance (or the same, once one is down) replays the answer.
            if let Some(again) =
                answered(cluster.call(next(), Method::POST, &path, token, Some(body)).await, 202, &mut ledger)
            {
                assert_eq!(delivery_ids(&again), ids, "a replay answers the first call's deliveries: {}", again.text);
                let replayed = again.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok());
                assert_eq!(replayed, Some("true"), "{}", again.text);
            }
            ledger.deliveries.extend(ids);
        }
    }
    ledger
}

/// Every acknowledged effect is in the store.
async fn check_ledger(conn: &mut PgConnection, ledger: &Ledger) {
    for email in &ledger.signups {
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers WHERE email = $1 AND role = 'root'")
            .bind(email)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n.0, 1, "an acknowledged sign-up is missing: {email}");
    }
    for (id, name) in &ledger.teams {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM teams WHERE id = $1")
            .bind(uuid::Uuid::parse_str(id).unwrap())
            .fetch_optional(&mut *conn)
            .await
            .unwrap();
        let row = row.unwrap_or_else(|| panic!("an acknowledged team is missing: {id}"));
        assert!(name.allows(&row.0), "team {id} is named {:?}, acknowledged {name:?}", row.0);
    }
    let (role,): (String,) = sqlx::query_as("SELECT role FROM customers WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&ledger.member).unwrap())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    // The invitation's role until a change is acknowledged or sent.
    let unchanged = ledger.role.acked.is_none() && role == "user";
    assert!(unchanged || ledger.role.allows(&role), "the member is {role}, acknowledged {:?}", ledger.role);
    for id in &ledger.channels {
        let row: Option<(bool, bool)> = sqlx::query_as(
            "SELECT verified_at IS NOT NULL, bypass_quiet_hours FROM notification_channels WHERE id = $1",
        )
        .bind(uuid::Uuid::parse_str(id).unwrap())
        .fetch_optional(&mut *conn)
        .await
        .unwrap();
        let (verified, bypass) = row.unwrap_or_else(|| panic!("an acknowledged channel is missing: {id}"));
        assert!(verified || !ledger.verified.contains(id), "acknowledged as verified, it is not: {id}");
        assert!(bypass || !ledger.changed.contains(id), "acknowledged as changed, it is not: {id}");
    }
}

/// Every organization has an active owner; every membership joins a team
/// and a person of its own organization.
async fn permission_invariants(conn: &mut PgConnection) {
    let ownerless: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "SELECT o.id FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM customers c \
         WHERE c.organization_id = o.id AND c.role = 'root' AND c.status = 'active')",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(ownerless.is_empty(), "organizations without an active owner: {ownerless:?}");
    let orphans: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "SELECT m.id FROM memberships m JOIN teams t ON t.id = m.team_id JOIN customers c ON c.id = m.customer_id \
         WHERE t.organization_id <> m.organization_id OR c.organization_id <> m.organization_id",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(orphans.is_empty(), "memberships across organizations: {orphans:?}");
}

fn text(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_else(|| panic!("no {field} in {body}")).to_owned()
}

fn delivery_ids(r: &Resp) -> BTreeSet<String> {
    let deliveries = r.body["deliveries"].as_array().unwrap_or_else(|| panic!("no deliveries: {}", r.text));
    deliveries.iter().map(|d| text(d, "delivery_id")).collect()
}

/// The channel a verification request is about, from its default JSON body.
fn channel_of(request: &RecordedRequest) -> Option<String> {
    request.json().ok()?["channel_id"].as_str().map(str::to_owned)
}

/// The webhook messages in the outbox to URLs starting with `prefix`, to be sent.
/// Skipped ones are left out: each must be an alert to a channel never
/// acknowledged as verified (its verification unanswered), skipped as such.
async fn queued_for(db: &Database, prefix: &str, ledgers: &[Ledger]) -> BTreeSet<String> {
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let sql = "SELECT id::text, status, skip_reason, channel_id::text FROM outbox \
               WHERE transport = 'webhook' AND starts_with(recipient, $1)";
    let rows: Vec<(String, String, Option<String>, Option<String>)> =
        sqlx::query_as(sql).bind(prefix).fetch_all(&mut conn).await.unwrap();
    let verified: BTreeSet<&String> = ledgers.iter().flat_map(|l| &l.verified).collect();
    let mut queued = BTreeSet::new();
    for (id, status, reason, channel) in rows {
        if status != "skipped" {
            queued.insert(id);
            continue;
        }
        let channel = channel.unwrap_or_else(|| panic!("a skipped message with no channel: {id}"));
        assert_eq!(reason.as_deref(), Some("unverified"), "{id} to {channel} skipped");
        assert!(!verified.contains(&channel), "{id} skipped, its channel {channel} acknowledged as verified");
    }
    queued
}

/// The outbox rows of `ids` as the store holds them, for a failure's message.
async fn raw_rows(db: &Database, ids: &[String]) -> Vec<String> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|id| uuid::Uuid::parse_str(id).unwrap()).collect();
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let sql = "SELECT (to_jsonb(o) - 'data' - 'secret')::text FROM outbox o WHERE id = ANY($1)";
    let rows: Vec<(String,)> = sqlx::query_as(sql).bind(&ids).fetch_all(&mut conn).await.unwrap();
    rows.into_iter().map(|(row,)| row).collect()
}

/// The answer if there was one (which must have `status`); counts one unanswered otherwise.
fn answered(r: Option<Resp>, status: u16, ledger: &mut Ledger) -> Option<Resp> {
    match r {
        None => {
            ledger.unanswered += 1;
            None
        }
        Some(r) => {
            r.assert(status, None);
            Some(r)
        }
    }
}
