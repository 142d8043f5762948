//! The HTTP receiver against a real client (reqwest) and against raw HTTP.

use roster_testkit::{Behavior, HttpReceiver, Reply};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

#[tokio::test]
async fn records_method_path_query_headers_and_body_in_order() {
    let receiver = HttpReceiver::start().await;
    assert!(receiver.url().starts_with("http://127.0.0.1:"));
    assert_eq!(receiver.url_for("a/b?c=d"), format!("{}/a/b?c=d", receiver.url()));
    let http = client();

    let first = http
        .post(receiver.url_for("/hooks/1?x=1&y=two%20words"))
        .header("X-Custom", "value")
        .header("Content-Type", "application/json")
        .body(r#"{"text":"héllo"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), "");
    http.get(receiver.url_for("/second")).send().await.unwrap();

    let req = receiver.next_request(WAIT).await.expect("the first request");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/hooks/1"));
    assert_eq!(req.query.as_deref(), Some("x=1&y=two%20words"));
    assert_eq!(req.query_pairs()[1], ("y".to_owned(), "two words".to_owned()));
    assert_eq!(req.header("x-custom"), Some("value"));
    assert_eq!(req.json().unwrap()["text"], "héllo");
    let second = receiver.next_request(WAIT).await.expect("the second request");
    assert_eq!((second.method.as_str(), second.path.as_str(), second.query.as_deref()), ("GET", "/second", None));
    assert_eq!(second.body, "");

    assert_eq!(receiver.requests(), vec![req, second]);
    assert_eq!(receiver.wait_for_count(2, WAIT).await.map(|r| r.len()), Some(2));
    assert!(receiver.next_request(Duration::from_millis(20)).await.is_none());
    assert!(receiver.wait_for_count(3, Duration::from_millis(20)).await.is_none());
}

#[tokio::test]
async fn a_waiter_is_woken_by_a_request_that_arrives_later() {
    let receiver = HttpReceiver::start().await;
    let url = receiver.url_for("/late");
    let (waited, sent) =
        tokio::join!(receiver.wait_for_count(1, WAIT), async { client().put(url).body("b").send().await.unwrap() });
    assert_eq!(sent.status(), 200);
    let requests = waited.expect("woken by the request");
    assert_eq!((requests[0].method.as_str(), requests[0].body.as_str()), ("PUT", "b"));
}

#[tokio::test]
async fn answers_as_programmed() {
    let receiver = HttpReceiver::start().await;
    let http = client();
    let status = |path: &'static str| {
        let req = http.post(receiver.url_for(path));
        async move { req.send().await.unwrap() }
    };

    receiver.respond_with(Behavior::Status(503));
    assert_eq!(status("/a").await.status(), 503);

    receiver.respond_with(Behavior::Sequence(vec![500, 429, 204]));
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(status("/seq").await.status().as_u16());
    }
    assert_eq!(seen, [500, 429, 204, 204, 204]);

    receiver.respond_with(Behavior::TooManyRequests { retry_after_secs: 30 });
    let limited = status("/limited").await;
    assert_eq!((limited.status().as_u16(), limited.headers()["retry-after"].to_str().unwrap()), (429, "30"));

    receiver.respond_with(Behavior::Redirect("http://192.0.2.1/elsewhere".into()));
    let moved = status("/moved").await;
    assert_eq!(
        (moved.status().as_u16(), moved.headers()["location"].to_str().unwrap()),
        (302, "http://192.0.2.1/elsewhere")
    );

    receiver.respond_with(Behavior::Body { status: 400, body: "x".repeat(1 << 20) });
    let big = status("/big").await;
    assert_eq!(big.status(), 400);
    assert_eq!(big.text().await.unwrap().len(), 1 << 20);

    let date = "Wed, 21 Oct 2037 07:28:00 GMT";
    receiver.respond_with(Behavior::Reply(
        Reply::status(301).header("location", "/x").header("retry-after", date).body("b"),
    ));
    let reply = status("/reply").await;
    assert_eq!(reply.status(), 301);
    assert_eq!(reply.headers()["retry-after"], date);
    assert_eq!(reply.text().await.unwrap(), "b");

    assert_eq!(receiver.requests().len(), 10);
}

#[tokio::test]
async fn an_endless_body_never_ends() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Endless { status: 500 });
    let mut response = client().get(receiver.url()).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let mut read = 0;
    while read < 4 << 20 {
        read += response.chunk().await.unwrap().expect("more body").len();
    }
}

#[tokio::test]
async fn a_hanging_receiver_records_the_request_and_answers_nothing_until_dropped() {
    let receiver = HttpReceiver::start().await;
    receiver.respond_with(Behavior::Hang);
    let mut stream = TcpStream::connect(receiver.addr()).await.unwrap();
    stream.write_all(b"POST /hang HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi").await.unwrap();

    let req = receiver.next_request(WAIT).await.expect("recorded before hanging");
    assert_eq!((req.path.as_str(), req.body.as_str()), ("/hang", "hi"));
    assert_eq!(receiver.connections(), 1);
    let mut buf = [0u8; 64];
    assert!(tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await.is_err(), "no answer");

    drop(receiver);
    let n = tokio::time::timeout(WAIT, stream.read(&mut buf)).await.expect("closed on drop").unwrap_or(0);
    assert_eq!(n, 0, "the connection ends without an answer");
}
