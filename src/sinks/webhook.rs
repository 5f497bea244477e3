//! `webhook`: POST the alert's JSON, signed with HMAC-SHA256 when a secret is set.
//!
//! Headers: `Content-Type: application/json`, `Idempotency-Key` (also in the body),
//! `X-Newshound-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`, and the configured ones.
//! The address guard applies as to feeds: a hook configured at a public name may not reach a
//! private address (DNS answers filtered, IP literals checked); redirects are not followed.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::retry::{Outcome, classify_status, parse_retry_after};
use crate::config::{Defaults, Secret};
use crate::guard::{Guard, GuardedResolver};

/// Bytes of a receiver's answer kept for the log and `sinks test`.
const ANSWER_BYTES: usize = 512;

pub struct Webhook {
    url: Url,
    secret: Option<Secret>,
    headers: HeaderMap,
    guard: Guard,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(
        url: &Url,
        secret: Option<&Secret>,
        headers: &[(String, Secret)],
        timeout: Duration,
        d: &Defaults,
    ) -> anyhow::Result<Webhook> {
        let guard = Guard::for_feed(url, d.address_guard, d.allow_link_local);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let mut value = HeaderValue::from_str(v.expose())?;
            value.set_sensitive(true);
            map.insert(HeaderName::from_bytes(k.as_bytes())?, value);
        }
        Ok(Webhook {
            url: url.clone(),
            secret: secret.cloned(),
            headers: map,
            guard,
            client: client(guard, timeout, d)?,
        })
    }

    pub async fn send(&self, key: &str, body: &str) -> Outcome {
        let mut req = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(body.to_owned());
        if let Some(secret) = &self.secret {
            req = req.header("X-Newshound-Signature", signature(secret, body.as_bytes()));
        }
        post(&self.guard, &self.url, req).await
    }
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `body` keyed with the secret (GitHub's form).
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// An HTTP client for one sink: the guard's resolver, no redirects, no proxy.
pub fn client(guard: Guard, timeout: Duration, d: &Defaults) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(d.user_agent.clone())
        .connect_timeout(d.connect_timeout.min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .no_proxy();
    if guard.enabled {
        b = b.dns_resolver(GuardedResolver { guard });
    }
    Ok(b.build()?)
}

/// Sends a prepared request and classifies the answer.
pub async fn post(guard: &Guard, url: &Url, req: reqwest::RequestBuilder) -> Outcome {
    if let Err(why) = guard.check_url(url) {
        return Outcome::Permanent(format!("address refused: {why}"));
    }
    let resp = match req.send().await {
        Ok(r) => r,
        // Without the URL: its path may be the hook's token, and this text is logged.
        Err(e) => return transport_error(&e.without_url()),
    };
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let excerpt = read_excerpt(resp).await;
    let mut answer = format!("HTTP {}", status.as_u16());
    if let Some(to) = location.filter(|_| status.is_redirection()) {
        answer.push_str(&format!(" (redirect to {to} not followed)"));
    }
    if !excerpt.is_empty() {
        answer.push_str(": ");
        answer.push_str(&excerpt);
    }
    classify_status(status.as_u16(), answer, retry_after)
}

/// The first bytes of the answer's body, as text.
async fn read_excerpt(mut resp: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < ANSWER_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(ANSWER_BYTES);
    String::from_utf8_lossy(&buf).trim().to_owned()
}

fn transport_error(e: &reqwest::Error) -> Outcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = String::new();
    while let Some(err) = source {
        if let Some(blocked) = err.downcast_ref::<crate::guard::Blocked>() {
            return Outcome::Permanent(format!("address refused: {blocked}"));
        }
        let msg = err.to_string();
        if !chain.contains(&msg) {
            if !chain.is_empty() {
                chain.push_str(": ");
            }
            chain.push_str(&msg);
        }
        source = err.source();
    }
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    Outcome::Transient {
        error: format!("{what}: {chain}"),
        retry_after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        let s = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
