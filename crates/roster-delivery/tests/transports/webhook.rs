//! Generic webhooks: exactly what the receiver gets, and signatures checked
//! by an implementation written here from the Standard Webhooks text.

use crate::{client, post, WAIT};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use roster_delivery::transports::standard_webhooks::{self, generate_secret};
use roster_delivery::transports::{Delivered, WebhookRequest, WebhookSender};
use roster_testkit::{HttpReceiver, RecordedRequest};
use sha2::{Digest, Sha256};

/// HMAC-SHA256 as RFC 2104 defines it, on SHA-256 alone (not the hmac crate
/// the sender uses): H((K ^ opad) || H((K ^ ipad) || m)), 64-byte blocks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// The specification's verification, step by step: the key is the base64
/// after `whsec_`; the signed content is `{id}.{timestamp}.{body}`; the
/// header lists space-separated `v1,{base64}` signatures.
fn spec_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("prefixed")).expect("base64");
    let content = format!("{id}.{timestamp}.{body}");
    format!("v1,{}", STANDARD.encode(hmac_sha256(&key, content.as_bytes())))
}

fn signatures(req: &RecordedRequest) -> Vec<String> {
    req.header("webhook-signature").unwrap_or_default().split(' ').map(str::to_owned).collect()
}

#[test]
fn the_independent_implementation_reproduces_the_reference_vector() {
    let sig = spec_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[tokio::test]
async fn sends_the_channel_request_signed() {
    let receiver = HttpReceiver::start().await;
    let secret = generate_secret();
    let request = WebhookRequest {
        url: receiver.url_for("/hooks/in?existing=1"),
        method: "put".into(),
        headers: vec![("X-Team".into(), "ops".into()), ("Authorization".into(), "Bearer abc".into())],
        query: vec![("event".into(), "member.added".into()), ("q".into(), "a b&c".into())],
        body: Some(r#"{"event":"member.added","team":"ops"}"#.into()),
        msg_id: "msg_01JDX9".into(),
        secrets: vec![secret.clone()],
    };
    let before = roster_core::clock::now().unix_timestamp();
    assert_eq!(WebhookSender::new(client()).send(&request).await, Ok(Delivered { status: 200 }));

    let req = receiver.next_request(WAIT).await.expect("the webhook");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("PUT", "/hooks/in"));
    assert_eq!(req.query.as_deref(), Some("existing=1&event=member.added&q=a+b%26c"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("x-team"), Some("ops"));
    assert_eq!(req.header("authorization"), Some("Bearer abc"));
    assert!(req.header("user-agent").unwrap_or_default().starts_with("Roster/"));
    assert_eq!(req.body, r#"{"event":"member.added","team":"ops"}"#);
    assert_eq!(req.header("webhook-id"), Some("msg_01JDX9"));
    let timestamp = req.header("webhook-timestamp").expect("a timestamp");
    let ts: i64 = timestamp.parse().expect("Unix seconds");
    assert!((before..=before + 5).contains(&ts), "{ts} vs {before}");
    assert_eq!(signatures(&req), [spec_signature(&secret, "msg_01JDX9", timestamp, &req.body)]);

    // And our own verifier agrees, as a receiver using it would.
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &req.headers {
        headers.append(reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let now = roster_core::clock::now();
    assert_eq!(
        standard_webhooks::verify(&[&secret], &headers, req.body.as_bytes(), now, standard_webhooks::DEFAULT_TOLERANCE),
        Ok(())
    );
    let other = generate_secret();
    assert!(standard_webhooks::verify(
        &[&other],
        &headers,
        req.body.as_bytes(),
        now,
        standard_webhooks::DEFAULT_TOLERANCE
    )
    .is_err());
}

#[tokio::test]
async fn rotating_secrets_sign_once_each_and_the_content_type_can_be_overridden() {
    let receiver = HttpReceiver::start().await;
    let (old, new) = (generate_secret(), generate_secret());
    let mut request = post(receiver.url_for("/hook"));
    request.secrets = vec![old.clone(), new.clone()];
    request.headers = vec![("content-type".into(), "text/plain; charset=utf-8".into())];
    request.body = Some("plain text, signed".into());
    WebhookSender::new(client()).send_at(&request, 1_700_000_000).await.unwrap();

    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(req.header_all("content-type"), ["text/plain; charset=utf-8"]);
    assert_eq!(req.header("webhook-timestamp"), Some("1700000000"));
    let expected: Vec<String> =
        [&old, &new].iter().map(|s| spec_signature(s, &request.msg_id, "1700000000", "plain text, signed")).collect();
    assert_eq!(signatures(&req), expected);
}

#[tokio::test]
async fn a_get_has_no_body_and_unsigned_channels_still_get_id_and_timestamp() {
    let receiver = HttpReceiver::start().await;
    let secret = generate_secret();
    let mut request = post(receiver.url_for("/poll"));
    request.method = "GET".into();
    request.body = None;
    request.secrets = vec![secret.clone()];
    WebhookSender::new(client()).send(&request).await.unwrap();
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!((req.method.as_str(), req.body.as_str(), req.header("content-type")), ("GET", "", None));
    let ts = req.header("webhook-timestamp").unwrap();
    assert_eq!(signatures(&req), [spec_signature(&secret, &request.msg_id, ts, "")]);

    request.secrets.clear();
    WebhookSender::new(client()).send(&request).await.unwrap();
    let req = receiver.next_request(WAIT).await.unwrap();
    assert_eq!(req.header("webhook-id"), Some(request.msg_id.as_str()));
    assert!(req.header("webhook-timestamp").is_some());
    assert_eq!(req.header("webhook-signature"), None);
}

#[tokio::test]
async fn bad_channel_settings_fail_permanently_before_sending() {
    let receiver = HttpReceiver::start().await;
    let sender = WebhookSender::new(client());
    let base = post(receiver.url_for("/hook"));
    let cases = [
        (WebhookRequest { headers: vec![("Host".into(), "evil".into())], ..base.clone() }, "invalid_request"),
        (
            WebhookRequest { headers: vec![("Webhook-Signature".into(), "v1,x".into())], ..base.clone() },
            "invalid_request",
        ),
        (WebhookRequest { headers: vec![("bad header".into(), "x".into())], ..base.clone() }, "invalid_request"),
        (WebhookRequest { headers: vec![("x-a".into(), "line\nbreak".into())], ..base.clone() }, "invalid_request"),
        (WebhookRequest { method: "TRACE".into(), ..base.clone() }, "invalid_request"),
        (WebhookRequest { msg_id: "bad\nid".into(), ..base.clone() }, "invalid_request"),
        (WebhookRequest { secrets: vec!["whsec_short".into()], ..base.clone() }, "invalid_secret"),
        (WebhookRequest { url: "ftp://example.com/".into(), ..base.clone() }, "invalid_url"),
        (WebhookRequest { url: "nope".into(), ..base.clone() }, "invalid_url"),
    ];
    for (request, class) in cases {
        let err = sender.send(&request).await.unwrap_err();
        assert_eq!((err.class(), err.is_permanent()), (class, true), "{request:?}: {err}");
    }
    assert_eq!(receiver.connections(), 0);
}

/// `ROSTER_STANDARDWEBHOOKS_PYTHON=/path/to/venv/bin/python cargo test -p
/// roster-delivery --test transports -- --ignored reference_python`
#[tokio::test]
#[ignore = "needs ROSTER_STANDARDWEBHOOKS_PYTHON: a python with `pip install standardwebhooks`"]
async fn the_reference_python_library_verifies_what_we_send() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let python = std::env::var("ROSTER_STANDARDWEBHOOKS_PYTHON").expect("ROSTER_STANDARDWEBHOOKS_PYTHON");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transports/standard_webhooks_check.py");
    let receiver = HttpReceiver::start().await;
    let (old, new) = (generate_secret(), generate_secret());
    let mut request = post(receiver.url_for("/hook"));
    request.secrets = vec![old.clone(), new.clone()];
    request.body = Some(r#"{"team":"Zoë's \"ops\"","n":1}"#.into());
    WebhookSender::new(client()).send(&request).await.unwrap();
    let req = receiver.next_request(WAIT).await.unwrap();
    let headers: serde_json::Map<String, serde_json::Value> =
        req.headers.iter().map(|(n, v)| (n.clone(), v.clone().into())).collect();

    let verdict = |secret: &str| {
        let case = serde_json::json!({ "secret": secret, "headers": headers, "body": req.body });
        let mut child = Command::new(&python).arg(script).stdin(Stdio::piped()).spawn().expect("run python");
        child.stdin.take().unwrap().write_all(case.to_string().as_bytes()).unwrap();
        child.wait().unwrap().success()
    };
    assert!(verdict(&old), "the reference library refused the old secret's signature");
    assert!(verdict(&new), "the reference library refused the new secret's signature");
    assert!(!verdict(&generate_secret()), "the reference library accepted a stranger's secret");
}
