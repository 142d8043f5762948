//! `/v1/service`, `/v1/services` and `/v1/team-service`: services owned by
//! teams, who may manage them, the plan's limit, and tenant isolation.

use crate::api_keys::assert_invalid;
use crate::helpers::*;
use roster_core::ids::TeamId;
use roster_core::role::Role;
use serde_json::{json, Value};

async fn create(app: &TestApp, token: &str, name: &str, team: TeamId) -> Resp {
    app.post("/v1/service", Some(token), json!({ "name": name, "team_id": team.to_string() })).await
}

/// Creates a service that must succeed, answering it.
async fn created(app: &TestApp, token: &str, name: &str, team: TeamId) -> Value {
    let r = create(app, token, name, team).await;
    r.assert(201, None);
    r.body.clone()
}

fn path_of(service: &Value) -> String {
    format!("/v1/service/{}", service["service_id"].as_str().unwrap())
}

fn detail_of(service: &Value) -> String {
    format!("/v1/team-service/{}", service["service_id"].as_str().unwrap())
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/v1/services{query}"), token).await;
    r.assert(200, None);
    r.body.clone()
}

async fn services_used(app: &TestApp, token: &str) -> Value {
    app.get("/v1/customer", token).await.body["limits"]["services"]["used"].clone()
}

dual_test! {
    async fn services_are_created_read_listed_renamed_and_deleted(app) {
        let owner = app.signup().await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        assert_eq!(services_used(&app, &owner.token).await, 0);

        let r = create(&app, &owner.token, "  Checkout API ", owner.team_id).await;
        r.assert(201, None);
        let s = r.body.clone();
        assert!(s["service_id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok(), "{}", r.text);
        assert_eq!(s["name"], "Checkout API", "names are trimmed");
        assert_eq!(s["team_id"], owner.team_id.to_string());
        assert_eq!((s["resource_count"].as_i64(), s["heartbeat_count"].as_i64()), (Some(0), Some(0)));
        assert_eq!(time_of(&s["created_at"]), time_of(&s["updated_at"]));
        let second = created(&app, &owner.token, "Billing", owner.team_id).await;
        assert_eq!(services_used(&app, &viewer.token).await, 2, "usage counts the organization's services");
        let org = app.get("/v1/organization", &owner.token).await;
        assert_eq!(org.body["limits"]["services"]["used"], 2);

        let detail = app.get(&detail_of(&s), &viewer.token).await;
        detail.assert(200, None);
        assert_eq!(detail.body, s, "everyone in the organization reads a service");
        let all = list(&app, &viewer.token, "").await;
        assert_eq!(all, json!({ "data": [s, second], "has_more": false, "total_count": 2 }));
        let page = list(&app, &viewer.token, "?limit=1&offset=1").await;
        assert_eq!(page, json!({ "data": [second], "has_more": false, "total_count": 2 }));
        assert_eq!(list(&app, &viewer.token, &format!("?team_id={}&limit=1", owner.team_id)).await["has_more"], true);

        let r = app.put(&path_of(&s), &owner.token, json!({ "name": "Checkout" })).await;
        r.assert(200, None);
        assert_eq!(r.body["name"], "Checkout");
        assert_eq!(r.body["team_id"], owner.team_id.to_string(), "without team_id the team stays");
        assert_eq!(r.body["created_at"], s["created_at"]);
        assert!(time_of(&r.body["updated_at"]) >= time_of(&s["updated_at"]));
        assert_eq!(app.get(&detail_of(&s), &owner.token).await.body, r.body);

        let r = app.delete(&path_of(&s), &owner.token, None).await;
        r.assert(200, None);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
        app.get(&detail_of(&s), &owner.token).await.assert(404, Some("NOT_FOUND"));
        app.delete(&path_of(&s), &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        app.put(&path_of(&s), &owner.token, json!({ "name": "Back" })).await.assert(404, Some("NOT_FOUND"));
        assert_eq!(list(&app, &owner.token, "").await["data"], json!([second]));
        assert_eq!(services_used(&app, &owner.token).await, 1);

        let id: uuid::Uuid = s["service_id"].as_str().unwrap().parse().unwrap();
        let events: Vec<_> = app.store.audit_events_for_target(id).await.unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(events, ["service.created", "service.updated", "service.deleted"]);
    }
}

dual_test! {
    async fn service_input_is_validated(app) {
        let owner = app.signup().await;
        let s = created(&app, &owner.token, "Checkout", owner.team_id).await;
        let team = owner.team_id.to_string();
        let post = |body: Value| app.post("/v1/service", Some(&owner.token), body);

        assert_invalid(&post(json!({})).await, "name", "required");
        assert_invalid(&post(json!({ "name": "Checkout" })).await, "team_id", "required");
        assert_invalid(&post(json!({ "name": "", "team_id": team })).await, "name", "required");
        assert_invalid(&post(json!({ "name": "x".repeat(256), "team_id": team })).await, "name", "too_long");
        assert_invalid(&post(json!({ "name": "Checkout", "team_id": "team_1" })).await, "team_id", "invalid_id");
        let r = post(json!({ "name": "", "team_id": "team_1" })).await;
        assert_eq!(r.error_fields(), ["name", "team_id"], "every bad field is named at once");
        let r = post(json!({ "name": "Checkout", "team_id": team, "resource_count": 5 })).await;
        assert_invalid(&r, "resource_count", "unknown_field");

        let path = path_of(&s);
        assert_invalid(&app.put(&path, &owner.token, json!({})).await, "name", "required");
        assert_invalid(&app.put(&path, &owner.token, json!({ "name": "  " })).await, "name", "required");
        assert_invalid(&app.put(&path, &owner.token, json!({ "name": "Ok", "team_id": "nope" })).await, "team_id", "invalid_id");
        assert_invalid(&app.put(&path, &owner.token, json!({ "name": "Ok", "heartbeat_count": 1 })).await, "heartbeat_count", "unknown_field");
        assert_invalid(&app.put("/v1/service/svc-1", &owner.token, json!({ "name": "Ok" })).await, "id", "invalid_id");
        assert_invalid(&app.delete("/v1/service/svc-1", &owner.token, None).await, "id", "invalid_id");
        assert_invalid(&app.get("/v1/team-service/svc-1", &owner.token).await, "id", "invalid_id");
        assert_invalid(&app.get("/v1/services?team_id=team_1", &owner.token).await, "team_id", "invalid_id");
        assert_invalid(&app.get("/v1/services?limit=101", &owner.token).await, "limit", "out_of_range");

        assert_eq!(list(&app, &owner.token, "").await["data"], json!([s]), "nothing was created or changed");
    }
}

dual_test! {
    async fn the_plan_limits_services(app) {
        let app = TestApp::spawn_with(app.backend, |c| c.plans.get_mut("free").unwrap().services = 1).await.unwrap();
        let owner = app.signup().await;
        let s = created(&app, &owner.token, "Checkout", owner.team_id).await;
        let r = create(&app, &owner.token, "Billing", owner.team_id).await;
        r.assert(403, Some("PLAN_LIMIT_REACHED"));
        assert!(r.body["detail"].as_str().unwrap().contains("1 services"), "{}", r.text);
        assert_eq!(list(&app, &owner.token, "").await["total_count"], 1);
        assert_eq!(app.get("/v1/customer", &owner.token).await.body["limits"]["services"], json!({ "limit": 1, "used": 1 }));
        // Deleting one makes room again.
        app.delete(&path_of(&s), &owner.token, None).await.assert(200, None);
        created(&app, &owner.token, "Billing", owner.team_id).await;
    }
}

dual_test! {
    async fn managers_manage_only_their_teams_services(app) {
        let owner = app.signup().await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let user = app.add_member(&owner, Role::User).await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let other_team = app.create_team(&owner.token, "Payments").await;

        // Their own team (the owner's first team, which add_member joined them to): allowed.
        let mine = created(&app, &manager.token, "Checkout", owner.team_id).await;
        app.put(&path_of(&mine), &manager.token, json!({ "name": "Checkout v2" })).await.assert(200, None);
        // A team they are not in: refused, whatever the service.
        create(&app, &manager.token, "Ledger", other_team).await.assert(403, Some("FORBIDDEN"));
        let theirs = created(&app, &admin.token, "Ledger", other_team).await;
        app.put(&path_of(&theirs), &manager.token, json!({ "name": "Mine now" })).await.assert(403, Some("FORBIDDEN"));
        app.delete(&path_of(&theirs), &manager.token, None).await.assert(403, Some("FORBIDDEN"));
        let r = app.put(&path_of(&mine), &manager.token, json!({ "name": "Moved", "team_id": other_team.to_string() })).await;
        r.assert(403, Some("FORBIDDEN"));
        let r = app.put(&path_of(&theirs), &manager.token, json!({ "name": "Moved", "team_id": owner.team_id.to_string() })).await;
        r.assert(403, Some("FORBIDDEN"));
        // Below manager: reading only.
        create(&app, &user.token, "Nope", owner.team_id).await.assert(403, Some("FORBIDDEN"));
        app.delete(&path_of(&mine), &user.token, None).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(list(&app, &user.token, "").await["total_count"], 2);

        let all = list(&app, &owner.token, "").await;
        assert_eq!(all["data"][0]["name"], "Checkout v2");
        assert_eq!(all["data"][0]["team_id"], owner.team_id.to_string());
        assert_eq!(all["data"][1], theirs, "refused requests changed nothing");
        app.delete(&path_of(&mine), &manager.token, None).await.assert(200, None);
    }
}

dual_test! {
    async fn a_service_moves_to_another_team(app) {
        let owner = app.signup().await;
        let second_team = app.create_team(&owner.token, "Payments").await;
        let s = created(&app, &owner.token, "Checkout", owner.team_id).await;
        let other = created(&app, &owner.token, "Billing", owner.team_id).await;
        assert_eq!(list(&app, &owner.token, &format!("?team_id={second_team}")).await["total_count"], 0);

        let r = app.put(&path_of(&s), &owner.token, json!({ "name": "Checkout", "team_id": second_team.to_string() })).await;
        r.assert(200, None);
        assert_eq!(r.body["team_id"], second_team.to_string());
        assert_eq!(app.get(&detail_of(&s), &owner.token).await.body["team_id"], second_team.to_string());
        assert_eq!(list(&app, &owner.token, &format!("?team_id={second_team}")).await["data"], json!([r.body]));
        assert_eq!(list(&app, &owner.token, &format!("?team_id={}", owner.team_id)).await["data"], json!([other]));
        assert_eq!(list(&app, &owner.token, "").await["total_count"], 2);
    }
}

dual_test! {
    async fn another_organizations_services_and_teams_are_not_found(app) {
        let owner = app.signup().await;
        let stranger = app.signup().await;
        let theirs = created(&app, &stranger.token, "Their API", stranger.team_id).await;
        let mine = created(&app, &owner.token, "My API", owner.team_id).await;
        let random = json!({ "service_id": uuid::Uuid::now_v7().to_string() });

        for target in [&theirs, &random] {
            app.get(&detail_of(target), &owner.token).await.assert(404, Some("NOT_FOUND"));
            app.put(&path_of(target), &owner.token, json!({ "name": "Taken" })).await.assert(404, Some("NOT_FOUND"));
            app.delete(&path_of(target), &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        }
        let foreign = app.get(&detail_of(&theirs), &owner.token).await;
        assert_eq!(foreign.body, app.get(&detail_of(&random), &owner.token).await.body, "indistinguishable from none");

        for team in [stranger.team_id, TeamId::new()] {
            create(&app, &owner.token, "Sneaky", team).await.assert(404, Some("NOT_FOUND"));
            app.get(&format!("/v1/services?team_id={team}"), &owner.token).await.assert(404, Some("NOT_FOUND"));
            let r = app.put(&path_of(&mine), &owner.token, json!({ "name": "Moved", "team_id": team.to_string() })).await;
            r.assert(404, Some("NOT_FOUND"));
        }
        // A manager gets 404 too, never 403, for what is not there.
        let manager = app.add_member(&owner, Role::Manager).await;
        app.put(&path_of(&theirs), &manager.token, json!({ "name": "Taken" })).await.assert(404, Some("NOT_FOUND"));
        create(&app, &manager.token, "Sneaky", stranger.team_id).await.assert(404, Some("NOT_FOUND"));

        assert_eq!(list(&app, &owner.token, "").await["data"], json!([mine]), "each organization lists its own");
        assert_eq!(list(&app, &stranger.token, "").await["data"], json!([theirs]), "and nothing of theirs changed");
    }
}
