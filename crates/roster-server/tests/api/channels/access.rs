//! Who may read and change whose channels: 401, 404 across organizations and
//! for random ids, 403 by the object rules; deletion of an owner takes its channels.

use super::*;
use roster_core::role::Role;

dual_test! {
    async fn outsiders_and_random_ids_get_404_and_no_token_401(app) {
        let acc = app.signup().await;
        let stranger = app.signup().await;
        for o in owners(&acc) {
            add_email(&app, &o, &address()).await;
            app.call(reqwest::Method::GET, &o.path("notification-channels"), None, None).await.assert(401, None);
            // Another organization's owner is not found, for reading and for writing.
            app.get(&o.path("notification-channels"), &stranger.token).await.assert(404, Some("NOT_FOUND"));
            let r = app
                .post(&o.path("notification-channel"), Some(&stranger.token), json!({"type": "email", "value": address()}))
                .await;
            r.assert(404, Some("NOT_FOUND"));
            let del = format!("{}?priority=1", o.path("notification-channel"));
            app.delete(&del, &stranger.token, None).await.assert(404, Some("NOT_FOUND"));
            assert_eq!(list(&app, &o).await.len(), 1);
        }
        let random = uuid::Uuid::now_v7();
        for base in [format!("/v1/customer/{random}"), format!("/v1/team/{random}")] {
            app.get(&format!("{base}/notification-channels"), &acc.token).await.assert(404, Some("NOT_FOUND"));
            let r = app.post(&format!("{base}/notification-channel/test"), Some(&acc.token), json!({"priority": 1})).await;
            r.assert(404, Some("NOT_FOUND"));
        }
    }
}

dual_test! {
    async fn personal_channels_are_read_by_admins_and_changed_only_by_their_owner(app) {
        let acc = app.signup().await;
        let [mine, _] = owners(&acc);
        add_email(&app, &mine, &address()).await;
        let user = app.add_member(&acc, Role::User).await;
        let admin = app.add_member(&acc, Role::Admin).await;
        // A member does not read someone else's personal channels.
        app.get(&mine.path("notification-channels"), &user.token).await.assert(403, Some("FORBIDDEN"));
        // An admin reads them, but does not change them.
        let r = app.get(&mine.path("notification-channels"), &admin.token).await;
        r.assert(200, None);
        assert_eq!(r.body["total_count"], 1);
        let r = app.post(&mine.path("notification-channel"), Some(&admin.token), json!({"type": "email", "value": address()})).await;
        r.assert(403, Some("FORBIDDEN"));
        let r = app.put(&mine.path("notification-channel/enabled"), &admin.token, json!({"priority": 1, "enabled": false})).await;
        r.assert(403, Some("FORBIDDEN"));
        assert_eq!(list(&app, &mine).await[0]["enabled"], true);
        // Everyone manages their own.
        let own = Owner { kind: "customer", base: format!("/v1/customer/{}", user.customer_id), token: user.token.clone() };
        add_email(&app, &own, &address()).await;
        assert_eq!(list(&app, &own).await.len(), 1);
        // A viewer may not manage channels at all, even their own.
        let viewer = app.add_member(&acc, Role::Viewer).await;
        let r = app
            .post(&format!("/v1/customer/{}/notification-channel", viewer.customer_id), Some(&viewer.token), json!({"type": "email", "value": address()}))
            .await;
        r.assert(403, Some("FORBIDDEN"));
    }
}

dual_test! {
    async fn team_channels_are_read_by_everyone_and_managed_by_the_teams_managers(app) {
        let acc = app.signup().await;
        let [_, team] = owners(&acc);
        add_email(&app, &team, &address()).await;
        let viewer = app.add_member(&acc, Role::Viewer).await;
        let user = app.add_member(&acc, Role::User).await;
        let manager = app.add_member(&acc, Role::Manager).await;
        app.get(&team.path("notification-channels"), &viewer.token).await.assert(200, None);
        let body = json!({"type": "email", "value": address()});
        app.post(&team.path("notification-channel"), Some(&user.token), body.clone()).await.assert(403, Some("FORBIDDEN"));
        // A manager of this team manages its channels.
        app.post(&team.path("notification-channel"), Some(&manager.token), body).await.assert(201, None);
        // A manager of another team does not.
        let other_team = app.create_team(&acc.token, "Night shift").await;
        let outsider = app.add_member(&acc, Role::Manager).await;
        let other = format!("/v1/team/{other_team}");
        app.get(&format!("{other}/notification-channels"), &outsider.token).await.assert(200, None);
        let r = app
            .post(&format!("{other}/notification-channel"), Some(&outsider.token), json!({"type": "email", "value": address()}))
            .await;
        r.assert(403, Some("FORBIDDEN"));
        // Being on the team makes the difference.
        app.add_membership(acc.organization_id, other_team, outsider.customer_id, Role::Manager).await;
        let r = app
            .post(&format!("{other}/notification-channel"), Some(&outsider.token), json!({"type": "email", "value": address()}))
            .await;
        r.assert(201, None);
    }
}

async fn channel_rows(app: &TestApp, owner: uuid::Uuid) -> i64 {
    on_db!(app, |conn| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notification_channels WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
}

dual_test! {
    async fn deleting_a_team_or_a_customer_deletes_their_channels(app) {
        let acc = app.signup().await;
        let team = app.create_team(&acc.token, "Short lived").await;
        let o = Owner { kind: "team", base: format!("/v1/team/{team}"), token: acc.token.clone() };
        add_email(&app, &o, &address()).await;
        add_email(&app, &o, &address()).await;
        assert_eq!(channel_rows(&app, team.0).await, 2);
        let r = app.delete(&format!("/v1/team/{team}"), &acc.token, None).await;
        assert!(r.status.is_success(), "{}", r.text);
        assert_eq!(channel_rows(&app, team.0).await, 0);

        let user = app.add_member(&acc, Role::User).await;
        let mine = Owner { kind: "customer", base: format!("/v1/customer/{}", user.customer_id), token: user.token.clone() };
        add_email(&app, &mine, &address()).await;
        assert_eq!(channel_rows(&app, user.customer_id.0).await, 1);
        let r = app.delete(&format!("/v1/members/{}", user.customer_id), &acc.token, None).await;
        assert!(r.status.is_success(), "{}", r.text);
        assert_eq!(channel_rows(&app, user.customer_id.0).await, 0);
    }
}
