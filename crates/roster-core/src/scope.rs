//! Scopes: what an API key may be used for.

use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "customers:read")]
    CustomersRead,
    #[serde(rename = "customers:write")]
    CustomersWrite,
    #[serde(rename = "organization:read")]
    OrganizationRead,
    #[serde(rename = "organization:write")]
    OrganizationWrite,
    #[serde(rename = "teams:read")]
    TeamsRead,
    #[serde(rename = "teams:write")]
    TeamsWrite,
    #[serde(rename = "services:read")]
    ServicesRead,
    #[serde(rename = "services:write")]
    ServicesWrite,
    #[serde(rename = "channels:read")]
    ChannelsRead,
    #[serde(rename = "channels:write")]
    ChannelsWrite,
    #[serde(rename = "api-keys:read")]
    ApiKeysRead,
    #[serde(rename = "api-keys:write")]
    ApiKeysWrite,
    #[serde(rename = "deliveries:read")]
    DeliveriesRead,
    #[serde(rename = "deliveries:write")]
    DeliveriesWrite,
    #[serde(rename = "notify")]
    Notify,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Scope {
    pub const ALL: [Scope; 16] = [
        Scope::CustomersRead,
        Scope::CustomersWrite,
        Scope::OrganizationRead,
        Scope::OrganizationWrite,
        Scope::TeamsRead,
        Scope::TeamsWrite,
        Scope::ServicesRead,
        Scope::ServicesWrite,
        Scope::ChannelsRead,
        Scope::ChannelsWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::DeliveriesRead,
        Scope::DeliveriesWrite,
        Scope::Notify,
        Scope::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CustomersRead => "customers:read",
            Scope::CustomersWrite => "customers:write",
            Scope::OrganizationRead => "organization:read",
            Scope::OrganizationWrite => "organization:write",
            Scope::TeamsRead => "teams:read",
            Scope::TeamsWrite => "teams:write",
            Scope::ServicesRead => "services:read",
            Scope::ServicesWrite => "services:write",
            Scope::ChannelsRead => "channels:read",
            Scope::ChannelsWrite => "channels:write",
            Scope::ApiKeysRead => "api-keys:read",
            Scope::ApiKeysWrite => "api-keys:write",
            Scope::DeliveriesRead => "deliveries:read",
            Scope::DeliveriesWrite => "deliveries:write",
            Scope::Notify => "notify",
            Scope::AuditRead => "audit:read",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw.trim()).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            FieldProblem::new("invalid_scope", format!("unknown scope `{raw}`; known scopes are {}", known.join(", ")))
        })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes, stored as a space-separated list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(std::collections::BTreeSet<Scope>);

impl ScopeSet {
    pub fn all() -> Self {
        Self(Scope::ALL.into_iter().collect())
    }

    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Parses the stored form; unknown words (from a newer version) are dropped, never widened.
    pub fn from_stored(s: &str) -> Self {
        Self(s.split_whitespace().filter_map(|w| Scope::parse(w).ok()).collect())
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()).unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        let set: ScopeSet = [Scope::TeamsRead, Scope::CustomersRead].into_iter().collect();
        assert_eq!(ScopeSet::from_stored(&set.to_stored()), set);
        assert!(Scope::parse("teams:admin").is_err());
    }
}
