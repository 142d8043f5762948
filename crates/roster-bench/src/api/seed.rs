//! The data set: the benchmarked caller made through the API, and the mass
//! written in bulk beside it, shaped alike so that only the tables' size
//! changes between scales, not the work one request does.
//!
//! Every organization has [`ORG_SIZE`] people: an owner, an admin, a manager
//! and seven users, all in the first of its two teams and every other one in
//! the second too; two services; two personal channels per person (email and
//! SMS; the caller's are email and webhook, the kinds the API can verify here)
//! and one channel per team; one session per person. The caller's own
//! organization gets its nine other people in bulk too.

use super::bulk::{Db, Table, Value};
use crate::client::{team_path, Api, Owner};
use crate::receiver::Receiver;
use anyhow::Context;
use rand::RngCore;
use roster_testkit::SmtpServer;
use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// People per organization.
pub const ORG_SIZE: usize = 10;
/// Organizations written per round of inserts: bounds the memory the rows take.
const ORGS_PER_BATCH: usize = 1_000;
const ROLES: [&str; ORG_SIZE] = ["root", "admin", "manager", "user", "user", "user", "user", "user", "user", "user"];

/// The caller and what it made through the API.
pub struct Caller {
    pub owner: Owner,
    /// The signup's team: members, channels (one verified webhook, which notify uses).
    pub team_id: String,
    /// A second team, with one email channel: the create-and-delete loop runs here.
    pub second_team_id: String,
}

/// Signs up and builds the caller's organization through the API, as its owner would.
pub async fn caller(api: &Api, smtp: &SmtpServer, receiver: &Receiver) -> anyhow::Result<Caller> {
    let owner = api.signup(smtp).await.context("sign up")?;
    let team_id = owner.team_id.clone();
    let second_team_id = api.create_team(&owner, "On-call").await.context("create a team")?;
    for name in ["Website", "Public API"] {
        api.create_service(&owner, &team_id, name).await.context("create a service")?;
    }
    api.add_verified_webhook(&owner, &team_path(&team_id), receiver, "/hook/team")
        .await
        .context("add the team's webhook channel")?;
    let oncall = format!("oncall-{}@example.com", owner.organization_id);
    api.add_verified_email(&owner, &team_path(&second_team_id), smtp, &oncall)
        .await
        .context("add the second team's email channel")?;
    let personal = owner.personal_path();
    api.add_verified_email(&owner, &personal, smtp, &owner.email).await.context("add a personal email channel")?;
    api.add_verified_webhook(&owner, &personal, receiver, "/hook/personal")
        .await
        .context("add a personal webhook channel")?;
    Ok(Caller { owner, team_id, second_team_id })
}

/// Rows written in bulk, by table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub organizations: usize,
    pub teams: usize,
    pub customers: usize,
    pub memberships: usize,
    pub services: usize,
    pub notification_channels: usize,
    pub access_tokens: usize,
}

/// Fills the database to `customers` people in all (the caller's included)
/// while the server is stopped. Every person gets the caller's password hash:
/// one argon2 hash, as real as the caller's, instead of 100,000 computed.
pub async fn bulk(db: &mut Db, caller: &Caller, customers: usize) -> anyhow::Result<Counts> {
    let uuid = |s: &str| s.parse::<Uuid>().with_context(|| format!("`{s}` is not a UUID"));
    let caller_org = Org {
        id: uuid(&caller.owner.organization_id)?,
        teams: [uuid(&caller.team_id)?, uuid(&caller.second_team_id)?],
    };
    let (password_hash, plan, trial_ends_at) = db.owner_facts(uuid(&caller.owner.customer_id)?).await?;
    let now = now();
    let mut rows = Rows::new();
    let mut counts = Counts::default();
    let orgs = customers / ORG_SIZE;
    db.execute("BEGIN").await?;
    // The caller's organization: everyone but the caller (person 0).
    rows.people(&caller_org, 0, 1..ORG_SIZE, &password_hash, now);
    for first in (1..orgs).step_by(ORGS_PER_BATCH) {
        for n in first..(first + ORGS_PER_BATCH).min(orgs) {
            // Older organizations first, a minute apart, as sign-ups over time would leave them.
            let created = now - Duration::minutes((orgs - n) as i64);
            let org = rows.organization(n, &plan, trial_ends_at, created);
            rows.people(&org, n, 0..ORG_SIZE, &password_hash, created);
        }
        rows.flush(db, &mut counts).await?;
    }
    rows.flush(db, &mut counts).await?;
    db.execute("COMMIT").await?;
    // PostgreSQL's autovacuum would have analyzed and vacuumed tables grown this
    // much on a live server, and its checkpointer written the seed out; done now,
    // neither starts in the middle of the first routes' measurement (vacuum also
    // sets the visibility map that lets index-only scans skip the table). A role
    // not allowed to CHECKPOINT leaves that to the server. SQLite is left as the
    // server leaves it (it never runs ANALYZE).
    if matches!(db, Db::Postgres(_)) {
        db.execute("VACUUM ANALYZE").await?;
        if let Err(e) = db.execute("CHECKPOINT").await {
            eprintln!(
                "no CHECKPOINT after the seed ({e:#}); the server's checkpointer may run during the first routes"
            );
        }
    }
    Ok(counts)
}

/// The current time as the server writes it.
fn now() -> OffsetDateTime {
    roster_core::clock::now()
}

struct Org {
    id: Uuid,
    teams: [Uuid; 2],
}

/// One batch of rows, a table each, inserted in an order the foreign keys accept.
struct Rows {
    organizations: Table,
    teams: Table,
    customers: Table,
    memberships: Table,
    services: Table,
    personal_channels: Table,
    team_channels: Table,
    tokens: Table,
}

/// A channel's columns: it belongs to a customer or a team, and the other column stays NULL.
fn channel_columns(owner: &'static str) -> Vec<&'static str> {
    let mut columns = vec!["id", "organization_id", owner, "owner_id", "type", "value", "priority", "enabled"];
    columns.extend([
        "verified_at",
        "mute",
        "suppress_up",
        "suppress_down",
        "suppress_first",
        "suppress_diagnostic",
        "suppress_all",
        "bypass_quiet_hours",
        "created_at",
        "updated_at",
    ]);
    columns
}

impl Rows {
    fn new() -> Self {
        Self {
            organizations: Table::new(
                "organizations",
                &["id", "name", "slug", "plan", "trial_ends_at", "active", "created_at", "updated_at"],
            ),
            teams: Table::new("teams", &["id", "organization_id", "name", "name_key", "created_at", "updated_at"]),
            customers: Table::new(
                "customers",
                &[
                    "id",
                    "organization_id",
                    "email",
                    "email_verified_at",
                    "password_hash",
                    "name",
                    "surname",
                    "role",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            ),
            memberships: Table::new(
                "memberships",
                &["id", "organization_id", "team_id", "customer_id", "role", "created_at", "updated_at"],
            ),
            services: Table::new(
                "services",
                &[
                    "id",
                    "organization_id",
                    "team_id",
                    "name",
                    "resource_count",
                    "heartbeat_count",
                    "created_at",
                    "updated_at",
                ],
            ),
            personal_channels: Table::new("notification_channels", &channel_columns("customer_id")),
            team_channels: Table::new("notification_channels", &channel_columns("team_id")),
            tokens: Table::new("access_tokens", &["id", "customer_id", "token_hash", "created_at", "expires_at"]),
        }
    }

    /// Organization `n` with its two teams, their channels and two services.
    fn organization(&mut self, n: usize, plan: &str, trial_ends_at: Option<OffsetDateTime>, at: OffsetDateTime) -> Org {
        let org = Org { id: Uuid::now_v7(), teams: [Uuid::now_v7(), Uuid::now_v7()] };
        self.organizations.push(vec![
            Value::Uuid(org.id),
            Value::Text(format!("Organization {n}")),
            Value::Text(format!("organization-{n}")),
            Value::Text(plan.to_owned()),
            Value::MaybeTime(trial_ends_at),
            Value::Bool(true),
            Value::Time(at),
            Value::Time(at),
        ]);
        for (team, name) in org.teams.iter().zip(["Default team", "On-call"]) {
            self.teams.push(vec![
                Value::Uuid(*team),
                Value::Uuid(org.id),
                Value::Text(name.to_owned()),
                Value::Text(name.to_lowercase()),
                Value::Time(at),
                Value::Time(at),
            ]);
            let address = format!("{}-{n}@example.com", name.to_lowercase().replace(' ', "-"));
            self.team_channels.push(channel(org.id, *team, "email", address, 1, at));
        }
        for name in ["Website", "Public API"] {
            self.services.push(vec![
                Value::Uuid(Uuid::now_v7()),
                Value::Uuid(org.id),
                Value::Uuid(org.teams[0]),
                Value::Text(name.to_owned()),
                Value::Int(0),
                Value::Int(0),
                Value::Time(at),
                Value::Time(at),
            ]);
        }
        org
    }

    /// People `which` of organization `n`: customers, memberships, channels, a session each.
    fn people(&mut self, org: &Org, n: usize, which: std::ops::Range<usize>, password_hash: &str, at: OffsetDateTime) {
        for k in which {
            let (id, role) = (Uuid::now_v7(), ROLES[k]);
            let email = format!("person{k}-org{n}@example.com");
            self.customers.push(vec![
                Value::Uuid(id),
                Value::Uuid(org.id),
                Value::Text(email.clone()),
                Value::Time(at),
                Value::Text(password_hash.to_owned()),
                Value::Text(format!("Person{k}")),
                Value::Text(format!("Org{n}")),
                Value::Text(role.to_owned()),
                Value::Text("active".to_owned()),
                Value::Time(at),
                Value::Time(at),
            ]);
            let teams = if k % 2 == 0 { &org.teams[..] } else { &org.teams[..1] };
            for team in teams {
                self.memberships.push(vec![
                    Value::Uuid(Uuid::now_v7()),
                    Value::Uuid(org.id),
                    Value::Uuid(*team),
                    Value::Uuid(id),
                    Value::Text(role.to_owned()),
                    Value::Time(at),
                    Value::Time(at),
                ]);
            }
            let phone = format!("+1{:010}", n * ORG_SIZE + k);
            for (priority, (kind, value)) in [("email", email), ("sms", phone)].into_iter().enumerate() {
                self.personal_channels.push(channel(org.id, id, kind, value, priority as i64 + 1, at));
            }
            let mut token_hash = vec![0u8; 32];
            rand::thread_rng().fill_bytes(&mut token_hash);
            self.tokens.push(vec![
                Value::Uuid(Uuid::now_v7()),
                Value::Uuid(id),
                Value::Bytes(token_hash),
                Value::Time(at),
                Value::Time(at + Duration::days(30)),
            ]);
        }
    }

    async fn flush(&mut self, db: &mut Db, counts: &mut Counts) -> anyhow::Result<()> {
        counts.organizations += self.organizations.len();
        counts.teams += self.teams.len();
        counts.customers += self.customers.len();
        counts.memberships += self.memberships.len();
        counts.services += self.services.len();
        counts.notification_channels += self.personal_channels.len() + self.team_channels.len();
        counts.access_tokens += self.tokens.len();
        let tables = [
            &mut self.organizations,
            &mut self.teams,
            &mut self.customers,
            &mut self.memberships,
            &mut self.services,
            &mut self.personal_channels,
            &mut self.team_channels,
            &mut self.tokens,
        ];
        for table in tables {
            db.insert(table).await?;
        }
        Ok(())
    }
}

/// A verified, enabled, unmuted channel of `owner` (a customer or a team, by the table's columns).
fn channel(org: Uuid, owner: Uuid, kind: &str, value: String, priority: i64, at: OffsetDateTime) -> Vec<Value> {
    let mut row = vec![
        Value::Uuid(Uuid::now_v7()),
        Value::Uuid(org),
        Value::Uuid(owner),
        Value::Uuid(owner),
        Value::Text(kind.to_owned()),
        Value::Text(value),
        Value::Int(priority),
        Value::Bool(true),
        Value::Time(at),
        Value::Text("false".to_owned()),
    ];
    // suppress_up, _down, _first, _diagnostic, _all, bypass_quiet_hours
    row.extend([false; 6].map(Value::Bool));
    row.extend([Value::Time(at), Value::Time(at)]);
    row
}
