//! The traffic of a delivery run: the baseline requests, the notify calls,
//! and the matching of arrivals to the calls that caused them.

use crate::client::{Api, Owner};
use crate::load::{self, Run};
use crate::receiver::{Arrival, Receiver};
use crate::report::Row;
use crate::stats::{self, Latency};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// What one notify call produced.
pub struct NotifyOutcome {
    /// `None`: no answer (connection error, timeout).
    pub status: Option<u16>,
    pub alert_id: Option<String>,
    pub delivery_ids: Vec<String>,
    pub error: Option<String>,
}

/// The receiver hit directly: the same kind of request (headers and a JSON
/// body the size of an alert's), the same concurrency, the same receiver.
pub async fn baseline(client: &reqwest::Client, receiver: &Receiver, count: usize, concurrency: usize) -> Row {
    let url = receiver.url_for("/baseline");
    let client = client.clone();
    let run = load::drive(count, concurrency, move |i| {
        let request = client
            .post(&url)
            .header("webhook-id", format!("baseline-{i}"))
            .header("webhook-timestamp", "1700000000")
            .header("webhook-signature", format!("v1,{}", "A".repeat(44)))
            .json(&representative_body(i));
        async move { matches!(request.send().await, Ok(r) if r.status().is_success()) }
    })
    .await;
    let ok = run.samples.iter().filter(|s| s.value).count();
    Row {
        name: "baseline: POST to the receiver directly".into(),
        count: ok,
        errors: run.samples.len() - ok,
        elapsed_secs: run.elapsed.as_secs_f64(),
        per_sec: stats::rate(ok, run.elapsed),
        unit: "requests",
        latency: Latency::of(run.samples.iter().filter(|s| s.value).map(|s| s.latency()).collect()),
    }
}

/// A body shaped like the server's default webhook body for an alert.
fn representative_body(i: usize) -> Value {
    let id = uuid::Uuid::now_v7();
    json!({
        "type": "baseline", "delivery_id": id, "channel_id": id, "alert_id": id,
        "title": format!("[DOWN] bench alert {i}"), "message": "HTTP 503 from 3 of 3 locations",
        "sent_at": "2026-01-01T00:00:00Z", "event": "down", "urgency": "high",
        "service_id": null, "service_name": "", "team_name": "Bench Inc", "raised_at": "2026-01-01T00:00:00Z",
    })
}

pub async fn notify(api: &Api, owner: &Owner, count: usize, concurrency: usize) -> Run<NotifyOutcome> {
    let url = api.url(&format!("/v1/team/{}/notify", owner.team_id));
    let (client, token) = (api.client.clone(), owner.token.clone());
    load::drive(count, concurrency, move |i| {
        let body =
            json!({"event": "down", "title": format!("bench alert {i}"), "message": "HTTP 503 from 3 of 3 locations"});
        let request = client.post(&url).bearer_auth(&token).json(&body);
        async move {
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    return NotifyOutcome {
                        status: None,
                        alert_id: None,
                        delivery_ids: Vec::new(),
                        error: Some(e.to_string()),
                    }
                }
            };
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            if status != 202 {
                return NotifyOutcome {
                    status: Some(status),
                    alert_id: None,
                    delivery_ids: Vec::new(),
                    error: Some(format!("{status}: {text}")),
                };
            }
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let delivery_ids = body["deliveries"]
                .as_array()
                .map(|ds| ds.iter().filter_map(|d| d["delivery_id"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let alert_id = body["alert_id"].as_str().map(str::to_owned);
            let error = alert_id.is_none().then(|| format!("202 without an alert id: {text}"));
            NotifyOutcome { status: Some(status), alert_id, delivery_ids, error }
        }
    })
    .await
}

/// The notify calls as a row: only accepted alerts (202) count, so a quick
/// refusal cannot pass for throughput.
pub fn notify_row(notified: &Run<NotifyOutcome>) -> Row {
    let accepted = || notified.samples.iter().filter(|s| s.value.status == Some(202));
    let ok = accepted().count();
    Row {
        name: "notify: POST /v1/team/{id}/notify".into(),
        count: ok,
        errors: notified.samples.len() - ok,
        elapsed_secs: notified.elapsed.as_secs_f64(),
        per_sec: stats::rate(ok, notified.elapsed),
        unit: "requests",
        latency: Latency::of(accepted().map(|s| s.latency()).collect()),
    }
}

/// Notify answers by status (`error` for a request that got no answer).
pub fn notify_statuses(notified: &Run<NotifyOutcome>) -> BTreeMap<String, usize> {
    let mut statuses = BTreeMap::new();
    for s in &notified.samples {
        *statuses.entry(s.value.status.map_or("error".to_owned(), |c| c.to_string())).or_insert(0) += 1;
    }
    statuses
}

pub struct Tally {
    pub row: Row,
    pub arrived: usize,
    pub duplicates: usize,
    pub unknown: usize,
    pub last_arrival: Option<Instant>,
}

/// Matches arrivals to the notify calls that caused them: each delivery by its
/// `webhook-id` (the delivery id the notify answer named), timed from its
/// alert's notify request.
pub fn deliveries(notified: &Run<NotifyOutcome>, arrivals: &[Arrival], expected: usize) -> Tally {
    let sent: HashMap<&str, Instant> =
        notified.samples.iter().filter_map(|s| Some((s.value.alert_id.as_deref()?, s.start))).collect();
    let known: HashSet<&str> =
        notified.samples.iter().flat_map(|s| s.value.delivery_ids.iter().map(String::as_str)).collect();
    let mut seen = HashSet::new();
    let (mut latencies, mut duplicates, mut unknown, mut last) = (Vec::new(), 0, 0, None::<Instant>);
    for a in arrivals.iter().filter(|a| a.kind.as_deref() == Some("alert")) {
        let Some(id) = a.webhook_id.as_deref() else {
            unknown += 1;
            continue;
        };
        if !seen.insert(id) {
            duplicates += 1;
            continue;
        }
        match (known.contains(id), a.alert_id.as_deref().and_then(|alert| sent.get(alert))) {
            (true, Some(start)) => {
                latencies.push(a.at.saturating_duration_since(*start));
                last = Some(last.map_or(a.at, |l: Instant| l.max(a.at)));
            }
            _ => unknown += 1,
        }
    }
    let arrived = latencies.len();
    let elapsed = last.map_or(Duration::ZERO, |l| l.saturating_duration_since(notified.started));
    let row = Row {
        name: "deliveries: notify → webhook arrival".into(),
        count: arrived,
        errors: expected.saturating_sub(arrived),
        elapsed_secs: elapsed.as_secs_f64(),
        per_sec: stats::rate(arrived, elapsed),
        unit: "deliveries",
        latency: Latency::of(latencies),
    };
    Tally { row, arrived, duplicates, unknown, last_arrival: last }
}
