//! How every answer, and every failure to get one, is classified.

use crate::{client, client_with, post, WAIT};
use roster_delivery::transports::{Delivered, HttpConfig, TransportError, WebhookSender};
use roster_testkit::{Behavior, HttpReceiver, Reply};
use std::time::{Duration, Instant, SystemTime};

async fn answer_to(behavior: Behavior) -> (Result<Delivered, TransportError>, HttpReceiver) {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(behavior);
    let result = WebhookSender::new(client()).send(&post(receiver.url_for("/hook"))).await;
    (result, receiver)
}

#[tokio::test]
async fn success_statuses_are_delivered() {
    for status in [200, 201, 202, 204] {
        let (result, receiver) = answer_to(Behavior::Status(status)).await;
        assert_eq!(result, Ok(Delivered { status }));
        assert_eq!(receiver.requests().len(), 1);
    }
}

#[tokio::test]
async fn statuses_are_sorted_into_retry_or_not() {
    let cases: [(u16, &str, bool); 12] = [
        (400, "rejected", true),
        (401, "rejected", true),
        (403, "rejected", true),
        (404, "rejected", true),
        (422, "rejected", true),
        (410, "gone", true),
        (408, "timeout", false),
        (425, "server_error", false),
        (429, "rate_limited", false),
        (500, "server_error", false),
        (502, "server_error", false),
        (503, "server_error", false),
    ];
    for (status, class, permanent) in cases {
        let (result, _receiver) = answer_to(Behavior::Status(status)).await;
        let err = result.expect_err("a failure");
        assert_eq!(
            (err.class(), err.is_permanent(), err.status()),
            (class, permanent, Some(status)),
            "{status}: {err}"
        );
        assert_eq!(err.is_gone(), status == 410);
        assert_eq!(err.retry_after(), None, "{status}: no Retry-After was sent");
    }
}

#[tokio::test]
async fn redirects_are_permanent_failures_and_never_followed() {
    let target = HttpReceiver::start().await;
    for behavior in [
        Behavior::Redirect(target.url_for("/elsewhere")),
        Behavior::Reply(Reply::status(301).header("location", &target.url_for("/moved"))),
        Behavior::Reply(Reply::status(307).header("location", "/relative")),
        Behavior::Reply(Reply::status(308).header("location", &target.url_for("/p"))),
    ] {
        let (result, receiver) = answer_to(behavior.clone()).await;
        let err = result.expect_err("a redirect");
        assert_eq!((err.class(), err.is_permanent()), ("redirect", true), "{behavior:?}");
        assert!(matches!(err.status(), Some(301 | 302 | 307 | 308)));
        assert_eq!(receiver.requests().len(), 1, "{behavior:?}");
    }
    assert_eq!((target.requests().len(), target.connections()), (0, 0), "the redirect target is never reached");
}

#[tokio::test]
async fn rate_limits_carry_retry_after_in_seconds_or_as_a_date() {
    let (result, _r) = answer_to(Behavior::TooManyRequests { retry_after_secs: 30 }).await;
    let err = result.unwrap_err();
    assert_eq!(
        (err.class(), err.is_permanent(), err.retry_after()),
        ("rate_limited", false, Some(Duration::from_secs(30)))
    );

    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    let (result, _r) = answer_to(Behavior::Reply(Reply::status(429).header("retry-after", &date))).await;
    let wait = result.unwrap_err().retry_after().expect("a date is understood");
    assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120), "{wait:?}");

    // Clamped to 1 s ..= 1 h.
    let (result, _r) = answer_to(Behavior::TooManyRequests { retry_after_secs: 7 * 24 * 3600 }).await;
    assert_eq!(result.unwrap_err().retry_after(), Some(Duration::from_secs(3600)));
    let (result, _r) = answer_to(Behavior::TooManyRequests { retry_after_secs: 0 }).await;
    assert_eq!(result.unwrap_err().retry_after(), Some(Duration::from_secs(1)));
    let (result, _r) = answer_to(Behavior::Reply(Reply::status(429).header("retry-after", "tomorrow-ish"))).await;
    assert_eq!(result.unwrap_err().retry_after(), None);

    // A 503 may say when to come back too.
    let (result, _r) = answer_to(Behavior::Reply(Reply::status(503).header("retry-after", "5"))).await;
    let err = result.unwrap_err();
    assert_eq!((err.class(), err.retry_after()), ("server_error", Some(Duration::from_secs(5))));
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_within_the_configured_bound() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Hang);
    let timeout = Duration::from_millis(300);
    let http = client_with(HttpConfig { timeout, allow_private_targets: true, ..HttpConfig::default() });
    let started = Instant::now();
    let err = WebhookSender::new(http).send(&post(receiver.url_for("/hook"))).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!((err.class(), err.is_permanent(), err.status()), ("timeout", false, None), "{err}");
    assert!(elapsed >= timeout && elapsed < WAIT, "{elapsed:?}");
    assert_eq!(receiver.requests().len(), 1, "the request arrived; the answer never did");
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let err = WebhookSender::new(client()).send(&post(format!("http://{addr}/hook"))).await.unwrap_err();
    assert_eq!((err.class(), err.is_permanent(), err.status()), ("connect", false, None), "{err}");
}

#[tokio::test]
async fn huge_and_endless_bodies_are_read_only_up_to_the_cap() {
    let secret_body = format!("SECRET-{}", "y".repeat(10 << 20));
    let (result, _r) = answer_to(Behavior::Body { status: 500, body: secret_body }).await;
    let err = result.unwrap_err();
    assert_eq!((err.class(), err.status()), ("server_error", Some(500)));
    assert!(!err.to_string().contains("SECRET"), "the body is never part of the message: {err}");
    let excerpt = err.operator_excerpt().expect("an excerpt for operators");
    assert!(excerpt.starts_with("SECRET-yyy") && excerpt.chars().count() <= 200, "{excerpt}");

    // A body that never ends: reading it all would never finish.
    let started = Instant::now();
    let (result, _r) = answer_to(Behavior::Endless { status: 502 }).await;
    assert_eq!(result.unwrap_err().class(), "server_error");
    let (result, _r) = answer_to(Behavior::Endless { status: 200 }).await;
    assert_eq!(result, Ok(Delivered { status: 200 }));
    assert!(started.elapsed() < WAIT, "{:?}", started.elapsed());
}

#[tokio::test]
async fn errors_never_show_the_url() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Hang);
    let http = client_with(HttpConfig {
        timeout: Duration::from_millis(100),
        allow_private_targets: true,
        ..HttpConfig::default()
    });
    let err =
        WebhookSender::new(http).send(&post(receiver.url_for("/services/T0/B0/hunter2-token"))).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    receiver.respond_with(Behavior::Status(404));
    let err = WebhookSender::new(client()).send(&post(receiver.url_for("/x/hunter2-token"))).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}
