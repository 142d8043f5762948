//! Customers' own profile: reading, renaming, deleting, and the codes that
//! prove they own an address.

use crate::pg_reads::read_conn;
use crate::reader::{self, At, Decode, Id};
use crate::rows::*;
use crate::teams::lock_organization;
use crate::{dispatch, Dialect, NewAuditEvent, Store, StoreResult};
use roster_core::ids::*;
use roster_core::message::NewMessage;
use roster_core::role::Role;
use roster_core::Error;
use time::OffsetDateTime;

const UPDATE_NAMES: &str =
    "UPDATE customers SET name = COALESCE($1, name), surname = COALESCE($2, surname), updated_at = $3
     WHERE id = $4 AND organization_id = $5";

pub const PURPOSE_EMAIL_VERIFICATION: &str = "email_verification";
pub const PURPOSE_EMAIL_CHANGE: &str = "email_change";

/// Stores a fresh code for `(customer, purpose)`, replacing any earlier one
/// and its attempt count, inside the caller's transaction.
macro_rules! upsert_code {
    ($conn:expr, $customer:expr, $purpose:expr, $target:expr, $hash:expr, $expires:expr, $now:expr) => {{
        let customer: roster_core::ids::CustomerId = $customer;
        sqlx::query(
            "INSERT INTO verification_codes (id, customer_id, purpose, target, code_hash, attempts, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7)
             ON CONFLICT (customer_id, purpose) DO UPDATE SET
               id = excluded.id, target = excluded.target, code_hash = excluded.code_hash, attempts = 0,
               created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(roster_core::ids::VerificationCodeId::new().0)
        .bind(customer.0)
        .bind($purpose)
        .bind($target)
        .bind($hash)
        .bind($now)
        .bind($expires)
        .execute(&mut *$conn)
        .await?;
    }};
}
pub(crate) use upsert_code;

/// Checks a submitted code inside the caller's transaction, counting the
/// attempt. Evaluates to a [`CodeCheck`]; a valid code is consumed.
macro_rules! check_code {
    ($conn:expr, $customer:expr, $purpose:expr, $now:expr, $max_attempts:expr, $hasher:expr) => {{
        let customer: roster_core::ids::CustomerId = $customer;
        let row: Option<(uuid::Uuid, String, Vec<u8>, i64, time::OffsetDateTime)> = sqlx::query_as(
            "SELECT id, target, code_hash, attempts, expires_at FROM verification_codes WHERE customer_id = $1 AND purpose = $2",
        )
        .bind(customer.0)
        .bind($purpose)
        .fetch_optional(&mut *$conn)
        .await?;
        match row {
            None => $crate::CodeCheck::Missing,
            Some((_, _, _, _, expires_at)) if expires_at <= $now => $crate::CodeCheck::Expired,
            Some((_, _, _, attempts, _)) if attempts >= $max_attempts => $crate::CodeCheck::Exhausted,
            Some((id, target, hash, attempts, _)) => {
                let expected: Vec<u8> = ($hasher)(target.as_str());
                if roster_core::secret::constant_time_eq(&expected, &hash) {
                    sqlx::query("DELETE FROM verification_codes WHERE id = $1").bind(id).execute(&mut *$conn).await?;
                    $crate::CodeCheck::Valid { target }
                } else {
                    sqlx::query("UPDATE verification_codes SET attempts = attempts + 1 WHERE id = $1")
                        .bind(id)
                        .execute(&mut *$conn)
                        .await?;
                    $crate::CodeCheck::Wrong { attempts_left: ($max_attempts - attempts - 1).max(0) }
                }
            }
        }
    }};
}

/// What became of a submitted code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, and now used up; `target` is what it verified (an address).
    Valid { target: String },
    /// Wrong; so many more tries before the code dies.
    Wrong { attempts_left: i64 },
    /// Too late; a new code must be requested.
    Expired,
    /// Too many wrong tries; a new code must be requested.
    Exhausted,
    /// No code was requested (or it was already used).
    Missing,
}

/// What deleting a customer removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The customer is gone; their organization remains.
    CustomerDeleted,
    /// The customer was the organization's only member: both are gone.
    OrganizationDeleted,
}

/// What `$org` uses of its plan, as a [`roster_core::plan::Usage`].
macro_rules! usage {
    ($conn:expr, $org:expr) => {{
        let (teams, members, services): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM teams WHERE organization_id = $1),
                    (SELECT COUNT(*) FROM customers WHERE organization_id = $1),
                    (SELECT COUNT(*) FROM services WHERE organization_id = $1)",
        )
        .bind($org.0)
        .fetch_one(&mut *$conn)
        .await?;
        roster_core::plan::Usage { teams: teams as u32, members: members as u32, services: services as u32 }
    }};
}
pub(crate) use usage;

impl Store {
    /// A customer of `org`, or `None` (also when they belong to another organization).
    pub async fn customer(&self, org: OrganizationId, id: CustomerId) -> StoreResult<Option<CustomerRow>> {
        let sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1 AND organization_id = $2");
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, CustomerRow>(&sql).bind(id.0).bind(org.0).fetch_optional(pool).await?
        }))
    }

    /// A customer of `org` with their organization, first team and the organization's usage.
    pub async fn customer_profile(&self, org: OrganizationId, id: CustomerId) -> StoreResult<Option<ProfileRow>> {
        let params: [&dyn rusqlite::ToSql; 2] = [&Id(id.0), &Id(org.0)];
        let row = if let Some(r) = self.reader() {
            r.read(|c| reader::one(c, PROFILE, &params, ProfileFlat::decode))?
        } else {
            read_conn!(self, |conn| {
                let sql = match self.dialect() {
                    Dialect::Sqlite => PROFILE,
                    Dialect::Postgres => PROFILE_POSTGRES,
                };
                sqlx::query_as::<_, ProfileFlat>(sql).bind(id.0).bind(org.0).fetch_optional(conn).await?
            })
        };
        Ok(row.map(ProfileRow::from))
    }

    /// Changes a customer's first name and/or surname. On SQLite this is a
    /// grouped write (see [`crate::writer`]): the most frequent one.
    pub async fn update_customer_names(
        &self,
        org: OrganizationId,
        id: CustomerId,
        name: Option<&str>,
        surname: Option<&str>,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        if let Some(w) = self.writer() {
            let (name, surname, audit) = (name.map(str::to_owned), surname.map(str::to_owned), audit.clone());
            return w
                .write(move |c| {
                    let params: [&dyn rusqlite::ToSql; 5] = [&name, &surname, &At(now), &Id(id.0), &Id(org.0)];
                    crate::audit::insert_audit_sqlite(c, &audit)?;
                    Ok(reader::execute(c, UPDATE_NAMES, &params)? == 1)
                })
                .await;
        }
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            // The record first: on PostgreSQL the UPDATE locks the person's row
            // until COMMIT, and concurrent changes to one person wait on it, so
            // the lock is taken as late as the transaction allows.
            crate::audit::insert_audit!(&mut *tx, audit);
            let updated = sqlx::query(UPDATE_NAMES)
                .bind(name)
                .bind(surname)
                .bind(now)
                .bind(id.0)
                .bind(org.0)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            tx.commit().await?;
            updated
        }))
    }

    /// Deletes a customer and every piece of personal data about them, and
    /// records why. Rows that hang off the customer (sessions, keys,
    /// memberships, codes, channels, quiet hours) go with their row; what
    /// names them elsewhere is erased first (`export::erase_person!`). The only
    /// trace left is the `customer.deleted` record: their id, the reason, the
    /// request id, and no address. The organization's last owner cannot
    /// leave while others remain; a sole member takes the organization with them.
    pub async fn delete_customer(
        &self,
        org: OrganizationId,
        id: CustomerId,
        audit: &NewAuditEvent,
    ) -> Result<DeleteOutcome, Error> {
        let dialect = self.dialect();
        // Where the request came from is personal data too.
        let record = NewAuditEvent { ip: None, ..audit.clone() };
        let r: StoreResult<Result<DeleteOutcome, Error>> = dispatch!(self, write, |pool| {
            async {
            let mut tx = crate::begin_write(pool).await?;
            lock_organization!(&mut *tx, dialect, org);
            let role: Option<String> = sqlx::query_scalar("SELECT role FROM customers WHERE id = $1 AND organization_id = $2")
                .bind(id.0)
                .bind(org.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(role) = role else {
                return Ok(Err(Error::NotFound("customer")));
            };
            let (others, other_owners): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN role = $1 THEN 1 ELSE 0 END), 0)
                 FROM customers WHERE organization_id = $2 AND id <> $3",
            )
            .bind(Role::Root.as_str())
            .bind(org.0)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?;
            if others > 0 && role == Role::Root.as_str() && other_owners == 0 {
                return Ok(Err(Error::Conflict(
                    "you are the organization's last owner: transfer ownership to another member, or remove the other members, before deleting your account".into(),
                )));
            }
            crate::export::erase_person!(&mut *tx, org, id);
            let outcome = if others == 0 {
                sqlx::query("DELETE FROM organizations WHERE id = $1").bind(org.0).execute(&mut *tx).await?;
                DeleteOutcome::OrganizationDeleted
            } else {
                sqlx::query("DELETE FROM customers WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
                DeleteOutcome::CustomerDeleted
            };
            crate::audit::insert_audit!(&mut *tx, &record);
            tx.commit().await?;
            Ok(Ok(outcome))
        }
        .await
        });
        r?
    }

    /// Issues a code for `purpose` (replacing an earlier one) and queues the
    /// message that carries it. With `if_taken`, a `target` that another
    /// customer already uses as their email gets that message instead, and
    /// the code is stored all the same: the caller cannot tell the two apart,
    /// and the code, which only the address's owner sees, can never move a
    /// login onto a used address.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_code(
        &self,
        org: OrganizationId,
        customer: CustomerId,
        purpose: &'static str,
        target: &str,
        code_hash: &[u8],
        expires_at: OffsetDateTime,
        message: &NewMessage,
        if_taken: Option<&NewMessage>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let mut message = message;
            if let Some(instead) = if_taken {
                let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM customers WHERE email = $1 AND id <> $2")
                    .bind(target)
                    .bind(customer.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                if taken.is_some() {
                    message = instead;
                }
            }
            upsert_code!(&mut *tx, customer, purpose, target, code_hash, expires_at, now);
            crate::outbox::insert_message!(&mut *tx, Some(org), Some(customer), message, now);
            tx.commit().await?;
            Ok(())
        }
        .await)
    }

    /// Checks an email-verification code; a valid one marks the address verified.
    pub async fn verify_email(
        &self,
        customer: CustomerId,
        max_attempts: i64,
        hasher: impl Fn(&str) -> Vec<u8> + Send,
        now: OffsetDateTime,
    ) -> StoreResult<CodeCheck> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let check = check_code!(&mut *tx, customer, PURPOSE_EMAIL_VERIFICATION, now, max_attempts, &hasher);
            if let CodeCheck::Valid { target } = &check {
                // The code verifies the address it was sent to, only while it is still the login.
                sqlx::query(
                    "UPDATE customers SET email_verified_at = $1, updated_at = $1 WHERE id = $2 AND email = $3",
                )
                .bind(now)
                .bind(customer.0)
                .bind(target)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            check
        }))
    }

    /// Checks an email-change code; a valid one moves the login to the new,
    /// now verified, address. Another customer having taken it meanwhile is a conflict.
    pub async fn apply_email_change(
        &self,
        customer: CustomerId,
        max_attempts: i64,
        hasher: impl Fn(&str) -> Vec<u8> + Send,
        audit: &NewAuditEvent,
        now: OffsetDateTime,
    ) -> Result<CodeCheck, Error> {
        let r: StoreResult<CodeCheck> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let check = check_code!(&mut *tx, customer, PURPOSE_EMAIL_CHANGE, now, max_attempts, &hasher);
            if let CodeCheck::Valid { target } = &check {
                sqlx::query("UPDATE customers SET email = $1, email_verified_at = $2, updated_at = $2 WHERE id = $3")
                    .bind(target)
                    .bind(now)
                    .bind(customer.0)
                    .execute(&mut *tx)
                    .await?;
                // Other codes were bound to the old address.
                sqlx::query("DELETE FROM verification_codes WHERE customer_id = $1 AND purpose = $2")
                    .bind(customer.0)
                    .bind(PURPOSE_EMAIL_VERIFICATION)
                    .execute(&mut *tx)
                    .await?;
                crate::audit::insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            Ok(check)
        }
        .await);
        r.map_err(|e| e.or_conflict("this email address is already in use"))
    }
}

/// On PostgreSQL, membership-changing transactions lock the organization's
/// row so rules like "at least one owner" hold under concurrency. SQLite's
/// `BEGIN IMMEDIATE` already serializes every writer.
pub(crate) fn lock_organization_sql(d: Dialect) -> Option<&'static str> {
    match d {
        Dialect::Postgres => Some("SELECT id FROM organizations WHERE id = $1 FOR UPDATE"),
        Dialect::Sqlite => None,
    }
}
