//! The daemon's Prometheus metrics: what polls, the writer and (later) the sinks count, and the
//! text the `/metrics` endpoint serves.
//!
//! Counters are atomics, touched once per poll or per commit, never per item: a poll adds its
//! item counts in one `inc_by`. Label sets that every poll uses (the outcomes, the item changes)
//! are looked up once here and kept as handles; the others (an error class, an HTTP status, a
//! topic) take a shared read lock of their family once per poll. What costs a query or a system
//! call (feeds failing, database size, RSS) is read only when scraped ([`Gauges`]).
//!
//! Names follow the Prometheus conventions: `newshound_` prefix, `_total` on counters, base
//! units in the name (`_seconds`, `_bytes`).

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::error_class::ErrorClass;
use crate::poll::{FeedReport, PollResult};
use crate::store::PollSummary;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Class {
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Code {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Change {
    change: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Topic {
    topic: LabelText,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivery {
    sink: LabelText,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Sink {
    sink: LabelText,
}

/// A label value from the config (a topic's or a sink's name), escaped as the exposition format
/// wants: prometheus-client writes label values as they are, and a `"` in a topic's name would
/// end the value early and break the whole scrape.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LabelText(String);

impl EncodeLabelValue for LabelText {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Poll and commit latencies, in seconds: 5 ms to about 82 s, doubling.
fn latency() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.005, 2.0, 15,
    ))
}

/// Store commits: 0.5 ms to about 8 s, doubling.
fn commit_latency() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 15,
    ))
}

/// Every metric the daemon exports, registered once; shared (`Arc`) by the pollers of every
/// configuration generation, the writer's commit hook and the HTTP listener.
pub struct Metrics {
    registry: Registry,
    fetched: Counter,
    not_modified: Counter,
    failed: Counter,
    cancelled: Counter,
    yielded: Counter,
    failures: Family<Class, Counter>,
    responses: Family<Code, Counter>,
    body_bytes: Counter,
    items_new: Counter,
    items_updated: Counter,
    items_merged: Counter,
    alerts: Family<Topic, Counter>,
    poll_seconds: Histogram,
    commit_seconds: Histogram,
    deliveries: Family<Delivery, Counter>,
    delivery_queue: Family<Sink, Gauge>,
    http_refused: Counter,
    feeds: Gauge,
    feeds_failing: Gauge,
    database_bytes: Gauge,
    wal_bytes: Gauge,
    resident_bytes: Gauge,
}

/// What is read when scraped rather than counted as it happens.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Feeds in the running config.
    pub feeds: u64,
    /// Of those, feeds with `failing_after` failures in a row or more (gone ones excluded).
    pub feeds_failing: u64,
    pub database_bytes: u64,
    pub wal_bytes: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::for_instance(None)
    }

    /// A daemon's metrics; with several daemons on one PostgreSQL, every series carries the
    /// daemon's instance id (`instance_id`, as `newshound instances` lists it), so the counters
    /// of daemons scraped together stay apart. (Not `instance`: Prometheus sets that one to the
    /// scrape target.)
    pub fn for_instance(id: Option<String>) -> Metrics {
        let mut registry = match id {
            Some(id) => Registry::with_labels(std::iter::once((
                std::borrow::Cow::Borrowed("instance_id"),
                std::borrow::Cow::Owned(id),
            ))),
            None => Registry::default(),
        };
        let polls = Family::<Outcome, Counter>::default();
        let handle = |outcome| polls.get_or_create(&Outcome { outcome }).clone();
        let (fetched, not_modified, failed, cancelled, yielded) = (
            handle("fetched"),
            handle("not_modified"),
            handle("failed"),
            handle("cancelled"),
            handle("yielded"),
        );
        registry.register(
            "newshound_polls",
            "Polls finished, by outcome (fetched: a 200 parsed and stored; not_modified: 304 or an unchanged file; failed: see newshound_poll_failures_total; cancelled: stopped by shutdown; yielded: several daemons, the claim ran out before the fetch)",
            polls,
        );
        let failures = Family::<Class, Counter>::default();
        registry.register(
            "newshound_poll_failures",
            "Failed polls by error class (timeout, dns, http_status, parse, body_too_large, ...)",
            failures.clone(),
        );
        let responses = Family::<Code, Counter>::default();
        registry.register(
            "newshound_http_responses",
            "HTTP responses received from feeds, by status code",
            responses.clone(),
        );
        let body_bytes = Counter::default();
        registry.register_with_unit(
            "newshound_fetched",
            "Bytes of feed bodies fetched (after content decoding)",
            Unit::Bytes,
            body_bytes.clone(),
        );
        let items = Family::<Change, Counter>::default();
        let change = |change| items.get_or_create(&Change { change }).clone();
        let (items_new, items_updated, items_merged) =
            (change("new"), change("updated"), change("merged"));
        registry.register(
            "newshound_items",
            "Items stored, by change (new; updated: changed text; merged: already stored from another feed)",
            items,
        );
        let alerts = Family::<Topic, Counter>::default();
        registry.register(
            "newshound_alerts",
            "Alerts raised, by topic",
            alerts.clone(),
        );
        let poll_seconds = latency();
        registry.register_with_unit(
            "newshound_poll_duration",
            "Time of a poll from its start (queueing for host and fetch slots included) to its commit",
            Unit::Seconds,
            poll_seconds.clone(),
        );
        let commit_seconds = commit_latency();
        registry.register_with_unit(
            "newshound_store_commit_duration",
            "Time of one store transaction (a group of polls committed together)",
            Unit::Seconds,
            commit_seconds.clone(),
        );
        // Deliveries are counted by the sinks' worker; registered here so the names exist (with
        // no series) before the first delivery.
        let deliveries = Family::<Delivery, Counter>::default();
        registry.register(
            "newshound_deliveries",
            "Alert delivery attempts by sink and outcome (sent, failed, held, dead)",
            deliveries.clone(),
        );
        let delivery_queue = Family::<Sink, Gauge>::default();
        registry.register(
            "newshound_delivery_queue_length",
            "Alerts waiting to be delivered, by sink",
            delivery_queue.clone(),
        );
        let http_refused = Counter::default();
        registry.register(
            "newshound_http_connections_refused",
            "Connections to the operations listener closed at once because max_connections were open",
            http_refused.clone(),
        );
        let feeds = Gauge::default();
        registry.register(
            "newshound_feeds",
            "Feeds in the running config",
            feeds.clone(),
        );
        let feeds_failing = Gauge::default();
        registry.register(
            "newshound_feeds_failing",
            "Feeds of the running config that failed failing_after times in a row or more",
            feeds_failing.clone(),
        );
        let database_bytes = Gauge::default();
        registry.register_with_unit(
            "newshound_database_size",
            "Size of the SQLite database file",
            Unit::Bytes,
            database_bytes.clone(),
        );
        let wal_bytes = Gauge::default();
        registry.register_with_unit(
            "newshound_database_wal_size",
            "Size of the SQLite write-ahead log",
            Unit::Bytes,
            wal_bytes.clone(),
        );
        let resident_bytes = Gauge::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size of the process",
            Unit::Bytes,
            resident_bytes.clone(),
        );
        Metrics {
            registry,
            fetched,
            not_modified,
            failed,
            cancelled,
            yielded,
            failures,
            responses,
            body_bytes,
            items_new,
            items_updated,
            items_merged,
            alerts,
            poll_seconds,
            commit_seconds,
            deliveries,
            delivery_queue,
            http_refused,
            feeds,
            feeds_failing,
            database_bytes,
            wal_bytes,
            resident_bytes,
        }
    }

    /// One HTTP response from a feed, with the size of its body (0 for a 304 or an error).
    pub fn response(&self, status: u16, body_bytes: usize) {
        self.responses.get_or_create(&Code { code: status }).inc();
        if body_bytes > 0 {
            self.body_bytes.inc_by(body_bytes as u64);
        }
    }

    /// A finished poll: its outcome, error class and duration.
    pub fn poll(&self, report: &FeedReport, took: Duration) {
        match &report.result {
            PollResult::Fetched { .. } => {
                self.fetched.inc();
            }
            PollResult::NotModified => {
                self.not_modified.inc();
            }
            PollResult::Failed {
                class: ErrorClass::Cancelled,
                ..
            } => {
                self.cancelled.inc();
                // Its duration is the shutdown's, not the feed's.
                return;
            }
            PollResult::Yielded => {
                self.yielded.inc();
                return;
            }
            PollResult::Failed { class, .. } => {
                self.failed.inc();
                self.failures
                    .get_or_create(&Class {
                        class: class.as_str(),
                    })
                    .inc();
            }
        }
        self.poll_seconds.observe(took.as_secs_f64());
    }

    /// What a committed poll changed: its item counts and alerts.
    pub fn stored(&self, summary: &PollSummary) {
        for (counter, n) in [
            (&self.items_new, summary.new),
            (&self.items_updated, summary.updated),
            (&self.items_merged, summary.merged),
        ] {
            if n > 0 {
                counter.inc_by(n as u64);
            }
        }
        for a in &summary.alerts {
            self.alerts
                .get_or_create(&Topic {
                    topic: LabelText(a.topic.clone()),
                })
                .inc();
        }
    }

    /// One store transaction (the writer's commit hook).
    pub fn commit(&self, took: Duration) {
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// The hook for alert sinks: one delivery attempt's outcome (`delivered`, `failed`,
    /// `dropped`).
    pub fn delivery(&self, sink: &str, outcome: &'static str) {
        self.deliveries
            .get_or_create(&Delivery {
                sink: LabelText(sink.to_owned()),
                outcome,
            })
            .inc();
    }

    /// The hook for alert sinks: how many alerts wait in `sink`'s queue now.
    pub fn delivery_queue_length(&self, sink: &str, length: usize) {
        self.delivery_queue
            .get_or_create(&Sink {
                sink: LabelText(sink.to_owned()),
            })
            .set(length as i64);
    }

    /// A connection the listener closed because it was full.
    pub fn http_refused(&self) {
        self.http_refused.inc();
    }

    /// The Prometheus text exposition, with the scrape-time gauges set from `gauges` and the
    /// process's resident memory read now.
    pub fn render(&self, gauges: Gauges) -> String {
        let set = |g: &Gauge, v: u64| {
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
        };
        set(&self.feeds, gauges.feeds);
        set(&self.feeds_failing, gauges.feeds_failing);
        set(&self.database_bytes, gauges.database_bytes);
        set(&self.wal_bytes, gauges.wal_bytes);
        set(&self.resident_bytes, resident_bytes().unwrap_or(0));
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's resident set size, from `/proc/self/statm` (pages).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(result: PollResult) -> FeedReport {
        FeedReport {
            feed: "f".into(),
            elapsed_ms: 0,
            result,
            facts: Default::default(),
            waits: Default::default(),
        }
    }

    #[test]
    fn polls_are_counted_by_outcome_and_failures_by_class() {
        let m = Metrics::new();
        m.poll(&report(PollResult::NotModified), Duration::from_millis(20));
        m.poll(
            &report(PollResult::Failed {
                class: ErrorClass::Timeout,
                http_status: None,
                error: "timed out".into(),
            }),
            Duration::from_secs(3),
        );
        m.response(200, 1234);
        m.response(304, 0);
        let text = m.render(Gauges {
            feeds: 3,
            feeds_failing: 1,
            ..Gauges::default()
        });
        for line in [
            "newshound_polls_total{outcome=\"not_modified\"} 1",
            "newshound_polls_total{outcome=\"failed\"} 1",
            "newshound_polls_total{outcome=\"fetched\"} 0",
            "newshound_poll_failures_total{class=\"timeout\"} 1",
            "newshound_http_responses_total{code=\"200\"} 1",
            "newshound_fetched_bytes_total 1234",
            "newshound_poll_duration_seconds_count 2",
            "newshound_feeds 3",
            "newshound_feeds_failing 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_topic_name_is_escaped_as_a_label_value() {
        let m = Metrics::new();
        let summary = PollSummary {
            new: 2,
            alerts: vec![crate::store::NewAlert {
                alert_id: 1,
                item_id: 1,
                story_id: 1,
                sources: 1,
                topic: "a\"b\\c\nd".into(),
                feed: "f".into(),
                title: "t".into(),
                url: None,
                published: None,
                terms: vec![],
                field: "title".into(),
                snippet: String::new(),
                query_index: 0,
            }],
            ..Default::default()
        };
        m.stored(&summary);
        let text = m.render(Gauges::default());
        assert!(
            text.contains("newshound_alerts_total{topic=\"a\\\"b\\\\c\\nd\"} 1"),
            "{text}"
        );
        assert!(text.contains("newshound_items_total{change=\"new\"} 2"));
    }
}
