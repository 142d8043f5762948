//! Object-level isolation, walked over HTTP. Organization B is built with one
//! real object of every kind; then every route in
//! `roster_server::http::permissions::ROUTES` that takes an id is called by
//! organization A's owner, an admin and an API key holding every scope, with
//! B's ids in the path, and must answer 404 `NOT_FOUND` (A's lower roles: exactly
//! what an id that does not exist answers); every id carried in a body or a
//! query must answer exactly as an id that does not exist; and B must read the
//! same afterwards. As a control, A's own ids are found.

mod routes;
mod world;

use crate::helpers::*;
use reqwest::Method;
use roster_core::role::Role;
use roster_server::http::permissions::{Access, RouteRule, ROUTES};
use routes::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use world::{Kind, World};

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

/// Who in A calls a route: whoever of A's people and the owner's API key with every
/// scope passes the route's role check. The owner, an admin and the key pass every
/// role check, so they must be told 404; the lower roles (`strict` false) may be
/// refused otherwise, but exactly as for an id that does not exist.
struct Principal<'a> {
    who: &'static str,
    token: &'a str,
    strict: bool,
}

fn principals<'a>(rule: &RouteRule, a: &'a World) -> Vec<Principal<'a>> {
    let all = [
        ("owner", Role::Root, &a.owner, true),
        ("admin", Role::Admin, &a.admin, true),
        ("manager", Role::Manager, &a.manager, false),
        ("user", Role::User, &a.member, false),
        ("viewer", Role::Viewer, &a.viewer, false),
    ];
    let people = all.into_iter().map(|(who, role, acc, strict)| (who, role, acc.token.as_str(), strict));
    let out: Vec<_> = people
        .chain([("API key", Role::Root, a.key.as_str(), true)])
        .filter(|(_, role, _, _)| match rule.access {
            Access::Action(action) => action.allows(*role),
            Access::Public | Access::Authenticated => true,
        })
        .map(|(who, _, token, strict)| Principal { who, token, strict })
        .collect();
    assert!(out.iter().any(|p| p.strict), "{} {}: neither A's owner nor its admin may call it", rule.method, rule.path);
    out
}

/// The request with `value` in the place `at`/`field`.
fn with_input(
    path: &str,
    query: &str,
    body: &Option<Value>,
    at: At,
    field: &str,
    value: &str,
) -> (String, Option<Value>) {
    match at {
        At::Query => {
            let sep = if query.is_empty() { '?' } else { '&' };
            (format!("{path}{query}{sep}{field}={value}"), body.clone())
        }
        At::Body => {
            let mut body =
                body.clone().unwrap_or_else(|| panic!("{path}: `{field}` goes in a body, but none is known"));
            body[field] = json!(value);
            (format!("{path}{query}"), Some(body))
        }
    }
}

/// Two answers a caller cannot tell apart: the same status and problem code and
/// fields, and for a success the same body.
fn assert_alike(foreign: &Resp, absent: &Resp, what: &str) {
    let summary = |r: &Resp| (r.status, r.code().to_owned(), r.error_fields());
    assert_eq!(summary(foreign), summary(absent), "{what}: B's id {} / absent id {}", foreign.text, absent.text);
    if foreign.status.is_success() {
        assert_eq!(foreign.body, absent.body, "{what}: the answers differ");
    }
}

dual_test! {
    async fn another_organizations_ids_are_not_found_anywhere(app) {
        let a = World::build(&app).await;
        let b = World::build(&app).await;
        let before = b.snapshot(&app).await;

        // B's ids in every path: 404, whoever in A asks. Where a route takes two ids,
        // also A's own outer object with B's inner one.
        for rule in ROUTES.iter().filter(|r| takes_id(r)) {
            let kinds = path_kinds(rule);
            let (body, query) = request_for(rule, &b);
            for split in 0..kinds.len() {
                for ids in fillings(&kinds, split, &a, &b) {
                    let path = format!("{}{query}", fill(rule.path, &ids));
                    let absent: Vec<String> = ids
                        .iter()
                        .enumerate()
                        .map(|(i, id)| if i < split { id.clone() } else { uuid::Uuid::now_v7().to_string() })
                        .collect();
                    let absent = format!("{}{query}", fill(rule.path, &absent));
                    for p in principals(rule, &a) {
                        let what = format!("{} {path} as A's {}", rule.method, p.who);
                        let foreign = app.call(method(rule.method), &path, Some(p.token), body.clone()).await;
                        let missing = app.call(method(rule.method), &absent, Some(p.token), body.clone()).await;
                        if p.strict {
                            assert_eq!(foreign.status, 404, "{what}: {}", foreign.text);
                            foreign.assert(404, Some("NOT_FOUND"));
                        }
                        assert_alike(&foreign, &missing, &what);
                    }
                }
            }
        }

        // B's ids in bodies and queries, next to A's own objects in the path: answered
        // exactly as an id that does not exist, and never a successful write.
        for &(m, route, at, field, kind) in ID_INPUTS {
            let rule = rule_of(m, route);
            let own: Vec<String> = path_kinds(rule).into_iter().map(|k| a.own(k)).collect();
            let path = fill(rule.path, &own);
            let (body, query) = request_for(rule, &a);
            let absent = match kind {
                Kind::Invitation => fresh_address("absent"),
                _ => uuid::Uuid::now_v7().to_string(),
            };
            for value in b.ids(kind) {
                for p in principals(rule, &a) {
                    let (foreign_path, foreign_body) = with_input(&path, query, &body, at, field, &value);
                    let foreign = app.call(method(m), &foreign_path, Some(p.token), foreign_body).await;
                    let (absent_path, absent_body) = with_input(&path, query, &body, at, field, &absent);
                    let missing = app.call(method(m), &absent_path, Some(p.token), absent_body).await;
                    let what = format!("{m} {foreign_path} with B's `{field}` as A's {}", p.who);
                    assert_alike(&foreign, &missing, &what);
                    assert!(m == "GET" || !foreign.status.is_success(), "{what}: {}", foreign.text);
                }
            }
        }

        // B reads exactly as before: nothing of it was changed by A.
        for ((path, was), (_, is)) in before.iter().zip(b.snapshot(&app).await.iter()) {
            assert_eq!(was, is, "B's {path} changed during the walk");
        }

        // The control: A's own ids are found by every route that reads…
        for rule in ROUTES.iter().filter(|r| takes_id(r) && r.method == "GET") {
            let own: Vec<String> = path_kinds(rule).into_iter().map(|k| a.own(k)).collect();
            app.get(&fill(rule.path, &own), &a.owner.token).await.assert(200, None);
        }
        // …and every route that writes acts on them. The writes run in turn on one
        // organization, deletions last and the team's own after everything in it.
        let mut writes: Vec<&RouteRule> = ROUTES.iter().filter(|r| takes_id(r) && r.method != "GET").collect();
        writes.sort_by_key(|r| (r.method == "DELETE", r.method == "DELETE" && r.path == "/v1/team/{id}"));
        for rule in writes {
            let own: Vec<String> = path_kinds(rule).into_iter().map(|k| a.own(k)).collect();
            let (body, query) = request_for(rule, &a);
            let path = format!("{}{query}", fill(rule.path, &own));
            let r = app.call(method(rule.method), &path, Some(&a.owner.token), body).await;
            match own_refusal(rule) {
                Some(status) => assert_eq!(r.status, status, "{} {path} on A's own objects: {}", rule.method, r.text),
                None => assert!(r.status.is_success(), "{} {path} on A's own objects: {}", rule.method, r.text),
            }
        }
    }
}

dual_test! {
    async fn every_id_a_request_carries_is_walked(app) {
        let r = app.call(Method::GET, "/openapi.json", None, None).await;
        r.assert(200, None);
        let doc = &r.body;
        let schema = |s: &Value| -> Value {
            match s["$ref"].as_str() {
                Some(reference) => doc["components"]["schemas"][reference.rsplit('/').next().unwrap()].clone(),
                None => s.clone(),
            }
        };
        let is_uuid = |s: &Value| {
            s["format"] == "uuid" || s["oneOf"].as_array().is_some_and(|v| v.iter().any(|o| schema(o)["format"] == "uuid"))
        };
        let mut documented = BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (m, op) in ops.as_object().unwrap() {
                let m = m.to_uppercase();
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "query" && is_uuid(&p["schema"]) {
                        documented.insert((m.clone(), path.clone(), p["name"].as_str().unwrap().to_owned()));
                    }
                    if p["in"] == "path" {
                        let rule = rule_of(&m, path);
                        if takes_id(rule) {
                            path_kinds(rule);
                        } else {
                            assert!(rule.access == Access::Public, "{m} {path}: a token parameter on a route that needs credentials");
                        }
                    }
                }
                let body = schema(&op["requestBody"]["content"]["application/json"]["schema"]);
                for (field, s) in body["properties"].as_object().into_iter().flatten() {
                    if is_uuid(s) {
                        documented.insert((m.clone(), path.clone(), field.clone()));
                    }
                }
            }
        }
        let walked: BTreeSet<_> = ID_INPUTS
            .iter()
            .filter(|input| input.4 != Kind::Invitation)
            .map(|(m, path, _, field, _)| (m.to_string(), path.to_string(), field.to_string()))
            .collect();
        let missing: Vec<_> = documented.difference(&walked).collect();
        assert!(missing.is_empty(), "ids documented in requests but not walked (add them to ID_INPUTS): {missing:?}");
        // An invitation is named by its address; every other id is documented as a UUID.
        let undocumented: Vec<_> = walked.difference(&documented).collect();
        assert!(undocumented.is_empty(), "ids walked but not documented with `format: uuid`: {undocumented:?}");
        for (m, path) in TOKEN_ROUTES {
            assert!(rule_of(m, path).access == Access::Public, "{m} {path} is skipped as a public token route");
        }
    }
}
