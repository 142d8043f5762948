//! Sign-ups waiting for the code emailed to their address.
//!
//! Asking to sign up writes a pending row and the email with its code; the
//! organization, its first team and the owner exist only once the code comes
//! back. Neither step tells whether the address already has an account: for
//! a taken address the request writes a row that can never create anything
//! (so wrong codes for it count down and expire as for a free address) and
//! emails the account's owner instead, and its confirmation answers as a
//! wrong code does.

use crate::accounts::{insert_signup, NewSignup};
use crate::{dispatch, CodeCheck, Store, StoreError, StoreResult};
use roster_core::ids::*;
use roster_core::message::{NewMessage, Template};
use time::OffsetDateTime;
use uuid::Uuid;

/// The purpose a sign-up code is bound to (with the address).
pub const PURPOSE_SIGNUP: &str = "signup";

/// A sign-up to hold until its code comes back.
#[derive(Debug, Clone)]
pub struct NewPendingSignup {
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub surname: String,
    pub organization_name: String,
    /// The code's keyed hash, bound to [`PURPOSE_SIGNUP`] and the address.
    pub code_hash: Vec<u8>,
    pub expires_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

/// A pending sign-up whose code was just proved: what the account is made from.
#[derive(Debug, Clone)]
pub struct ProvedSignup {
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub surname: String,
    pub organization_name: String,
}

/// What became of a sign-up code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupConfirmation {
    /// The account exists now, under the organization's slug.
    Created { slug: String },
    /// Nothing was created; a right code for an address with an account is `Wrong` too.
    Refused(CodeCheck),
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    password_hash: Option<String>,
    name: String,
    surname: String,
    organization_name: String,
    code_hash: Vec<u8>,
    attempts: i64,
    expires_at: OffsetDateTime,
}

impl Store {
    /// Holds a sign-up for `p.email`, replacing an earlier one for that
    /// address, and queues the email carrying its code (`code_message`).
    /// When the address has an account, holds instead a row without a
    /// password that can never create anything, and queues `existing` (given
    /// the account's first name) to the account's owner. Both cases run the
    /// same statements in one transaction. Answers whether the address was
    /// free; the caller must not reveal it.
    pub async fn request_signup(
        &self,
        p: &NewPendingSignup,
        code_message: &NewMessage,
        existing: impl FnOnce(&str) -> NewMessage + Send,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let account: Option<(Uuid, Uuid, String)> =
                sqlx::query_as("SELECT id, organization_id, name FROM customers WHERE email = $1")
                    .bind(&p.email)
                    .fetch_optional(&mut *tx)
                    .await?;
            let free = account.is_none();
            let (password_hash, name, surname, organization_name) = match free {
                true => {
                    (Some(p.password_hash.as_str()), p.name.as_str(), p.surname.as_str(), p.organization_name.as_str())
                }
                // Nothing the caller sent is kept for an address that is not theirs.
                false => (None, "", "", ""),
            };
            sqlx::query(
                "INSERT INTO pending_signups (id, email, password_hash, name, surname, organization_name, code_hash,
                                              attempts, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)
                 ON CONFLICT (email) DO UPDATE SET
                   id = excluded.id, password_hash = excluded.password_hash, name = excluded.name,
                   surname = excluded.surname, organization_name = excluded.organization_name,
                   code_hash = excluded.code_hash, attempts = 0, created_at = excluded.created_at,
                   expires_at = excluded.expires_at",
            )
            .bind(Uuid::new_v4())
            .bind(&p.email)
            .bind(password_hash)
            .bind(name)
            .bind(surname)
            .bind(organization_name)
            .bind(&p.code_hash)
            .bind(p.now)
            .bind(p.expires_at)
            .execute(&mut *tx)
            .await?;
            match account {
                None => crate::outbox::insert_message!(&mut *tx, None, None, code_message, p.now),
                Some((customer, org, name)) => {
                    let message = existing(&name);
                    crate::outbox::insert_message!(
                        &mut *tx,
                        Some(OrganizationId(org)),
                        Some(CustomerId(customer)),
                        &message,
                        p.now
                    );
                }
            }
            tx.commit().await?;
            free
        }))
    }

    /// Checks a sign-up code for `email`, counting the attempt. A right code
    /// for a sign-up whose address is still free creates the organization,
    /// its first team and its owner from what `build` makes of the held
    /// sign-up, and consumes the held row, in one transaction. A right code
    /// for an address that has (or had, when it was asked for) an account
    /// counts as a wrong one. No held sign-up answers [`CodeCheck::Missing`].
    pub async fn confirm_signup(
        &self,
        email: &str,
        max_attempts: i64,
        hasher: impl Fn(&str) -> Vec<u8> + Send + Sync,
        build: impl Fn(ProvedSignup) -> NewSignup + Send + Sync,
        now: OffsetDateTime,
    ) -> StoreResult<SignupConfirmation> {
        let mut tries = 0;
        loop {
            match self.try_confirm_signup(email, max_attempts, &hasher, &build, now).await {
                // Lost a race for the organization's slug, or for the address to
                // another new account: the next try sees the winner's row.
                Err(StoreError::UniqueViolation(_)) if tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    async fn try_confirm_signup(
        &self,
        email: &str,
        max_attempts: i64,
        hasher: &(impl Fn(&str) -> Vec<u8> + Send + Sync),
        build: &(impl Fn(ProvedSignup) -> NewSignup + Send + Sync),
        now: OffsetDateTime,
    ) -> StoreResult<SignupConfirmation> {
        use SignupConfirmation::*;
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let row: Option<PendingRow> = sqlx::query_as(
                "SELECT id, password_hash, name, surname, organization_name, code_hash, attempts, expires_at
                 FROM pending_signups WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM customers WHERE email = $1")
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?;
            // The code is hashed even when there is none to compare with, so the answer takes as long.
            let expected = hasher(email);
            let outcome = match row {
                None => Refused(CodeCheck::Missing),
                Some(r) if r.expires_at <= now => Refused(CodeCheck::Expired),
                Some(r) if r.attempts >= max_attempts => Refused(CodeCheck::Exhausted),
                Some(r) => {
                    let right = roster_core::secret::constant_time_eq(&expected, &r.code_hash);
                    match (right, r.password_hash, taken) {
                        (true, Some(password_hash), None) => {
                            sqlx::query("DELETE FROM pending_signups WHERE id = $1")
                                .bind(r.id)
                                .execute(&mut *tx)
                                .await?;
                            let signup = build(ProvedSignup {
                                email: email.to_owned(),
                                password_hash,
                                name: r.name,
                                surname: r.surname,
                                organization_name: r.organization_name,
                            });
                            let slug = insert_signup!(&mut *tx, &signup);
                            // The code emails become the new account's, so deleting it takes them along.
                            sqlx::query(
                                "UPDATE outbox SET organization_id = $1, customer_id = $2
                                 WHERE recipient = $3 AND template = $4 AND customer_id IS NULL",
                            )
                            .bind(signup.organization_id.0)
                            .bind(signup.customer_id.0)
                            .bind(email)
                            .bind(Template::SignupCode.as_str())
                            .execute(&mut *tx)
                            .await?;
                            Created { slug }
                        }
                        _ => {
                            sqlx::query("UPDATE pending_signups SET attempts = attempts + 1 WHERE id = $1")
                                .bind(r.id)
                                .execute(&mut *tx)
                                .await?;
                            Refused(CodeCheck::Wrong { attempts_left: (max_attempts - r.attempts - 1).max(0) })
                        }
                    }
                }
            };
            tx.commit().await?;
            outcome
        }))
    }

    /// How many sign-ups are held for `email` (0 or 1): lets tests prove what a request stored.
    pub async fn pending_signups_for(&self, email: &str) -> StoreResult<i64> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM pending_signups WHERE email = $1 AND password_hash IS NOT NULL")
                .bind(email)
                .fetch_one(pool)
                .await?
        }))
    }
}
