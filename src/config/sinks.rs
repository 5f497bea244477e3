//! `[[sinks]]`: where alerts go besides the log. Validated here like the rest of the config, so
//! a bad sink is a `check` error with FILE:LINE:COLUMN, and every secret is read (from the
//! file, the environment variable or the value) at load, never logged: [`Secret`] redacts itself
//! in `Debug`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{TopicConfig, Validator};

/// A `[[sinks]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    pub name: Spanned<String>,
    /// `webhook`, `ntfy`, `exec` (`email` is planned).
    pub kind: Spanned<String>,
    /// Topic names this sink receives; all topics when absent.
    pub topics: Option<Vec<Spanned<String>>>,
    /// webhook: the endpoint; ntfy: the topic URL (`https://ntfy.sh/my-topic`).
    pub url: Option<Spanned<String>>,
    /// webhook: the HMAC-SHA256 key of `X-Newshound-Signature`.
    pub secret: Option<Spanned<toml::Value>>,
    /// webhook: extra request headers (values may be secrets: `{ env = "VAR" }`).
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<toml::Value>>,
    /// ntfy: an access token (`Authorization: Bearer`).
    pub token: Option<Spanned<toml::Value>>,
    /// ntfy: tags (emoji short codes) added to every message.
    pub tags: Option<Vec<Spanned<String>>>,
    /// exec: the program and its arguments (no shell).
    pub command: Option<Vec<Spanned<String>>>,
    /// One attempt's limit (connect, send, answer; or the command's run).
    pub timeout: Option<Spanned<String>>,
    /// Sends in flight at once for this sink.
    pub concurrency: Option<Spanned<i64>>,
    /// The first retry's delay; each next one doubles, up to `retry_max`.
    pub retry_min: Option<Spanned<String>>,
    pub retry_max: Option<Spanned<String>>,
    /// A delivery still failing this long after it was queued is dead-lettered.
    pub give_up_after: Option<Spanned<String>>,
}

/// A secret's value: read at load from the config, a file or the environment; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One validated sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    /// `None`: every topic.
    pub topics: Option<Vec<String>>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub give_up_after: Duration,
}

#[derive(Debug, Clone)]
pub enum SinkKind {
    Webhook {
        url: Url,
        secret: Option<Secret>,
        headers: Vec<(String, Secret)>,
    },
    Ntfy {
        url: Url,
        token: Option<Secret>,
        tags: Vec<String>,
    },
    Exec {
        argv: Vec<String>,
    },
}

impl SinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Ntfy { .. } => "ntfy",
            SinkKind::Exec { .. } => "exec",
        }
    }
}

impl SinkConfig {
    /// Does this sink want alerts of `topic`?
    pub fn wants(&self, topic: &str) -> bool {
        self.topics
            .as_ref()
            .is_none_or(|ts| ts.iter().any(|t| t == topic))
    }
}

/// Defaults of every sink.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_CONCURRENCY: usize = 4;
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(3600);
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 86400);

impl Validator<'_> {
    /// Validates every `[[sinks]]` table, reporting each problem with its position.
    pub(super) fn sinks(&mut self, raw: &[RawSink], topics: &[TopicConfig]) -> Vec<SinkConfig> {
        let topic_names: HashSet<&str> = topics.iter().map(|t| t.spec.name.as_str()).collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for s in raw {
            let name = s.name.get_ref().trim().to_owned();
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !name_ok {
                self.error(
                    s.name.span(),
                    "sink name must be letters, digits, '-', '_' or '.' (it is part of each delivery's idempotency key)",
                );
            } else if let Some(first) = seen.get(&name) {
                let msg = format!("duplicate sink name \"{name}\" (first used on line {first})");
                self.error(s.name.span(), msg);
            } else {
                let (line, _) = self.line_col(s.name.span().start);
                seen.insert(name.clone(), line);
            }
            let topics = s.topics.as_ref().map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        if topic_names.contains(t.get_ref().as_str()) {
                            Some(t.get_ref().clone())
                        } else {
                            self.error(
                                t.span(),
                                format!("no topic named \"{}\" is configured", t.get_ref()),
                            );
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            });
            let timeout = self.duration(&s.timeout, "timeout", DEFAULT_TIMEOUT);
            let concurrency = self.count(&s.concurrency, "concurrency", DEFAULT_CONCURRENCY, 64);
            let retry_min = self.duration(&s.retry_min, "retry_min", DEFAULT_RETRY_MIN);
            let retry_max = self.duration(&s.retry_max, "retry_max", DEFAULT_RETRY_MAX);
            let give_up_after =
                self.duration(&s.give_up_after, "give_up_after", DEFAULT_GIVE_UP_AFTER);
            if retry_min > retry_max {
                let span = s.retry_min.as_ref().map_or(s.name.span(), Spanned::span);
                self.error(span, "retry_min is longer than retry_max");
            }
            let kind = match s.kind.get_ref().as_str() {
                "webhook" => self.webhook(s),
                "ntfy" => self.ntfy(s),
                "exec" => self.exec(s),
                "log" => {
                    self.error(
                        s.kind.span(),
                        "the log sink is always on; it needs no [[sinks]] entry",
                    );
                    None
                }
                "email" => {
                    self.error(s.kind.span(), "kind \"email\" is not available in this version; use webhook, ntfy or exec");
                    None
                }
                other => {
                    self.error(
                        s.kind.span(),
                        format!("unknown sink kind \"{other}\"; expected webhook, ntfy or exec"),
                    );
                    None
                }
            };
            if let Some(kind) = kind
                && name_ok
            {
                out.push(SinkConfig {
                    name,
                    kind,
                    topics,
                    timeout,
                    concurrency,
                    retry_min,
                    retry_max,
                    give_up_after,
                });
            }
        }
        out
    }

    /// Says which keys of another kind were given (a likely mix-up), so none is silently ignored.
    fn unused(&mut self, s: &RawSink, key: &str, present: bool) {
        if present {
            let msg = format!("{key} is not a setting of a {} sink", s.kind.get_ref());
            self.error(s.kind.span(), msg);
        }
    }

    fn http_url(&mut self, s: &RawSink) -> Option<Url> {
        let Some(u) = &s.url else {
            self.error(
                s.kind.span(),
                format!("a {} sink needs url = \"https://…\"", s.kind.get_ref()),
            );
            return None;
        };
        match Url::parse(u.get_ref().trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(url)
            }
            Ok(url) => {
                self.error(
                    u.span(),
                    format!(
                        "unsupported URL scheme \"{}\"; expected http or https",
                        url.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(u.span(), format!("invalid URL: {e}"));
                None
            }
        }
    }

    fn webhook(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.unused(s, "token", s.token.is_some());
        self.unused(s, "tags", s.tags.is_some());
        self.unused(s, "command", s.command.is_some());
        let url = self.http_url(s);
        let secret = s.secret.as_ref().and_then(|v| self.secret(v, "secret"));
        let mut headers = Vec::new();
        for (k, v) in &s.headers {
            let valid_name = !k.is_empty()
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !valid_name {
                self.error(v.span(), format!("\"{k}\" is not a valid HTTP header name"));
                continue;
            }
            if let Some(value) = self.secret(v, k) {
                if value
                    .expose()
                    .bytes()
                    .any(|b| b.is_ascii_control() && b != b'\t')
                {
                    self.error(v.span(), format!("header {k} contains control characters"));
                } else {
                    headers.push((k.clone(), value));
                }
            }
        }
        Some(SinkKind::Webhook {
            url: url?,
            secret,
            headers,
        })
    }

    fn ntfy(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.unused(s, "secret", s.secret.is_some());
        self.unused(s, "headers", !s.headers.is_empty());
        self.unused(s, "command", s.command.is_some());
        let url = self.http_url(s);
        if let (Some(u), Some(raw)) = (&url, &s.url) {
            let topic = u
                .path_segments()
                .and_then(|mut p| p.next_back())
                .unwrap_or("");
            if topic.is_empty() {
                self.error(
                    raw.span(),
                    "an ntfy url names the topic: \"https://ntfy.sh/my-topic\"",
                );
            }
        }
        let token = s.token.as_ref().and_then(|v| self.secret(v, "token"));
        let mut tags = Vec::new();
        for t in s.tags.iter().flatten() {
            let v = t.get_ref().trim();
            if v.is_empty() || v.contains(',') || v.chars().any(char::is_control) {
                self.error(
                    t.span(),
                    "a tag must be non-empty printable text without commas",
                );
            } else {
                tags.push(v.to_owned());
            }
        }
        Some(SinkKind::Ntfy {
            url: url?,
            token,
            tags,
        })
    }

    fn exec(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.unused(s, "url", s.url.is_some());
        self.unused(s, "secret", s.secret.is_some());
        self.unused(s, "headers", !s.headers.is_empty());
        self.unused(s, "token", s.token.is_some());
        self.unused(s, "tags", s.tags.is_some());
        let argv: Vec<String> = s
            .command
            .iter()
            .flatten()
            .map(|a| a.get_ref().clone())
            .collect();
        match argv.first() {
            None => {
                self.error(
                    s.command.as_ref().map_or(s.kind.span(), |_| s.kind.span()),
                    "an exec sink needs command = [\"/path/to/program\", \"arg\", …] (run without a shell)",
                );
                None
            }
            Some(p) if p.trim().is_empty() => {
                let span = s
                    .command
                    .as_ref()
                    .and_then(|c| c.first())
                    .map_or(s.kind.span(), Spanned::span);
                self.error(span, "the command's program is empty");
                None
            }
            Some(_) => Some(SinkKind::Exec { argv }),
        }
    }

    /// A secret given as a string, `{ file = "path" }` or `{ env = "VAR" }`, read now.
    fn secret(&mut self, v: &Spanned<toml::Value>, key: &str) -> Option<Secret> {
        match v.get_ref() {
            toml::Value::String(s) => Some(Secret::new(s.clone())),
            toml::Value::Table(t) if t.len() == 1 => {
                match (t.get("file"), t.get("env")) {
                    (Some(toml::Value::String(path)), None) => {
                        let path =
                            super::join_relative(&self.base_dir(), std::path::Path::new(path));
                        match std::fs::read_to_string(&path) {
                            // A trailing newline in a secret file is the editor's, not the secret's.
                            Ok(s) => Some(Secret::new(s.trim_end_matches(['\n', '\r']))),
                            Err(e) => {
                                self.error(
                                    v.span(),
                                    format!("{key}: cannot read {}: {e}", path.display()),
                                );
                                None
                            }
                        }
                    }
                    (None, Some(toml::Value::String(var))) => match std::env::var(var) {
                        Ok(s) => Some(Secret::new(s)),
                        Err(_) => {
                            self.error(
                                v.span(),
                                format!("{key}: the environment variable {var} is not set"),
                            );
                            None
                        }
                    },
                    _ => {
                        self.error(v.span(), format!("{key} must be a string, {{ file = \"path\" }} or {{ env = \"VAR\" }}"));
                        None
                    }
                }
            }
            _ => {
                self.error(
                    v.span(),
                    format!("{key} must be a string, {{ file = \"path\" }} or {{ env = \"VAR\" }}"),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = SinkKind::Webhook {
            url: Url::parse("https://example.com/hook").unwrap(),
            secret: Some(Secret::new("hunter2")),
            headers: vec![("Authorization".into(), Secret::new("Bearer tok3n"))],
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }
}
