use super::*;
use crate::channel::template::tests::ctx;
use serde_json::json;

fn config(v: serde_json::Value) -> WebhookConfig {
    serde_json::from_value(v).unwrap()
}

/// The (field, code) pairs `validate` reports.
fn problems(c: &WebhookConfig) -> Vec<(String, &'static str)> {
    c.validate().err().map(|e| e.0.into_iter().map(|f| (f.field, f.code)).collect()).unwrap_or_default()
}

fn headers(n: usize) -> BTreeMap<String, String> {
    (0..n).map(|i| (format!("X-H{i}"), "v".to_owned())).collect()
}

#[test]
fn defaults_and_wire_form() {
    let c = config(json!({}));
    assert_eq!(c, WebhookConfig::default());
    assert_eq!(c.method, HttpMethod::Post);
    assert!(c.validate().is_ok());
    let c = config(json!({"method": "put", "headers": {"Authorization": "Bearer x"}, "query": {"k": "v"}}));
    assert_eq!(c.method, HttpMethod::Put);
    assert_eq!(serde_json::to_value(&c).unwrap()["method"], "PUT");
    for m in ["GET", "POST", "PUT", "HEAD", "DELETE"] {
        let parsed: HttpMethod = serde_json::from_value(json!(m)).unwrap();
        assert_eq!(parsed.as_str(), m);
    }
    assert!(serde_json::from_value::<HttpMethod>(json!("PATCH")).is_err());
    assert!(serde_json::from_value::<WebhookConfig>(json!({"action": "get"})).is_err());
}

#[test]
fn header_rules() {
    let ok =
        config(json!({"headers": {"Authorization": "Bearer a b", "Content-Type": "application/xml", "X-A_b.c~": "1"}}));
    assert!(ok.validate().is_ok(), "{:?}", problems(&ok));
    for (name, value, code) in [
        ("Bad Name", "v", "invalid_header_name"),
        ("X:Colon", "v", "invalid_header_name"),
        ("", "v", "invalid_header_name"),
        ("Host", "evil.example", "forbidden_header"),
        ("content-length", "1", "forbidden_header"),
        ("Transfer-Encoding", "chunked", "forbidden_header"),
        ("CONNECTION", "close", "forbidden_header"),
        ("Upgrade", "h2c", "forbidden_header"),
        ("webhook-signature", "v1,x", "forbidden_header"),
        ("Webhook-Id", "x", "forbidden_header"),
        ("webhook-timestamp", "1", "forbidden_header"),
        ("X-Ok", "line\r\nInjected: 1", "invalid_header_value"),
        ("X-Ok", " leading", "invalid_header_value"),
        ("X-Ok", "trailing ", "invalid_header_value"),
        ("X-Ok", "naïve", "invalid_header_value"),
    ] {
        let c = WebhookConfig { headers: [(name.to_owned(), value.to_owned())].into(), ..Default::default() };
        assert_eq!(problems(&c), vec![(format!("headers.{name}"), code)], "{name}: {value:?}");
    }
    let twice = config(json!({"headers": {"X-Token": "a", "x-token": "b"}}));
    assert_eq!(problems(&twice), vec![("headers.x-token".to_owned(), "duplicate_header")]);
    assert!(WebhookConfig { headers: headers(20), ..Default::default() }.validate().is_ok());
    let many = WebhookConfig { headers: headers(21), ..Default::default() };
    assert_eq!(problems(&many), vec![("headers".to_owned(), "too_many")]);
}

#[test]
fn body_template_rules() {
    let with_body = |method: HttpMethod, body: &str| WebhookConfig {
        method,
        body_template: Some(body.to_owned()),
        ..Default::default()
    };
    assert!(with_body(HttpMethod::Post, r#"{"t":"{{title}}"}"#).validate().is_ok());
    assert!(with_body(HttpMethod::Delete, "{{event}}").validate().is_ok());
    for m in [HttpMethod::Get, HttpMethod::Head] {
        assert_eq!(problems(&with_body(m, "x")), vec![("body_template".to_owned(), "body_not_allowed")]);
    }
    assert!(WebhookConfig { method: HttpMethod::Get, ..Default::default() }.validate().is_ok());
    let unknown = with_body(HttpMethod::Post, "{{host}}").validate().unwrap_err();
    assert_eq!(unknown.0[0].code, "unknown_placeholder");
    assert!(unknown.0[0].message.contains("{{host}}"));
    assert!(with_body(HttpMethod::Post, &"x".repeat(8192)).validate().is_ok());
    assert_eq!(
        problems(&with_body(HttpMethod::Post, &"x".repeat(8193))),
        vec![("body_template".to_owned(), "too_long")]
    );
}

#[test]
fn query_rules() {
    let q = |k: &str, v: &str| WebhookConfig { query: [(k.to_owned(), v.to_owned())].into(), ..Default::default() };
    assert!(q("token", "a b&c").validate().is_ok());
    assert_eq!(problems(&q("", "v")), vec![("query.".to_owned(), "invalid_query")]);
    assert_eq!(problems(&q("k", "a\nb")), vec![("query.k".to_owned(), "invalid_characters")]);
    let many = WebhookConfig { query: headers(21), ..Default::default() };
    assert_eq!(problems(&many), vec![("query".to_owned(), "too_many")]);
}

#[test]
fn every_problem_is_reported_with_a_prefix() {
    let c = config(json!({"method": "HEAD", "headers": {"Host": "x"}, "body_template": "{{x}}", "query": {"": ""}}));
    let mut errors = crate::validation::FieldErrors::default();
    c.check_into(&mut errors, "webhook.");
    let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["webhook.headers.Host", "webhook.body_template", "webhook.query."]);
}

#[test]
fn renders_json_escaped_unless_the_content_type_says_otherwise() {
    let t = r#"{"text":"{{title}}"}"#;
    let with = |ct: Option<&str>| WebhookConfig {
        headers: ct.map(|ct| ("content-type".to_owned(), ct.to_owned())).into_iter().collect(),
        body_template: Some(t.to_owned()),
        ..Default::default()
    };
    let escaped = r#"{"text":"API \"prod\" is down"}"#;
    assert_eq!(with(None).render_body(&ctx()).unwrap(), escaped);
    assert_eq!(with(Some("application/json")).render_body(&ctx()).unwrap(), escaped);
    assert_eq!(with(Some("application/vnd.api+JSON; charset=utf-8")).render_body(&ctx()).unwrap(), escaped);
    assert_eq!(with(Some("text/plain")).render_body(&ctx()).unwrap(), r#"{"text":"API "prod" is down"}"#);
    assert_eq!(WebhookConfig::default().render_body(&ctx()), None);
}
