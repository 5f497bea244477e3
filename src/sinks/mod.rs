//! Alerts that reach people: the sinks (webhook, ntfy, email, exec) and the delivery worker that
//! sends the outbox's deliveries to them.
//!
//! The store enqueues one delivery per (alert, sink) in the alert's own transaction
//! (`store::outbox`); [`worker::Outbox`] is a tokio task of its own that reads due deliveries,
//! sends each through its [`Sink`] (per-sink concurrency, a timeout per attempt), and records
//! the outcome through the writer: sent, retried later ([`retry`]: exponential backoff with
//! jitter, `Retry-After` honoured, across restarts since the attempt count is stored), or
//! dead-lettered; or held for the next digest, when over a `max_per_hour` ([`budget`]). The
//! writer never waits on the network; a stalled receiver holds only its own sink's slots. The
//! `log` sink (`crate::alert`) stays always on and needs none of this.
//!
//! Must not: hold SQL (the store does), or block a tokio worker.

pub mod budget;
pub mod digest;
pub mod email;
pub mod exec;
pub mod ntfy;
pub mod retry;
pub mod webhook;
pub mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::{AlertLevel, Config, SinkConfig, SinkKind};
pub use retry::Outcome;
pub use worker::Outbox;

/// A configured sink, ready to send.
pub struct Sink {
    pub cfg: SinkConfig,
    transport: Transport,
    /// Sends in flight at once (`concurrency`).
    pub slots: Arc<Semaphore>,
    /// Each topic's alert level (ntfy's priority).
    levels: Arc<HashMap<String, AlertLevel>>,
}

enum Transport {
    Webhook(webhook::Webhook),
    Ntfy(ntfy::Ntfy),
    Exec(exec::Exec),
    Email(email::Email),
}

impl Sink {
    pub fn new(
        cfg: &SinkConfig,
        config: &Config,
        levels: Arc<HashMap<String, AlertLevel>>,
    ) -> anyhow::Result<Sink> {
        let d = &config.defaults;
        let transport = match &cfg.kind {
            SinkKind::Webhook {
                url,
                secret,
                headers,
            } => Transport::Webhook(webhook::Webhook::new(
                &url.0,
                secret.as_ref(),
                headers,
                cfg.timeout,
                d,
            )?),
            SinkKind::Ntfy { url, token, tags } => Transport::Ntfy(ntfy::Ntfy::new(
                &url.0,
                token.as_ref(),
                tags,
                cfg.timeout,
                d,
            )?),
            SinkKind::Exec { argv } => Transport::Exec(exec::Exec::new(argv)),
            SinkKind::Email(e) => Transport::Email(email::Email::new(e, cfg.timeout)?),
        };
        Ok(Sink {
            cfg: cfg.clone(),
            transport,
            slots: Arc::new(Semaphore::new(cfg.concurrency)),
            levels,
        })
    }

    /// One attempt, bounded by the sink's timeout.
    pub async fn send(&self, topic: &str, key: &str, payload: &str) -> Outcome {
        let attempt = async {
            match &self.transport {
                Transport::Webhook(w) => w.send(key, payload).await,
                Transport::Ntfy(n) => {
                    let level = self.levels.get(topic).copied().unwrap_or(AlertLevel::Info);
                    n.send(key, payload, level).await
                }
                Transport::Exec(e) => e.send(&self.cfg.name, key, payload).await,
                Transport::Email(e) => e.send(key, payload).await,
            }
        };
        match tokio::time::timeout(self.cfg.timeout, attempt).await {
            Ok(o) => o,
            Err(_) => Outcome::Transient {
                error: format!(
                    "no answer within {}",
                    humantime::format_duration(self.cfg.timeout)
                ),
                retry_after: None,
            },
        }
    }
}

/// Every configured sink by name.
pub fn build(cfg: &Config) -> anyhow::Result<HashMap<String, Arc<Sink>>> {
    let levels: Arc<HashMap<String, AlertLevel>> = Arc::new(
        cfg.topics
            .iter()
            .map(|t| (t.spec.name.clone(), t.level))
            .collect(),
    );
    cfg.sinks
        .iter()
        .map(|s| {
            let sink = Sink::new(s, cfg, levels.clone())
                .map_err(|e| e.context(format!("sink {}", s.name)))?;
            Ok((s.name.clone(), Arc::new(sink)))
        })
        .collect()
}

/// The sample alert `sinks test` sends: a payload like a real one, its key `test:0:SINK:<ms>`
/// (unique, so a receiver that drops repeats shows it).
pub fn sample_payload(sink: &str, topic: &str, now_ms: i64) -> (String, String) {
    let key = format!("test:0:{sink}:{now_ms}");
    let sources = ["newshound".to_owned()];
    let terms = ["test".to_owned()];
    let p = crate::store::Payload {
        idempotency_key: &key,
        sink,
        topic,
        title: "newshound test alert",
        url: Some("https://example.com/newshound-test"),
        feed: "newshound",
        published: chrono::DateTime::from_timestamp_millis(now_ms),
        sources: &sources,
        story_id: 0,
        item_id: 0,
        alert_id: 0,
        terms: &terms,
        field: "title",
        snippet: "This is a test alert sent by `newshound sinks test`.",
        enqueued_at: now_ms,
    };
    let body = serde_json::to_string(&p).unwrap_or_else(|_| "{}".into());
    (key, body)
}
