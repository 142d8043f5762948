//! What the store reads back: plain rows with typed ids.

use roster_core::ids::*;
use roster_core::role::Role;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct OrganizationRow {
    #[sqlx(try_from = "Uuid")]
    pub id: OrganizationId,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub trial_ends_at: Option<OffsetDateTime>,
    pub logo_url: Option<String>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    #[sqlx(try_from = "Uuid")]
    pub id: TeamId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    #[sqlx(try_from = "Uuid")]
    pub id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    pub email: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub name: String,
    pub surname: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
}

pub(crate) const CUSTOMER_COLUMNS: &str =
    "id, organization_id, email, email_verified_at, name, surname, role, status, created_at, updated_at, last_login_at";

/// What login needs to decide, and nothing more.
#[derive(Debug, Clone, FromRow)]
pub struct LoginRow {
    #[sqlx(try_from = "Uuid")]
    pub id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
}

/// Who a bearer credential belongs to, as of now.
#[derive(Debug, Clone, FromRow)]
pub struct PrincipalRow {
    #[sqlx(try_from = "Uuid")]
    pub customer_id: CustomerId,
    #[sqlx(try_from = "Uuid")]
    pub organization_id: OrganizationId,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub status: String,
    /// The credential's own id: an access token's or an API key's.
    pub credential_id: Uuid,
    /// The API key's scopes; `None` for a login session.
    pub scopes: Option<String>,
    /// When the session last proved the password or second factor; `None` for an API key.
    pub confirmed_at: Option<OffsetDateTime>,
    /// 1 when the organization requires a second factor and this person has none yet.
    pub totp_enrolment_pending: i32,
    /// When the credential stops being valid; `None` for an API key without expiry.
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    #[sqlx(try_from = "Uuid")]
    pub id: ApiKeyId,
    #[sqlx(try_from = "Uuid")]
    pub customer_id: CustomerId,
    pub name: String,
    pub hint: String,
    pub scopes: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A customer with their organization, first team and the organization's usage.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub customer: CustomerRow,
    pub organization: OrganizationRow,
    pub team: Option<TeamRow>,
    pub usage: roster_core::plan::Usage,
}

/// The profile statement around its join of the person's first team.
macro_rules! profile {
    ($first_team:literal) => {
        concat!(
            "SELECT c.id, c.organization_id, c.email, c.email_verified_at, c.name, c.surname,
        c.role, c.status, c.created_at, c.updated_at, c.last_login_at,
        o.name AS o_name, o.slug AS o_slug, o.plan AS o_plan, o.trial_ends_at AS o_trial_ends_at,
        o.logo_url AS o_logo_url, o.active AS o_active, o.created_at AS o_created_at, o.updated_at AS o_updated_at,
        t.id AS t_id, t.name AS t_name, t.created_at AS t_created_at, t.updated_at AS t_updated_at,
        (SELECT COUNT(*) FROM teams WHERE organization_id = c.organization_id) AS used_teams,
        (SELECT COUNT(*) FROM customers WHERE organization_id = c.organization_id) AS used_members,
        (SELECT COUNT(*) FROM services WHERE organization_id = c.organization_id) AS used_services
     FROM customers c
     JOIN organizations o ON o.id = c.organization_id
     ",
            $first_team,
            "
     WHERE c.id = $1 AND c.organization_id = $2"
        )
    };
}

/// A customer's profile in one statement (one round trip on PostgreSQL):
/// the customer, their organization (`o_`), their first team (`t_`, NULL
/// when they are in none) and the organization's usage (`used_`).
pub(crate) const PROFILE: &str = profile!(
    "LEFT JOIN teams t ON t.id = (SELECT m.team_id FROM memberships m WHERE m.customer_id = c.id
                                  ORDER BY m.created_at, m.id LIMIT 1)"
);

/// [`PROFILE`] as PostgreSQL runs it: the first team through a lateral join.
/// Given the subquery in a join condition, PostgreSQL hashed every team
/// while the tables were small (0.45 ms at 1,000 customers); joined this way
/// it still hashes them there (0.15 ms), and probes by key at 100,000. A
/// lateral subquery it cannot flatten (a `LIMIT` on the team lookup) probed
/// at both sizes in `EXPLAIN`, but measured 20% faster at 1,000 customers
/// and 20% slower at 100,000 in three runs each, so it is not used. SQLite,
/// which has no LATERAL, probes by key either way.
pub(crate) const PROFILE_POSTGRES: &str = profile!(
    "LEFT JOIN LATERAL (SELECT t.* FROM memberships m JOIN teams t ON t.id = m.team_id
                       WHERE m.customer_id = c.id ORDER BY m.created_at, m.id LIMIT 1) t ON TRUE"
);

/// [`PROFILE`]'s row as it comes back.
#[derive(Debug, FromRow)]
pub(crate) struct ProfileFlat {
    #[sqlx(flatten)]
    customer: CustomerRow,
    o_name: String,
    o_slug: String,
    o_plan: String,
    o_trial_ends_at: Option<OffsetDateTime>,
    o_logo_url: Option<String>,
    o_active: bool,
    o_created_at: OffsetDateTime,
    o_updated_at: OffsetDateTime,
    t_id: Option<Uuid>,
    t_name: Option<String>,
    t_created_at: Option<OffsetDateTime>,
    t_updated_at: Option<OffsetDateTime>,
    used_teams: i64,
    used_members: i64,
    used_services: i64,
}

impl From<ProfileFlat> for ProfileRow {
    fn from(p: ProfileFlat) -> Self {
        let org = p.customer.organization_id;
        let team = match (p.t_id, p.t_name, p.t_created_at, p.t_updated_at) {
            (Some(id), Some(name), Some(created_at), Some(updated_at)) => {
                Some(TeamRow { id: id.into(), organization_id: org, name, created_at, updated_at })
            }
            _ => None,
        };
        ProfileRow {
            organization: OrganizationRow {
                id: org,
                name: p.o_name,
                slug: p.o_slug,
                plan: p.o_plan,
                trial_ends_at: p.o_trial_ends_at,
                logo_url: p.o_logo_url,
                active: p.o_active,
                created_at: p.o_created_at,
                updated_at: p.o_updated_at,
            },
            customer: p.customer,
            team,
            usage: roster_core::plan::Usage {
                teams: p.used_teams as u32,
                members: p.used_members as u32,
                services: p.used_services as u32,
            },
        }
    }
}

// Decoding for the SQLite reader of the hot paths (see `reader`): the same
// columns the `FromRow` derives above read, by the same names.
use crate::reader::{Columns, Decode, Record};

impl Decode for CustomerRow {
    fn decode(r: &Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.uuid("id")?.into(),
            organization_id: r.uuid("organization_id")?.into(),
            email: r.get("email")?,
            email_verified_at: r.opt_time("email_verified_at")?,
            name: r.get("name")?,
            surname: r.get("surname")?,
            role: r.parsed("role", Role::try_from)?,
            status: r.get("status")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
            last_login_at: r.opt_time("last_login_at")?,
        })
    }
}

impl Decode for ProfileFlat {
    fn decode(r: &Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            customer: CustomerRow::decode(r)?,
            o_name: r.get("o_name")?,
            o_slug: r.get("o_slug")?,
            o_plan: r.get("o_plan")?,
            o_trial_ends_at: r.opt_time("o_trial_ends_at")?,
            o_logo_url: r.get("o_logo_url")?,
            o_active: r.get("o_active")?,
            o_created_at: r.time("o_created_at")?,
            o_updated_at: r.time("o_updated_at")?,
            t_id: r.opt_uuid("t_id")?,
            t_name: r.get("t_name")?,
            t_created_at: r.opt_time("t_created_at")?,
            t_updated_at: r.opt_time("t_updated_at")?,
            used_teams: r.get("used_teams")?,
            used_members: r.get("used_members")?,
            used_services: r.get("used_services")?,
        })
    }
}

impl Decode for PrincipalRow {
    fn decode(r: &Record<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            customer_id: r.uuid("customer_id")?.into(),
            organization_id: r.uuid("organization_id")?.into(),
            role: r.parsed("role", Role::try_from)?,
            status: r.get("status")?,
            credential_id: r.uuid("credential_id")?,
            scopes: r.get("scopes")?,
            confirmed_at: r.opt_time("confirmed_at")?,
            totp_enrolment_pending: r.get("totp_enrolment_pending")?,
            expires_at: r.opt_time("expires_at")?,
        })
    }
}
