//! A cache of who each bearer credential belongs to.
//!
//! Every authenticated request starts by resolving its token to a principal;
//! on PostgreSQL that lookup was half the queries of a typical read (see
//! `docs/benchmarks.md`). The cache answers it from memory, and stays correct
//! because every change that could alter an answer clears it:
//!
//! - the API calls [`crate::Store::principals_changed`] after every request
//!   that may have written, so on the instance that made a change (a logout,
//!   a revoked key, a suspension) it takes effect at once;
//! - on PostgreSQL, triggers on the four tables a principal is read from send
//!   a notification on commit (migration 0008), and every instance listens
//!   for it: a change made by another instance, or by hand in `psql`, takes
//!   effect as soon as the notification arrives;
//! - while the listening connection is down nothing is served from the cache,
//!   and every entry expires after a short age anyway, which bounds the harm
//!   of a connection that died without the listener noticing;
//! - an entry also carries its credential's expiry, and is not served past it;
//! - on SQLite, which announces nothing, a server serves from the cache only
//!   while no other API server runs on the same database (see [`presence`]).
//!
//! An entry read from the database is stored only if no change was announced
//! while it was being read (the epoch check), so a lookup that raced a
//! logout cannot put the logged-out session back.

mod presence;

use crate::rows::PrincipalRow;
use presence::Presence;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The channel the PostgreSQL triggers notify (see migration 0008).
pub(crate) const CHANNEL: &str = "roster_principals";

/// More entries than this and the cache starts again from empty: a bound on
/// memory that needs no eviction bookkeeping on the hot path.
const CAPACITY: usize = 10_000;

/// Which table a credential lives in; part of the key so the two kinds never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Session,
    ApiKey,
}

struct Entry {
    row: PrincipalRow,
    /// When the entry stops being trusted, whatever happened meanwhile.
    stale_at: Instant,
}

pub(crate) struct PrincipalCache {
    entries: RwLock<HashMap<(Kind, Vec<u8>), Entry>>,
    /// Bumped by every invalidation, under the write lock.
    epoch: AtomicU64,
    /// Whether changes made elsewhere will be heard of: always on SQLite's
    /// single process, only while the listener is connected on PostgreSQL.
    live: AtomicBool,
    max_age: Duration,
    /// On a SQLite file: this server's presence, to learn of others.
    presence: Option<Presence>,
    /// Whether the last look found another server on the database.
    shared: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

/// What the cache has done since the process started, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalCacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that went to the database.
    pub misses: u64,
    /// Times the cache was cleared: after a change here, on a notice from
    /// another instance, or as the listener connected.
    pub invalidations: u64,
    /// Whether entries are being served (on PostgreSQL: the listener is connected).
    pub live: bool,
}

impl PrincipalCache {
    pub(crate) fn new(max_age: Duration, live: bool) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            live: AtomicBool::new(live),
            max_age,
            presence: None,
            shared: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    /// The epoch to pass to [`Self::insert`]: read it before the database.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn get(&self, kind: Kind, hash: &[u8], now: OffsetDateTime) -> Option<PrincipalRow> {
        let found = self.lookup(kind, hash, now);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, kind: Kind, hash: &[u8], now: OffsetDateTime) -> Option<PrincipalRow> {
        if !self.live.load(Ordering::Acquire) || !self.alone() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&(kind, hash.to_vec()))?;
        let fresh = entry.stale_at > Instant::now() && entry.row.expires_at.is_none_or(|at| at > now);
        fresh.then(|| entry.row.clone())
    }

    /// Keeps `row`, read after [`Self::epoch`] returned `epoch`, unless the
    /// principals changed since: then the row may already be out of date.
    pub(crate) fn insert(&self, kind: Kind, hash: &[u8], row: &PrincipalRow, epoch: u64) {
        if self.max_age.is_zero() || !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) != epoch || !self.presence.as_ref().is_none_or(Presence::alone) {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        let entry = Entry { row: row.clone(), stale_at: Instant::now() + self.max_age };
        entries.insert((kind, hash.to_vec()), entry);
    }

    /// Whether this is the only server on its SQLite database (always, on
    /// PostgreSQL). Another one could change principals unannounced, so the
    /// first look that finds one forgets everything, and, through the epoch,
    /// whatever is being read meanwhile.
    fn alone(&self) -> bool {
        let Some(presence) = &self.presence else { return true };
        let alone = presence.alone();
        let was_shared = self.shared.swap(!alone, Ordering::AcqRel);
        if !alone && !was_shared {
            self.invalidate();
        }
        alone
    }

    /// Forgets every entry: some principal may have changed.
    pub(crate) fn invalidate(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        drop(entries);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> PrincipalCacheStats {
        PrincipalCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Acquire) && self.presence.as_ref().is_none_or(Presence::alone),
        }
    }

    fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.invalidate();
    }
}

/// Listens for the triggers' notifications until `pool` closes or the cache
/// is dropped, reconnecting (and serving nothing from the cache) meanwhile.
pub(crate) async fn listen(pool: sqlx::PgPool, cache: Weak<PrincipalCache>) {
    use sqlx::postgres::PgListener;
    // Its own connection, so the listener never takes one from the requests'
    // pool; the requests' pool closing is what ends it.
    let own = sqlx::pool::PoolOptions::<sqlx::Postgres>::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with((*pool.connect_options()).clone());
    let closed = pool.close_event();
    let mut backoff = Duration::from_millis(100);
    let run = async {
        loop {
            let connected = async {
                let mut listener = PgListener::connect_with(&own).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let mut listener = match connected.await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for principal changes; not caching principals meanwhile");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            match cache.upgrade() {
                Some(cache) => cache.set_live(true),
                None => return,
            }
            loop {
                let received = listener.try_recv().await;
                let Some(cache) = cache.upgrade() else { return };
                match received {
                    Ok(Some(_)) => cache.invalidate(),
                    // The connection dropped and was opened again: whatever
                    // was announced in between is lost, so forget everything.
                    Ok(None) => cache.invalidate(),
                    Err(error) => {
                        tracing::warn!(%error, "lost the principal-change listener; not caching principals meanwhile");
                        cache.set_live(false);
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = closed => {}
        _ = run => {}
    }
    own.close().await;
}

/// The cache for the SQLite database at `file` (`None`: in memory, which no
/// other server can open).
pub(crate) fn for_sqlite(file: Option<&std::path::Path>, max_age: Duration) -> std::io::Result<Arc<PrincipalCache>> {
    let presence = file.map(Presence::announce).transpose()?;
    Ok(Arc::new(PrincipalCache { presence, ..PrincipalCache::new(max_age, true) }))
}

/// Starts the cache for `pool`'s database: live once its listener is.
pub(crate) fn for_postgres(pool: &sqlx::PgPool, max_age: Duration) -> Arc<PrincipalCache> {
    let cache = Arc::new(PrincipalCache::new(max_age, false));
    tokio::spawn(listen(pool.clone(), Arc::downgrade(&cache)));
    cache
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::ids::{CustomerId, OrganizationId};
    use roster_core::role::Role;
    use uuid::Uuid;

    fn row() -> PrincipalRow {
        PrincipalRow {
            customer_id: CustomerId(Uuid::now_v7()),
            organization_id: OrganizationId(Uuid::now_v7()),
            role: Role::Admin,
            status: "active".into(),
            credential_id: Uuid::now_v7(),
            scopes: None,
            confirmed_at: None,
            totp_enrolment_pending: 0,
            expires_at: None,
        }
    }

    #[test]
    fn serves_what_it_kept_until_told_of_a_change() {
        let cache = PrincipalCache::new(Duration::from_secs(60), true);
        let now = OffsetDateTime::now_utc();
        let r = row();
        cache.insert(Kind::Session, b"t", &r, cache.epoch());
        assert_eq!(cache.get(Kind::Session, b"t", now).map(|p| p.credential_id), Some(r.credential_id));
        assert!(cache.get(Kind::ApiKey, b"t", now).is_none(), "the kinds are kept apart");
        cache.invalidate();
        assert!(cache.get(Kind::Session, b"t", now).is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = PrincipalCache::new(Duration::from_secs(60), true);
        let epoch = cache.epoch();
        cache.invalidate(); // a logout committed while the row was being read
        cache.insert(Kind::Session, b"t", &row(), epoch);
        assert!(cache.get(Kind::Session, b"t", OffsetDateTime::now_utc()).is_none());
    }

    #[test]
    fn nothing_is_served_past_the_credentials_expiry_or_while_not_live() {
        let cache = PrincipalCache::new(Duration::from_secs(60), true);
        let now = OffsetDateTime::now_utc();
        let expires = now + time::Duration::seconds(1);
        cache.insert(Kind::ApiKey, b"k", &PrincipalRow { expires_at: Some(expires), ..row() }, cache.epoch());
        assert!(cache.get(Kind::ApiKey, b"k", now).is_some());
        assert!(cache.get(Kind::ApiKey, b"k", expires).is_none());

        cache.insert(Kind::ApiKey, b"k", &row(), cache.epoch());
        cache.set_live(false);
        assert!(cache.get(Kind::ApiKey, b"k", now).is_none());
        cache.insert(Kind::ApiKey, b"k", &row(), cache.epoch());
        cache.live.store(true, Ordering::Release);
        assert!(cache.get(Kind::ApiKey, b"k", now).is_none(), "nothing was kept while not live");
    }

    #[test]
    fn entries_age_out_and_a_zero_age_keeps_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO, true);
        cache.insert(Kind::Session, b"t", &row(), cache.epoch());
        assert!(cache.get(Kind::Session, b"t", OffsetDateTime::now_utc()).is_none());

        let cache = PrincipalCache::new(Duration::from_secs(60), true);
        cache.insert(Kind::Session, b"t", &row(), cache.epoch());
        let now = OffsetDateTime::now_utc();
        assert!(cache.get(Kind::Session, b"t", now).is_some());
        for entry in cache.entries.write().unwrap().values_mut() {
            entry.stale_at = Instant::now() - Duration::from_millis(1);
        }
        assert!(cache.get(Kind::Session, b"t", OffsetDateTime::now_utc()).is_none());
    }
}
