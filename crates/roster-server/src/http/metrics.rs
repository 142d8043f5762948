//! Request metrics in Prometheus text format. The recorder belongs to the
//! application instance (not the process), so servers started side by side,
//! as in tests, keep separate counts.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone)]
pub struct Metrics(Arc<PrometheusRecorder>);

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
const METADATA: Metadata<'static> = Metadata::new("roster", Level::INFO, Some(module_path!()));

impl Metrics {
    pub fn new() -> Self {
        let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &buckets)
            .expect("the bucket list is not empty")
            .build_recorder();
        Self(Arc::new(recorder))
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = vec![
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        self.0.register_counter(&Key::from_parts(REQUESTS, labels), &METADATA).increment(1);
        let labels = vec![
            Label::new("method", method.to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        self.0.register_histogram(&Key::from_parts(DURATION, labels), &METADATA).record(seconds);
    }

    pub fn render(&self) -> String {
        self.0.handle().render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The route template a request matched, carried on the response so the
/// outer layers (metrics, logs) can name the route without the raw path.
#[derive(Clone)]
pub struct RouteName(pub String);

/// Innermost: copies the matched route onto the response.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    tracing::Span::current().record("route", route.as_deref().unwrap_or("unmatched"));
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(RouteName(route));
    }
    res
}

/// Outer: counts and times every request by method, route and status.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    let route = res.extensions().get::<RouteName>().map(|r| r.0.as_str()).unwrap_or("unmatched");
    metrics.record_request(&method, route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`
pub async fn render(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render())
}
