//! Everything Roster holds about one customer: read whole for
//! `GET /v1/customer/export`, and erased when their account goes
//! ([`erase_person!`], used by account deletion).
//!
//! Secrets never leave: no password or TOTP secret, no hash of a token, key
//! or code, no signing secret. What a message said is not exported either
//! (its data may quote codes); its kind, template, status and attempts are.

use crate::audit::{AuditEventRow, AUDIT_COLUMNS};
use crate::channels::{ChannelRow, CHANNEL_COLUMNS};
use crate::invitations::{InvitationRow, INVITATION_COLUMNS};
use crate::rows::{ApiKeyRow, OrganizationRow};
use crate::{dispatch, Dialect, Store, StoreResult};
use roster_core::ids::*;
use roster_core::role::Role;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// What messages to others say instead of an erased person's name or address.
pub(crate) const FORMER_MEMBER: &str = "a former member";

/// Inside the caller's transaction, erases what names person `$person` of
/// `$org` outside the rows that cascade from their customer row, before that
/// row is deleted: messages to their addresses or through their channels,
/// invitations addressed to them, their name on invitations they sent, in
/// messages to others and in alert answers, alerts they raised, rate-limit
/// counters keyed by their id, and their id in the audit trail. The caller then deletes the
/// customer (or their organization), whose foreign keys take the rest.
macro_rules! erase_person {
    ($conn:expr, $org:expr, $person:expr) => {{
        let org: roster_core::ids::OrganizationId = $org;
        let person: roster_core::ids::CustomerId = $person;
        let (email, name, surname): (String, String, String) =
            sqlx::query_as("SELECT email, name, surname FROM customers WHERE id = $1")
                .bind(person.0)
                .fetch_one(&mut *$conn)
                .await?;
        let org_name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
            .bind(org.0)
            .fetch_one(&mut *$conn)
            .await?;
        let channels: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT value, pending_value FROM notification_channels WHERE customer_id = $1")
                .bind(person.0)
                .fetch_all(&mut *$conn)
                .await?;
        let mut addresses = vec![email];
        for (value, pending) in channels {
            addresses.push(value);
            addresses.extend(pending);
        }
        // Messages to them: their account's, through their channels (which
        // would outlive the channel with its address), and to any of their addresses.
        sqlx::query(
            "DELETE FROM outbox WHERE customer_id = $1
               OR channel_id IN (SELECT id FROM notification_channels WHERE customer_id = $1)",
        )
        .bind(person.0)
        .execute(&mut *$conn)
        .await?;
        for address in &addresses {
            sqlx::query("DELETE FROM outbox WHERE organization_id = $1 AND recipient = $2")
                .bind(org.0)
                .bind(address)
                .execute(&mut *$conn)
                .await?;
            sqlx::query("DELETE FROM invitations WHERE organization_id = $1 AND channel_value = $2")
                .bind(org.0)
                .bind(address)
                .execute(&mut *$conn)
                .await?;
        }
        // Invitations they sent stay answerable, in the organization's name.
        sqlx::query("UPDATE invitations SET inviter_id = NULL, sender_full_name = $1 WHERE inviter_id = $2")
            .bind(&org_name)
            .bind(person.0)
            .execute(&mut *$conn)
            .await?;
        // Documents that name them: messages to others (an invitation they
        // sent, an offer of ownership) and the answers of team alerts that
        // reached their channels. The same stand-in replaces their id everywhere.
        let alias = uuid::Uuid::new_v4();
        let mut mentions = vec![format!("{name} {surname}")];
        mentions.extend(addresses);
        let scrub = crate::export::Scrub { id: person.0.to_string(), alias: alias.to_string(), mentions };
        for (table, column) in [("outbox", "data"), ("alerts", "response")] {
            let find = format!(
                "SELECT id, {column} FROM {table} WHERE organization_id = $1 AND CAST({column} AS TEXT) LIKE $2"
            );
            let update = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
            for pattern in scrub.patterns() {
                let found: Vec<(uuid::Uuid, sqlx::types::Json<serde_json::Value>)> =
                    sqlx::query_as(&find).bind(org.0).bind(pattern).fetch_all(&mut *$conn).await?;
                for (id, sqlx::types::Json(mut doc)) in found {
                    if scrub.apply(&mut doc) {
                        sqlx::query(&update).bind(sqlx::types::Json(&doc)).bind(id).execute(&mut *$conn).await?;
                    }
                }
            }
        }
        sqlx::query("UPDATE alerts SET created_by = NULL WHERE organization_id = $1 AND created_by = $2")
            .bind(org.0)
            .bind(person.0)
            .execute(&mut *$conn)
            .await?;
        sqlx::query("DELETE FROM rate_limits WHERE key LIKE $1")
            .bind(format!("%{}%", person.0))
            .execute(&mut *$conn)
            .await?;
        crate::audit::pseudonymize_person!(&mut *$conn, org, person, alias);
    }};
}
pub(crate) use erase_person;

/// How stored JSON documents stop naming an erased person.
pub(crate) struct Scrub {
    /// Their customer id, as text.
    pub id: String,
    /// The stand-in that replaces it.
    pub alias: String,
    /// Their full name and addresses, each replaced by [`FORMER_MEMBER`].
    pub mentions: Vec<String>,
}

impl Scrub {
    /// `LIKE` patterns that find the documents to look at, written as JSON
    /// text holds the strings; [`Scrub::apply`] then matches exactly.
    pub fn patterns(&self) -> Vec<String> {
        std::iter::once(&self.id)
            .chain(&self.mentions)
            .map(|s| format!("%{}%", serde_json::to_string(s).unwrap_or_default().trim_matches('"')))
            .collect()
    }

    /// Rewrites `value`: their id becomes the alias, a mention becomes
    /// [`FORMER_MEMBER`], and an object that names their id loses every
    /// `…name` field too (an alert's channel reference names its owner by
    /// first name alone). Answers whether anything changed.
    pub fn apply(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) if *s == self.id => {
                *s = self.alias.clone();
                true
            }
            Value::String(s) if self.mentions.contains(s) => {
                *s = FORMER_MEMBER.to_owned();
                true
            }
            Value::Array(items) => {
                // Every item, not just up to the first change.
                let mut changed = false;
                for v in items {
                    changed |= self.apply(v);
                }
                changed
            }
            Value::Object(map) => {
                let names_them = map.values().any(|v| v.as_str() == Some(self.id.as_str()));
                let mut changed = false;
                for v in map.values_mut() {
                    changed |= self.apply(v);
                }
                if names_them {
                    for (key, v) in map.iter_mut() {
                        if key.ends_with("name") && v.is_string() && v.as_str() != Some(FORMER_MEMBER) {
                            *v = Value::String(FORMER_MEMBER.to_owned());
                            changed = true;
                        }
                    }
                }
                changed
            }
            _ => false,
        }
    }
}

/// The customer's own record, with what the profile routes leave out.
#[derive(Debug, Clone, FromRow)]
pub struct ExportProfileRow {
    #[sqlx(try_from = "Uuid")]
    pub id: CustomerId,
    pub email: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub name: String,
    pub surname: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// `active` or `suspended`.
    pub status: String,
    /// `live`, `away` or `offline`.
    pub availability: String,
    pub invited_at: Option<OffsetDateTime>,
    pub last_login_at: Option<OffsetDateTime>,
    /// When a second factor was enrolled (never the secret).
    pub totp_enabled_at: Option<OffsetDateTime>,
    pub quiet_hours: Option<sqlx::types::Json<serde_json::Value>>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A team the customer belongs to.
#[derive(Debug, Clone, FromRow)]
pub struct ExportMembershipRow {
    #[sqlx(try_from = "Uuid")]
    pub id: MembershipId,
    #[sqlx(try_from = "Uuid")]
    pub team_id: TeamId,
    pub team_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A login session, without its token.
#[derive(Debug, Clone, FromRow)]
pub struct ExportSessionRow {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// An open offer of ownership made by or to the customer.
#[derive(Debug, Clone, FromRow)]
pub struct ExportOwnershipRow {
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    #[sqlx(try_from = "Uuid")]
    pub from_customer_id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub to_customer_id: CustomerId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A message to the customer: an account email, or one through their personal channels.
#[derive(Debug, Clone, FromRow)]
pub struct ExportMessageRow {
    pub id: Uuid,
    /// The personal channel it went through; `None` for account emails.
    pub channel_id: Option<Uuid>,
    /// `account`, `verification`, `test` or `alert`.
    pub kind: String,
    pub transport: String,
    pub template: String,
    pub status: String,
    pub skip_reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
}

/// One attempt at sending a message, without the operator-only detail.
#[derive(Debug, Clone, FromRow)]
pub struct ExportAttemptRow {
    pub message_id: Uuid,
    pub attempt: i64,
    pub started_at: OffsetDateTime,
    pub duration_ms: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub error_class: Option<String>,
}

/// An alert raised for the customer personally.
#[derive(Debug, Clone, FromRow)]
pub struct ExportAlertRow {
    pub id: Uuid,
    pub event: String,
    pub urgency: String,
    pub title: String,
    pub message: String,
    pub status: String,
    pub created_at: OffsetDateTime,
}

/// Everything about one customer, read in one snapshot.
#[derive(Debug, Clone)]
pub struct CustomerExport {
    pub profile: ExportProfileRow,
    pub organization: OrganizationRow,
    pub memberships: Vec<ExportMembershipRow>,
    /// Their personal channels, by priority.
    pub channels: Vec<ChannelRow>,
    pub api_keys: Vec<ApiKeyRow>,
    pub sessions: Vec<ExportSessionRow>,
    pub invitations_sent: Vec<InvitationRow>,
    /// Invitations to their login email or one of their channels' values,
    /// counted only once the address is verified (anyone can type an address).
    pub invitations_received: Vec<InvitationRow>,
    pub ownership_transfers: Vec<ExportOwnershipRow>,
    /// Records of what they did, newest first.
    pub audit_events: Vec<AuditEventRow>,
    /// Messages to them, newest first.
    pub messages: Vec<ExportMessageRow>,
    pub attempts: Vec<ExportAttemptRow>,
    pub alerts: Vec<ExportAlertRow>,
}

const PROFILE: &str = "SELECT id, email, email_verified_at, name, surname, role, status, availability, invited_at,
            last_login_at, totp_enabled_at, quiet_hours, created_at, updated_at
     FROM customers WHERE id = $1 AND organization_id = $2";

/// Messages to the customer: `$1` is their id.
const MESSAGES: &str = "outbox WHERE customer_id = $1
       OR channel_id IN (SELECT id FROM notification_channels WHERE customer_id = $1)";

impl Store {
    /// Everything Roster holds about customer `id` of `org`, or `None` when there is no such customer.
    pub async fn customer_export(&self, org: OrganizationId, id: CustomerId) -> StoreResult<Option<CustomerExport>> {
        let dialect = self.dialect();
        let channels_sql =
            format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE customer_id = $1 ORDER BY priority, id");
        let sent_sql =
            format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE inviter_id = $1 ORDER BY created_at, id");
        let audit_sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE organization_id = $1 AND actor_id = $2
             ORDER BY created_at DESC, id DESC"
        );
        let messages_sql = format!(
            "SELECT id, channel_id, kind, transport, template, status, skip_reason, created_at, settled_at
             FROM {MESSAGES} ORDER BY created_at DESC, id DESC"
        );
        let attempts_sql = format!(
            "SELECT message_id, attempt, started_at, duration_ms, outcome, status_code, error_class
             FROM delivery_attempts WHERE message_id IN (SELECT id FROM {MESSAGES}) ORDER BY message_id, attempt"
        );
        Ok(dispatch!(self, read, |pool| {
            // One snapshot, so the parts agree with each other.
            let mut tx = crate::begin_read(pool).await?;
            if dialect == Dialect::Postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
            }
            let profile =
                sqlx::query_as::<_, ExportProfileRow>(PROFILE).bind(id.0).bind(org.0).fetch_optional(&mut *tx).await?;
            match profile {
                None => None,
                Some(profile) => {
                    let organization = sqlx::query_as::<_, OrganizationRow>(
                        "SELECT id, name, slug, plan, trial_ends_at, logo_url, active, created_at, updated_at
                         FROM organizations WHERE id = $1",
                    )
                    .bind(org.0)
                    .fetch_one(&mut *tx)
                    .await?;
                    let memberships = sqlx::query_as::<_, ExportMembershipRow>(
                        "SELECT m.id, m.team_id, t.name AS team_name, m.role, m.created_at, m.updated_at
                         FROM memberships m JOIN teams t ON t.id = m.team_id
                         WHERE m.customer_id = $1 ORDER BY m.created_at, m.id",
                    )
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    let channels =
                        sqlx::query_as::<_, ChannelRow>(&channels_sql).bind(id.0).fetch_all(&mut *tx).await?;
                    let api_keys = sqlx::query_as::<_, ApiKeyRow>(
                        "SELECT id, customer_id, name, hint, scopes, created_at, expires_at, revoked_at
                         FROM api_keys WHERE customer_id = $1 ORDER BY created_at, id",
                    )
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    let sessions = sqlx::query_as::<_, ExportSessionRow>(
                        "SELECT id, created_at, expires_at FROM access_tokens WHERE customer_id = $1
                         ORDER BY created_at, id",
                    )
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    let invitations_sent =
                        sqlx::query_as::<_, InvitationRow>(&sent_sql).bind(id.0).fetch_all(&mut *tx).await?;
                    let mut addresses: Vec<&str> = Vec::new();
                    if profile.email_verified_at.is_some() {
                        addresses.push(&profile.email);
                    }
                    addresses.extend(channels.iter().filter(|c| c.verified_at.is_some()).map(|c| c.value.as_str()));
                    let invitations_received = if addresses.is_empty() {
                        Vec::new()
                    } else {
                        let list = (1..=addresses.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                        let sql = format!(
                            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE channel_value IN ({list})
                             ORDER BY created_at, id"
                        );
                        let mut q = sqlx::query_as::<_, InvitationRow>(&sql);
                        for a in &addresses {
                            q = q.bind(*a);
                        }
                        q.fetch_all(&mut *tx).await?
                    };
                    let ownership_transfers = sqlx::query_as::<_, ExportOwnershipRow>(
                        "SELECT organization_id, from_customer_id, to_customer_id, created_at, expires_at
                         FROM ownership_transfers WHERE from_customer_id = $1 OR to_customer_id = $1",
                    )
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    let audit_events = sqlx::query_as::<_, AuditEventRow>(&audit_sql)
                        .bind(org.0)
                        .bind(id.0)
                        .fetch_all(&mut *tx)
                        .await?;
                    let messages =
                        sqlx::query_as::<_, ExportMessageRow>(&messages_sql).bind(id.0).fetch_all(&mut *tx).await?;
                    let attempts =
                        sqlx::query_as::<_, ExportAttemptRow>(&attempts_sql).bind(id.0).fetch_all(&mut *tx).await?;
                    let alerts = sqlx::query_as::<_, ExportAlertRow>(
                        "SELECT id, event, urgency, title, message, status, created_at FROM alerts
                         WHERE customer_id = $1 ORDER BY created_at DESC, id DESC",
                    )
                    .bind(id.0)
                    .fetch_all(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Some(CustomerExport {
                        profile,
                        organization,
                        memberships,
                        channels,
                        api_keys,
                        sessions,
                        invitations_sent,
                        invitations_received,
                        ownership_transfers,
                        audit_events,
                        messages,
                        attempts,
                        alerts,
                    })
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{Scrub, FORMER_MEMBER};
    use serde_json::json;

    #[test]
    fn scrubbing_replaces_the_id_mentions_and_names_beside_the_id() {
        let scrub = Scrub {
            id: "c-1".into(),
            alias: "x-9".into(),
            mentions: vec!["Wil Quack".into(), "wil@example.com".into()],
        };
        let mut doc = json!({
            "inviter_name": "Wil Quack",
            "to": "wil@example.com",
            "deliveries": [
                { "channel": { "owner_id": "c-1", "owner_name": "Wil", "type": "email" } },
                { "channel": { "owner_id": "c-2", "owner_name": "Wil", "type": "sms" } },
            ],
            "note": "Wil Quack and friends",
        });
        assert!(scrub.apply(&mut doc));
        assert_eq!(
            doc,
            json!({
                "inviter_name": FORMER_MEMBER,
                "to": FORMER_MEMBER,
                "deliveries": [
                    { "channel": { "owner_id": "x-9", "owner_name": FORMER_MEMBER, "type": "email" } },
                    { "channel": { "owner_id": "c-2", "owner_name": "Wil", "type": "sms" } },
                ],
                "note": "Wil Quack and friends",
            })
        );
        assert!(!scrub.apply(&mut doc), "a second pass finds nothing");
        assert_eq!(scrub.patterns(), ["%c-1%", "%Wil Quack%", "%wil@example.com%"]);
    }
}
