//! `/v1/organization` and `/v1/team-domains`: the organization's settings and
//! limits, the two-step transfer of its ownership, and status-page domains.

use crate::api_keys::assert_invalid;
use crate::helpers::*;
use reqwest::Method;
use roster_core::ids::{CustomerId, OrganizationId};
use roster_core::role::Role;
use serde_json::{json, Value};

const OFFER: &str = "/v1/organization/ownership-transfer";
const ACCEPT: &str = "/v1/organization/ownership-transfer/accept";

async fn organization(app: &TestApp, token: &str) -> Value {
    let r = app.get("/v1/organization", token).await;
    r.assert(200, None);
    r.body.clone()
}

/// A customer's organization-wide role, as `GET /v1/customer/{id}` shows it.
async fn role_of(app: &TestApp, token: &str, id: CustomerId) -> String {
    let r = app.get(&format!("/v1/customer/{id}"), token).await;
    r.assert(200, None);
    r.body["customer"]["role"].as_str().unwrap().to_owned()
}

/// The roles on a customer's memberships, as `GET /v1/memberships` lists them.
async fn membership_roles(app: &TestApp, token: &str, id: CustomerId) -> Vec<String> {
    let r = app.get("/v1/memberships?limit=100", token).await;
    r.assert(200, None);
    let all = r.body["data"].as_array().unwrap();
    let theirs = all.iter().filter(|m| m["customer_id"] == id.to_string());
    theirs.map(|m| m["role"].as_str().unwrap().to_owned()).collect()
}

async fn offer(app: &TestApp, token: &str, to: CustomerId) -> Resp {
    app.post(OFFER, Some(token), json!({ "customer_id": to.to_string() })).await
}

async fn accept(app: &TestApp, token: &str) -> Resp {
    app.call(Method::POST, ACCEPT, Some(token), None).await
}

/// The audit actions recorded about the organization, oldest first.
async fn audited(app: &TestApp, org: OrganizationId) -> Vec<(String, Value)> {
    app.audit_trail(org.0).await
}

/// A notify-only contact in `owner`'s organization: they receive alerts and cannot log in.
async fn add_notify_contact(app: &TestApp, owner: &Account) -> CustomerId {
    app.insert_member(owner, &fresh_address("pager"), None, ("Pager", "Only"), Role::Notify).await
}

dual_test! {
    async fn the_organization_shows_its_settings_owner_and_limits(app) {
        let owner = app.signup().await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        let org = organization(&app, &owner.token).await;
        assert_eq!(org["id"], owner.organization_id.to_string());
        assert_eq!(org["name"], "Acme Inc");
        assert_eq!(org["slug"], "acme-inc");
        assert_eq!(org["logo_url"], Value::Null);
        assert_eq!(org["owner_id"], owner.customer_id.to_string());
        assert_eq!(org["plan"], "free");
        assert_eq!(org["active"], true);
        assert!(time_of(&org["trial_ends_at"]) > time_of(&org["created_at"]), "a new organization is on trial");
        assert_eq!(time_of(&org["created_at"]), time_of(&org["updated_at"]));

        let profile = app.get("/v1/customer", &owner.token).await;
        assert_eq!(org["limits"], profile.body["limits"], "the limits are those GET /v1/customer shows");
        assert_eq!(org["limits"]["members"]["used"], 2);
        assert_eq!(org["limits"]["teams"]["used"], 1);
        assert_eq!(org["limits"]["services"], json!({ "limit": app.config.plans["free"].services, "used": 0 }));

        assert_eq!(organization(&app, &viewer.token).await, org, "everyone in the organization sees it alike");
        let stranger = app.signup().await;
        let theirs = organization(&app, &stranger.token).await;
        assert_eq!(theirs["id"], stranger.organization_id.to_string());
        assert_ne!(theirs["slug"], "acme-inc");
        app.call(Method::GET, "/v1/organization", None, None).await.assert(401, Some("UNAUTHORIZED"));
    }
}

dual_test! {
    async fn patch_renames_and_sets_the_logo_but_keeps_the_slug(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let before = organization(&app, &owner.token).await;

        let logo = "https://cdn.example.com/logos/acme.png";
        let r = app.patch("/v1/organization", &owner.token, json!({ "name": "  Acme Corporation ", "logo_url": logo })).await;
        r.assert(200, None);
        assert_eq!(r.body["name"], "Acme Corporation", "names are trimmed");
        assert_eq!(r.body["slug"], "acme-inc", "the slug never changes on rename");
        assert_eq!(r.body["logo_url"], logo);
        assert_eq!(r.body["created_at"], before["created_at"]);
        assert!(time_of(&r.body["updated_at"]) >= time_of(&before["updated_at"]));
        assert_eq!(organization(&app, &owner.token).await, r.body, "the answer is what a read shows");

        // Admins change settings too; an absent field is left alone, "" removes the logo.
        let r = app.patch("/v1/organization", &admin.token, json!({ "logo_url": "" })).await;
        r.assert(200, None);
        assert_eq!(r.body["logo_url"], Value::Null);
        assert_eq!(r.body["name"], "Acme Corporation");
        let r = app.patch("/v1/organization", &admin.token, json!({ "name": "Acme", "logo_url": null })).await;
        r.assert(200, None);
        let after = organization(&app, &owner.token).await;
        assert_eq!((after["name"].as_str(), after["slug"].as_str(), &after["logo_url"]), (Some("Acme"), Some("acme-inc"), &Value::Null));

        let events = audited(&app, owner.organization_id).await;
        let updates: Vec<_> = events.iter().filter(|(a, _)| a == "organization.updated").map(|(_, d)| d.clone()).collect();
        assert_eq!(updates, [json!({ "fields": ["name", "logo_url"] }), json!({ "fields": ["logo_url"] }), json!({ "fields": ["name"] })]);

        // Below admin: refused, and nothing changes.
        for role in [Role::Manager, Role::User, Role::Viewer] {
            let member = app.add_member(&owner, role).await;
            app.patch("/v1/organization", &member.token, json!({ "name": "Hijacked" })).await.assert(403, Some("FORBIDDEN"));
        }
        assert_eq!(organization(&app, &owner.token).await["name"], "Acme");
    }
}

dual_test! {
    async fn patch_refuses_empty_and_invalid_bodies(app) {
        let owner = app.signup().await;
        let before = organization(&app, &owner.token).await;
        let patch = |body: Value| app.patch("/v1/organization", &owner.token, body);

        assert_invalid(&patch(json!({})).await, "body", "required");
        assert_invalid(&patch(json!({ "name": null, "logo_url": null })).await, "body", "required");
        assert_invalid(&patch(json!({ "name": "" })).await, "name", "required");
        assert_invalid(&patch(json!({ "name": "x".repeat(256) })).await, "name", "too_long");
        assert_invalid(&patch(json!({ "name": 7 })).await, "name", "invalid_type");
        for bad in ["cdn.example.com/logo.png", "ftp://example.com/logo.png", "javascript:alert(1)", "https://exa mple.com/x.png", "https://"] {
            assert_invalid(&patch(json!({ "logo_url": bad })).await, "logo_url", "invalid_url");
        }
        let long = format!("https://example.com/{}", "a".repeat(2030));
        assert_invalid(&patch(json!({ "logo_url": long })).await, "logo_url", "too_long");
        for field in ["slug", "plan", "active", "owner_id", "trial_ends_at"] {
            let mut body = json!({ "name": "Renamed" });
            body[field] = json!("x");
            assert_invalid(&patch(body).await, field, "unknown_field");
        }
        // A good field beside a bad one is not applied.
        let r = patch(json!({ "name": "Renamed", "logo_url": "nope" })).await;
        assert_eq!(r.error_fields(), ["logo_url"]);

        assert_eq!(organization(&app, &owner.token).await, before, "no refused request changed anything");
        assert!(audited(&app, owner.organization_id).await.iter().all(|(a, _)| a != "organization.updated"));
    }
}

dual_test! {
    async fn ownership_moves_in_two_steps(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;

        let r = offer(&app, &owner.token, admin.customer_id).await;
        r.assert(201, None);
        assert_eq!(r.body["organization_id"], owner.organization_id.to_string());
        assert_eq!(r.body["from_customer_id"], owner.customer_id.to_string());
        assert_eq!(r.body["to_customer_id"], admin.customer_id.to_string());
        let ttl = time::Duration::days(i64::from(app.config.ownership_offer_ttl_days));
        assert_eq!(time_of(&r.body["expires_at"]) - time_of(&r.body["created_at"]), ttl);

        let mail = app.mail_to(&admin.email).await;
        assert!(mail.subject.contains("Ann Lee") && mail.subject.contains("Acme Inc"), "{}", mail.subject);
        assert!(mail.text.contains("Hi Max,") && mail.text.contains(ACCEPT), "{}", mail.text);
        assert!(mail.text.contains(&format!("expires in {} days", app.config.ownership_offer_ttl_days)), "{}", mail.text);

        // Until it is accepted, nothing changes.
        assert_eq!(role_of(&app, &owner.token, owner.customer_id).await, "root");
        assert_eq!(role_of(&app, &owner.token, admin.customer_id).await, "admin");
        assert_eq!(organization(&app, &admin.token).await["owner_id"], owner.customer_id.to_string());
        offer(&app, &admin.token, owner.customer_id).await.assert(403, Some("FORBIDDEN"));

        let r = accept(&app, &admin.token).await;
        r.assert(200, None);
        assert_eq!(r.body["owner_id"], admin.customer_id.to_string(), "the only owner now is the one who accepted");
        assert_eq!(r.body["id"], owner.organization_id.to_string());
        assert_eq!(role_of(&app, &admin.token, admin.customer_id).await, "root");
        assert_eq!(role_of(&app, &admin.token, owner.customer_id).await, "admin");
        assert_eq!(membership_roles(&app, &admin.token, admin.customer_id).await, ["root"], "memberships mirror the role");
        assert_eq!(membership_roles(&app, &admin.token, owner.customer_id).await, ["admin"]);

        // The offer is used up; the new owner may do what only owners may, the old one no longer.
        accept(&app, &admin.token).await.assert(404, Some("NOT_FOUND"));
        offer(&app, &owner.token, admin.customer_id).await.assert(403, Some("FORBIDDEN"));
        app.delete(OFFER, &owner.token, None).await.assert(403, Some("FORBIDDEN"));
        offer(&app, &admin.token, owner.customer_id).await.assert(201, None);
        let mail = app.mail_to(&owner.email).await;
        assert!(mail.subject.contains("Max Mustermann offered you ownership"), "{}", mail.subject);

        let events = audited(&app, owner.organization_id).await;
        let actions: Vec<&str> = events.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| a.starts_with("organization.ownership")).copied().collect::<Vec<_>>(),
            ["organization.ownership_offered", "organization.ownership_transferred", "organization.ownership_offered"]
        );
        let offered = &events.iter().find(|(a, _)| a == "organization.ownership_offered").unwrap().1;
        let ttl_days = app.config.ownership_offer_ttl_days;
        assert_eq!(offered, &json!({ "to_customer_id": admin.customer_id.to_string(), "ttl_days": ttl_days }));
        let transferred = &events.iter().find(|(a, _)| a == "organization.ownership_transferred").unwrap().1;
        assert_eq!(transferred["from_customer_id"], owner.customer_id.to_string());
        assert_eq!(transferred["to_customer_id"], admin.customer_id.to_string());
    }
}

dual_test! {
    async fn an_offer_can_be_withdrawn(app) {
        let owner = app.signup().await;
        let user = app.add_member(&owner, Role::User).await;
        app.delete(OFFER, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        offer(&app, &owner.token, user.customer_id).await.assert(201, None);
        app.delete(OFFER, &owner.token, None).await.assert(204, None);
        app.delete(OFFER, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        accept(&app, &user.token).await.assert(404, Some("NOT_FOUND"));
        assert_eq!(role_of(&app, &owner.token, user.customer_id).await, "user");
        assert_eq!(role_of(&app, &owner.token, owner.customer_id).await, "root");
        let actions: Vec<_> = audited(&app, owner.organization_id).await.into_iter().map(|(a, _)| a).collect();
        assert!(actions.contains(&"organization.ownership_offer_cancelled".to_owned()), "{actions:?}");
    }
}

dual_test! {
    async fn only_the_recipient_accepts_and_a_new_offer_replaces_the_old(app) {
        let owner = app.signup().await;
        let first = app.add_member(&owner, Role::Manager).await;
        let second = app.add_member(&owner, Role::Viewer).await;
        offer(&app, &owner.token, first.customer_id).await.assert(201, None);
        accept(&app, &second.token).await.assert(404, Some("NOT_FOUND"));
        accept(&app, &owner.token).await.assert(404, Some("NOT_FOUND"));
        // Someone in another organization has no offer either.
        let stranger = app.signup().await;
        accept(&app, &stranger.token).await.assert(404, Some("NOT_FOUND"));

        let r = offer(&app, &owner.token, second.customer_id).await;
        r.assert(201, None);
        assert_eq!(r.body["to_customer_id"], second.customer_id.to_string());
        assert!(app.mail_to(&first.email).await.subject.contains("offered you ownership"));
        assert!(app.mail_to(&second.email).await.subject.contains("offered you ownership"));
        accept(&app, &first.token).await.assert(404, Some("NOT_FOUND"));
        assert_eq!(role_of(&app, &owner.token, first.customer_id).await, "manager");

        // A body, when sent, must be empty.
        let r = app.post(ACCEPT, Some(&second.token), json!({ "really": true })).await;
        assert_invalid(&r, "really", "unknown_field");
        let r = app.post(ACCEPT, Some(&second.token), json!({})).await;
        r.assert(200, None);
        assert_eq!(role_of(&app, &owner.token, second.customer_id).await, "root");
        assert_eq!(role_of(&app, &second.token, owner.customer_id).await, "admin");
        assert_eq!(role_of(&app, &second.token, first.customer_id).await, "manager");
    }
}

dual_test! {
    async fn offers_go_only_to_other_active_members_who_can_log_in(app) {
        let owner = app.signup().await;
        let notify = add_notify_contact(&app, &owner).await;
        let suspended = app.add_member(&owner, Role::User).await;
        let r = app.put(&format!("/v1/members/{}/active", suspended.customer_id), &owner.token, json!({ "is_active": false })).await;
        r.assert(200, None);
        let stranger = app.signup().await;

        let r = offer(&app, &owner.token, notify).await;
        assert_invalid(&r, "customer_id", "cannot_log_in");
        assert_invalid(&offer(&app, &owner.token, owner.customer_id).await, "customer_id", "self");
        assert_invalid(&offer(&app, &owner.token, suspended.customer_id).await, "customer_id", "inactive");
        let foreign = offer(&app, &owner.token, stranger.customer_id).await;
        foreign.assert(404, Some("NOT_FOUND"));
        let random = offer(&app, &owner.token, CustomerId::new()).await;
        random.assert(404, Some("NOT_FOUND"));
        assert_eq!(foreign.body, random.body, "another organization's customer is indistinguishable from none");
        assert_invalid(&app.post(OFFER, Some(&owner.token), json!({ "customer_id": "nope" })).await, "customer_id", "invalid_id");
        assert_invalid(&app.post(OFFER, Some(&owner.token), json!({})).await, "customer_id", "required");
        let r = app.post(OFFER, Some(&owner.token), json!({ "customer_id": notify.to_string(), "role": "root" })).await;
        assert_invalid(&r, "role", "unknown_field");

        // None of that left an offer, an email or a record behind.
        app.delete(OFFER, &owner.token, None).await.assert(404, Some("NOT_FOUND"));
        let rows = app.store.count_rows_for(owner.organization_id, notify).await.unwrap();
        assert_eq!(rows.iter().find(|(t, _)| *t == "outbox").unwrap().1, 0, "{rows:?}");
        assert!(audited(&app, owner.organization_id).await.iter().all(|(a, _)| a != "organization.ownership_offered"));
        assert_eq!(role_of(&app, &stranger.token, stranger.customer_id).await, "root");
    }
}

dual_test! {
    async fn only_owners_offer_or_withdraw(app) {
        let owner = app.signup().await;
        let target = app.add_member(&owner, Role::User).await;
        for role in [Role::Admin, Role::Manager, Role::User, Role::Viewer] {
            let member = app.add_member(&owner, role).await;
            offer(&app, &member.token, target.customer_id).await.assert(403, Some("FORBIDDEN"));
            app.delete(OFFER, &member.token, None).await.assert(403, Some("FORBIDDEN"));
        }
        accept(&app, &target.token).await.assert(404, Some("NOT_FOUND"));
        // A second owner may offer too.
        let co_owner = app.add_member(&owner, Role::Root).await;
        offer(&app, &co_owner.token, target.customer_id).await.assert(201, None);
        app.delete(OFFER, &owner.token, None).await.assert(204, None);
    }
}

dual_test! {
    async fn an_expired_offer_is_gone(app) {
        let app = TestApp::spawn_with(app.backend, |c| c.ownership_offer_ttl_days = 0).await.unwrap();
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        offer(&app, &owner.token, admin.customer_id).await.assert(201, None);
        accept(&app, &admin.token).await.assert(410, Some("GONE"));
        assert_eq!(role_of(&app, &owner.token, admin.customer_id).await, "admin");
        assert_eq!(role_of(&app, &owner.token, owner.customer_id).await, "root");
        // The owner can withdraw it, after which there is nothing to accept.
        app.delete(OFFER, &owner.token, None).await.assert(204, None);
        accept(&app, &admin.token).await.assert(404, Some("NOT_FOUND"));
    }
}

async fn add_domain(app: &TestApp, token: &str, hostname: &str) -> Resp {
    app.post("/v1/team-domains", Some(token), json!({ "hostname": hostname })).await
}

async fn domains(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get(&format!("/v1/team-domains{query}"), token).await;
    r.assert(200, None);
    r.body.clone()
}

dual_test! {
    async fn domains_are_added_listed_and_removed(app) {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        assert_eq!(domains(&app, &viewer.token, "").await, json!({ "data": [], "has_more": false, "total_count": 0 }));

        let r = add_domain(&app, &owner.token, "  Status.Example.COM ").await;
        r.assert(201, None);
        assert_eq!(r.body["hostname"], "status.example.com", "hostnames are trimmed and lowercased");
        assert_eq!(r.body["organization_id"], owner.organization_id.to_string());
        assert_eq!(r.body["created_at"], r.body["updated_at"]);
        let first = r.body.clone();
        let second = add_domain(&app, &admin.token, "uptime.example.io").await;
        second.assert(201, None);

        let all = domains(&app, &viewer.token, "").await;
        assert_eq!(all["total_count"], 2);
        assert_eq!(all["data"], json!([first, second.body]), "oldest first");
        let page = domains(&app, &viewer.token, "?limit=1&page=2").await;
        assert_eq!((page["data"].clone(), page["has_more"].clone()), (json!([second.body]), json!(false)));
        assert_eq!(domains(&app, &viewer.token, "?limit=1").await["has_more"], true);
        assert_invalid(&app.get("/v1/team-domains?limit=0", &viewer.token).await, "limit", "out_of_range");

        let r = app.delete("/v1/team-domains", &admin.token, Some(json!({ "id": first["id"] }))).await;
        r.assert(200, None);
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.text);
        let left = domains(&app, &owner.token, "").await;
        assert_eq!(left["data"], json!([second.body]));
        app.delete("/v1/team-domains", &admin.token, Some(json!({ "id": first["id"] }))).await.assert(404, Some("NOT_FOUND"));
        // Once removed, the hostname is free again.
        add_domain(&app, &owner.token, "status.example.com").await.assert(201, None);

        let id: uuid::Uuid = first["id"].as_str().unwrap().parse().unwrap();
        let events: Vec<_> = app.store.audit_events_for_target(id).await.unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(events, ["team_domain.added", "team_domain.removed"]);

        // Below admin: reading only.
        let manager = app.add_member(&owner, Role::Manager).await;
        add_domain(&app, &manager.token, "status.manager.com").await.assert(403, Some("FORBIDDEN"));
        app.delete("/v1/team-domains", &manager.token, Some(json!({ "id": second.body["id"] }))).await.assert(403, Some("FORBIDDEN"));
        assert_eq!(domains(&app, &manager.token, "").await["total_count"], 2);
    }
}

dual_test! {
    async fn domain_hostnames_must_be_one_public_host(app) {
        let owner = app.signup().await;
        for (bad, code) in [
            ("", "required"),
            ("   ", "required"),
            ("localhost", "invalid_hostname"),
            ("192.168.1.10", "ip_address"),
            ("2001:db8::1", "ip_address"),
            ("status.example.com.", "trailing_dot"),
            ("*.example.com", "wildcard"),
            ("status page.example.com", "invalid_hostname"),
            ("status_page.example.com", "invalid_hostname"),
            ("-status.example.com", "invalid_hostname"),
            ("https://status.example.com", "invalid_hostname"),
            ("status.example.com/path", "invalid_hostname"),
        ] {
            assert_invalid(&add_domain(&app, &owner.token, bad).await, "hostname", code);
        }
        let long = format!("{}.com", vec!["a".repeat(63); 4].join("."));
        assert_invalid(&add_domain(&app, &owner.token, &long).await, "hostname", "too_long");
        assert_invalid(&app.post("/v1/team-domains", Some(&owner.token), json!({})).await, "hostname", "required");
        let r = app.post("/v1/team-domains", Some(&owner.token), json!({ "hostname": "a.example.com", "organization_id": "x" })).await;
        assert_invalid(&r, "organization_id", "unknown_field");
        assert_eq!(domains(&app, &owner.token, "").await["total_count"], 0, "nothing was added");
    }
}

dual_test! {
    async fn a_hostname_belongs_to_one_organization(app) {
        let owner = app.signup().await;
        let stranger = app.signup().await;
        let mine = add_domain(&app, &owner.token, "status.acme.com").await;
        mine.assert(201, None);
        add_domain(&app, &stranger.token, "STATUS.acme.com").await.assert(409, Some("CONFLICT"));
        add_domain(&app, &owner.token, "status.acme.com").await.assert(409, Some("CONFLICT"));
        assert_eq!(domains(&app, &stranger.token, "").await["total_count"], 0, "another organization's domains are not listed");

        let foreign = app.delete("/v1/team-domains", &stranger.token, Some(json!({ "id": mine.body["id"] }))).await;
        foreign.assert(404, Some("NOT_FOUND"));
        let random = app.delete("/v1/team-domains", &stranger.token, Some(json!({ "id": uuid::Uuid::now_v7() }))).await;
        random.assert(404, Some("NOT_FOUND"));
        assert_eq!(foreign.body, random.body);
        assert_invalid(&app.delete("/v1/team-domains", &owner.token, Some(json!({ "id": "dom_1" }))).await, "id", "invalid_id");
        assert_invalid(&app.delete("/v1/team-domains", &owner.token, Some(json!({}))).await, "id", "required");
        assert_eq!(domains(&app, &owner.token, "").await["data"], json!([mine.body]), "refused deletions deleted nothing");
    }
}
