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
        if alert.get("digest").and_then(|v| v.as_bool()) == Some(true) {
            return self.send_digest(key, &alert).await;
        }
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
        self.publish(key, &msg).await
    }

    /// A digest: one message listing each alert's topic and title (ntfy caps a message at
    /// 4,096 bytes; the list is cut before that and says how many more).
    async fn send_digest(&self, key: &str, digest: &serde_json::Value) -> Outcome {
        let alerts = digest
            .get("alerts")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        let mut message = String::new();
        for (i, a) in alerts.iter().enumerate() {
            let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let line = format!("• {}: {} {}\n", text("topic"), text("title"), text("url"));
            if message.len() + line.len() > 3800 {
                message.push_str(&format!("… and {} more", alerts.len() - i));
                break;
            }
            message.push_str(&line);
        }
        let msg = Message {
            topic: &self.topic,
            title: match digest.get("topic").and_then(|v| v.as_str()) {
                Some(t) => format!("newshound digest {t}: {} alerts", alerts.len()),
                None => format!("newshound digest: {} alerts", alerts.len()),
            },
            message,
            click: None,
            priority: 3,
            tags: &self.tags,
        };
        self.publish(key, &msg).await
    }

    async fn publish(&self, key: &str, msg: &Message<'_>) -> Outcome {
        let body = match serde_json::to_string(msg) {
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
