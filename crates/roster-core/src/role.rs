//! Roles: what a person in an organization may do.
//!
//! One model covers the names every peer uses: Pinghome's root/manager/user,
//! the uptime API's owner/admin/member, PingBack's owner/admin/agent and
//! NodePing's edit/view/notify. The canonical names are Pinghome's, and the
//! others are accepted as aliases on input.

use crate::scope::Scope;
use crate::validation::FieldProblem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Receives notifications only and cannot log in (NodePing `notify`).
    Notify,
    /// Reads everything in the organization, changes nothing but themselves (NodePing `view`).
    Viewer,
    /// A member: reads the organization, manages their own profile and channels
    /// (uptime `member`, PingBack `agent`).
    User,
    /// Manages teams, their members, channels and services (NodePing `edit`).
    Manager,
    /// Manages everything but ownership (uptime and PingBack `admin`).
    Admin,
    /// An owner of the organization (uptime and PingBack `owner`).
    Root,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Root, Role::Admin, Role::Manager, Role::User, Role::Viewer, Role::Notify];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::User => "user",
            Role::Viewer => "viewer",
            Role::Notify => "notify",
        }
    }

    /// Parses a canonical name or a peer's alias.
    pub fn parse(raw: &str) -> Result<Self, FieldProblem> {
        Ok(match raw.trim().to_ascii_lowercase().as_str() {
            "root" | "owner" => Role::Root,
            "admin" => Role::Admin,
            "manager" | "edit" => Role::Manager,
            "user" | "member" | "agent" => Role::User,
            "viewer" | "view" => Role::Viewer,
            "notify" => Role::Notify,
            _ => {
                return Err(FieldProblem::new(
                    "invalid_role",
                    "must be one of root (owner), admin, manager (edit), user (member, agent), viewer (view), notify",
                ))
            }
        })
    }

    /// Whether someone with this role may log in at all.
    pub fn can_log_in(self) -> bool {
        self != Role::Notify
    }

    pub fn is_owner(self) -> bool {
        self == Role::Root
    }

    /// The most this role may ever do; an API key's scopes are cut down to this.
    pub fn allows(self, scope: Scope) -> bool {
        use Scope::*;
        match self {
            Role::Root | Role::Admin => true,
            Role::Manager => scope != AuditRead && scope != OrganizationWrite,
            Role::User => matches!(
                scope,
                CustomersRead
                    | CustomersWrite
                    | TeamsRead
                    | ChannelsRead
                    | ChannelsWrite
                    | ServicesRead
                    | OrganizationRead
                    | ApiKeysRead
                    | ApiKeysWrite
                    | DeliveriesRead
                    | DeliveriesWrite
                    | Notify
            ),
            Role::Viewer => matches!(
                scope,
                CustomersRead
                    | CustomersWrite
                    | TeamsRead
                    | ChannelsRead
                    | ServicesRead
                    | OrganizationRead
                    | ApiKeysRead
                    | ApiKeysWrite
                    | DeliveriesRead
            ),
            Role::Notify => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Role {
    type Error = FieldProblem;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s)
    }
}

impl std::str::FromStr for Role {
    type Err = FieldProblem;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(Role::parse("owner").unwrap(), Role::Root);
        assert_eq!(Role::parse("Agent").unwrap(), Role::User);
        assert_eq!(Role::parse("view").unwrap(), Role::Viewer);
        assert!(Role::parse("god").is_err());
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
    }

    #[test]
    fn ceilings_are_nested() {
        // Each role can do at most what the role above it can.
        let ordered = [Role::Notify, Role::Viewer, Role::User, Role::Manager, Role::Admin, Role::Root];
        for pair in ordered.windows(2) {
            for s in Scope::ALL {
                if pair[0].allows(s) && pair[0] != Role::Viewer {
                    assert!(pair[1].allows(s), "{} allows {s} but {} does not", pair[0], pair[1]);
                }
            }
        }
        assert!(!Role::Notify.can_log_in());
        assert!(Scope::ALL.iter().all(|s| !Role::Notify.allows(*s)));
    }
}
