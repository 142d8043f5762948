//! Private targets are refused before any connection, whether the URL
//! names an IP or a host name that resolves to one.

use crate::{client, client_with, post};
use roster_delivery::transports::{ChatMessage, HttpConfig, SlackSender, WebhookSender};
use roster_testkit::HttpReceiver;
use url::Url;

fn guarded() -> WebhookSender {
    WebhookSender::new(client_with(HttpConfig::default()))
}

#[tokio::test]
async fn an_ip_literal_to_loopback_is_refused() {
    let receiver = HttpReceiver::start().await;
    for url in [receiver.url_for("/hook"), format!("http://[::ffff:127.0.0.1]:{}/hook", receiver.addr().port())] {
        let err = guarded().send(&post(url.clone())).await.unwrap_err();
        assert_eq!((err.class(), err.is_permanent()), ("ssrf_blocked", true), "{url}: {err}");
    }
    assert_eq!((receiver.requests().len(), receiver.connections()), (0, 0));
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
    let receiver = HttpReceiver::start().await;
    let url = format!("http://localhost:{}/hook", receiver.addr().port());
    let err = guarded().send(&post(url.clone())).await.unwrap_err();
    assert_eq!((err.class(), err.is_permanent(), err.status()), ("ssrf_blocked", true, None), "{err}");
    assert!(err.detail().contains("localhost"), "{err}");
    assert_eq!((receiver.requests().len(), receiver.connections()), (0, 0));

    // The same name goes through when private targets are allowed.
    assert!(WebhookSender::new(client()).send(&post(url)).await.is_ok());
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn a_base_url_override_is_checked_too() {
    let receiver = HttpReceiver::start().await;
    let base = Url::parse(&receiver.url()).unwrap();
    let slack = SlackSender::new(client_with(HttpConfig::default()), Some(base));
    let message = ChatMessage { title: String::new(), text: "hi".into() };
    let err = slack.send("https://hooks.slack.com/services/T/B/X", &message).await.unwrap_err();
    assert_eq!(err.class(), "ssrf_blocked");
    assert_eq!(receiver.connections(), 0);
}
