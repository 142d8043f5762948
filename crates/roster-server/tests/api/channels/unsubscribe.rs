//! One-click unsubscribe (RFC 8058) from a channel email, end to end: the
//! link arrives at the real SMTP server, the page behind it changes
//! nothing, and a POST switches the channel off once.

use super::*;
use roster_testkit::ReceivedMail;

/// The value of header `name` in the mail as sent, if present.
fn header<'a>(mail: &'a ReceivedMail, name: &str) -> Option<&'a str> {
    let head = mail.raw.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The token of the mail's `List-Unsubscribe` link, checking the header pair.
fn unsubscribe_token(app: &TestApp, mail: &ReceivedMail) -> String {
    let link = header(mail, "List-Unsubscribe").unwrap_or_else(|| panic!("no List-Unsubscribe in {}", mail.raw));
    let prefix = format!("<{}/v1/unsubscribe/", app.config.public_url());
    let token = link.strip_prefix(&prefix).and_then(|t| t.strip_suffix('>')).unwrap_or_else(|| panic!("{link}"));
    assert_eq!(header(mail, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    token.to_owned()
}

/// A mail client's one-click POST (RFC 8058 §3.2), or a browser's with `accept`.
async fn post_unsubscribe(app: &TestApp, token: &str, accept: Option<&str>) -> Resp {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/unsubscribe/{token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click");
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    TestApp::read(req.send().await.unwrap()).await
}

async fn get_page(app: &TestApp, token: &str) -> Resp {
    let req = app.client.get(app.url(&format!("/v1/unsubscribe/{token}"))).header("accept", "text/html");
    TestApp::read(req.send().await.unwrap()).await
}

/// Sends a test message through the owner's channel 1 and answers the mail that arrived.
async fn test_mail(app: &TestApp, o: &Owner, email: &str) -> ReceivedMail {
    app.post(&o.path("notification-channel/test"), Some(&o.token), json!({"priority": 1})).await.assert(202, None);
    app.mail_to(email).await
}

dual_test! {
    async fn a_channel_email_unsubscribes_its_channel_in_one_click(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = address();
            let c = add_email(&app, &o, &email).await;
            let id: uuid::Uuid = c["id"].as_str().unwrap().parse().unwrap();
            // The code itself comes without a link: there is no subscription yet.
            let verification = app.smtp.wait_for(&email, WAIT).await.unwrap();
            assert_eq!(header(&verification, "List-Unsubscribe"), None);
            let code = verification.code().unwrap();
            let body = json!({"priority": 1, "code": code});
            app.patch(&o.path("notification-channel/verification"), &o.token, body).await.assert(200, None);
            let token = unsubscribe_token(&app, &test_mail(&app, &o, &email).await);

            // The page only asks: a scanner that fetches the link unsubscribes nobody.
            let page = get_page(&app, &token).await;
            assert_eq!(page.status, 200, "{}", page.text);
            let ct = page.headers["content-type"].to_str().unwrap();
            assert!(ct.starts_with("text/html"), "{ct}");
            assert_eq!(page.headers["cache-control"], "no-store");
            assert_eq!(page.headers["referrer-policy"], "no-referrer");
            assert!(page.text.contains(&email) && page.text.contains("<form method=\"post\""), "{}", page.text);
            assert_eq!(list(&app, &o).await[0]["enabled"], true);

            // Another token, a token bent to another channel, or no token at all: 404.
            let other = add_email(&app, &o, &address()).await;
            let other_id: uuid::Uuid = other["id"].as_str().unwrap().parse().unwrap();
            let bent = bend_to(&token, other_id);
            for bad in [bent.as_str(), "nonsense", &token[..token.len() - 1]] {
                post_unsubscribe(&app, bad, None).await.assert(404, Some("NOT_FOUND"));
                get_page(&app, bad).await.assert(404, Some("NOT_FOUND"));
            }

            let r = post_unsubscribe(&app, &token, None).await;
            r.assert(200, None);
            assert_eq!((r.body["enabled"].clone(), r.body["changed"].clone()), (json!(false), json!(true)), "{}", r.text);
            let listed = list(&app, &o).await;
            assert_eq!((listed[0]["enabled"].clone(), listed[1]["enabled"].clone()), (json!(false), json!(true)));
            // Again: nothing more changes, and a browser gets a page.
            let r = post_unsubscribe(&app, &token, Some("text/html,application/xhtml+xml;q=0.9")).await;
            assert_eq!(r.status, 200);
            assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
            assert!(r.text.contains("receives no more alerts"), "{}", r.text);
            assert!(get_page(&app, &token).await.text.contains("no longer receives"));

            let trail = app.audit_trail(id).await;
            let disabled: Vec<_> = trail.iter().filter(|(a, _)| a == "channel.disabled").collect();
            assert_eq!(disabled.len(), 1, "{trail:?}");
            assert_eq!(disabled[0].1["via"], "list_unsubscribe");
            assert_eq!(disabled[0].1["owner"], o.kind);
            assert!(!disabled[0].1.to_string().contains(&email));
            let actor = app.store.audit_events_for_target(id).await.unwrap().into_iter().rev()
                .find(|e| e.action == "channel.disabled").unwrap().actor_id;
            let expected = (o.kind == "customer").then_some(acc.customer_id.0);
            assert_eq!(actor, expected, "the owner's choice: a person for personal channels, the team's for team channels");

            // Once the channel has moved to a new address, mail to the old one cannot switch it off.
            app.put(&o.path("notification-channel/enabled"), &o.token, json!({"priority": 1, "enabled": true})).await.assert(200, None);
            let new = address();
            app.put(&o.path("notification-channel"), &o.token, json!({"priority": 1, "value": new})).await.assert(200, None);
            verify_with_mail(&app, &o, 1, &new).await;
            post_unsubscribe(&app, &token, None).await.assert(404, Some("NOT_FOUND"));
            let fresh = unsubscribe_token(&app, &test_mail(&app, &o, &new).await);
            assert_ne!(fresh, token);
            post_unsubscribe(&app, &fresh, None).await.assert(200, None);
        }
    }
}

/// `token` with its channel id replaced by `channel`, its tag kept.
fn bend_to(token: &str, channel: uuid::Uuid) -> String {
    let mut parsed = roster_core::channel::UnsubscribeToken::parse(token).expect("a well-formed token");
    parsed.channel = channel;
    parsed.encode()
}

dual_test! {
    async fn an_alert_email_carries_the_link_and_one_click_stops_the_next_alert(app) {
        let acc = app.signup().await;
        for o in owners(&acc) {
            let email = address();
            add_email(&app, &o, &email).await;
            verify_with_mail(&app, &o, 1, &email).await;
            let alert = json!({"event": "down", "title": "checkout is down", "message": "502 from the load balancer"});
            app.post(&o.path("notify"), Some(&o.token), alert.clone()).await.assert(202, None);
            let mail = app.mail_to(&email).await;
            assert!(mail.subject.contains("checkout is down"), "{}", mail.subject);
            let token = unsubscribe_token(&app, &mail);
            post_unsubscribe(&app, &token, None).await.assert(200, None);
            // Switched off by its owner's click: the next alert skips it, and no one is left to hear it.
            let r = app.post(&o.path("notify"), Some(&o.token), alert).await;
            r.assert(409, Some("UNREACHABLE"));
            assert!(r.text.contains("disabled"), "{}", r.text);
        }
    }
}
