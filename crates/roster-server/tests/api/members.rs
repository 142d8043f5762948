//! The organization's people and memberships: listing them, availability,
//! suspending, reactivating and removing people, and the one-owner rule.

use crate::api_keys::{assert_invalid, create_key, secret_of};
use crate::helpers::*;
use crate::teams::{all, member_path, person, role_of};
use roster_core::ids::CustomerId;
use roster_core::role::Role;
use serde_json::json;

fn active_path(id: CustomerId) -> String {
    format!("/v1/members/{id}/active")
}

dual_test! {
    async fn memberships_list_who_is_in_which_team(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let user = app.add_member(&owner, Role::User).await;
        let ops = app.create_team(&owner.token, "Ops").await;
        let move_in = json!({ "new_team_id": ops });
        app.patch(&member_path(owner.team_id, user.customer_id), &owner.token, move_in).await.assert(200, None);

        let r = app.get("/v1/memberships?limit=2", &user.token).await;
        r.assert(200, None);
        assert_eq!((r.body["total_count"].as_i64(), r.body["has_more"].as_bool()), (Some(3), Some(true)));
        let last = app.get("/v1/memberships?limit=2&page=2", &user.token).await;
        assert_eq!((last.body["data"].as_array().unwrap().len(), last.body["has_more"].as_bool()), (1, Some(false)));
        let list = all(&app, "/v1/memberships", &user.token).await;
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        let rows: Vec<(String, String, String)> =
            list.iter().map(|m| (text(&m["customer_id"]), text(&m["team_id"]), text(&m["role"]))).collect();
        let default_team = owner.team_id.to_string();
        assert_eq!(rows, [
            (owner.customer_id.to_string(), default_team.clone(), "root".into()),
            (admin.customer_id.to_string(), default_team, "admin".into()),
            (user.customer_id.to_string(), ops.to_string(), "user".into()),
        ]);
        for m in &list {
            assert!(m["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok(), "{m}");
            assert!(time_of(&m["updated_at"]) >= time_of(&m["created_at"]));
        }
        assert_invalid(&app.get("/v1/memberships?limit=101", &user.token).await, "limit", "out_of_range");
        app.call(reqwest::Method::GET, "/v1/memberships", None, None).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn members_list_the_people_of_the_organization(app) {
        let owner = app.signup().await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        app.signup().await;
        let r = app.get("/v1/members?limit=1", &viewer.token).await;
        r.assert(200, None);
        assert_eq!((r.body["total_count"].as_i64(), r.body["has_more"].as_bool()), (Some(2), Some(true)));
        let people = all(&app, "/v1/members", &viewer.token).await;
        assert_eq!(people.len(), 2, "only the caller's organization");
        let me = app.get("/v1/customer", &owner.token).await;
        let first = &people[0];
        assert_eq!(first["id"], owner.customer_id.to_string());
        assert_eq!(first["user_id"], first["id"]);
        assert_eq!(first["email"], owner.email);
        assert_eq!(first["name"], "Ann Lee");
        assert_eq!(first["role"], "root");
        assert_eq!(first["status"], "offline", "availability starts offline");
        assert_eq!(first["is_active"], true);
        let joined = time_of(&me.body["customer"]["created_at"]);
        assert_eq!(time_of(&first["invited_at"]), joined, "not invited: when they joined");
        assert_eq!(people[1]["id"], viewer.customer_id.to_string());
        assert_eq!(people[1]["role"], "viewer");
        app.call(reqwest::Method::GET, "/v1/members", None, None).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn people_set_their_own_availability(app) {
        let owner = app.signup().await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        let r = app.put("/v1/customer/status", &viewer.token, json!({ "status": "live" })).await;
        r.assert(200, None);
        assert_eq!(r.body, json!({ "status": "live" }));
        assert_eq!(person(&app, &owner.token, viewer.customer_id).await["status"], "live");
        assert_eq!(person(&app, &owner.token, owner.customer_id).await["status"], "offline", "only the caller's own");
        let r = app.put("/v1/customer/status", &viewer.token, json!({ "status": " Away " })).await;
        assert_eq!(r.body["status"], "away");

        let r = app.put("/v1/customer/status", &viewer.token, json!({ "status": "busy" })).await;
        assert_invalid(&r, "status", "invalid_status");
        assert_invalid(&app.put("/v1/customer/status", &viewer.token, json!({})).await, "status", "required");
        let r = app.put("/v1/customer/status", &viewer.token, json!({ "status": "live", "is_active": false })).await;
        assert_invalid(&r, "is_active", "unknown_field");
        let anonymous = app.call(reqwest::Method::PUT, "/v1/customer/status", None, Some(json!({ "status": "live" }))).await;
        anonymous.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(person(&app, &owner.token, viewer.customer_id).await["status"], "away", "refused changes changed nothing");
        let audit = app.store.audit_events_for_target(viewer.customer_id.0).await.unwrap();
        assert_eq!(audit.iter().filter(|e| e.action == "customer.availability_changed").count(), 2);
    }
}

dual_test! {
    async fn owners_remove_people_with_their_data(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let user = app.add_member(&owner, Role::User).await;
        let key = secret_of(&create_key(&app, &user.token, "ci", &["customers:read"]).await);
        let path = format!("/v1/members/{}", user.customer_id);

        app.delete(&path, &admin.token, None).await.assert(403, Some("FORBIDDEN"));
        let r = app.delete(&format!("/v1/members/{}", owner.customer_id), &owner.token, None).await;
        assert_invalid(&r, "id", "is_yourself");
        assert!(r.body["detail"].as_str().unwrap().contains("DELETE /v1/customer"), "{}", r.text);
        app.get("/v1/customer", &user.token).await.assert(200, None);

        let r = app.delete(&path, &owner.token, None).await;
        r.assert(200, None);
        assert_eq!(r.body, json!({ "message": "Team member removed" }));
        let people = all(&app, "/v1/members", &owner.token).await;
        assert!(people.iter().all(|p| p["id"] != user.customer_id.to_string()));
        app.get("/v1/customer", &user.token).await.assert(401, Some("UNAUTHORIZED"));
        app.get("/v1/customer", &key).await.assert(401, Some("UNAUTHORIZED"));
        let rows = app.store.count_rows_for(owner.organization_id, user.customer_id).await.unwrap();
        let personal = ["access_tokens", "api_keys", "customer.memberships", "customer"];
        for (table, n) in rows.iter().filter(|(t, _)| personal.contains(t)) {
            assert_eq!(*n, 0, "{table} still holds the removed person's rows");
        }
        let audit = app.store.audit_events_for_target(user.customer_id.0).await.unwrap();
        let removed = audit.iter().find(|e| e.action == "member.removed").expect("the removal is audited");
        assert_eq!((removed.actor_id, &removed.data.0), (Some(owner.customer_id.0), &json!({})));

        app.delete(&path, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        app.delete(&format!("/v1/members/{}", uuid::Uuid::now_v7()), &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        assert_invalid(&app.delete("/v1/members/nobody", &owner.token, None).await, "id", "invalid_id");
    }
}

dual_test! {
    async fn the_last_owner_cannot_be_demoted(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let on_owner = member_path(owner.team_id, owner.customer_id);
        let r = app.patch(&on_owner, &owner.token, json!({ "role": "admin" })).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("POST /v1/organization/ownership-transfer"), "{}", r.text);
        // No one may break the rule, whatever their rights on the owner.
        app.patch(&on_owner, &admin.token, json!({ "role": "user" })).await.assert(409, Some("CONFLICT"));
        assert_eq!(role_of(&app, &owner.token, owner.customer_id).await, "root");

        let co_owner = app.add_member(&owner, Role::Root).await;
        let r = app.patch(&on_owner, &owner.token, json!({ "role": "admin" })).await;
        r.assert(200, None);
        assert_eq!(r.body["role"], "admin");
        let on_co_owner = member_path(owner.team_id, co_owner.customer_id);
        app.patch(&on_co_owner, &co_owner.token, json!({ "role": "admin" })).await.assert(409, Some("CONFLICT"));
        assert_eq!(role_of(&app, &owner.token, co_owner.customer_id).await, "root");
        assert_eq!(role_of(&app, &owner.token, owner.customer_id).await, "admin");
    }
}

dual_test! {
    async fn owners_demoting_each_other_at_once_leave_one_owner(app) {
        let founder = app.signup().await;
        let a = app.add_member(&founder, Role::Root).await;
        let b = app.add_member(&founder, Role::Root).await;
        // Leave exactly two owners, who then race to demote each other.
        let step_down = json!({ "role": "admin" });
        app.patch(&member_path(founder.team_id, founder.customer_id), &a.token, step_down).await.assert(200, None);
        for round in 0..10 {
            let (on_a, on_b) = (member_path(founder.team_id, a.customer_id), member_path(founder.team_id, b.customer_id));
            let (by_a, by_b) = tokio::join!(
                app.patch(&on_b, &a.token, json!({ "role": "admin" })),
                app.patch(&on_a, &b.token, json!({ "role": "admin" })),
            );
            let mut statuses = [by_a.status.as_u16(), by_b.status.as_u16()];
            statuses.sort();
            assert_eq!(statuses, [200, 409], "round {round}: {} / {}", by_a.text, by_b.text);
            let people = all(&app, "/v1/members", &founder.token).await;
            let owners = people.iter().filter(|p| p["role"] == "root").count();
            assert_eq!(owners, 1, "round {round}: exactly one owner is left");
            let demoted = if by_a.status == 200 { &b } else { &a };
            app.set_role(demoted.customer_id, Role::Root).await;
        }
    }
}

dual_test! {
    async fn the_last_owner_cannot_be_removed(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        // The API never lets a caller reach this state (only another owner removes
        // an owner); the store holds the rule whoever asks.
        let audit = roster_server::app::audit::Actor::default().event("member.removed", "customer", None, json!({}));
        let r = app
            .store
            .remove_person(owner.organization_id, owner.customer_id, admin.customer_id, |_, _| Ok(()), &audit)
            .await;
        assert!(matches!(r, Err(roster_core::Error::Conflict(_))), "{r:?}");
        assert_eq!(role_of(&app, &admin.token, owner.customer_id).await, "root");

        // Two owners removing each other at once: one wins, an owner is always left.
        let mut survivor = owner.clone();
        for round in 0..5 {
            let rival = app.add_member(&owner, Role::Root).await;
            let (on_rival, on_survivor) =
                (format!("/v1/members/{}", rival.customer_id), format!("/v1/members/{}", survivor.customer_id));
            let (by_survivor, by_rival) =
                tokio::join!(app.delete(&on_rival, &survivor.token, None), app.delete(&on_survivor, &rival.token, None));
            let winners = [&by_survivor, &by_rival].iter().filter(|r| r.status == 200).count();
            assert_eq!(winners, 1, "round {round}: {} / {}", by_survivor.text, by_rival.text);
            let loser = if by_survivor.status == 200 { &by_rival } else { &by_survivor };
            assert!(loser.status == 409 || loser.status == 401, "round {round}: {}", loser.text);
            if by_rival.status == 200 {
                survivor = rival;
            }
            let people = all(&app, "/v1/members", &admin.token).await;
            let owners: Vec<_> = people.iter().filter(|p| p["role"] == "root").collect();
            assert_eq!(owners.len(), 1, "round {round}: {people:?}");
            assert_eq!(owners[0]["id"], survivor.customer_id.to_string());
        }
    }
}

dual_test! {
    async fn suspension_cuts_access_at_once_and_reactivation_restores_it(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let user = app.add_member(&owner, Role::User).await;
        let key = secret_of(&create_key(&app, &user.token, "ci", &["customers:read"]).await);
        let path = active_path(user.customer_id);

        app.put(&path, &manager.token, json!({ "is_active": false })).await.assert(403, Some("FORBIDDEN"));
        assert_invalid(&app.put(&path, &admin.token, json!({})).await, "is_active", "required");
        assert_invalid(&app.put(&path, &admin.token, json!({ "is_active": "no" })).await, "is_active", "invalid_type");
        let r = app.put(&active_path(admin.customer_id), &admin.token, json!({ "is_active": false })).await;
        assert_invalid(&r, "id", "is_yourself");
        app.get("/v1/customer", &user.token).await.assert(200, None);

        let r = app.put(&path, &admin.token, json!({ "is_active": false })).await;
        r.assert(200, None);
        assert_eq!(r.body["id"], user.customer_id.to_string());
        assert_eq!(r.body["is_active"], false);
        let r = app.get("/v1/customer", &user.token).await;
        r.assert(401, Some("UNAUTHORIZED"));
        assert!(r.body["detail"].as_str().unwrap().contains("suspended"), "{}", r.text);
        app.get("/v1/customer", &key).await.assert(401, Some("UNAUTHORIZED"));
        assert_eq!(person(&app, &owner.token, user.customer_id).await["is_active"], false);

        let r = app.put(&path, &admin.token, json!({ "is_active": true })).await;
        r.assert(200, None);
        assert_eq!(r.body["is_active"], true);
        app.get("/v1/customer", &user.token).await.assert(200, None);
        app.get("/v1/customer", &key).await.assert(200, None);
        let audit = app.store.audit_events_for_target(user.customer_id.0).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("member.")).collect();
        assert_eq!(actions, ["member.added", "member.suspended", "member.reactivated"]);
    }
}

dual_test! {
    async fn the_last_active_owner_cannot_be_suspended(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let on_owner = active_path(owner.customer_id);
        let r = app.put(&on_owner, &admin.token, json!({ "is_active": false })).await;
        r.assert(409, Some("CONFLICT"));
        assert!(r.body["detail"].as_str().unwrap().contains("ownership-transfer"), "{}", r.text);
        app.get("/v1/customer", &owner.token).await.assert(200, None);

        let co_owner = app.add_member(&owner, Role::Root).await;
        let on_co_owner = active_path(co_owner.customer_id);
        app.put(&on_co_owner, &admin.token, json!({ "is_active": false })).await.assert(403, Some("FORBIDDEN"));
        app.put(&on_co_owner, &owner.token, json!({ "is_active": false })).await.assert(200, None);
        // A suspended owner does not count: the active one is the last.
        app.put(&on_owner, &admin.token, json!({ "is_active": false })).await.assert(409, Some("CONFLICT"));
        let demote = json!({ "role": "admin" });
        let on_owner_membership = member_path(owner.team_id, owner.customer_id);
        app.patch(&on_owner_membership, &owner.token, demote.clone()).await.assert(409, Some("CONFLICT"));
        app.put(&on_co_owner, &owner.token, json!({ "is_active": true })).await.assert(200, None);
        app.patch(&on_owner_membership, &owner.token, demote).await.assert(200, None);
    }
}

dual_test! {
    async fn another_organizations_people_are_not_found(app) {
        let owner = app.signup().await;
        let other = app.signup().await;
        let stranger = app.add_member(&other, Role::User).await;
        for id in [stranger.customer_id, other.customer_id, CustomerId(uuid::Uuid::now_v7())] {
            app.delete(&format!("/v1/members/{id}"), &owner.token, None).await.assert(404, Some("NOT_FOUND"));
            app.put(&active_path(id), &owner.token, json!({ "is_active": false })).await.assert(404, Some("NOT_FOUND"));
        }
        app.get("/v1/customer", &stranger.token).await.assert(200, None);
        let theirs = all(&app, "/v1/members", &other.token).await;
        assert_eq!(theirs.len(), 2);
        assert!(theirs.iter().all(|p| p["is_active"] == true));
    }
}
