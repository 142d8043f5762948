//! Organizations, their owners, sessions and API keys.

use crate::principals::Kind;
use crate::reader::{self, Decode};
use crate::rows::*;
use crate::teams::fetch_page;
use crate::{dispatch, Store, StoreError, StoreResult};
use roster_core::ids::*;
use roster_core::message::NewMessage;
use roster_core::role::Role;
use time::OffsetDateTime;
use uuid::Uuid;

/// Everything a sign-up creates, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewSignup {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    /// The preferred slug; a suffix is added when another organization has it.
    pub slug: String,
    pub plan: String,
    pub trial_ends_at: Option<OffsetDateTime>,
    pub team_id: TeamId,
    pub team_name: String,
    pub team_name_key: String,
    pub customer_id: CustomerId,
    pub email: String,
    /// Set for operators bootstrapping an account whose address they vouch for.
    pub email_verified: bool,
    pub password_hash: String,
    pub name: String,
    pub surname: String,
    pub membership_id: MembershipId,
    /// The email-verification code's hash and expiry, with the message carrying it.
    pub verification: Option<(Vec<u8>, OffsetDateTime, NewMessage)>,
    pub audit: crate::NewAuditEvent,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    pub customer_id: CustomerId,
    pub name: String,
    pub hint: String,
    pub secret_hash: Vec<u8>,
    pub scopes: String,
    pub expires_at: Option<OffsetDateTime>,
    pub audit: crate::NewAuditEvent,
    pub now: OffsetDateTime,
}

/// Picks `base`, or `base-xxxxxx` when `base` is taken, inside the caller's transaction.
macro_rules! free_slug {
    ($conn:expr, $base:expr) => {{
        let base: &str = $base;
        let mut candidate = base.to_owned();
        loop {
            let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM organizations WHERE slug = $1")
                .bind(&candidate)
                .fetch_optional(&mut *$conn)
                .await?;
            if taken.is_none() {
                break candidate;
            }
            candidate = format!("{base}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
        }
    }};
}
pub(crate) use free_slug;

/// Inserts a customer and their membership of a team, inside the caller's transaction.
macro_rules! insert_member {
    ($conn:expr, $member:expr) => {{
        let m: &crate::accounts::NewMember = $member;
        sqlx::query(
            "INSERT INTO customers (id, organization_id, email, email_verified_at, password_hash, name, surname,
                                    role, status, created_at, updated_at, last_login_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9, NULL)",
        )
        .bind(m.customer_id.0)
        .bind(m.organization_id.0)
        .bind(&m.email)
        .bind(m.email_verified.then_some(m.now))
        .bind(&m.password_hash)
        .bind(&m.name)
        .bind(&m.surname)
        .bind(m.role.as_str())
        .bind(m.now)
        .execute(&mut *$conn)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (id, organization_id, team_id, customer_id, role, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(m.membership_id.0)
        .bind(m.organization_id.0)
        .bind(m.team_id.0)
        .bind(m.customer_id.0)
        .bind(m.role.as_str())
        .bind(m.now)
        .execute(&mut *$conn)
        .await?;
    }};
}
pub(crate) use insert_member;

/// Writes everything a sign-up creates (the organization under a free slug,
/// its first team, the owner, and the verification code and email when
/// given), and its audit record, inside the caller's transaction. Evaluates
/// to the organization's slug.
macro_rules! insert_signup {
    ($conn:expr, $signup:expr) => {{
        let s: &crate::accounts::NewSignup = $signup;
        let slug = crate::accounts::free_slug!(&mut *$conn, &s.slug);
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, plan, trial_ends_at, logo_url, active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $7)",
        )
        .bind(s.organization_id.0)
        .bind(&s.organization_name)
        .bind(&slug)
        .bind(&s.plan)
        .bind(s.trial_ends_at)
        .bind(true)
        .bind(s.now)
        .execute(&mut *$conn)
        .await?;
        sqlx::query(
            "INSERT INTO teams (id, organization_id, name, name_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(s.team_id.0)
        .bind(s.organization_id.0)
        .bind(&s.team_name)
        .bind(&s.team_name_key)
        .bind(s.now)
        .execute(&mut *$conn)
        .await?;
        crate::accounts::insert_member!(
            &mut *$conn,
            &crate::accounts::NewMember {
                organization_id: s.organization_id,
                team_id: s.team_id,
                customer_id: s.customer_id,
                membership_id: s.membership_id,
                email: s.email.clone(),
                email_verified: s.email_verified,
                password_hash: Some(s.password_hash.clone()),
                name: s.name.clone(),
                surname: s.surname.clone(),
                role: roster_core::role::Role::Root,
                audit: s.audit.clone(),
                now: s.now,
            }
        );
        if let Some((code_hash, expires_at, message)) = &s.verification {
            crate::customers::upsert_code!(
                &mut *$conn,
                s.customer_id,
                crate::customers::PURPOSE_EMAIL_VERIFICATION,
                &s.email,
                code_hash,
                *expires_at,
                s.now
            );
            crate::outbox::insert_message!(&mut *$conn, Some(s.organization_id), Some(s.customer_id), message, s.now);
        }
        crate::audit::insert_audit!(&mut *$conn, &s.audit);
        slug
    }};
}
pub(crate) use insert_signup;

const EMAIL_TAKEN: &str = "an account with this email address already exists";

impl Store {
    /// Creates an organization, its first team and its owner (with the
    /// verification code and email, when given). Answers the organization's slug.
    /// A taken email is a conflict, and nothing is written.
    pub async fn create_signup(&self, s: &NewSignup) -> Result<String, roster_core::Error> {
        let mut tries = 0;
        loop {
            match self.try_create_signup(s).await {
                Ok(r) => return r,
                // Two sign-ups for one organization name raced for its slug (PostgreSQL):
                // the loser picks another slug on its next try, seeing the winner's.
                Err(StoreError::UniqueViolation(constraint)) if constraint.contains("slug") && tries < 3 => tries += 1,
                Err(e) => return Err(e.or_conflict(EMAIL_TAKEN)),
            }
        }
    }

    async fn try_create_signup(&self, s: &NewSignup) -> StoreResult<Result<String, roster_core::Error>> {
        let result: StoreResult<Result<String, roster_core::Error>> = dispatch!(self, write, |pool| {
            async {
                let mut tx = crate::begin_write(pool).await?;
                let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM customers WHERE email = $1")
                    .bind(&s.email)
                    .fetch_optional(&mut *tx)
                    .await?;
                if taken.is_some() {
                    return Ok(Err(roster_core::Error::Conflict(EMAIL_TAKEN.into())));
                }
                let slug = insert_signup!(&mut *tx, s);
                tx.commit().await?;
                Ok(Ok(slug))
            }
            .await
        });
        result
    }

    /// The customer a login names, by (normalized) email.
    pub async fn login_by_email(&self, email: &str) -> StoreResult<Option<LoginRow>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_as::<_, LoginRow>(
                "SELECT id, organization_id, password_hash, role, status FROM customers WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Starts a session: stores the token's hash and notes the login. A login
    /// proved the password (and second factor), so the session starts confirmed.
    pub async fn create_session(
        &self,
        customer: CustomerId,
        token_id: AccessTokenId,
        token_hash: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            sqlx::query(
                "INSERT INTO access_tokens (id, customer_id, token_hash, created_at, expires_at, confirmed_at)
                 VALUES ($1, $2, $3, $4, $5, $4)",
            )
            .bind(token_id.0)
            .bind(customer.0)
            .bind(token_hash)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE customers SET last_login_at = $1 WHERE id = $2")
                .bind(now)
                .bind(customer.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ends a session at once. Answers whether there was one.
    pub async fn delete_session(&self, token_id: Uuid) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query("DELETE FROM access_tokens WHERE id = $1").bind(token_id).execute(pool).await?.rows_affected()
                > 0
        }))
    }

    /// Notes that a session just proved its owner's password or second factor again.
    pub async fn confirm_session(&self, token_id: Uuid, now: OffsetDateTime) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query("UPDATE access_tokens SET confirmed_at = $1 WHERE id = $2 AND expires_at > $1")
                .bind(now)
                .bind(token_id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// The principal behind a live session token.
    pub async fn principal_by_session(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<PrincipalRow>> {
        const SQL: &str =
            "SELECT c.id AS customer_id, c.organization_id, c.role, c.status, t.id AS credential_id, NULL AS scopes,
                    t.confirmed_at, CASE WHEN o.require_totp AND c.totp_enabled_at IS NULL THEN 1 ELSE 0 END AS totp_enrolment_pending,
                    t.expires_at
             FROM access_tokens t JOIN customers c ON c.id = t.customer_id JOIN organizations o ON o.id = c.organization_id
             WHERE t.token_hash = $1 AND t.expires_at > $2";
        self.principal(Kind::Session, SQL, token_hash, now).await
    }

    /// The principal behind a live, unrevoked API key.
    pub async fn principal_by_api_key(
        &self,
        secret_hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<PrincipalRow>> {
        const SQL: &str =
            "SELECT c.id AS customer_id, c.organization_id, c.role, c.status, k.id AS credential_id, k.scopes,
                    CAST(NULL AS TIMESTAMPTZ) AS confirmed_at,
                    CASE WHEN o.require_totp AND c.totp_enabled_at IS NULL THEN 1 ELSE 0 END AS totp_enrolment_pending,
                    k.expires_at
             FROM api_keys k JOIN customers c ON c.id = k.customer_id JOIN organizations o ON o.id = c.organization_id
             WHERE k.secret_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)";
        self.principal(Kind::ApiKey, SQL, secret_hash, now).await
    }

    /// Runs a principal lookup (`SQL` binds the credential's hash and now),
    /// through the principal cache where there is one.
    async fn principal(
        &self,
        kind: Kind,
        sql: &'static str,
        hash: &[u8],
        now: OffsetDateTime,
    ) -> StoreResult<Option<PrincipalRow>> {
        let cache = self.principals.as_deref();
        let epoch = cache.map(|c| c.epoch());
        if let Some(row) = cache.and_then(|c| c.get(kind, hash, now)) {
            return Ok(Some(row));
        }
        let row = match self.reader() {
            Some(reader) => reader.read(|c| reader::one(c, sql, &[&hash, &reader::At(now)], PrincipalRow::decode))?,
            None => dispatch!(self, read, |pool| {
                sqlx::query_as::<_, PrincipalRow>(sql).bind(hash).bind(now).fetch_optional(pool).await?
            }),
        };
        if let (Some(cache), Some(epoch), Some(row)) = (cache, epoch, &row) {
            cache.insert(kind, hash, row, epoch);
        }
        Ok(row)
    }

    pub async fn create_api_key(&self, k: &NewApiKey) -> StoreResult<ApiKeyRow> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let row = sqlx::query_as::<_, ApiKeyRow>(
                "INSERT INTO api_keys (id, organization_id, customer_id, name, hint, secret_hash, scopes, created_at, expires_at, revoked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)
                 RETURNING id, customer_id, name, hint, scopes, created_at, expires_at, revoked_at",
            )
            .bind(k.id.0)
            .bind(k.organization_id.0)
            .bind(k.customer_id.0)
            .bind(&k.name)
            .bind(&k.hint)
            .bind(&k.secret_hash)
            .bind(&k.scopes)
            .bind(k.now)
            .bind(k.expires_at)
            .fetch_one(&mut *tx)
            .await?;
            crate::audit::insert_audit!(&mut *tx, &k.audit);
            tx.commit().await?;
            row
        }))
    }

    /// A customer's API keys, newest first, revoked ones included, paged.
    pub async fn list_api_keys(
        &self,
        customer: CustomerId,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<ApiKeyRow>, i64)> {
        Ok(dispatch!(self, read, |pool| {
            fetch_page!(
                pool,
                ApiKeyRow,
                "SELECT id, customer_id, name, hint, scopes, created_at, expires_at, revoked_at
                 FROM api_keys WHERE customer_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
                "SELECT COUNT(*) FROM api_keys WHERE customer_id = $1",
                (customer.0),
                limit,
                offset
            )
        }))
    }

    /// Revokes one of the customer's keys. Answers the key, or `None` when the
    /// customer has no such key.
    pub async fn revoke_api_key(
        &self,
        customer: CustomerId,
        id: ApiKeyId,
        audit: &crate::NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ApiKeyRow>> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let row = sqlx::query_as::<_, ApiKeyRow>(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND customer_id = $3
                 RETURNING id, customer_id, name, hint, scopes, created_at, expires_at, revoked_at",
            )
            .bind(now)
            .bind(id.0)
            .bind(customer.0)
            .fetch_optional(&mut *tx)
            .await?;
            if row.is_some() {
                crate::audit::insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
            row
        }))
    }
}

/// A person added to an existing organization (and one of its teams).
#[derive(Debug, Clone)]
pub struct NewMember {
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub customer_id: CustomerId,
    pub membership_id: MembershipId,
    pub email: String,
    pub email_verified: bool,
    /// `None` for notify-only contacts, who cannot log in.
    pub password_hash: Option<String>,
    pub name: String,
    pub surname: String,
    pub role: Role,
    pub audit: crate::NewAuditEvent,
    pub now: OffsetDateTime,
}

impl Store {
    /// Adds a customer to an organization and one of its teams. A taken email
    /// is a conflict; a team outside the organization is not found.
    pub async fn add_member(&self, m: &NewMember) -> Result<(), roster_core::Error> {
        let r: StoreResult<Result<(), roster_core::Error>> = dispatch!(self, write, |pool| async {
            let mut tx = crate::begin_write(pool).await?;
            let team: Option<i32> = sqlx::query_scalar("SELECT 1 FROM teams WHERE id = $1 AND organization_id = $2")
                .bind(m.team_id.0)
                .bind(m.organization_id.0)
                .fetch_optional(&mut *tx)
                .await?;
            if team.is_none() {
                return Ok(Err(roster_core::Error::NotFound("team")));
            }
            insert_member!(&mut *tx, m);
            crate::audit::insert_audit!(&mut *tx, &m.audit);
            tx.commit().await?;
            Ok(Ok(()))
        }
        .await);
        r.map_err(|e| e.or_conflict(EMAIL_TAKEN))?
    }

    /// How many rows each table holds for an organization (or in all, for tables without one):
    /// lets tests prove that a deletion left nothing behind.
    pub async fn count_rows_for(
        &self,
        org: OrganizationId,
        customer: CustomerId,
    ) -> StoreResult<Vec<(&'static str, i64)>> {
        const BY_ORG: [&str; 5] = ["organizations", "teams", "customers", "memberships", "services"];
        const BY_CUSTOMER: [&str; 5] = ["access_tokens", "api_keys", "verification_codes", "outbox", "memberships"];
        // Labels say which scope a count is for: `memberships` (the organization's) vs `customer.memberships`.
        let mut out = Vec::new();
        for table in BY_ORG {
            let column = if table == "organizations" { "id" } else { "organization_id" };
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
            let n: i64 = dispatch!(self, read, |pool| sqlx::query_scalar(&sql).bind(org.0).fetch_one(pool).await?);
            out.push((table, n));
        }
        for table in BY_CUSTOMER {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE customer_id = $1");
            let n: i64 =
                dispatch!(self, read, |pool| sqlx::query_scalar(&sql).bind(customer.0).fetch_one(pool).await?);
            out.push((if table == "memberships" { "customer.memberships" } else { table }, n));
        }
        let n: i64 = dispatch!(self, read, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE id = $1").bind(customer.0).fetch_one(pool).await?
        });
        out.push(("customer", n));
        Ok(out)
    }
}

/// Passwords: changing one, and resetting a forgotten one with an emailed code.
impl Store {
    /// The customer's password hash (`None` for notify-only contacts).
    pub async fn password_hash(&self, customer: CustomerId) -> StoreResult<Option<String>> {
        Ok(dispatch!(self, read, |pool| {
            sqlx::query_scalar::<_, Option<String>>("SELECT password_hash FROM customers WHERE id = $1")
                .bind(customer.0)
                .fetch_optional(pool)
                .await?
                .flatten()
        }))
    }

    /// Stores a fresh hash of the same password (made with current
    /// parameters), only if the hash is still `old`: a password changed
    /// meanwhile is never overwritten. Answers whether it was stored.
    pub async fn upgrade_password_hash(&self, customer: CustomerId, old: &str, new: &str) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            sqlx::query("UPDATE customers SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(new)
                .bind(customer.0)
                .bind(old)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        }))
    }

    /// Replaces a customer's password and ends every session but `keep`
    /// (API keys stay). Answers how many sessions ended. A pending code for
    /// `drop_purpose` (a password reset) stops working too.
    pub async fn change_password(
        &self,
        customer: CustomerId,
        password_hash: &str,
        keep: Uuid,
        drop_purpose: &str,
        audit: &crate::NewAuditEvent,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            sqlx::query("DELETE FROM verification_codes WHERE customer_id = $1 AND purpose = $2")
                .bind(customer.0)
                .bind(drop_purpose)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE customers SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(customer.0)
                .execute(&mut *tx)
                .await?;
            let ended = sqlx::query("DELETE FROM access_tokens WHERE customer_id = $1 AND id <> $2")
                .bind(customer.0)
                .bind(keep)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            crate::audit::insert_audit!(&mut *tx, audit);
            tx.commit().await?;
            ended
        }))
    }

    /// Issues a password-reset code for the active customer who logs in with
    /// `email`, replacing an earlier one, and queues the email carrying it.
    /// For any other address the same transaction runs and writes nothing, so
    /// the two cases cost about the same. Answers whether a code was issued;
    /// the caller must not reveal it.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_password_reset(
        &self,
        email: &str,
        purpose: &'static str,
        code_hash: &[u8],
        expires_at: OffsetDateTime,
        message: impl FnOnce(&str) -> NewMessage + Send,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            // Notify-only contacts have no password and must not get one this way.
            let found: Option<(Uuid, Uuid, String)> = sqlx::query_as(
                "SELECT id, organization_id, name FROM customers
                 WHERE email = $1 AND password_hash IS NOT NULL AND status = 'active'",
            )
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            let issued = found.is_some();
            if let Some((id, org, name)) = found {
                let message = message(&name);
                crate::customers::upsert_code!(&mut *tx, CustomerId(id), purpose, email, code_hash, expires_at, now);
                crate::outbox::insert_message!(
                    &mut *tx,
                    Some(OrganizationId(org)),
                    Some(CustomerId(id)),
                    &message,
                    now
                );
            }
            tx.commit().await?;
            issued
        }))
    }

    /// Checks a password-reset code for `email`, counting the attempt; a valid
    /// one sets the new password, ends every session and is consumed. An
    /// address without an account answers [`crate::CodeCheck::Missing`], as one
    /// without a pending code does.
    #[allow(clippy::too_many_arguments)]
    pub async fn reset_password(
        &self,
        email: &str,
        purpose: &'static str,
        max_attempts: i64,
        hasher: impl Fn(&str) -> Vec<u8> + Send,
        password_hash: &str,
        audit: impl FnOnce(OrganizationId, CustomerId) -> crate::NewAuditEvent + Send,
        now: OffsetDateTime,
    ) -> StoreResult<crate::CodeCheck> {
        use crate::CodeCheck;
        Ok(dispatch!(self, write, |pool| {
            let mut tx = crate::begin_write(pool).await?;
            let row: Option<(Uuid, Uuid, Uuid, Vec<u8>, i64, OffsetDateTime)> = sqlx::query_as(
                "SELECT c.id, c.organization_id, v.id, v.code_hash, v.attempts, v.expires_at
                 FROM customers c JOIN verification_codes v ON v.customer_id = c.id
                 WHERE c.email = $1 AND v.purpose = $2 AND v.target = $1 AND c.password_hash IS NOT NULL",
            )
            .bind(email)
            .bind(purpose)
            .fetch_optional(&mut *tx)
            .await?;
            // The code is hashed even when there is none to compare with, so the answer takes as long.
            let expected = hasher(email);
            let check = match row {
                None => CodeCheck::Missing,
                Some((.., expires_at)) if expires_at <= now => CodeCheck::Expired,
                Some((_, _, _, _, attempts, _)) if attempts >= max_attempts => CodeCheck::Exhausted,
                Some((customer, org, code_id, hash, attempts, _)) => {
                    if roster_core::secret::constant_time_eq(&expected, &hash) {
                        sqlx::query("DELETE FROM verification_codes WHERE id = $1")
                            .bind(code_id)
                            .execute(&mut *tx)
                            .await?;
                        // The code reached the login address, which proves it as a verification code would.
                        sqlx::query(
                            "UPDATE customers SET password_hash = $1, updated_at = $2,
                                    email_verified_at = COALESCE(email_verified_at, $2)
                             WHERE id = $3",
                        )
                        .bind(password_hash)
                        .bind(now)
                        .bind(customer)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("DELETE FROM access_tokens WHERE customer_id = $1")
                            .bind(customer)
                            .execute(&mut *tx)
                            .await?;
                        crate::audit::insert_audit!(&mut *tx, &audit(OrganizationId(org), CustomerId(customer)));
                        CodeCheck::Valid { target: email.to_owned() }
                    } else {
                        sqlx::query("UPDATE verification_codes SET attempts = attempts + 1 WHERE id = $1")
                            .bind(code_id)
                            .execute(&mut *tx)
                            .await?;
                        CodeCheck::Wrong { attempts_left: (max_attempts - attempts - 1).max(0) }
                    }
                }
            };
            tx.commit().await?;
            check
        }))
    }
}
