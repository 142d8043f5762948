//! Typed ids: a team id can never be passed where a customer id is expected.
//! All are UUIDv7, so they sort by creation time.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

typed_id!(
    /// An organization: the tenant every other object belongs to.
    OrganizationId,
    /// A team inside an organization.
    TeamId,
    /// A customer: a person with (or, notify-only, without) a login.
    CustomerId,
    /// A customer's membership of a team.
    MembershipId,
    /// A login session's access token.
    AccessTokenId,
    /// An API key for machine callers.
    ApiKeyId,
    /// A service owned by a team.
    ServiceId,
    /// A message in the outbox.
    MessageId,
    /// A pending verification code.
    VerificationCodeId,
    /// An entry in the audit log.
    AuditEventId,
);
