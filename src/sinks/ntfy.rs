//! `ntfy`: publish to an ntfy topic as JSON (POST to the server's root with `topic`), which
//! carries UTF-8 titles that HTTP headers could not. Title: the topic and the story's title;
//! message: the snippet and the sources; click: the story's link; priority from the topic's
//! alert level (error 5, warn 4, info 3, debug 2, trace 1); tags from the config.

use std::time::Duration;

use serde::Serialize;
use url::Url;

use super::retry::Outcome;
use crate::config::{AlertLevel, Defaults, Secret};
use crate::guard::Guard;

pub struct Ntfy {
    server: Url,
    topic: String,
    token: Option<Secret>,
    tags: Vec<String>,
    guard: Guard,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct Message<'a> {
    topic: &'a str,
    title: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    click: Option<&'a str>,
    priority: u8,
    tags: &'a [String],
}

impl Ntfy {
    pub fn new(
        url: &Url,
        token: Option<&Secret>,
        tags: &[String],
        timeout: Duration,
        d: &Defaults,
    ) -> anyhow::Result<Ntfy> {
        let guard = Guard::for_feed(url, d.address_guard, d.allow_link_local);
        let topic = url
            .path_segments()
            .and_then(|mut p| p.next_back())
            .unwrap_or_default()
            .to_owned();
        let mut server = url.clone();
        if let Ok(mut p) = server.path_segments_mut() {
            p.pop();
        }
        Ok(Ntfy {
            server,
            topic,
            token: token.cloned(),
            tags: tags.to_vec(),
            guard,
            client: super::webhook::client(guard, timeout, d)?,
        })
    }

    pub async fn send(&self, key: &str, payload: &str, level: AlertLevel) -> Outcome {
        let alert: serde_json::Value = match serde_json::from_str(payload) {
            Ok(v) => v,
            Err(e) => return Outcome::Permanent(format!("unreadable payload: {e}")),
        };
        let text = |k: &str| alert.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let sources: Vec<&str> = alert
            .get("sources")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        let mut message = text("snippet").to_owned();
        if !sources.is_empty() {
            message.push_str(&format!("\n(reported by {})", sources.join(", ")));
        }
        let msg = Message {
            topic: &self.topic,
            title: format!("{}: {}", text("topic"), text("title")),
            message,
            click: alert.get("url").and_then(|v| v.as_str()),
            priority: match level {
                AlertLevel::Error => 5,
                AlertLevel::Warn => 4,
                AlertLevel::Info => 3,
                AlertLevel::Debug => 2,
                AlertLevel::Trace => 1,
            },
            tags: &self.tags,
        };
        let body = match serde_json::to_string(&msg) {
            Ok(b) => b,
            Err(e) => return Outcome::Permanent(format!("cannot encode the message: {e}")),
        };
        let mut req = self
            .client
            .post(self.server.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        super::webhook::post(&self.guard, &self.server, req).await
    }
}
