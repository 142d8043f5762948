//! The append-only audit log. Events are written inside the transaction of
//! the change they describe, so the log and the data never disagree.
//!
//! The one exception to "append-only" is erasure: when a person's account
//! goes, [`pseudonymize_person!`] replaces their id in the records about and
//! by them with a random id stored nowhere else, and drops the addresses they
//! acted from. The trail keeps its shape ("one person did these") without
//! naming anyone.

use roster_core::ids::*;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub id: AuditEventId,
    pub organization_id: Option<OrganizationId>,
    pub actor_id: Option<CustomerId>,
    /// `customer.deleted`, `api_key.created`, …
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<uuid::Uuid>,
    /// Details without personal data.
    pub data: serde_json::Value,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub at: OffsetDateTime,
}

pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_events (id, organization_id, actor_id, action, target_type, target_id, data, request_id, ip, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// [`insert_audit!`] for a write on the SQLite writer thread: the same row,
/// encoded as sqlx encodes it.
pub(crate) fn insert_audit_sqlite(conn: &rusqlite::Connection, e: &NewAuditEvent) -> crate::StoreResult<()> {
    use crate::reader::{At, Id};
    let data = crate::writer::json_text(&e.data)?;
    crate::reader::execute(
        conn,
        INSERT_AUDIT,
        &[
            &Id(e.id.0),
            &e.organization_id.map(|i| Id(i.0)),
            &e.actor_id.map(|i| Id(i.0)),
            &e.action,
            &e.target_type,
            &e.target_id.map(Id),
            &data,
            &e.request_id,
            &e.ip,
            &At(e.at),
        ],
    )?;
    Ok(())
}

/// Appends `$event` inside the caller's transaction.
macro_rules! insert_audit {
    ($conn:expr, $event:expr) => {{
        let e: &$crate::NewAuditEvent = $event;
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind(e.id.0)
            .bind(e.organization_id.map(|i| i.0))
            .bind(e.actor_id.map(|i| i.0))
            .bind(e.action)
            .bind(e.target_type)
            .bind(e.target_id)
            .bind(sqlx::types::Json(&e.data))
            .bind(&e.request_id)
            .bind(&e.ip)
            .bind(e.at)
            .execute(&mut *$conn)
            .await?;
    }};
}
pub(crate) use insert_audit;

/// Inside the caller's transaction, erases person `$person` of organization
/// `$org` from the audit records written so far: their id, as actor, as
/// target or inside a record's details, becomes `$alias` (a random id stored
/// nowhere else), and the addresses they acted from are dropped. Records of
/// other organizations never name them (every change is recorded in its own
/// organization).
macro_rules! pseudonymize_person {
    ($conn:expr, $org:expr, $person:expr, $alias:expr) => {{
        let org: roster_core::ids::OrganizationId = $org;
        let person: roster_core::ids::CustomerId = $person;
        let alias: uuid::Uuid = $alias;
        sqlx::query("UPDATE audit_events SET actor_id = $1, ip = NULL WHERE organization_id = $2 AND actor_id = $3")
            .bind(alias)
            .bind(org.0)
            .bind(person.0)
            .execute(&mut *$conn)
            .await?;
        sqlx::query("UPDATE audit_events SET target_id = $1 WHERE target_id = $2")
            .bind(alias)
            .bind(person.0)
            .execute(&mut *$conn)
            .await?;
        let mentioning: Vec<(uuid::Uuid, sqlx::types::Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT id, data FROM audit_events WHERE organization_id = $1 AND CAST(data AS TEXT) LIKE $2",
        )
        .bind(org.0)
        .bind(format!("%{}%", person.0))
        .fetch_all(&mut *$conn)
        .await?;
        for (id, sqlx::types::Json(mut data)) in mentioning {
            $crate::audit::replace_strings(&mut data, &person.0.to_string(), &alias.to_string());
            sqlx::query("UPDATE audit_events SET data = $1 WHERE id = $2")
                .bind(sqlx::types::Json(&data))
                .bind(id)
                .execute(&mut *$conn)
                .await?;
        }
    }};
}
pub(crate) use pseudonymize_person;

/// Replaces every string in `value` that equals `from` with `to`.
pub(crate) fn replace_strings(value: &mut serde_json::Value, from: &str, to: &str) {
    match value {
        serde_json::Value::String(s) if s == from => *s = to.to_owned(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, from, to)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, from, to)),
        _ => {}
    }
}

/// An audit record as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: uuid::Uuid,
    pub organization_id: Option<uuid::Uuid>,
    pub actor_id: Option<uuid::Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<uuid::Uuid>,
    pub data: sqlx::types::Json<serde_json::Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
}

pub(crate) const AUDIT_COLUMNS: &str =
    "id, organization_id, actor_id, action, target_type, target_id, data, request_id, ip, created_at";

/// Which of an organization's audit records a listing shows; each filter is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Records of this person's actions.
    pub actor: Option<CustomerId>,
    /// Records of this action (`team.created`).
    pub action: Option<String>,
    /// Records about this object.
    pub target: Option<Uuid>,
    /// Records written at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Records written before this time.
    pub until: Option<OffsetDateTime>,
}

impl AuditFilter {
    /// The conditions after `organization_id = $1`, numbering placeholders from `$2`,
    /// and the next free placeholder number. Binding follows the same order.
    fn sql(&self) -> (String, usize) {
        let mut sql = String::new();
        let mut n = 2;
        let mut add = |cond: &str, present: bool| {
            if present {
                sql.push_str(&format!(" AND {cond} ${n}"));
                n += 1;
            }
        };
        add("actor_id =", self.actor.is_some());
        add("action =", self.action.is_some());
        add("target_id =", self.target.is_some());
        add("created_at >=", self.since.is_some());
        add("created_at <", self.until.is_some());
        (sql, n)
    }
}

/// Binds an [`AuditFilter`]'s present values in the order [`AuditFilter::sql`] numbered them.
macro_rules! bind_filter {
    ($query:expr, $f:expr) => {{
        let mut q = $query;
        if let Some(a) = $f.actor {
            q = q.bind(a.0);
        }
        if let Some(a) = &$f.action {
            q = q.bind(a.clone());
        }
        if let Some(t) = $f.target {
            q = q.bind(t);
        }
        if let Some(s) = $f.since {
            q = q.bind(s);
        }
        if let Some(u) = $f.until {
            q = q.bind(u);
        }
        q
    }};
}

impl crate::Store {
    /// The audit records about one target, oldest first.
    pub async fn audit_events_for_target(&self, target_id: uuid::Uuid) -> crate::StoreResult<Vec<AuditEventRow>> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE target_id = $1 ORDER BY created_at, id");
        Ok(crate::dispatch!(self, read, |pool| {
            sqlx::query_as::<_, AuditEventRow>(&sql).bind(target_id).fetch_all(pool).await?
        }))
    }

    /// One page of `org`'s audit records matching `filter`, newest first, and how many match.
    pub async fn list_audit_events(
        &self,
        org: OrganizationId,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> crate::StoreResult<(Vec<AuditEventRow>, i64)> {
        let (cond, n) = filter.sql();
        let list_sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE organization_id = $1{cond}
             ORDER BY created_at DESC, id DESC LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let count_sql = format!("SELECT COUNT(*) FROM audit_events WHERE organization_id = $1{cond}");
        Ok(crate::dispatch!(self, read, |pool| {
            let list = bind_filter!(sqlx::query_as::<_, AuditEventRow>(&list_sql).bind(org.0), filter);
            let rows = list.bind(limit).bind(offset).fetch_all(pool).await?;
            let count = bind_filter!(sqlx::query_scalar::<_, i64>(&count_sql).bind(org.0), filter);
            (rows, count.fetch_one(pool).await?)
        }))
    }
}
