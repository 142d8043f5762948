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
