//! The append-only audit log. Events are written inside the transaction of
//! the change they describe, so the log and the data never disagree.

use roster_core::ids::*;
use time::OffsetDateTime;

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

/// Appends `$event` inside the caller's transaction.
macro_rules! insert_audit {
    ($conn:expr, $event:expr) => {{
        let e: &$crate::NewAuditEvent = $event;
        sqlx::query(
            "INSERT INTO audit_events (id, organization_id, actor_id, action, target_type, target_id, data, request_id, ip, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
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
    pub created_at: OffsetDateTime,
}

impl crate::Store {
    /// The audit records about one target, oldest first.
    pub async fn audit_events_for_target(&self, target_id: uuid::Uuid) -> crate::StoreResult<Vec<AuditEventRow>> {
        Ok(crate::dispatch!(self, read, |pool| {
            sqlx::query_as::<_, AuditEventRow>(
                "SELECT id, organization_id, actor_id, action, target_type, target_id, data, request_id, created_at
                 FROM audit_events WHERE target_id = $1 ORDER BY created_at, id",
            )
            .bind(target_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
