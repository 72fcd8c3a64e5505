//! What `GET /metrics` tells an operator (SPEC §11), in the Prometheus text format.
//!
//! [`Metrics`] holds what every service counts: each request by method, route and status with
//! its latency ([`App`](crate::App) records every answer it gives, through
//! [`Service::metrics`](crate::Service::metrics)), and the latency of the storage's durable
//! writes ([`Metrics::storage_writes`]). A service adds its own families (the attendance
//! service's check-ins and refusals) to the [`Exposition`] before it answers.
//!
//! Labels are bounded, whatever a client sends: the route is the route table's pattern
//! (`/events/{event_id}`), never the path, and a path no route takes is counted as
//! [`UNMATCHED`]; methods are the few the router knows; statuses are the ones the services give.
//! So an attendee spraying random paths adds no series, and no ticket code or user name ever
//! appears here.

use crate::http::{Method, Response};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The route label of a request no route takes (a 404, or a path that cannot be decoded).
pub const UNMATCHED: &str = "unmatched";

/// The `Content-Type` of the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds of the latency histograms' buckets, in seconds: from a cached read (well
/// under a millisecond) to a flash card that stalls a sync for seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counts of one histogram: how many observations fell at or under each bound, their sum.
#[derive(Debug, Clone, Default)]
struct Counts {
    /// Per bucket, the observations above the previous bound and at or under this one; the
    /// exposition adds them up (Prometheus buckets are cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: Duration,
}

impl Counts {
    fn observe(&mut self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            self.buckets[bucket] += 1;
        }
        self.count += 1;
        self.sum = self.sum.saturating_add(took);
    }
}

/// A latency histogram that threads record into.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: Mutex<Counts>,
}

impl Histogram {
    /// Records one observation of `took`.
    pub fn observe(&self, took: Duration) {
        lock(&self.counts).observe(took);
    }

    fn snapshot(&self) -> Counts {
        lock(&self.counts).clone()
    }
}

/// One route's requests: how many of each status, and their latency.
#[derive(Debug, Default)]
struct RouteCounts {
    statuses: Vec<(u16, u64)>,
    latency: Counts,
}

/// What every service counts; see the module documentation.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(Method, &'static str), RouteCounts>>,
    storage_writes: Histogram,
}

impl Metrics {
    /// Empty counters.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one answered request: `method`, the pattern of its `route` (or [`UNMATCHED`]),
    /// the answer's `status`, and how long it `took` from the request read to the answer ready.
    pub fn record(&self, method: Method, route: &'static str, status: u16, took: Duration) {
        let mut requests = lock(&self.requests);
        let counts = requests.entry((method, route)).or_default();
        match counts.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => counts.statuses.push((status, 1)),
        }
        counts.latency.observe(took);
    }

    /// The latency of the storage's durable writes (for the journal, each batch's write and
    /// `fdatasync`), which the storage records into.
    pub fn storage_writes(&self) -> &Histogram {
        &self.storage_writes
    }

    /// The families counted here, for a service to add its own to and answer with
    /// ([`Exposition::into_response`]).
    pub fn exposition(&self) -> Exposition {
        let mut text = Exposition::default();
        let mut routes: Vec<((Method, &'static str), RouteCounts)> = lock(&self.requests)
            .iter()
            .map(|(key, counts)| {
                let copy = RouteCounts {
                    statuses: counts.statuses.clone(),
                    latency: counts.latency.clone(),
                };
                (*key, copy)
            })
            .collect();
        routes.sort_by_key(|((method, route), _)| (*route, method_label(*method)));
        let mut requests = Vec::new();
        for ((method, route), counts) in &routes {
            let mut statuses = counts.statuses.clone();
            statuses.sort_unstable();
            for (status, n) in statuses {
                let labels = vec![
                    ("method", method_label(*method).to_owned()),
                    ("route", (*route).to_owned()),
                    ("status", status.to_string()),
                ];
                requests.push((labels, n));
            }
        }
        text.counter(
            "tixgo_http_requests_total",
            "Requests answered, by method, route pattern and status.",
            &requests,
        );
        text.histogram_header(
            "tixgo_http_request_duration_seconds",
            "Time from a request read to its answer ready (a check-in's includes its durable write), by method and route pattern.",
        );
        for ((method, route), counts) in &routes {
            text.histogram_series(
                "tixgo_http_request_duration_seconds",
                &[("method", method_label(*method)), ("route", route)],
                &counts.latency,
            );
        }
        text.histogram_header(
            "tixgo_storage_write_seconds",
            "Time of each durable write of the storage (a journal batch's write and fdatasync).",
        );
        text.histogram_series(
            "tixgo_storage_write_seconds",
            &[],
            &self.storage_writes.snapshot(),
        );
        text
    }
}

/// The method label: the name the router knows it by, `OTHER` for the rest.
fn method_label(method: Method) -> &'static str {
    method.name().unwrap_or("OTHER")
}

/// The labels of one series: names and values.
pub type Labels = Vec<(&'static str, String)>;

/// A Prometheus text exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Adds a counter family `name` with its `help` line and one sample per labelled series.
    pub fn counter(&mut self, name: &str, help: &str, series: &[(Labels, u64)]) {
        self.header(name, help, "counter");
        for (labels, value) in series {
            self.sample(
                name,
                "",
                labels.iter().map(|(n, v)| (*n, v.as_str())),
                value,
            );
        }
    }

    fn histogram_header(&mut self, name: &str, help: &str) {
        self.header(name, help, "histogram");
    }

    /// One histogram series: its cumulative buckets, `+Inf`, sum and count.
    fn histogram_series(&mut self, name: &str, labels: &[(&str, &str)], counts: &Counts) {
        let mut below = 0;
        for (bound, n) in BUCKETS.iter().zip(counts.buckets) {
            below += n;
            let le = bound.to_string();
            let labels = labels.iter().copied().chain([("le", le.as_str())]);
            self.sample(name, "_bucket", labels, &below);
        }
        let all = labels.iter().copied().chain([("le", "+Inf")]);
        self.sample(name, "_bucket", all, &counts.count);
        let sum = counts.sum.as_secs_f64();
        self.sample(name, "_sum", labels.iter().copied(), &sum);
        self.sample(name, "_count", labels.iter().copied(), &counts.count);
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape(help, false));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample<'a>(
        &mut self,
        name: &str,
        suffix: &str,
        labels: impl Iterator<Item = (&'a str, &'a str)>,
        value: &dyn std::fmt::Display,
    ) {
        self.text.push_str(name);
        self.text.push_str(suffix);
        let mut first = true;
        for (label, value) in labels {
            self.text.push(if first { '{' } else { ',' });
            first = false;
            let _ = write!(self.text, "{label}=\"{}\"", escape(value, true));
        }
        if !first {
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// The text so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `200` answer of `GET /metrics`.
    pub fn into_response(self) -> Response {
        Response::with_body(200, CONTENT_TYPE, self.text.into_bytes())
            .with_header("Cache-Control", "no-store")
    }
}

/// `text` escaped for a help line (backslash and newline) or a label value (and `"`).
fn escape(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, prefix: &str) -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn requests_are_counted_by_method_route_and_status() {
        let metrics = Metrics::new();
        let ms = Duration::from_millis;
        metrics.record(Method::Post, "/checkins", 201, ms(3));
        metrics.record(Method::Post, "/checkins", 201, ms(7));
        metrics.record(Method::Post, "/checkins", 409, ms(2));
        metrics.record(Method::Get, UNMATCHED, 404, ms(0));
        let text = metrics.exposition().text().to_owned();
        assert_eq!(
            lines(&text, "tixgo_http_requests_total"),
            [
                r#"tixgo_http_requests_total{method="POST",route="/checkins",status="201"} 2"#,
                r#"tixgo_http_requests_total{method="POST",route="/checkins",status="409"} 1"#,
                r#"tixgo_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            ]
        );
        assert!(text.contains("# TYPE tixgo_http_requests_total counter\n"));
        assert!(text.contains("# TYPE tixgo_http_request_duration_seconds histogram\n"));
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_and_count() {
        let metrics = Metrics::new();
        for ms in [0, 2, 2, 40, 20_000] {
            metrics.storage_writes().observe(Duration::from_millis(ms));
        }
        let text = metrics.exposition().text().to_owned();
        let series = lines(&text, "tixgo_storage_write_seconds");
        let value = |le: &str| {
            let wanted = format!("tixgo_storage_write_seconds_bucket{{le=\"{le}\"}} ");
            series
                .iter()
                .find_map(|l| l.strip_prefix(&wanted))
                .unwrap_or_else(|| panic!("no bucket {le} in {series:?}"))
                .to_owned()
        };
        assert_eq!(value("0.0005"), "1");
        assert_eq!(value("0.001"), "1");
        assert_eq!(value("0.0025"), "3");
        assert_eq!(value("0.05"), "4");
        assert_eq!(value("10"), "4");
        assert_eq!(value("+Inf"), "5");
        assert!(series.contains(&"tixgo_storage_write_seconds_count 5".to_owned()));
        assert!(series.contains(&"tixgo_storage_write_seconds_sum 20.044".to_owned()));
        assert_eq!(series.len(), BUCKETS.len() + 3);
    }

    #[test]
    fn route_latency_is_one_histogram_per_method_and_route() {
        let metrics = Metrics::new();
        metrics.record(
            Method::Get,
            "/events/{event_id}",
            200,
            Duration::from_millis(1),
        );
        metrics.record(
            Method::Get,
            "/events/{event_id}",
            404,
            Duration::from_millis(1),
        );
        let text = metrics.exposition().text().to_owned();
        assert_eq!(
            lines(&text, "tixgo_http_request_duration_seconds_count"),
            [
                r#"tixgo_http_request_duration_seconds_count{method="GET",route="/events/{event_id}"} 2"#
            ]
        );
        assert!(text.contains(
            r#"tixgo_http_request_duration_seconds_bucket{method="GET",route="/events/{event_id}",le="0.001"} 2"#
        ));
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut text = Exposition::default();
        text.counter(
            "x_total",
            "a \\ b\nc",
            &[(vec![("reason", "say \"hi\"\\\n".to_owned())], 3)],
        );
        assert_eq!(
            text.text(),
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{reason=\"say \\\"hi\\\"\\\\\\n\"} 3\n"
        );
        let answer = text.into_response();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type, CONTENT_TYPE);
    }
}
