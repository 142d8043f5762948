//! Creating and deleting channels as grouped writes on SQLite (see
//! [`crate::writer`]): the statements of `write.rs` and `order.rs`, run on
//! the writer thread's connection. Each returns what its sqlx twin returns.

use super::order::{deletion_event, DELETE_CHANNEL, FIND_BY_PRIORITY};
use super::write::{
    channel_by_id, NewChannel, NewChannelCode, COUNT_CHANNELS, DUPLICATE, INSERT_CHANNEL, NEXT_PRIORITY,
    UPSERT_CHANNEL_CODE, VALUE_TAKEN,
};
use super::{ChannelOwner, ChannelRow};
use crate::audit::insert_audit_sqlite;
use crate::reader::{self, At, Columns, Decode, Id};
use crate::writer::json_text as json;
use crate::{NewAuditEvent, StoreResult};
use roster_core::ids::{MessageId, OrganizationId};
use roster_core::message::NewMessage;
use roster_core::Error;
use rusqlite::Connection;
use std::collections::BTreeSet;
use time::OffsetDateTime;
use uuid::Uuid;

pub(super) fn create(conn: &Connection, c: &NewChannel) -> StoreResult<Result<ChannelRow, Error>> {
    let owner = Id(c.owner.id());
    if reader::count(conn, COUNT_CHANNELS, &[&owner])? >= i64::from(c.max) {
        return Ok(Err(Error::LimitReached { what: "notification channels", max: c.max }));
    }
    let taken = reader::one(conn, VALUE_TAKEN, &[&owner, &c.channel_type, &c.value, &Id(c.id)], |_| Ok(()))?;
    if taken.is_some() {
        return Ok(Err(Error::Conflict(DUPLICATE.into())));
    }
    let priority = reader::count(conn, NEXT_PRIORITY, &[&owner])?;
    let webhook = c.webhook.as_ref().map(json).transpose()?;
    let s = &c.suppress;
    reader::execute(
        conn,
        INSERT_CHANNEL,
        &[
            &Id(c.id),
            &Id(c.organization_id.0),
            &c.owner.customer().map(|i| Id(i.0)),
            &c.owner.team().map(|i| Id(i.0)),
            &owner,
            &c.channel_type,
            &c.value,
            &priority,
            &true,
            &c.mute,
            &s.up,
            &s.down,
            &s.first,
            &s.diagnostic,
            &s.all,
            &c.bypass_quiet_hours,
            &webhook,
            &At(c.now),
            &c.signing_secret,
        ],
    )?;
    upsert_code(conn, c.id, &c.code, c.now)?;
    insert_message(conn, c.organization_id, c.owner, c.id, "verification", &c.message, c.now)?;
    let mut audit = c.audit.clone();
    audit.data["priority"] = priority.into();
    insert_audit_sqlite(conn, &audit)?;
    let row = reader::one(conn, &channel_by_id(), &[&Id(c.id)], ChannelRow::decode)?;
    Ok(Ok(row.ok_or(rusqlite::Error::QueryReturnedNoRows)?))
}

pub(super) fn delete(
    conn: &Connection,
    owner: ChannelOwner,
    priorities: &BTreeSet<i64>,
    audit: &NewAuditEvent,
) -> StoreResult<Result<u64, Error>> {
    let mut found = Vec::new();
    for p in priorities {
        let row = reader::one(conn, FIND_BY_PRIORITY, &[&Id(owner.id()), p], |r| {
            Ok((r.uuid("id")?, r.get::<String>("type")?))
        })?;
        match row {
            Some((id, ty)) => found.push((id, ty, *p)),
            None => return Ok(Err(Error::NotFound("notification channel"))),
        }
    }
    for (id, ty, priority) in &found {
        reader::execute(conn, DELETE_CHANNEL, &[&Id(*id)])?;
        insert_audit_sqlite(conn, &deletion_event(audit, *id, ty, *priority))?;
    }
    Ok(Ok(found.len() as u64))
}

fn upsert_code(conn: &Connection, channel: Uuid, code: &NewChannelCode, now: OffsetDateTime) -> StoreResult<()> {
    let params: [&dyn rusqlite::ToSql; 5] = [&Id(channel), &code.target, &code.hash, &At(now), &At(code.expires_at)];
    reader::execute(conn, UPSERT_CHANNEL_CODE, &params)?;
    Ok(())
}

fn insert_message(
    conn: &Connection,
    org: OrganizationId,
    owner: ChannelOwner,
    channel: Uuid,
    kind: &str,
    m: &NewMessage,
    now: OffsetDateTime,
) -> StoreResult<MessageId> {
    let id = MessageId::new();
    reader::execute(
        conn,
        crate::outbox::INSERT_MESSAGE,
        &[
            &Id(id.0),
            &Id(org.0),
            &owner.customer().map(|c| Id(c.0)),
            &m.transport.as_str(),
            &m.template.as_str(),
            &m.recipient,
            &json(&m.data)?,
            &m.secret,
            &At(now),
            &Id(channel),
            &kind,
        ],
    )?;
    Ok(id)
}
