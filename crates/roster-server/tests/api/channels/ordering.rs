//! Priorities: assigned in order, reordered as a permutation, deleted all or none; the plan's limit.

use super::*;

dual_test! {
    async fn channels_are_reordered_and_deleted_all_or_none(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let (a, b, c) = (address(), address(), address());
            for (i, e) in [&a, &b, &c].into_iter().enumerate() {
                assert_eq!(add_email(&app, &o, e).await["priority"], i as i64 + 1);
            }
            let order = o.path("notification-channels/order");
            for (bad, why) in [(json!([1, 2]), "missing"), (json!([1, 2, 3, 4]), "4"), (json!([1, 1, 2, 3]), "more than once"), (json!([]), "missing")] {
                let r = app.put(&order, &o.token, json!({"priorities": bad})).await;
                r.assert(422, Some("VALIDATION_ERROR"));
                assert_eq!(r.error_fields()[0], "priorities");
                assert!(r.text.contains(why), "{}", r.text);
            }
            app.put(&order, &o.token, json!({})).await.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(values(&app, &o).await, [a.clone(), b.clone(), c.clone()]);
            let r = app.put(&order, &o.token, json!({"priorities": [3, 1, 2]})).await;
            r.assert(200, None);
            let got: Vec<_> = r.body["data"].as_array().unwrap().iter().map(|c| (c["priority"].as_i64().unwrap(), c["value"].as_str().unwrap().to_owned())).collect();
            assert_eq!(got, [(1, c.clone()), (2, a.clone()), (3, b.clone())]);
            assert_eq!(values(&app, &o).await, [c.clone(), a.clone(), b.clone()]);

            let del = o.path("notification-channel");
            for q in ["", "?priority=", "?priority=0", "?priority=abc", "?priority=1,-2", "?other=1"] {
                app.delete(&format!("{del}{q}"), &o.token, None).await.assert(422, Some("VALIDATION_ERROR"));
            }
            // One unknown priority: nothing is deleted.
            app.delete(&format!("{del}?priority=1,9"), &o.token, None).await.assert(404, Some("NOT_FOUND"));
            assert_eq!(values(&app, &o).await.len(), 3);
            let r = app.delete(&format!("{del}?priority=1&priority=3"), &o.token, None).await;
            r.assert(200, None);
            assert_eq!(r.body["deleted"], 2);
            assert_eq!(values(&app, &o).await, std::slice::from_ref(&a));
            // The next channel comes after the highest priority left.
            assert_eq!(add_email(&app, &o, &address()).await["priority"], 3);
        }
    }
}

dual_test! {
    async fn the_listing_filters_by_type_and_pages(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            add_email(&app, &o, &address()).await;
            app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": "sms", "value": "+14155550100"})).await.assert(201, None);
            add_email(&app, &o, &address()).await;
            let types = |r: &Resp| r.body["data"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
            let r = app.get(&o.path("notification-channels?include_types=sms"), &o.token).await;
            r.assert(200, None);
            assert_eq!((types(&r), r.body["total_count"].clone()), (vec!["sms".to_owned()], json!(1)));
            let r = app.get(&o.path("notification-channels?exclude_types=sms,push-notification"), &o.token).await;
            assert_eq!(types(&r), ["email", "email"]);
            let r = app.get(&o.path("notification-channels?limit=2"), &o.token).await;
            assert_eq!((types(&r).len(), r.body["has_more"].clone(), r.body["total_count"].clone()), (2, json!(true), json!(3)));
            let r = app.get(&o.path("notification-channels?limit=2&offset=2"), &o.token).await;
            assert_eq!((types(&r), r.body["has_more"].clone()), (vec!["email".to_owned()], json!(false)));
            let r = app.get(&o.path("notification-channels?limit=2&offset=10"), &o.token).await;
            r.assert(200, None);
            assert_eq!((types(&r).len(), r.body["total_count"].clone()), (0, json!(3)));
            for q in ["include_types=fax", "exclude_types=sms,pager"] {
                let r = app.get(&o.path(&format!("notification-channels?{q}")), &o.token).await;
                r.assert(422, Some("VALIDATION_ERROR"));
                assert_eq!(r.error_fields(), [q.split('=').next().unwrap()]);
            }
            app.get(&o.path("notification-channels?limit=101"), &o.token).await.assert(422, Some("VALIDATION_ERROR"));
        }
    }
}

dual_test! {
    async fn the_plan_limits_channels_per_owner(app) {
        let app = TestApp::spawn_with(app.backend, |c| {
            for plan in c.plans.values_mut() {
                plan.channels_per_owner = 2;
            }
        })
        .await
        .unwrap();
        let acc = app.signup().await;
        for o in owners(&acc) {
            add_email(&app, &o, &address()).await;
            add_email(&app, &o, &address()).await;
            let r = app.post(&o.path("notification-channel"), Some(&o.token), json!({"type": "email", "value": address()})).await;
            r.assert(403, Some("PLAN_LIMIT_REACHED"));
            assert_eq!(list(&app, &o).await.len(), 2);
        }
    }
}
