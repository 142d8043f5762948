//! `/v1/team…`: creating, listing, renaming and deleting teams, their members,
//! changing a member's role or team, and the rules that guard them.

use crate::api_keys::assert_invalid;
use crate::helpers::*;
use roster_core::ids::CustomerId;
use roster_core::role::Role;
use serde_json::{json, Value};

pub(crate) fn member_path(team: impl std::fmt::Display, member: CustomerId) -> String {
    format!("/v1/team/{team}/member/{member}")
}

/// Every page of a list, in order.
pub(crate) async fn all(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = app.get(&format!("{path}{sep}limit=100"), token).await;
    r.assert(200, None);
    assert_eq!(r.body["has_more"], false, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

/// The customer ids of a team's members, in the order they joined.
pub(crate) async fn team_member_ids(app: &TestApp, token: &str, team: impl std::fmt::Display) -> Vec<String> {
    let members = all(app, &format!("/v1/team/{team}/members"), token).await;
    members.iter().map(|m| m["customer_id"].as_str().unwrap().to_owned()).collect()
}

/// A person's row in `GET /v1/members`.
pub(crate) async fn person(app: &TestApp, token: &str, id: CustomerId) -> Value {
    let people = all(app, "/v1/members", token).await;
    people.into_iter().find(|p| p["id"] == id.to_string()).unwrap_or_else(|| panic!("{id} is not listed"))
}

pub(crate) async fn role_of(app: &TestApp, token: &str, id: CustomerId) -> String {
    person(app, token, id).await["role"].as_str().unwrap().to_owned()
}

dual_test! {
    async fn teams_are_created_listed_renamed_and_deleted(app) {
        let owner = app.signup().await;
        let r = app.post("/v1/team", Some(&owner.token), json!({ "name": "  Platform " })).await;
        r.assert(201, None);
        let id = r.body["team_id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["name"], "Platform", "names are trimmed");
        assert_eq!(r.body["member_count"], 0, "the creator is not made a member");
        assert_eq!(time_of(&r.body["created_at"]), time_of(&r.body["updated_at"]));

        let r = app.get("/v1/teams", &owner.token).await;
        r.assert(200, None);
        assert_eq!(r.body["total_count"], 2);
        assert_eq!(r.body["has_more"], false);
        let teams = r.body["data"].as_array().unwrap();
        assert_eq!(teams[0]["team_id"], owner.team_id.to_string());
        assert_eq!(teams[0]["member_count"], 1);
        assert_eq!(teams[1]["team_id"], id);
        assert_eq!(teams[1]["name"], "Platform");
        assert!(team_member_ids(&app, &owner.token, &id).await.is_empty());

        let r = app.put(&format!("/v1/team/{id}"), &owner.token, json!({ "name": "Platform SRE" })).await;
        r.assert(200, None);
        assert_eq!(r.body["team_id"], id);
        assert_eq!(r.body["name"], "Platform SRE");
        assert!(time_of(&r.body["updated_at"]) >= time_of(&r.body["created_at"]));
        let listed = all(&app, "/v1/teams", &owner.token).await;
        assert_eq!(listed[1]["name"], "Platform SRE", "the rename is read back");

        let r = app.delete(&format!("/v1/team/{id}"), &owner.token, None).await;
        r.assert(200, None);
        assert_eq!(r.body["deleted_services"], 0);
        assert!(r.body["message"].is_string());
        let listed = all(&app, "/v1/teams", &owner.token).await;
        assert_eq!(listed.len(), 1);
        app.put(&format!("/v1/team/{id}"), &owner.token, json!({ "name": "Again" })).await.assert(404, Some("NOT_FOUND"));
        app.delete(&format!("/v1/team/{id}"), &owner.token, None).await.assert(404, Some("NOT_FOUND"));

        let audit = app.store.audit_events_for_target(id.parse().unwrap()).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["team.created", "team.renamed", "team.deleted"]);
        assert!(audit.iter().all(|e| e.actor_id == Some(owner.customer_id.0)));
        assert_eq!(audit[2].data.0["deleted_services"], 0);
    }
}

dual_test! {
    async fn team_input_and_roles_are_checked(app) {
        let owner = app.signup().await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let user = app.add_member(&owner, Role::User).await;
        assert_invalid(&app.post("/v1/team", Some(&owner.token), json!({})).await, "name", "required");
        assert_invalid(&app.post("/v1/team", Some(&owner.token), json!({ "name": "  " })).await, "name", "required");
        let long = "x".repeat(256);
        assert_invalid(&app.post("/v1/team", Some(&owner.token), json!({ "name": long })).await, "name", "too_long");
        let r = app.post("/v1/team", Some(&owner.token), json!({ "name": "A", "plan": "pro" })).await;
        assert_invalid(&r, "plan", "unknown_field");
        let team = format!("/v1/team/{}", owner.team_id);
        assert_invalid(&app.put(&team, &owner.token, json!({})).await, "name", "required");
        assert_invalid(&app.put("/v1/team/not-a-uuid", &owner.token, json!({ "name": "A" })).await, "id", "invalid_id");
        let r = app.delete(&format!("{team}?cascade=maybe"), &owner.token, None).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["cascade"]);
        assert_invalid(&app.get("/v1/teams?limit=0", &owner.token).await, "limit", "out_of_range");
        let r = app.patch(&member_path(owner.team_id, user.customer_id), &owner.token, json!({})).await;
        assert_invalid(&r, "body", "required");

        let anonymous = app.call(reqwest::Method::POST, "/v1/team", None, Some(json!({ "name": "A" }))).await;
        anonymous.assert(401, Some("UNAUTHORIZED"));
        app.call(reqwest::Method::GET, "/v1/teams", None, None).await.assert(401, Some("UNAUTHORIZED"));
        app.post("/v1/team", Some(&manager.token), json!({ "name": "A" })).await.assert(403, Some("FORBIDDEN"));
        app.put(&team, &user.token, json!({ "name": "Mine" })).await.assert(403, Some("FORBIDDEN"));
        app.delete(&team, &manager.token, None).await.assert(403, Some("FORBIDDEN"));
        let teams = all(&app, "/v1/teams", &user.token).await;
        assert_eq!(teams.len(), 1, "nothing was created or deleted");
        assert_eq!(teams[0]["name"], "Default team", "nothing was renamed");
    }
}

dual_test! {
    async fn team_names_are_unique_in_an_organization(app) {
        let owner = app.signup().await;
        let ops = app.create_team(&owner.token, "Ops Team").await;
        for taken in ["Ops Team", " ops  team ", "OPS TEAM"] {
            let r = app.post("/v1/team", Some(&owner.token), json!({ "name": taken })).await;
            r.assert(409, Some("CONFLICT"));
            assert!(r.body["detail"].as_str().unwrap().contains("already exists"), "{}", r.text);
        }
        let other = app.signup().await;
        app.create_team(&other.token, "Ops Team").await;

        let dev = app.create_team(&owner.token, "Dev").await;
        app.put(&format!("/v1/team/{dev}"), &owner.token, json!({ "name": "ops team" })).await.assert(409, Some("CONFLICT"));
        let r = app.put(&format!("/v1/team/{ops}"), &owner.token, json!({ "name": "OPS team" })).await;
        r.assert(200, None);
        assert_eq!(r.body["name"], "OPS team", "a team may change the case of its own name");
        let names: Vec<Value> = all(&app, "/v1/teams", &owner.token).await.iter().map(|t| t["name"].clone()).collect();
        assert_eq!(names, [json!("Default team"), json!("OPS team"), json!("Dev")]);
    }
}

dual_test! {
    async fn the_plan_limits_how_many_teams_there_are(app) {
        let app = TestApp::spawn_with(app.backend, |c| c.plans.get_mut("free").unwrap().teams = 2).await.unwrap();
        let owner = app.signup().await;
        let second = app.create_team(&owner.token, "Second").await;
        let r = app.post("/v1/team", Some(&owner.token), json!({ "name": "Third" })).await;
        r.assert(403, Some("PLAN_LIMIT_REACHED"));
        assert!(r.body["detail"].as_str().unwrap().contains("2 teams"), "{}", r.text);
        assert_eq!(all(&app, "/v1/teams", &owner.token).await.len(), 2);
        app.delete(&format!("/v1/team/{second}"), &owner.token, None).await.assert(200, None);
        app.create_team(&owner.token, "Third").await;
    }
}

dual_test! {
    async fn teams_and_team_members_are_paged(app) {
        let app = TestApp::spawn_with(app.backend, |c| c.plans.get_mut("free").unwrap().teams = 20).await.unwrap();
        let owner = app.signup().await;
        let mut names = vec!["Default team".to_owned()];
        for i in 1..=11 {
            names.push(format!("Team {i:02}"));
            app.create_team(&owner.token, &names[i]).await;
        }
        let r = app.get("/v1/teams?limit=5", &owner.token).await;
        r.assert(200, None);
        assert_eq!((r.body["total_count"].as_i64(), r.body["has_more"].as_bool()), (Some(12), Some(true)));
        let mut seen = Vec::new();
        for page in 1..=3 {
            let r = app.get(&format!("/v1/teams?limit=5&page={page}"), &owner.token).await;
            r.assert(200, None);
            assert_eq!(r.body["has_more"], page < 3);
            seen.extend(r.body["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        }
        assert_eq!(seen, names, "pages hold every team once, oldest first");
        let r = app.get("/v1/teams?limit=5&offset=10", &owner.token).await;
        assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
        assert_invalid(&app.get("/v1/teams?offset=1&page=1", &owner.token).await, "page", "conflicting");

        let mut ids = vec![owner.customer_id.to_string()];
        for role in [Role::Admin, Role::Manager, Role::User, Role::Viewer] {
            ids.push(app.add_member(&owner, role).await.customer_id.to_string());
        }
        let path = format!("/v1/team/{}/members", owner.team_id);
        let r = app.get(&format!("{path}?limit=2"), &owner.token).await;
        r.assert(200, None);
        assert_eq!((r.body["total_count"].as_i64(), r.body["has_more"].as_bool()), (Some(5), Some(true)));
        let last = app.get(&format!("{path}?limit=2&page=3"), &owner.token).await;
        assert_eq!(last.body["has_more"], false);
        assert_eq!(last.body["data"].as_array().unwrap().len(), 1);
        let past = app.get(&format!("{path}?limit=2&offset=10"), &owner.token).await;
        past.assert(200, None);
        assert_eq!((past.body["data"].as_array().unwrap().len(), past.body["total_count"].as_i64()), (0, Some(5)));
        assert_eq!(team_member_ids(&app, &owner.token, owner.team_id).await, ids, "in the order they joined");

        let members = all(&app, &path, &owner.token).await;
        assert_eq!(members[0]["email"], owner.email);
        assert_eq!(members[0]["name"], "Ann Lee");
        assert_eq!(members[0]["role"], "root");
        assert_eq!(members[0]["status"], "active");
        assert_eq!(members[1]["name"], "Max Mustermann");
        assert_eq!(members[1]["role"], "admin");
        assert!(time_of(&members[1]["joined_at"]) >= time_of(&members[0]["joined_at"]));
    }
}

dual_test! {
    async fn another_organizations_teams_and_members_are_not_found(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        let other = app.signup().await;
        let stranger = app.add_member(&other, Role::User).await;
        let random = uuid::Uuid::now_v7();
        let random_customer = CustomerId(uuid::Uuid::now_v7());
        for team in [other.team_id.to_string(), random.to_string()] {
            let t = format!("/v1/team/{team}");
            app.put(&t, &owner.token, json!({ "name": "Mine" })).await.assert(404, Some("NOT_FOUND"));
            app.delete(&t, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
            app.delete(&format!("{t}?cascade=true"), &owner.token, None).await.assert(404, Some("NOT_FOUND"));
            app.get(&format!("{t}/members"), &owner.token).await.assert(404, Some("NOT_FOUND"));
            app.get(&format!("{t}/members?offset=10"), &owner.token).await.assert(404, Some("NOT_FOUND"));
            for member in [stranger.customer_id, user.customer_id] {
                let m = member_path(&team, member);
                app.delete(&m, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
                app.patch(&m, &owner.token, json!({ "role": "viewer" })).await.assert(404, Some("NOT_FOUND"));
            }
            // A team of the organization, but a destination outside it.
            let m = member_path(owner.team_id, user.customer_id);
            app.patch(&m, &owner.token, json!({ "new_team_id": team })).await.assert(404, Some("NOT_FOUND"));
        }
        for member in [stranger.customer_id, other.customer_id, random_customer] {
            let m = member_path(owner.team_id, member);
            app.delete(&m, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
            app.patch(&m, &owner.token, json!({ "role": "viewer" })).await.assert(404, Some("NOT_FOUND"));
        }
        // Nothing changed on either side.
        let theirs = all(&app, "/v1/teams", &other.token).await;
        assert_eq!(theirs.len(), 1);
        assert_eq!((theirs[0]["name"].as_str(), theirs[0]["member_count"].as_i64()), (Some("Default team"), Some(2)));
        assert_eq!(role_of(&app, &other.token, stranger.customer_id).await, "user");
        assert_eq!(team_member_ids(&app, &owner.token, owner.team_id).await.len(), 2);
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "user");
    }
}

dual_test! {
    async fn managers_manage_only_the_teams_they_belong_to(app) {
        let owner = app.signup().await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let user = app.add_member(&owner, Role::User).await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let elsewhere = app.add_member(&owner, Role::User).await;
        let other_team = app.create_team(&owner.token, "Elsewhere").await;
        let move_away = json!({ "new_team_id": other_team });
        app.patch(&member_path(owner.team_id, elsewhere.customer_id), &owner.token, move_away).await.assert(200, None);

        // Not their team: refused, and nothing changes.
        let r = app.put(&format!("/v1/team/{other_team}"), &manager.token, json!({ "name": "Taken over" })).await;
        r.assert(403, Some("FORBIDDEN"));
        let m = member_path(other_team, elsewhere.customer_id);
        app.patch(&m, &manager.token, json!({ "role": "viewer" })).await.assert(403, Some("FORBIDDEN"));
        app.delete(&m, &manager.token, None).await.assert(403, Some("FORBIDDEN"));
        let into_other = json!({ "new_team_id": other_team });
        let on_user = member_path(owner.team_id, user.customer_id);
        app.patch(&on_user, &manager.token, into_other).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(all(&app, "/v1/teams", &owner.token).await[1]["name"], "Elsewhere");
        assert_eq!(team_member_ids(&app, &owner.token, other_team).await, [elsewhere.customer_id.to_string()]);
        assert_eq!(role_of(&app, &owner.token, elsewhere.customer_id).await, "user");

        // Their own team: allowed, within their own rank.
        let r = app.put(&format!("/v1/team/{}", owner.team_id), &manager.token, json!({ "name": "Core" })).await;
        r.assert(200, None);
        assert_eq!(r.body["name"], "Core");
        let r = app.patch(&on_user, &manager.token, json!({ "role": "viewer" })).await;
        r.assert(200, None);
        assert_eq!(r.body["role"], "viewer");
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "viewer");
        let above = member_path(owner.team_id, admin.customer_id);
        app.patch(&above, &manager.token, json!({ "role": "user" })).await.assert(403, Some("FORBIDDEN"));
        app.delete(&above, &manager.token, None).await.assert(403, Some("FORBIDDEN"));
        let promote = json!({ "role": "admin" });
        app.patch(&on_user, &manager.token, promote).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(role_of(&app, &owner.token, admin.customer_id).await, "admin");
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "viewer");
        app.delete(&on_user, &manager.token, None).await.assert(200, None);
        assert!(!team_member_ids(&app, &owner.token, owner.team_id).await.contains(&user.customer_id.to_string()));

        // Admins manage every team, member or not.
        let r = app.put(&format!("/v1/team/{other_team}"), &admin.token, json!({ "name": "Renamed" })).await;
        r.assert(200, None);
    }
}

dual_test! {
    async fn only_owners_act_on_owners_and_nobody_grants_ownership(app) {
        let owner = app.signup().await;
        let co_owner = app.add_member(&owner, Role::Root).await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let user = app.add_member(&owner, Role::User).await;
        let on_co_owner = member_path(owner.team_id, co_owner.customer_id);
        app.patch(&on_co_owner, &admin.token, json!({ "role": "user" })).await.assert(403, Some("FORBIDDEN"));
        app.delete(&on_co_owner, &admin.token, None).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(role_of(&app, &owner.token, co_owner.customer_id).await, "root");
        assert!(team_member_ids(&app, &owner.token, owner.team_id).await.contains(&co_owner.customer_id.to_string()));

        let on_user = member_path(owner.team_id, user.customer_id);
        for root in ["root", "owner"] {
            let r = app.patch(&on_user, &owner.token, json!({ "role": root })).await;
            r.assert(403, Some("FORBIDDEN"));
            assert!(r.body["detail"].as_str().unwrap().contains("ownership-transfer"), "{}", r.text);
        }
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "user");

        // Roles apply at once, to the person and all their memberships; aliases are accepted.
        let r = app.patch(&on_user, &admin.token, json!({ "role": "edit" })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer_id"], user.customer_id.to_string());
        assert_eq!(r.body["role"], "manager");
        let me = app.get("/v1/customer", &user.token).await;
        assert_eq!(me.body["customer"]["role"], "manager");
        let memberships = all(&app, "/v1/memberships", &owner.token).await;
        let theirs: Vec<&Value> = memberships.iter().filter(|m| m["customer_id"] == user.customer_id.to_string()).collect();
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0]["role"], "manager", "the membership mirrors the role");
        app.put(&format!("/v1/team/{}", owner.team_id), &user.token, json!({ "name": "Renamed" })).await.assert(200, None);

        assert_invalid(&app.patch(&on_user, &owner.token, json!({ "role": "god" })).await, "role", "invalid_role");
        let r = app.patch(&on_user, &owner.token, json!({ "new_team_id": "nope" })).await;
        assert_invalid(&r, "new_team_id", "invalid_id");
        let r = app.patch(&on_user, &owner.token, json!({ "role": "user", "team": "x" })).await;
        assert_invalid(&r, "team", "unknown_field");
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "manager");
        let audit = app.store.audit_events_for_target(user.customer_id.0).await.unwrap();
        let updates: Vec<&Value> = audit.iter().filter(|e| e.action == "team.member_updated").map(|e| &e.data.0).collect();
        assert_eq!(updates.len(), 1, "refused changes leave no record");
        assert_eq!(updates[0]["role"], "manager");
    }
}

dual_test! {
    async fn members_move_between_teams(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        let x = app.create_team(&owner.token, "X").await;
        let y = app.create_team(&owner.token, "Y").await;
        let theirs = |list: Vec<Value>| -> Vec<Value> {
            list.into_iter().filter(|m| m["customer_id"] == user.customer_id.to_string()).collect()
        };
        let before = theirs(all(&app, "/v1/memberships", &owner.token).await).remove(0);

        let r = app.patch(&member_path(owner.team_id, user.customer_id), &owner.token, json!({ "new_team_id": x })).await;
        r.assert(200, None);
        assert_eq!(r.body["customer_id"], user.customer_id.to_string());
        assert_eq!(r.body["role"], "user");
        assert_eq!(team_member_ids(&app, &owner.token, owner.team_id).await, [owner.customer_id.to_string()]);
        assert_eq!(team_member_ids(&app, &owner.token, x).await, [user.customer_id.to_string()]);
        let after = theirs(all(&app, "/v1/memberships", &owner.token).await).remove(0);
        assert_eq!((&after["id"], &after["team_id"]), (&before["id"], &json!(x)), "the membership moved");
        assert!(time_of(&after["updated_at"]) > time_of(&before["updated_at"]));

        // Naming the current team means "stay".
        app.patch(&member_path(x, user.customer_id), &owner.token, json!({ "new_team_id": x })).await.assert(200, None);
        assert_eq!(team_member_ids(&app, &owner.token, x).await, [user.customer_id.to_string()]);
        let nowhere = json!({ "new_team_id": uuid::Uuid::now_v7() });
        app.patch(&member_path(x, user.customer_id), &owner.token, nowhere).await.assert(404, Some("NOT_FOUND"));

        app.add_membership(owner.organization_id, y, user.customer_id, Role::User).await;
        let r = app.patch(&member_path(x, user.customer_id), &owner.token, json!({ "new_team_id": y })).await;
        r.assert(409, Some("CONFLICT"));
        assert_eq!(team_member_ids(&app, &owner.token, x).await, [user.customer_id.to_string()], "nothing moved");

        // A role and a move at once; the role reaches every membership.
        let both = json!({ "role": "viewer", "new_team_id": owner.team_id });
        let r = app.patch(&member_path(x, user.customer_id), &owner.token, both).await;
        r.assert(200, None);
        assert_eq!(r.body["role"], "viewer");
        assert!(team_member_ids(&app, &owner.token, owner.team_id).await.contains(&user.customer_id.to_string()));
        assert!(team_member_ids(&app, &owner.token, x).await.is_empty());
        let memberships = theirs(all(&app, "/v1/memberships", &owner.token).await);
        assert_eq!(memberships.len(), 2);
        assert!(memberships.iter().all(|m| m["role"] == "viewer"), "{memberships:?}");
    }
}

dual_test! {
    async fn removing_a_team_member_keeps_the_person(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        let path = member_path(owner.team_id, user.customer_id);
        let r = app.delete(&path, &owner.token, None).await;
        r.assert(200, None);
        assert!(r.body["message"].is_string());
        assert_eq!(team_member_ids(&app, &owner.token, owner.team_id).await, [owner.customer_id.to_string()]);
        assert_eq!(person(&app, &owner.token, user.customer_id).await["is_active"], true, "still in the organization");
        let me = app.get("/v1/customer", &user.token).await;
        me.assert(200, None);
        assert!(me.body["team"].is_null(), "in no team now: {}", me.text);
        app.delete(&path, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        let audit = app.store.audit_events_for_target(user.customer_id.0).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "team.member_removed" && e.data.0["team_id"] == owner.team_id.to_string()));
    }
}

dual_test! {
    async fn a_team_that_owns_services_is_deleted_only_with_cascade(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        let team = app.create_team(&owner.token, "Payments").await;
        let move_in = json!({ "new_team_id": team });
        app.patch(&member_path(owner.team_id, user.customer_id), &owner.token, move_in).await.assert(200, None);
        app.insert_service(owner.organization_id, team).await;
        app.insert_service(owner.organization_id, team).await;
        app.insert_service(owner.organization_id, owner.team_id).await;
        let count = |rows: &[(&str, i64)], table: &str| rows.iter().find(|(t, _)| *t == table).unwrap().1;
        let before = app.store.count_rows_for(owner.organization_id, user.customer_id).await.unwrap();
        assert_eq!(count(&before, "services"), 3);

        for query in ["", "?cascade=false"] {
            let r = app.delete(&format!("/v1/team/{team}{query}"), &owner.token, None).await;
            r.assert(409, Some("CONFLICT"));
            let detail = r.body["detail"].as_str().unwrap();
            for needed in ["2 service", "cascade=true", "PUT /v1/service/"] {
                assert!(detail.contains(needed), "the conflict names `{needed}`: {detail}");
            }
        }
        let unchanged = app.store.count_rows_for(owner.organization_id, user.customer_id).await.unwrap();
        assert_eq!(unchanged, before, "nothing changed");

        let r = app.delete(&format!("/v1/team/{team}?cascade=true"), &owner.token, None).await;
        r.assert(200, None);
        assert_eq!(r.body["deleted_services"], 2);
        let after = app.store.count_rows_for(owner.organization_id, user.customer_id).await.unwrap();
        assert_eq!(count(&after, "services"), 1, "the other team's service stays");
        assert_eq!(count(&after, "teams"), 1);
        assert_eq!(count(&after, "customers"), 2, "people stay");
        assert_eq!(count(&after, "customer.memberships"), 0, "the team's memberships went with it");
        assert_eq!(count(&after, "memberships"), 1);
        app.get("/v1/customer", &user.token).await.assert(200, None);
        let audit = app.store.audit_events_for_target(team.0).await.unwrap();
        let deleted = audit.iter().find(|e| e.action == "team.deleted").unwrap();
        assert_eq!((deleted.data.0["cascade"].as_bool(), deleted.data.0["deleted_services"].as_i64()), (Some(true), Some(2)));
    }
}
