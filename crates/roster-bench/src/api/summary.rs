//! The human summary (a table per scale, then how each route grew from the
//! small data set to the large one) and the list of what went wrong.

use super::scale::Scale;
use super::Results;
use crate::report::{self, Row};
use serde::Serialize;
use std::fmt::Write;

/// One route's large-scale numbers over its small-scale ones.
#[derive(Debug, Serialize)]
pub struct Growth {
    pub key: &'static str,
    pub name: String,
    /// Below 1: the route serves fewer requests per second on the large data set.
    pub per_sec_ratio: Option<f64>,
    /// Above 1: the route answers more slowly on the large data set.
    pub p50_ratio: Option<f64>,
    pub p99_ratio: Option<f64>,
}

pub fn growth(small: &Scale, large: &Scale) -> Vec<Growth> {
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    small
        .measured
        .routes
        .iter()
        .filter_map(|s| {
            let l = large.measured.routes.iter().find(|l| l.key == s.key)?;
            let latency = |f: fn(&crate::stats::Latency) -> f64| match (&l.row.latency, &s.row.latency) {
                (Some(l), Some(s)) => ratio(f(l), f(s)),
                _ => None,
            };
            Some(Growth {
                key: s.key,
                name: s.row.name.clone(),
                per_sec_ratio: ratio(l.row.per_sec, s.row.per_sec),
                p50_ratio: latency(|l| l.p50_ms),
                p99_ratio: latency(|l| l.p99_ms),
            })
        })
        .collect()
}

pub fn markdown(r: &Results) -> String {
    let mib = |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let mut out = format!(
        "\n### API on {}: wrk, {} connections, {} threads, {} per route (login: {} connections)\n",
        r.backend, r.connections, r.wrk.threads, r.wrk.duration, r.login_connections
    );
    for s in &r.scales {
        let m = &s.measured;
        let b = &s.bulk_rows;
        let _ = write!(
            out,
            "\n#### {} customers\n\n\
             seeded: the caller through the API in {:.1} s; in bulk in {:.1} s: {} organizations, {} teams, \
             {} customers, {} memberships, {} services, {} channels, {} sessions\n\
             start to ready (spawn to first 200 from /readyz): {:.0} ms; server memory {} after start, peak {} (VmHWM)\n\n",
            s.customers,
            s.seed_api_secs,
            s.seed_bulk_secs,
            b.organizations,
            b.teams,
            b.customers,
            b.memberships,
            b.services,
            b.notification_channels,
            b.access_tokens,
            m.start_to_ready_ms,
            mib(m.server_rss_after_start_kib),
            mib(m.server_peak_rss_kib),
        );
        if let Some((baseline, rest)) = m.routes.split_first() {
            let mut rows: Vec<&Row> = rest.iter().map(|r| &r.row).collect();
            rows.extend([&m.notify, &m.deliveries]);
            out.push_str(&report::table(&baseline.row, &rows));
        }
        for refused in &m.refused {
            let _ = writeln!(out, "\nnot driven: {refused}");
        }
        for broken in &m.writes_broken {
            let _ = writeln!(out, "\nwrites failed {broken} (server restarted)");
        }
    }
    if let [small, large] = &r.scales[..] {
        let _ = write!(
            out,
            "\n#### Growth: {} over {} customers\n\n\
             | route | rate ratio | p50 ratio | p99 ratio |\n|---|---:|---:|---:|\n",
            large.customers, small.customers
        );
        let show = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
        for g in &r.growth {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                g.name,
                show(g.per_sec_ratio),
                show(g.p50_ratio),
                show(g.p99_ratio)
            );
        }
    }
    out.push_str(&cpu_table(r));
    let _ = write!(
        out,
        "\nload average at start {}, at end {}",
        r.machine.load_at_start.as_deref().unwrap_or("?"),
        r.load_at_end.as_deref().unwrap_or("?")
    );
    out
}

/// The server's CPU per request of each route at each scale, what a route
/// costs beyond the baseline's (the part a change to that route's handler,
/// queries or answer can move), and on PostgreSQL the database server's CPU
/// per request. Rates also carry wrk's share of the two cores and the
/// scheduler's noise; these count only the server and the database.
fn cpu_table(r: &Results) -> String {
    let Some(first) = r.scales.first() else { return String::new() };
    let postgres = r.scales.iter().flat_map(|s| &s.measured.routes).any(|m| m.database_cpu_us_per_request.is_some());
    let mut out = String::from("\n#### CPU per request (µs, user and system)\n\n| route |");
    let mut rule = String::from("|---|");
    for s in &r.scales {
        let _ = write!(out, " server, {0} | beyond baseline, {0} |", s.customers);
        rule.push_str("---:|---:|");
        if postgres {
            let _ = write!(out, " PostgreSQL, {} |", s.customers);
            rule.push_str("---:|");
        }
    }
    let _ = write!(out, "\n{rule}\n");
    let show = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
    for route in &first.measured.routes {
        let _ = write!(out, "| {} |", route.row.name);
        for s in &r.scales {
            let routes = &s.measured.routes;
            let at = routes.iter().find(|m| m.key == route.key);
            let own = at.and_then(|m| m.server_cpu_us_per_request);
            let baseline = routes.first().and_then(|b| b.server_cpu_us_per_request);
            let _ = write!(out, " {} | {} |", show(own), show(own.zip(baseline).map(|(own, base)| own - base)));
            if postgres {
                let _ = write!(out, " {} |", show(at.and_then(|m| m.database_cpu_us_per_request)));
            }
        }
        out.push('\n');
    }
    out
}

/// Everything that should not have happened: any error under load, any
/// notify not accepted, any delivery missing or repeated.
pub fn problems(scales: &[Scale]) -> Vec<String> {
    let mut found = Vec::new();
    for s in scales {
        let m = &s.measured;
        let at = s.customers;
        for route in m.routes.iter().filter(|r| r.row.errors > 0) {
            let e = &route.wrk.report.errors;
            found.push(format!(
                "{at} customers, {}: {} errors (wrk: {} non-2xx, connect {}, read {}, write {}, timeout {}; answers {:?})",
                route.row.name,
                route.row.errors,
                e.status,
                e.connect,
                e.read,
                e.write,
                e.timeout,
                route.wrk.report.statuses
            ));
        }
        found.extend(m.refused.iter().map(|r| format!("{at} customers, not driven: {r}")));
        found.extend(m.writes_broken.iter().map(|w| format!("{at} customers, writes failed {w}")));
        if m.notify.errors > 0 {
            found.push(format!(
                "{at} customers, notify: {} not accepted ({:?}); first: {}",
                m.notify.errors,
                m.notify_statuses,
                m.notify_first_error.as_deref().unwrap_or("?")
            ));
        }
        if m.deliveries.count < m.expected_deliveries || m.expected_deliveries == 0 {
            found.push(format!(
                "{at} customers: {} of {} deliveries arrived",
                m.deliveries.count, m.expected_deliveries
            ));
        }
        if m.duplicate_arrivals + m.unknown_arrivals > 0 {
            found.push(format!(
                "{at} customers: {} duplicate and {} unknown webhook arrivals",
                m.duplicate_arrivals, m.unknown_arrivals
            ));
        }
    }
    found
}
