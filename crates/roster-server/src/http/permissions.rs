//! Every route and who may call it: the one table that `docs/permissions.md`
//! is generated from, that the OpenAPI document is checked against, and that
//! the permission test walks over HTTP for every role.

use roster_core::policy::Action;
use roster_core::role::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// Any valid credential, whatever its role or scopes.
    Authenticated,
    /// Callers whose role (and, for API keys, scopes) allow the action.
    Action(Action),
}

#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> RouteRule {
    RouteRule { method, path, access }
}

use Access::{Action as A, Authenticated, Public};

/// Every route the server answers, in the order the docs list them.
pub const ROUTES: &[RouteRule] = &[
    rule("GET", "/healthz", Public),
    rule("GET", "/readyz", Public),
    rule("GET", "/metrics", Public),
    rule("POST", "/v1/auth/signup", Public),
    rule("POST", "/v1/auth/signup/confirm", Public),
    rule("POST", "/v1/auth/login", Public),
    rule("POST", "/v1/auth/logout", Authenticated),
    rule("POST", "/v1/auth/email/verification", A(Action::ProfileWrite)),
    rule("POST", "/v1/auth/email/verification/resend", A(Action::ProfileWrite)),
    rule("GET", "/v1/customer", A(Action::ProfileRead)),
    rule("PATCH", "/v1/customer", A(Action::ProfileWrite)),
    rule("DELETE", "/v1/customer", A(Action::ProfileWrite)),
    rule("GET", "/v1/customer/{customer_id}", A(Action::CustomerRead)),
    rule("PUT", "/v1/customer/username", A(Action::ProfileWrite)),
    rule("PATCH", "/v1/customer/username", A(Action::ProfileWrite)),
    rule("GET", "/v1/api-keys", A(Action::ApiKeysRead)),
    rule("POST", "/v1/api-keys", A(Action::ApiKeysWrite)),
    rule("DELETE", "/v1/api-keys/{id}", A(Action::ApiKeysWrite)),
    rule("PUT", "/v1/customer/status", A(Action::ProfileWrite)),
    // The audit trail and the customer's own data (routes/audit.rs, routes/customer.rs).
    rule("GET", "/v1/audit-events", A(Action::AuditRead)),
    rule("GET", "/v1/customer/export", A(Action::ProfileRead)),
    // Teams and their members (routes/teams.rs).
    rule("POST", "/v1/team", A(Action::TeamCreate)),
    rule("GET", "/v1/teams", A(Action::TeamRead)),
    rule("PUT", "/v1/team/{id}", A(Action::TeamUpdate)),
    rule("DELETE", "/v1/team/{id}", A(Action::TeamDelete)),
    rule("GET", "/v1/team/{id}/members", A(Action::TeamRead)),
    rule("DELETE", "/v1/team/{id}/member/{memberId}", A(Action::MemberManage)),
    rule("PATCH", "/v1/team/{id}/member/{memberId}", A(Action::MemberManage)),
    // Invitations (routes/invitations.rs).
    rule("GET", "/v1/team/{id}/invitations", A(Action::TeamRead)),
    rule("POST", "/v1/team/{id}/invitation", A(Action::MemberManage)),
    rule("DELETE", "/v1/team/{id}/invitation", A(Action::MemberManage)),
    rule("POST", "/v1/team/{id}/invitation/reminder", A(Action::MemberManage)),
    rule("GET", "/v1/invitations/{token}", Public),
    rule("POST", "/v1/invitations/{token}/accept", Public),
    rule("POST", "/v1/invitations/{token}/decline", Public),
    // The organization, its people and its domains (routes/organization.rs, routes/members.rs).
    rule("GET", "/v1/organization", A(Action::OrganizationRead)),
    rule("PATCH", "/v1/organization", A(Action::OrganizationWrite)),
    rule("POST", "/v1/organization/ownership-transfer", A(Action::OwnershipTransfer)),
    rule("DELETE", "/v1/organization/ownership-transfer", A(Action::OwnershipTransfer)),
    rule("POST", "/v1/organization/ownership-transfer/accept", A(Action::OwnershipAccept)),
    rule("GET", "/v1/memberships", A(Action::TeamRead)),
    rule("GET", "/v1/members", A(Action::MembersRead)),
    rule("DELETE", "/v1/members/{id}", A(Action::MemberRemove)),
    rule("PUT", "/v1/members/{id}/active", A(Action::MemberSuspend)),
    rule("GET", "/v1/team-domains", A(Action::OrganizationRead)),
    rule("POST", "/v1/team-domains", A(Action::OrganizationWrite)),
    rule("DELETE", "/v1/team-domains", A(Action::OrganizationWrite)),
    // Services (routes/services.rs).
    rule("POST", "/v1/service", A(Action::ServiceManage)),
    rule("GET", "/v1/services", A(Action::ServiceRead)),
    rule("PUT", "/v1/service/{id}", A(Action::ServiceManage)),
    rule("DELETE", "/v1/service/{id}", A(Action::ServiceManage)),
    rule("GET", "/v1/team-service/{id}", A(Action::ServiceRead)),
    // Notification channels of a customer and of a team (routes/channels/).
    rule("POST", "/v1/customer/{id}/notification-channel", A(Action::ChannelManage)),
    rule("GET", "/v1/customer/{id}/notification-channels", A(Action::ChannelRead)),
    rule("PUT", "/v1/customer/{id}/notification-channel", A(Action::ChannelManage)),
    rule("PATCH", "/v1/customer/{id}/notification-channel", A(Action::ChannelManage)),
    rule("DELETE", "/v1/customer/{id}/notification-channel", A(Action::ChannelManage)),
    rule("PATCH", "/v1/customer/{id}/notification-channel/verification", A(Action::ChannelManage)),
    rule("POST", "/v1/customer/{id}/notification-channel/verification/resend", A(Action::ChannelManage)),
    rule("POST", "/v1/customer/{id}/notification-channel/test", A(Action::ChannelManage)),
    rule("PUT", "/v1/customer/{id}/notification-channel/enabled", A(Action::ChannelManage)),
    rule("PUT", "/v1/customer/{id}/notification-channels/order", A(Action::ChannelManage)),
    rule("POST", "/v1/team/{id}/notification-channel", A(Action::ChannelManage)),
    rule("GET", "/v1/team/{id}/notification-channels", A(Action::ChannelRead)),
    rule("PUT", "/v1/team/{id}/notification-channel", A(Action::ChannelManage)),
    rule("PATCH", "/v1/team/{id}/notification-channel", A(Action::ChannelManage)),
    rule("DELETE", "/v1/team/{id}/notification-channel", A(Action::ChannelManage)),
    rule("PATCH", "/v1/team/{id}/notification-channel/verification", A(Action::ChannelManage)),
    rule("POST", "/v1/team/{id}/notification-channel/verification/resend", A(Action::ChannelManage)),
    rule("POST", "/v1/team/{id}/notification-channel/test", A(Action::ChannelManage)),
    rule("PUT", "/v1/team/{id}/notification-channel/enabled", A(Action::ChannelManage)),
    rule("PUT", "/v1/team/{id}/notification-channels/order", A(Action::ChannelManage)),
    rule("GET", "/v1/customer/quiet-hours", A(Action::ProfileRead)),
    rule("PUT", "/v1/customer/quiet-hours", A(Action::ProfileWrite)),
    // Webhook signing secrets (routes/channels/signing.rs) and one-click unsubscribe from alert
    // emails, whose link carries its own proof (routes/unsubscribe.rs).
    rule("POST", "/v1/customer/{id}/notification-channel/signing-secret", A(Action::ChannelManage)),
    rule("POST", "/v1/team/{id}/notification-channel/signing-secret", A(Action::ChannelManage)),
    rule("GET", "/v1/unsubscribe/{token}", Public),
    rule("POST", "/v1/unsubscribe/{token}", Public),
    // What was sent through a channel (routes/deliveries.rs).
    rule("GET", "/v1/deliveries", A(Action::DeliveryRead)),
    rule("GET", "/v1/deliveries/{id}", A(Action::DeliveryRead)),
    rule("POST", "/v1/deliveries/{id}/retry", A(Action::DeliveryRetry)),
    // Alerts and who they would reach (routes/alerts.rs).
    rule("POST", "/v1/team/{id}/notify", A(Action::AlertSend)),
    rule("POST", "/v1/customer/{id}/notify", A(Action::AlertSend)),
    rule("GET", "/v1/team/{id}/reachability", A(Action::ChannelRead)),
    rule("GET", "/v1/customer/{id}/reachability", A(Action::ChannelRead)),
    // Passwords and the second factor (routes/security.rs); only sessions change them, an API key gets 422.
    rule("PUT", "/v1/customer/password", A(Action::ProfileWrite)),
    rule("POST", "/v1/auth/password/reset", Public),
    rule("POST", "/v1/auth/password/reset/confirm", Public),
    rule("POST", "/v1/customer/totp", A(Action::ProfileWrite)),
    rule("DELETE", "/v1/customer/totp", A(Action::ProfileWrite)),
    rule("POST", "/v1/customer/totp/confirm", A(Action::ProfileWrite)),
    rule("POST", "/v1/auth/reauthenticate", Authenticated),
];

/// Sensitive actions: only a login session that proved its password or second
/// factor within `reauthentication_window_secs` may take them (a login counts;
/// `POST /v1/auth/reauthenticate` renews it). API keys never may: 403
/// `REAUTHENTICATION_REQUIRED`. Checked by the `Auth` extractor, by route.
pub const FRESH_CONFIRMATION: &[(&str, &str)] = &[
    ("DELETE", "/v1/customer"),
    ("PUT", "/v1/customer/username"),
    ("POST", "/v1/api-keys"),
    ("POST", "/v1/organization/ownership-transfer"),
];

/// What a person may still do while their organization requires a second
/// factor they have not enrolled: see themselves, enrol, log out. Everything
/// else, for their sessions and API keys alike, is 403 `TOTP_ENROLMENT_REQUIRED`.
pub const DURING_TOTP_ENROLMENT: &[(&str, &str)] = &[
    ("GET", "/v1/customer"),
    ("POST", "/v1/customer/totp"),
    ("POST", "/v1/customer/totp/confirm"),
    ("DELETE", "/v1/customer/totp"),
    ("POST", "/v1/auth/logout"),
];

/// Whether `method path` (a route template, as matched) is in `list`.
pub fn listed(list: &[(&str, &str)], method: &str, path: &str) -> bool {
    list.iter().any(|(m, p)| *m == method && *p == path)
}

/// The roles a matrix column is shown for (notify-only contacts cannot log in at all).
pub const MATRIX_ROLES: [Role; 5] = [Role::Root, Role::Admin, Role::Manager, Role::User, Role::Viewer];

/// `docs/permissions.md`, generated from [`ROUTES`] and the policy table.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Permissions\n\n\
         Generated from `crates/roster-server/src/http/permissions.rs` and `crates/roster-core/src/policy.rs`;\n\
         a test fails when this file and the code disagree (regenerate with\n\
         `ROSTER_WRITE_PERMISSIONS_DOC=1 cargo test -p roster-server permissions`).\n\n\
         Roles, most to least: `root` (owner; aliases `owner`), `admin`, `manager` (alias `edit`),\n\
         `user` (aliases `member`, `agent`), `viewer` (alias `view`), `notify` (receives notifications,\n\
         cannot log in or call the API). An API key may do what both its scopes and its creator's\n\
         current role allow. Anything in another organization answers 404, exactly like something\n\
         that does not exist.\n\n\
         | route | scope | root | admin | manager | user | viewer | why |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in ROUTES {
        let (scope, cells, why) = match r.access {
            Access::Public => ("—".to_owned(), vec!["public"; MATRIX_ROLES.len()], "no credentials needed".to_owned()),
            Access::Authenticated => {
                ("—".to_owned(), vec!["yes"; MATRIX_ROLES.len()], "any valid credential".to_owned())
            }
            Access::Action(a) => (
                format!("`{}`", a.scope()),
                MATRIX_ROLES.iter().map(|role| if a.allows(*role) { "yes" } else { "no" }).collect(),
                a.why().to_owned(),
            ),
        };
        out.push_str(&format!("| `{} {}` | {scope} | {} | {why} |\n", r.method, r.path, cells.join(" | ")));
    }
    out.push_str(
        "\nRules about the particular object, enforced in `roster_core::policy` on top of this table:\n\n\
         - A manager manages only the teams they belong to; admins and owners manage every team.\n\
         - Nobody acts on a person whose role is above their own, and only an owner acts on an owner.\n\
         - Nobody grants a role above their own; ownership moves only by the two-step transfer.\n\
         - An organization always keeps at least one owner.\n\n\
         Isolation between organizations is proven by `crates/roster-server/tests/api/isolation.rs`,\n\
         on SQLite and PostgreSQL. It builds a second organization with one real object of every kind\n\
         (people, team, invitation, personal and team channels, service, domain, deliveries, alert,\n\
         API key) and calls every route above that takes an id with those ids: the first\n\
         organization's owner, an admin and an API key with every scope must get 404 `NOT_FOUND`, and\n\
         its lower roles exactly what an id that does not exist gets; a route with two ids is also\n\
         called with the caller's own outer object. Every id a body or query carries (each UUID field\n\
         in `/openapi.json`) must answer as an absent id. The second organization must then read\n\
         exactly as before, and the first organization's own ids must be found. A route whose id the\n\
         walk cannot map to a kind of object fails it. Routes whose parameter is a secret token\n\
         (invitation answers, unsubscribe links) are not walked: a token names no organization.\n",
    );
    let list = |title: &str, routes: &[(&str, &str)]| {
        let routes: Vec<String> = routes.iter().map(|(m, p)| format!("- `{m} {p}`\n")).collect();
        format!("\n{title}\n\n{}", routes.concat())
    };
    out.push_str(&list(
        "Sensitive actions: a login session that proved its password or second factor within\n\
         `reauthentication_window_secs` (10 minutes by default; a login counts, and\n\
         `POST /v1/auth/reauthenticate` renews it), else 403 `REAUTHENTICATION_REQUIRED`.\n\
         API keys never take them.",
        FRESH_CONFIRMATION,
    ));
    out.push_str(&list(
        "While the organization requires a second factor that the caller has not enrolled, their\n\
         sessions and API keys reach only these routes; anything else is 403 `TOTP_ENROLMENT_REQUIRED`.",
        DURING_TOTP_ENROLMENT,
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn permissions_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md");
        let generated = super::markdown();
        if std::env::var("ROSTER_WRITE_PERMISSIONS_DOC").is_ok() {
            std::fs::write(path, &generated).unwrap();
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(current == generated, "docs/permissions.md is stale: regenerate it (see its first lines)");
    }
}
