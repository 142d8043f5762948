//! What a channel's type and value may be.

use super::*;

dual_test! {
    async fn every_type_refuses_a_bad_value_and_duplicates_conflict(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let create = o.path("notification-channel");
            let r = app.post(&create, Some(&o.token), json!({})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["type", "value"]);
            let r = app.post(&create, Some(&o.token), json!({"type": "fax", "value": "x"})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert!(r.text.contains("invalid_channel_type"), "{}", r.text);
            for ty in ["email", "sms", "voice", "webhook", "slack", "discord", "msteams", "pagerduty", "push-notification"] {
                let r = app.post(&create, Some(&o.token), json!({"type": ty, "value": "not a value!"})).await;
                r.assert(422, Some("VALIDATION_ERROR"));
                assert_eq!(r.error_fields(), ["value"], "{ty}: {}", r.text);
            }
            // Webhooks must be https to a public host under the default settings.
            for url in ["http://example.com/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest"] {
                let r = app.post(&create, Some(&o.token), json!({"type": "webhook", "value": url})).await;
                r.assert(422, Some("VALIDATION_ERROR"));
            }
            let r = app.post(&create, Some(&o.token), json!({"type": "email", "value": address(), "webhook": {}})).await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert_eq!(r.error_fields(), ["webhook"]);
            let r = app.post(&create, Some(&o.token), json!({"type": "email", "value": address(), "mute": "yesterday"})).await;
            assert_eq!(r.error_fields(), ["mute"]);
            let r = app.post(&create, Some(&o.token), json!({"type": "email", "value": address(), "colour": "red"})).await;
            r.assert(422, None);
            assert!(list(&app, &o).await.is_empty());

            let email = address();
            add_email(&app, &o, &email).await;
            let r = app.post(&create, Some(&o.token), json!({"type": "EMAIL", "value": email.to_uppercase()})).await;
            r.assert(409, Some("CONFLICT"));
            assert_eq!(list(&app, &o).await.len(), 1);
        }
    }
}

dual_test! {
    async fn secret_values_and_webhook_headers_are_masked(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let create = o.path("notification-channel");
            let url = "https://hooks.example.com/services/very-secret-path";
            let r = app
                .post(&create, Some(&o.token), json!({"type": "webhook", "value": url, "webhook": {"method": "PUT", "headers": {"Authorization": "Bearer s3cret"}}}))
                .await;
            r.assert(201, None);
            assert!(!r.text.contains("very-secret-path") && !r.text.contains("s3cret"), "{}", r.text);
            assert_eq!(r.body["webhook"]["method"], "PUT");
            let r = app
                .post(&create, Some(&o.token), json!({"type": "webhook", "value": "https://hooks.example.com/x", "webhook": {"headers": {"Host": "evil"}}}))
                .await;
            r.assert(422, Some("VALIDATION_ERROR"));
            assert!(r.error_fields()[0].starts_with("webhook.headers"), "{}", r.text);
            let listed = list(&app, &o).await;
            assert_eq!(listed.len(), 1);
            assert!(!listed[0].to_string().contains("very-secret-path"));
        }
    }
}
