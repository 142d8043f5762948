//! Who may do what: every operation the API offers is one [`Action`], and
//! this file is the only place that says which roles may perform it.
//!
//! A route names its action in its handler's signature (`Auth<act::TeamCreate>`);
//! the extractor checks the role and, for API keys, the scope. Rules that
//! depend on the object (a manager only manages teams they belong to; only an
//! owner touches an owner) are the functions at the end of this file, called
//! by the handlers. `docs/permissions.md` is generated from this table, and a
//! test walks it over HTTP for every role.

use crate::role::Role;
use crate::scope::Scope;

macro_rules! actions {
    ($($name:ident => ($scope:ident, $min:ident, $why:literal)),* $(,)?) => {
        /// An operation, as far as permissions are concerned.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($name),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name),*];

            /// The scope an API key needs for it.
            pub fn scope(self) -> Scope {
                match self { $(Action::$name => Scope::$scope),* }
            }

            /// The least role that may do it (roles are ordered notify < viewer < user < manager < admin < root).
            pub fn min_role(self) -> Role {
                match self { $(Action::$name => Role::$min),* }
            }

            /// Why the line is drawn there.
            pub fn why(self) -> &'static str {
                match self { $(Action::$name => $why),* }
            }

            pub fn name(self) -> &'static str {
                match self { $(Action::$name => stringify!($name)),* }
            }
        }
    };
}

actions! {
    ProfileRead => (CustomersRead, Viewer, "everyone who can log in sees their own profile"),
    ProfileWrite => (CustomersWrite, Viewer, "everyone who can log in manages their own profile, login and sessions"),
    CustomerRead => (CustomersRead, Viewer, "members of an organization see each other"),
    ApiKeysRead => (ApiKeysRead, Viewer, "everyone sees their own API keys"),
    ApiKeysWrite => (ApiKeysWrite, Viewer, "everyone manages their own API keys, never beyond their own role"),
    TeamRead => (TeamsRead, Viewer, "everyone in the organization sees its teams, members and memberships"),
    TeamCreate => (TeamsWrite, Admin, "the team structure is the organization's: admins and owners shape it"),
    TeamUpdate => (TeamsWrite, Manager, "a team's managers rename it; admins and owners rename any team"),
    TeamDelete => (TeamsWrite, Admin, "deleting a team removes memberships and channels: admins and owners only"),
    MemberManage => (TeamsWrite, Manager, "a team's managers manage its members and invitations, never above their own role"),
    MembersRead => (CustomersRead, Viewer, "everyone in the organization sees who else is in it"),
    MemberSuspend => (CustomersWrite, Admin, "suspending a person cuts their access at once: admins and owners only"),
    MemberRemove => (CustomersWrite, Root, "removing a person from the organization is the owner's call (PingBack)"),
    OrganizationRead => (OrganizationRead, Viewer, "everyone in the organization sees its settings, plan and limits"),
    OrganizationWrite => (OrganizationWrite, Admin, "admins and owners change the organization's settings and domains"),
    OwnershipTransfer => (OrganizationWrite, Root, "only an owner offers ownership"),
    OwnershipAccept => (CustomersWrite, Viewer, "the person offered ownership accepts it themselves"),
    ServiceRead => (ServicesRead, Viewer, "everyone in the organization sees its services"),
    ServiceManage => (ServicesWrite, Manager, "a team's managers manage the services it owns; admins and owners any"),
    ChannelRead => (ChannelsRead, Viewer, "everyone reads their own channels and their organization's team channels"),
    ChannelManage => (ChannelsWrite, User, "people manage their own channels; a team's managers, admins and owners its team channels"),
    DeliveryRead => (DeliveriesRead, Viewer, "whoever may read a channel may read what was sent through it"),
    DeliveryRetry => (DeliveriesWrite, User, "whoever may change a channel may replay a delivery that failed through it"),
    AlertSend => (Notify, User, "members (and the monitoring platform's API keys) raise alerts; viewers only watch"),
    AuditRead => (AuditRead, Admin, "the audit trail shows everyone's actions: admins and owners only"),
}

impl Action {
    /// Whether `role` may perform this action at all (object rules aside).
    pub fn allows(self, role: Role) -> bool {
        role.can_log_in() && role >= self.min_role()
    }
}

/// Whether someone may manage a team (rename it, its members, its services):
/// admins and owners any team, managers the teams they belong to.
pub fn can_manage_team(role: Role, is_member_of_team: bool) -> bool {
    role >= Role::Admin || (role == Role::Manager && is_member_of_team)
}

/// Whether `actor` may act on a person holding `target` (remove, move, suspend,
/// change role): nobody acts on someone above themselves, and only an owner on an owner.
pub fn can_act_on(actor: Role, target: Role) -> bool {
    if target == Role::Root {
        actor == Role::Root
    } else {
        actor >= target
    }
}

/// Whether someone may read a customer's personal channels: their own, or
/// anyone's in their organization as an admin or owner (to see who is reachable).
pub fn can_read_personal_channels(role: Role, is_self: bool) -> bool {
    is_self || role >= Role::Admin
}

/// Whether someone may change a customer's personal channels: only their own.
/// An address someone is woken up on is theirs to give.
pub fn can_manage_personal_channels(is_self: bool) -> bool {
    is_self
}

/// Whether someone may send an alert to a customer's personal channels:
/// their own, or anyone's as a manager or above (who run the on-call rota).
pub fn can_alert_customer(role: Role, is_self: bool) -> bool {
    is_self || role >= Role::Manager
}

/// Whether `actor` may give someone the role `new`. Nobody grants above their
/// own role, and ownership moves only through the two-step transfer.
pub fn can_grant(actor: Role, new: Role) -> Result<(), &'static str> {
    if new == Role::Root {
        return Err("ownership is given with POST /v1/organization/ownership-transfer, not by changing a role");
    }
    if new > actor {
        return Err("you cannot give a role above your own");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_allowed_an_action_is_allowed_its_scope() {
        // The scope ceiling (what API keys a role may mint) covers every action the role may perform.
        for &action in Action::ALL {
            for role in Role::ALL {
                if action.allows(role) {
                    assert!(role.allows(action.scope()), "{role} may {action:?} but not hold {}", action.scope());
                }
            }
        }
    }

    #[test]
    fn notify_only_contacts_can_do_nothing() {
        assert!(Action::ALL.iter().all(|a| !a.allows(Role::Notify)));
    }

    #[test]
    fn object_rules() {
        assert!(can_manage_team(Role::Manager, true));
        assert!(!can_manage_team(Role::Manager, false));
        assert!(can_manage_team(Role::Admin, false));
        assert!(!can_manage_team(Role::User, true));
        assert!(!can_act_on(Role::Admin, Role::Root));
        assert!(can_act_on(Role::Root, Role::Root));
        assert!(!can_act_on(Role::Manager, Role::Admin));
        assert!(can_act_on(Role::Manager, Role::User));
        assert!(can_grant(Role::Admin, Role::Admin).is_ok());
        assert!(can_grant(Role::Manager, Role::Admin).is_err());
        assert!(can_grant(Role::Root, Role::Root).is_err());
        assert!(can_read_personal_channels(Role::User, true));
        assert!(!can_read_personal_channels(Role::Manager, false));
        assert!(can_read_personal_channels(Role::Admin, false));
        assert!(!can_manage_personal_channels(false));
        assert!(can_alert_customer(Role::User, true));
        assert!(!can_alert_customer(Role::User, false));
        assert!(can_alert_customer(Role::Manager, false));
    }
}
