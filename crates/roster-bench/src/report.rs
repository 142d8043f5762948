//! Results as a Markdown table (rates and latencies beside their ratio to the
//! run's own baseline) and as raw JSON under `bench/results/`.

use crate::stats::Latency;
use anyhow::Context;
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One measured thing: how many, how fast, how long each took.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    /// Completed operations (requests answered, deliveries arrived).
    pub count: usize,
    /// Operations that did not complete as expected (non-2xx, connection errors, missing deliveries).
    pub errors: usize,
    pub elapsed_secs: f64,
    pub per_sec: f64,
    /// What `per_sec` counts: `requests` or `deliveries`.
    pub unit: &'static str,
    pub latency: Option<Latency>,
}

/// The table: each row's rate and latency, and their ratios to `baseline`'s.
pub fn table(baseline: &Row, rows: &[&Row]) -> String {
    let mut out = String::from(
        "| measurement | count | errors | rate | rate vs baseline | p50 ms | p99 ms | p50 vs baseline | p99 vs baseline |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let base = baseline.latency.as_ref();
    for row in std::iter::once(baseline).chain(rows.iter().copied()) {
        let l = row.latency.as_ref();
        let lat = |f: fn(&Latency) -> f64| l.map_or("–".to_owned(), |l| format!("{:.2}", f(l)));
        let vs = |f: fn(&Latency) -> f64| match (l, base) {
            (Some(l), Some(b)) if f(b) > 0.0 => format!("{:.1}×", f(l) / f(b)),
            _ => "–".to_owned(),
        };
        let rate_vs =
            if baseline.per_sec > 0.0 { format!("{:.3}", row.per_sec / baseline.per_sec) } else { "–".into() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} {}/s | {} | {} | {} | {} | {} |",
            row.name,
            row.count,
            row.errors,
            row.per_sec,
            row.unit,
            rate_vs,
            lat(|l| l.p50_ms),
            lat(|l| l.p99_ms),
            vs(|l| l.p50_ms),
            vs(|l| l.p99_ms),
        );
    }
    out
}

/// Writes `value` as pretty JSON to `{dir}/{scenario}-{backend}-{UTC timestamp}.json`.
pub fn write_json(dir: &Path, scenario: &str, backend: &str, value: &impl Serialize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))?;
    let path = dir.join(format!("{scenario}-{backend}-{stamp}.json"));
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    // `dir` defaults to a path through the crate's folder; show it plainly.
    Ok(path.canonicalize().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, per_sec: f64, p50: f64, p99: f64) -> Row {
        let latency =
            Latency { count: 10, min_ms: 0.1, mean_ms: p50, p50_ms: p50, p90_ms: p99, p99_ms: p99, max_ms: p99 };
        Row {
            name: name.into(),
            count: 10,
            errors: 0,
            elapsed_secs: 1.0,
            per_sec,
            unit: "requests",
            latency: Some(latency),
        }
    }

    #[test]
    fn rows_read_as_ratios_to_the_baseline() {
        let t = table(&row("baseline", 1000.0, 0.5, 2.0), &[&row("notify", 250.0, 5.0, 40.0)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert_eq!(lines[2], "| baseline | 10 | 0 | 1000 requests/s | 1.000 | 0.50 | 2.00 | 1.0× | 1.0× |");
        assert_eq!(lines[3], "| notify | 10 | 0 | 250 requests/s | 0.250 | 5.00 | 40.00 | 10.0× | 20.0× |");
    }
}
