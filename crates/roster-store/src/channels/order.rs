//! Deleting and reordering an owner's channels, and customers' quiet hours.

use super::{ChannelOwner, ChannelRow, CHANNEL_COLUMNS};
use crate::{dispatch, NewAuditEvent, Store, StoreResult};
use roster_core::ids::CustomerId;
use roster_core::validation::FieldErrors;
use roster_core::Error;
use std::collections::BTreeSet;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) const FIND_BY_PRIORITY: &str =
    "SELECT id, type FROM notification_channels WHERE owner_id = $1 AND priority = $2";

pub(super) const DELETE_CHANNEL: &str = "DELETE FROM notification_channels WHERE id = $1";

/// The record of one channel's deletion, by `audit`'s actor.
pub(super) fn deletion_event(audit: &NewAuditEvent, id: Uuid, ty: &str, priority: i64) -> NewAuditEvent {
    let mut event = audit.clone();
    event.id = roster_core::ids::AuditEventId::new();
    event.target_id = Some(id);
    event.data = serde_json::json!({ "type": ty, "priority": priority });
    event
}

impl Store {
    /// Deletes the owner's channels of these priorities, all or none: an
    /// unknown priority deletes nothing. Audits each with `audit`'s actor.
    pub async fn delete_channels(
        &self,
        owner: ChannelOwner,
        priorities: &BTreeSet<i64>,
        audit: &NewAuditEvent,
    ) -> Result<u64, Error> {
        if let Some(w) = self.writer() {
            let (priorities, audit) = (priorities.clone(), audit.clone());
            return w.write(move |c| super::grouped::delete(c, owner, &priorities, &audit)).await?;
        }
        let r: StoreResult<Result<u64, Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let mut found = Vec::new();
            for p in priorities {
                let row: Option<(Uuid, String)> =
                    sqlx::query_as(FIND_BY_PRIORITY).bind(owner.id()).bind(p).fetch_optional(&mut *tx).await?;
                match row {
                    Some((id, ty)) => found.push((id, ty, *p)),
                    None => return Ok(Err(Error::NotFound("notification channel"))),
                }
            }
            for (id, ty, priority) in &found {
                sqlx::query(DELETE_CHANNEL).bind(id).execute(&mut *tx).await?;
                crate::audit::insert_audit!(&mut *tx, &deletion_event(audit, *id, ty, *priority));
            }
            tx.commit().await?;
            Ok(Ok(found.len() as u64))
        }
        .await);
        r?
    }

    /// Renumbers the owner's channels 1..n in the order of `priorities`,
    /// which must be a permutation of their current priorities.
    pub async fn reorder_channels(
        &self,
        owner: ChannelOwner,
        priorities: &[i64],
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<Vec<ChannelRow>, Error> {
        let r: StoreResult<Result<Vec<ChannelRow>, Error>> = dispatch!(self, write, |pool| {
            async {
            let mut tx = crate::begin_write(pool).await?;
            let current: Vec<i64> = sqlx::query_scalar("SELECT priority FROM notification_channels WHERE owner_id = $1")
                .bind(owner.id())
                .fetch_all(&mut *tx)
                .await?;
            if let Err(e) = check_permutation(&current, priorities) {
                return Ok(Err(e));
            }
            // UNIQUE (owner_id, priority) holds after every statement: park on negatives first.
            sqlx::query("UPDATE notification_channels SET priority = -priority WHERE owner_id = $1")
                .bind(owner.id())
                .execute(&mut *tx)
                .await?;
            for (i, p) in priorities.iter().enumerate() {
                sqlx::query(
                    "UPDATE notification_channels SET priority = $1, updated_at = $2 WHERE owner_id = $3 AND priority = $4",
                )
                .bind(i as i64 + 1)
                .bind(now)
                .bind(owner.id())
                .bind(-p)
                .execute(&mut *tx)
                .await?;
            }
            crate::audit::insert_audit!(&mut *tx, audit);
            let sql = format!("SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE owner_id = $1 ORDER BY priority");
            let rows = sqlx::query_as::<_, ChannelRow>(&sql).bind(owner.id()).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok(Ok(rows))
        }
        .await
        });
        r?
    }

    /// Stores (or with `None` clears) a customer's quiet hours.
    pub async fn set_quiet_hours(
        &self,
        customer: CustomerId,
        quiet_hours: Option<&serde_json::Value>,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            sqlx::query("UPDATE customers SET quiet_hours = $1, updated_at = $2 WHERE id = $3")
                .bind(quiet_hours.map(sqlx::types::Json))
                .bind(now)
                .bind(customer.0)
                .execute(&mut *tx)
                .await?;
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Names what keeps `wanted` from being a permutation of `current`.
fn check_permutation(current: &[i64], wanted: &[i64]) -> Result<(), Error> {
    let have: BTreeSet<i64> = current.iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut duplicated = BTreeSet::new();
    for p in wanted {
        if !seen.insert(*p) {
            duplicated.insert(*p);
        }
    }
    let missing: Vec<_> = have.difference(&seen).map(i64::to_string).collect();
    let extra: Vec<_> = seen.difference(&have).map(i64::to_string).collect();
    let duplicated: Vec<_> = duplicated.iter().map(i64::to_string).collect();
    let mut errors = FieldErrors::default();
    let mut say = |what: &str, list: &[String]| {
        if !list.is_empty() {
            errors.push("priorities", "not_a_permutation", format!("{what}: {}", list.join(", ")));
        }
    };
    say("missing", &missing);
    say("not a channel's priority", &extra);
    say("given more than once", &duplicated);
    errors.finish()
}
