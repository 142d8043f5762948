//! `/v1/customer/quiet-hours`.

use super::*;

dual_test! {
    async fn quiet_hours_are_set_validated_and_cleared(app) {
        let acc = app.signup().await;
        let path = "/v1/customer/quiet-hours";
        let r = app.get(path, &acc.token).await;
        r.assert(200, None);
        assert_eq!(r.body, json!({"timezone": null, "windows": []}));
        let body = json!({"timezone": "Europe/Berlin", "windows": [{"days": ["mon", "fri"], "start": "22:00", "end": "07:00"}]});
        app.put(path, &acc.token, body.clone()).await.assert(200, None);
        assert_eq!(app.get(path, &acc.token).await.body, body);

        let r = app.put(path, &acc.token, json!({"timezone": "Mars/Olympus", "windows": [{"days": ["mon"], "start": "22:00", "end": "07:00"}]})).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["timezone"]);
        let r = app.put(path, &acc.token, json!({"timezone": "UTC", "windows": [{"days": ["mon"], "start": "25:00", "end": "07:00"}]})).await;
        r.assert(422, None);
        let r = app.put(path, &acc.token, json!({"windows": [{"days": ["mon"], "start": "22:00", "end": "07:00"}]})).await;
        r.assert(422, Some("VALIDATION_ERROR"));
        assert_eq!(r.error_fields(), ["timezone"]);
        // Refused changes left the stored value alone.
        assert_eq!(app.get(path, &acc.token).await.body, body);

        app.put(path, &acc.token, json!({"timezone": null, "windows": []})).await.assert(200, None);
        assert_eq!(app.get(path, &acc.token).await.body, json!({"timezone": null, "windows": []}));
        app.call(reqwest::Method::GET, path, None, None).await.assert(401, None);
    }
}
