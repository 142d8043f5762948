//! An organization with one real object of every kind a route takes an id
//! for, made through the API, and a snapshot of everything in it as its owner
//! reads it.

use crate::channels::{add_email, address, verify_with_mail, Owner};
use crate::helpers::*;
use roster_core::role::Role;
use roster_core::scope::Scope;
use serde_json::{json, Value};

/// What a route's id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A person, as `/v1/customer/{…}` names them.
    Customer,
    /// A person, as `/v1/members/{…}` names them.
    Person,
    /// A person, as a team's member (`/v1/team/{id}/member/{…}`).
    TeamMember,
    Team,
    ApiKey,
    Service,
    Delivery,
    Channel,
    Domain,
    /// The address a pending invitation was sent to: invitations are named by it.
    Invitation,
    Alert,
    /// Any object at all (the audit trail's `target`).
    Any,
}

/// One organization and its objects.
pub struct World {
    pub owner: Account,
    pub admin: Account,
    pub manager: Account,
    /// A `user`: the person whose objects the owner manages.
    pub member: Account,
    pub viewer: Account,
    /// The owner's API key, holding every scope.
    pub key: String,
    pub key_id: String,
    pub service: String,
    pub domain: String,
    /// The address of a pending invitation to the owner's team.
    pub invited: String,
    /// The owner's and the member's personal channels, and the team's.
    pub channels: [String; 3],
    /// A test message through the owner's personal channel and an alert to the team.
    pub deliveries: [String; 2],
    pub alert: String,
}

impl World {
    pub async fn build(app: &TestApp) -> World {
        let owner = app.signup().await;
        let admin = app.add_member(&owner, Role::Admin).await;
        let manager = app.add_member(&owner, Role::Manager).await;
        let member = app.add_member(&owner, Role::User).await;
        let viewer = app.add_member(&owner, Role::Viewer).await;
        let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        let r = app.post("/v1/api-keys", Some(&owner.token), json!({ "name": "everything", "scopes": scopes })).await;
        r.assert(201, None);
        let (key, key_id) = (text(&r.body["secret"]), text(&r.body["id"]));

        let body = json!({ "name": "checkout", "team_id": owner.team_id });
        let r = app.post("/v1/service", Some(&owner.token), body).await;
        r.assert(201, None);
        let service = text(&r.body["service_id"]);
        let hostname = format!("status-{}.example.com", uuid::Uuid::new_v4().simple());
        let r = app.post("/v1/team-domains", Some(&owner.token), json!({ "hostname": hostname })).await;
        r.assert(201, None);
        let domain = text(&r.body["id"]);
        let invited = fresh_address("invited");
        let body = json!({ "channel_type": "email", "channel_value": invited, "role": "user" });
        app.post(&format!("/v1/team/{}/invitation", owner.team_id), Some(&owner.token), body).await.assert(201, None);
        app.mail_to(&invited).await;

        let personal = |who: &Account| Owner {
            kind: "customer",
            base: format!("/v1/customer/{}", who.customer_id),
            token: who.token.clone(),
        };
        let team = Owner { kind: "team", base: format!("/v1/team/{}", owner.team_id), token: owner.token.clone() };
        let mut channels = Vec::new();
        for o in [personal(&owner), personal(&member), team.clone()] {
            let value = address();
            let created = add_email(app, &o, &value).await;
            verify_with_mail(app, &o, 1, &value).await;
            channels.push(text(&created["id"]));
        }
        let r = app
            .post(&personal(&owner).path("notification-channel/test"), Some(&owner.token), json!({ "priority": 1 }))
            .await;
        r.assert(202, None);
        let tested = text(&r.body["delivery_id"]);
        let r = app.post(&team.path("notify"), Some(&owner.token), json!({ "event": "down", "title": "db" })).await;
        r.assert(202, None);
        let (alert, alerted) = (text(&r.body["alert_id"]), text(&r.body["deliveries"][0]["delivery_id"]));
        for id in [&tested, &alerted] {
            app.settled_delivery(&owner.token, id).await;
        }
        settle(app, &owner.token).await;
        World {
            owner,
            admin,
            manager,
            member,
            viewer,
            key,
            key_id,
            service,
            domain,
            invited,
            channels: channels.try_into().unwrap(),
            deliveries: [tested, alerted],
            alert,
        }
    }

    /// Every id of `kind` in this organization.
    pub fn ids(&self, kind: Kind) -> Vec<String> {
        let people = || vec![self.owner.customer_id.to_string(), self.member.customer_id.to_string()];
        match kind {
            Kind::Customer | Kind::Person | Kind::TeamMember => people(),
            Kind::Team => vec![self.owner.team_id.to_string()],
            Kind::ApiKey => vec![self.key_id.clone()],
            Kind::Service => vec![self.service.clone()],
            Kind::Delivery => self.deliveries.to_vec(),
            Kind::Channel => self.channels.to_vec(),
            Kind::Domain => vec![self.domain.clone()],
            Kind::Invitation => vec![self.invited.clone()],
            Kind::Alert => vec![self.alert.clone()],
            Kind::Any => [
                Kind::Customer,
                Kind::Team,
                Kind::ApiKey,
                Kind::Service,
                Kind::Delivery,
                Kind::Channel,
                Kind::Domain,
                Kind::Alert,
            ]
            .into_iter()
            .flat_map(|k| self.ids(k))
            .chain([self.owner.organization_id.to_string()])
            .collect(),
        }
    }

    /// The one id of `kind` that the owner may act on in every route: themselves where a
    /// person's own channels are meant, the member where someone else is managed.
    pub fn own(&self, kind: Kind) -> String {
        match kind {
            Kind::Customer => self.owner.customer_id.to_string(),
            Kind::Person | Kind::TeamMember => self.member.customer_id.to_string(),
            other => self.ids(other).remove(0),
        }
    }

    /// Everything in the organization as its owner reads it, route by route. Nothing here
    /// changes by being read: no field counts or dates reads, and every delivery has
    /// settled before the first snapshot.
    pub async fn snapshot(&self, app: &TestApp) -> Vec<(String, Value)> {
        let (team, owner, member) = (self.owner.team_id, self.owner.customer_id, self.member.customer_id);
        // Lists are read whole (`limit=100`); the rest take no query.
        let paths = [
            "/v1/organization".to_owned(),
            format!("/v1/customer/{owner}"),
            format!("/v1/customer/{member}"),
            "/v1/teams?limit=100".into(),
            format!("/v1/team/{team}/members?limit=100"),
            format!("/v1/team/{team}/invitations?limit=100"),
            "/v1/members?limit=100".into(),
            "/v1/memberships?limit=100".into(),
            format!("/v1/customer/{owner}/notification-channels?limit=100"),
            format!("/v1/customer/{member}/notification-channels?limit=100"),
            format!("/v1/team/{team}/notification-channels?limit=100"),
            "/v1/services?limit=100".into(),
            "/v1/team-domains?limit=100".into(),
            "/v1/api-keys?limit=100".into(),
            "/v1/deliveries?limit=100".into(),
            "/v1/audit-events?limit=100".into(),
        ];
        let mut out = Vec::new();
        for path in paths {
            let r = app.get(&path, &self.owner.token).await;
            r.assert(200, None);
            out.push((path, r.body.clone()));
        }
        out
    }
}

/// Waits until every delivery `token`'s caller can read has settled, so that the
/// worker changes nothing while the organization is being compared with itself.
async fn settle(app: &TestApp, token: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let r = app.get("/v1/deliveries?limit=100", token).await;
        r.assert(200, None);
        if r.body["data"].as_array().unwrap().iter().all(|d| d["settled_at"].is_string()) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries never settled: {}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}
