//! `email`: one plain-text mail per alert through an SMTP submission server (lettre, rustls),
//! STARTTLS (default, port 587) or implicit TLS (port 465), never unencrypted; AUTH when a
//! username is set. The `Message-ID` is derived from the idempotency key, so a mail sent again
//! after a crash carries the same id and mail clients show it once.
//!
//! SMTP's answers classify the attempt: 5xx permanent, 4xx and connection or TLS failures
//! retried. The address guard does not apply: the server is the operator's own configuration,
//! not something a feed can steer.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::retry::Outcome;
use crate::config::EmailConfig;

pub struct Email {
    cfg: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Email {
    pub fn new(cfg: &EmailConfig, timeout: std::time::Duration) -> anyhow::Result<Email> {
        let mut tls = TlsParameters::builder(cfg.server.clone());
        if let Some(pem) = &cfg.ca_pem {
            tls = tls.add_root_certificate(Certificate::from_pem(pem)?);
        }
        let tls = tls.build_rustls()?;
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.server.clone())
            .port(cfg.port)
            .timeout(Some(timeout))
            .tls(if cfg.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Required(tls)
            });
        if let Some((user, password)) = &cfg.credentials {
            b = b.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Email {
            cfg: cfg.clone(),
            transport: b.build(),
        })
    }

    pub async fn send(&self, key: &str, payload: &str) -> Outcome {
        let message = match self.message(key, payload) {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent(format!("cannot build the mail: {e}")),
        };
        match self.transport.send(message).await {
            Ok(r) => Outcome::Delivered(format!(
                "SMTP {}: {}",
                r.code(),
                r.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Outcome::Permanent(format!("SMTP: {}", chain(&e))),
            Err(e) => Outcome::Transient {
                error: format!("SMTP: {}", chain(&e)),
                retry_after: None,
            },
        }
    }

    fn message(&self, key: &str, payload: &str) -> anyhow::Result<Message> {
        let alert: serde_json::Value = serde_json::from_str(payload)?;
        let text = |k: &str| alert.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let digest = alert.get("digest").and_then(|v| v.as_bool()) == Some(true);
        let subject = if digest {
            // A topic's own digest (`per_topic`) names it.
            let of = match alert.get("topic").and_then(|v| v.as_str()) {
                Some(t) => format!(" {t}"),
                None => String::new(),
            };
            format!(
                "[newshound] digest{of}: {} alerts",
                alert.get("count").and_then(|v| v.as_u64()).unwrap_or(0)
            )
        } else {
            format!("[newshound] {}: {}", text("topic"), text("title"))
        };
        // Feed text goes into a header: one line, no control characters.
        let subject: String = subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        let body = if digest {
            alert
                .get("alerts")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().map(body_of).collect::<Vec<_>>().join("\n----\n\n"))
                .unwrap_or_default()
        } else {
            body_of(&alert)
        };
        let mut m = Message::builder()
            .from(self.cfg.from.clone())
            .subject(subject)
            .message_id(Some(message_id(key)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.cfg.to {
            m = m.to(to.clone());
        }
        Ok(m.body(body)?)
    }
}

/// The plain-text body of one alert: title, link, snippet, why it matched, who reported it.
fn body_of(alert: &serde_json::Value) -> String {
    let text = |k: &str| alert.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let list = |k: &str| {
        alert
            .get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let mut body = format!("{}\n", text("title"));
    if !text("url").is_empty() {
        body.push_str(&format!("{}\n", text("url")));
    }
    body.push_str(&format!(
        "\n{}\n\nTopic: {}\nMatched: {} (in the {})\nReported by: {}\n",
        text("snippet"),
        text("topic"),
        list("terms"),
        text("field"),
        list("sources"),
    ));
    body
}

/// `<key@newshound>`, every character outside letters, digits, `-` and `_` written as `=XX`
/// (a topic name may hold spaces or `@`), so the same key always gives the same valid id.
pub fn message_id(key: &str) -> String {
    let mut left = String::with_capacity(key.len() + 8);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            left.push(b as char);
        } else {
            left.push_str(&format!("={b:02X}"));
        }
    }
    format!("<{left}@newshound>")
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_the_key_made_safe() {
        assert_eq!(
            message_id("summit talks:42:mail"),
            "<summit=20talks=3A42=3Amail@newshound>"
        );
        assert_eq!(message_id("a@b:1:m"), message_id("a@b:1:m"));
    }
}
