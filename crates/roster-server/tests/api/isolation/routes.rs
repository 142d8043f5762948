//! The route tables of the isolation walk: what each path parameter names, which
//! ids travel in bodies and queries, and a request each route would accept.

use super::world::{Kind, World};
use crate::helpers::*;
use roster_server::http::permissions::{RouteRule, ROUTES};
use serde_json::{json, Value};

/// Public routes whose parameter is a secret token, not an object's id: a token
/// names no organization to cross into, and what each one opens is proven by
/// the tests of those routes (invitations/answer.rs, channels/unsubscribe.rs).
pub(super) const TOKEN_ROUTES: [(&str, &str); 5] = [
    ("GET", "/v1/invitations/{token}"),
    ("POST", "/v1/invitations/{token}/accept"),
    ("POST", "/v1/invitations/{token}/decline"),
    ("GET", "/v1/unsubscribe/{token}"),
    ("POST", "/v1/unsubscribe/{token}"),
];

/// Where a request carries an id other than in its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum At {
    Body,
    Query,
}

/// Every id carried in a body or a query: (method, route, where, field, what it names).
/// The walk fails when `/openapi.json` documents a UUID field missing here.
pub(super) const ID_INPUTS: &[(&str, &str, At, &str, Kind)] = &[
    ("GET", "/v1/audit-events", At::Query, "actor", Kind::Customer),
    ("GET", "/v1/audit-events", At::Query, "target", Kind::Any),
    ("PATCH", "/v1/team/{id}/member/{memberId}", At::Body, "new_team_id", Kind::Team),
    ("DELETE", "/v1/team/{id}/invitation", At::Body, "channel_value", Kind::Invitation),
    ("POST", "/v1/team/{id}/invitation/reminder", At::Body, "channel_value", Kind::Invitation),
    ("POST", "/v1/organization/ownership-transfer", At::Body, "customer_id", Kind::Customer),
    ("DELETE", "/v1/team-domains", At::Body, "id", Kind::Domain),
    ("POST", "/v1/service", At::Body, "team_id", Kind::Team),
    ("GET", "/v1/services", At::Query, "team_id", Kind::Team),
    ("PUT", "/v1/service/{id}", At::Body, "team_id", Kind::Team),
    ("PATCH", "/v1/customer/{id}/notification-channel", At::Body, "fallback_channel_id", Kind::Channel),
    ("PATCH", "/v1/team/{id}/notification-channel", At::Body, "fallback_channel_id", Kind::Channel),
    ("GET", "/v1/deliveries", At::Query, "channel", Kind::Channel),
    ("GET", "/v1/deliveries", At::Query, "alert", Kind::Alert),
    ("POST", "/v1/team/{id}/notify", At::Body, "service_id", Kind::Service),
    ("POST", "/v1/customer/{id}/notify", At::Body, "service_id", Kind::Service),
];

pub(super) fn rule_of(m: &str, path: &str) -> &'static RouteRule {
    ROUTES.iter().find(|r| r.method == m && r.path == path).unwrap_or_else(|| panic!("{m} {path} is not a route"))
}

pub(super) fn takes_id(rule: &RouteRule) -> bool {
    rule.path.contains('{') && !TOKEN_ROUTES.contains(&(rule.method, rule.path))
}

/// What the path parameter after `segment` names; a new kind of id fails the walk here.
fn kind_after(segment: &str, rule: &RouteRule) -> Kind {
    match segment {
        "customer" => Kind::Customer,
        "members" => Kind::Person,
        "member" => Kind::TeamMember,
        "team" => Kind::Team,
        "api-keys" => Kind::ApiKey,
        "service" | "team-service" => Kind::Service,
        "deliveries" => Kind::Delivery,
        _ => panic!(
            "{} {}: no kind of object is known for the id after `{segment}`: teach the isolation walk",
            rule.method, rule.path
        ),
    }
}

/// The kinds of a route's path parameters, in order.
pub(super) fn path_kinds(rule: &RouteRule) -> Vec<Kind> {
    let segments: Vec<&str> = rule.path.split('/').collect();
    segments.windows(2).filter(|w| w[1].starts_with('{')).map(|w| kind_after(w[0], rule)).collect()
}

/// The route's path with its parameters replaced by `ids`, in order.
pub(super) fn fill(path: &str, ids: &[String]) -> String {
    let mut ids = ids.iter();
    let segments: Vec<&str> =
        path.split('/').map(|s| if s.starts_with('{') { ids.next().unwrap().as_str() } else { s }).collect();
    segments.join("/")
}

/// Every filling of the path parameters with A's own ids for the first `split`
/// and each of B's ids for the rest.
pub(super) fn fillings(kinds: &[Kind], split: usize, a: &World, b: &World) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for (i, kind) in kinds.iter().enumerate() {
        let choices = if i < split { vec![a.own(*kind)] } else { b.ids(*kind) };
        out = out.iter().flat_map(|ids| choices.iter().map(move |c| [ids.clone(), vec![c.clone()]].concat())).collect();
    }
    out
}

/// The route's path after a customer's or a team's prefix, where the channel, alert
/// and team routes are the same for both owners; other routes' whole path.
fn local(rule: &RouteRule) -> &'static str {
    let prefixes = ["/v1/customer/{id}/", "/v1/team/{id}/"];
    prefixes.iter().find_map(|p| rule.path.strip_prefix(p)).unwrap_or(rule.path)
}

/// A request the route would accept for `w`'s objects: its body and its query.
/// Every write route that takes an id needs one here, or the walk fails.
fn request(rule: &RouteRule, w: &World) -> Option<(Option<Value>, &'static str)> {
    let body = |v: Value| Some((Some(v), ""));
    match (rule.method, local(rule)) {
        ("GET", _) => Some((None, "")),
        ("POST", "notification-channel") => body(json!({ "type": "email", "value": fresh_address("walk") })),
        ("PUT", "notification-channel") => body(json!({ "priority": 1, "value": fresh_address("walk") })),
        ("PATCH", "notification-channel") => body(json!({ "priority": 1, "mute": true })),
        ("DELETE", "notification-channel") => Some((None, "?priority=1")),
        ("PATCH", "notification-channel/verification") => body(json!({ "priority": 1, "code": "123456" })),
        ("POST", "notification-channel/verification/resend" | "notification-channel/test") => {
            body(json!({ "priority": 1 }))
        }
        ("POST", "notification-channel/signing-secret") => body(json!({ "priority": 1 })),
        ("PUT", "notification-channel/enabled") => body(json!({ "priority": 1, "enabled": false })),
        ("PUT", "notification-channels/order") => body(json!({ "priorities": [1] })),
        ("POST", "notify") => body(json!({ "event": "down", "title": "walk", "message": "across organizations" })),
        ("DELETE", "/v1/api-keys/{id}") => Some((None, "")),
        ("PUT", "/v1/team/{id}") => body(json!({ "name": format!("Renamed {}", uuid::Uuid::new_v4().simple()) })),
        ("DELETE", "/v1/team/{id}") => Some((None, "?cascade=true")),
        ("DELETE", "member/{memberId}") => Some((None, "")),
        ("PATCH", "member/{memberId}") => body(json!({ "role": "viewer" })),
        ("POST", "invitation") => {
            body(json!({ "channel_type": "email", "channel_value": fresh_address("walk"), "role": "user" }))
        }
        ("DELETE", "invitation") | ("POST", "invitation/reminder") => body(json!({ "channel_value": w.invited })),
        ("DELETE", "/v1/members/{id}") => Some((None, "")),
        ("PUT", "/v1/members/{id}/active") => body(json!({ "is_active": false })),
        ("PUT", "/v1/service/{id}") => body(json!({ "name": "renamed" })),
        ("DELETE", "/v1/service/{id}") => Some((None, "")),
        ("POST", "/v1/deliveries/{id}/retry") => Some((None, "")),
        // Routes without a path id whose body carries one (`ID_INPUTS`).
        ("POST", "/v1/service") => body(json!({ "name": "walk", "team_id": w.owner.team_id })),
        ("DELETE", "/v1/team-domains") => body(json!({ "id": w.domain })),
        ("POST", "/v1/organization/ownership-transfer") => body(json!({ "customer_id": w.member.customer_id })),
        _ => None,
    }
}

pub(super) fn request_for(rule: &RouteRule, w: &World) -> (Option<Value>, &'static str) {
    request(rule, w).unwrap_or_else(|| {
        panic!("{} {}: no request is known for this route: add one to the isolation walk", rule.method, rule.path)
    })
}

/// The refusals the control expects from writes to A's own objects, each for what an
/// earlier write of the control did or for what the object is; every other write succeeds.
pub(super) fn own_refusal(rule: &RouteRule) -> Option<u16> {
    match (rule.method, local(rule)) {
        // The code is made up.
        ("PATCH", "notification-channel/verification") => Some(422),
        // The channel was muted by the PATCH before.
        ("POST", "notification-channel/test") => Some(409),
        // The POST before added a second channel, which the order leaves out.
        ("PUT", "notification-channels/order") => Some(422),
        // Only webhooks sign, and the channel is an email channel.
        ("POST", "notification-channel/signing-secret") => Some(422),
        // Muted and then disabled: nothing would hear of the alert (`UNREACHABLE`).
        ("POST", "notify") => Some(409),
        // The invitation was sent less than an hour ago.
        ("POST", "invitation/reminder") => Some(429),
        // The delivery was sent, not failed.
        ("POST", "/v1/deliveries/{id}/retry") => Some(409),
        _ => None,
    }
}
