//! Request metrics in Prometheus text format. The recorder belongs to the
//! application instance (not the process), so servers started side by side,
//! as in tests, keep separate counts.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    /// The series already registered, by method and status, then route:
    /// looked up with borrowed values, so recording allocates nothing.
    series: Arc<RwLock<SeriesByKey>>,
}

type SeriesByKey = HashMap<(Method, u16), HashMap<Box<str>, Series>>;

/// One method × route × status: its request counter and latency histogram.
struct Series {
    requests: Counter,
    duration: Histogram,
}

static OTHER: std::sync::LazyLock<Method> =
    std::sync::LazyLock::new(|| Method::from_bytes(b"OTHER").expect("a valid method token"));

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
        Self { recorder: Arc::new(recorder), series: Arc::default() }
    }

    pub fn record_request(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        // Any method is a valid token: counting unknown ones apart would let
        // a client create series without end.
        let standard =
            [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::HEAD, Method::OPTIONS];
        let method = if standard.contains(method) { method } else { &OTHER };
        let key = (method.clone(), status);
        {
            let series = self.series.read().expect("metrics lock poisoned");
            if let Some(s) = series.get(&key).and_then(|routes| routes.get(route)) {
                s.requests.increment(1);
                s.duration.record(seconds);
                return;
            }
        }
        let labels = || {
            vec![
                Label::new("method", method.as_str().to_owned()),
                Label::new("route", route.to_owned()),
                Label::new("status", status.to_string()),
            ]
        };
        let series = Series {
            requests: self.recorder.register_counter(&Key::from_parts(REQUESTS, labels()), &METADATA),
            duration: self.recorder.register_histogram(&Key::from_parts(DURATION, labels()), &METADATA),
        };
        series.requests.increment(1);
        series.duration.record(seconds);
        let mut all = self.series.write().expect("metrics lock poisoned");
        all.entry(key).or_default().insert(route.into(), series);
    }

    /// Folds recorded latencies into their histograms. Until this runs (or
    /// a scrape does), every sample is kept in memory: a server nobody
    /// scrapes would grow by a few bytes per request, forever.
    pub fn upkeep(&self) {
        self.recorder.handle().run_upkeep();
    }

    /// Everything recorded, then the store's principal cache counters.
    pub fn render(&self, store: &roster_store::Store) -> String {
        let mut text = self.recorder.handle().render();
        if let Some(s) = store.principal_cache_stats() {
            use std::fmt::Write;
            let counters = [
                ("hits", "Authenticated requests whose principal came from memory.", s.hits),
                ("misses", "Authenticated requests whose principal was read from the database.", s.misses),
                ("invalidations", "Times the principal cache was cleared after a change.", s.invalidations),
            ];
            for (name, help, value) in counters {
                let _ = write!(
                    text,
                    "# HELP roster_principal_cache_{name}_total {help}\n# TYPE roster_principal_cache_{name}_total counter\nroster_principal_cache_{name}_total {value}\n"
                );
            }
            let _ = write!(
                text,
                "# HELP roster_principal_cache_live 1 while the principal cache serves entries.\n# TYPE roster_principal_cache_live gauge\nroster_principal_cache_live {}\n",
                u8::from(s.live)
            );
        }
        text
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
pub struct RouteName(pub MatchedPath);

/// Innermost: copies the matched route onto the response.
pub async fn tag_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    tracing::Span::current().record("route", route.as_ref().map_or("unmatched", |r| r.as_str()));
    let mut res = next.run(req).await;
    if let Some(route) = route {
        res.extensions_mut().insert(RouteName(route));
    }
    res
}

/// Outer: counts and times every request by method, route and status.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let res = next.run(req).await;
    let route = res.extensions().get::<RouteName>().map(|r| r.0.as_str()).unwrap_or("unmatched");
    metrics.record_request(&method, route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}
