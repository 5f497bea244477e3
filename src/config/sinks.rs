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
pub use crate::sinks::digest::{Schedule, Zone};

/// A `[[sinks]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSink {
    pub name: Spanned<String>,
    /// `webhook`, `ntfy`, `email`, `exec`.
    pub kind: Spanned<String>,
    /// Topic names this sink receives; all topics when absent.
    pub topics: Option<Vec<Spanned<String>>>,
    /// webhook: the endpoint; ntfy: the topic URL (`https://ntfy.sh/my-topic`). A string, or
    /// like a secret `{ file = "path" }` / `{ env = "VAR" }`: such URLs often hold a token.
    pub url: Option<Spanned<toml::Value>>,
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
    /// email: the SMTP server's host name (or address).
    pub server: Option<Spanned<String>>,
    /// email: 587 with STARTTLS, 465 with implicit TLS unless given.
    pub port: Option<Spanned<i64>>,
    /// email: `"starttls"` (default) or `"implicit"`; the connection is always encrypted.
    pub tls: Option<Spanned<String>>,
    /// email: AUTH user name (with `password`).
    pub username: Option<Spanned<String>>,
    pub password: Option<Spanned<toml::Value>>,
    /// email: the sender, `"newshound <alerts@example.com>"`.
    pub from: Option<Spanned<String>>,
    /// email: the recipients.
    pub to: Option<Vec<Spanned<String>>>,
    /// email: a PEM file of certificates to trust besides the system's (a private mail server).
    pub ca_file: Option<Spanned<String>>,
    /// `"immediate"` (default): each alert on its own.
    pub deliver: Option<Spanned<String>>,
    /// `"daily 08:00"` or `"hourly"`: one message listing the alerts since the last digest.
    pub digest: Option<Spanned<String>>,
    /// The digest's time zone: `"local"` (default), `"UTC"`, `"+02:00"`, `"Europe/Paris"`.
    pub time_zone: Option<Spanned<String>>,
    /// Alerts over this many an hour are folded into the next digest (hourly if none is set).
    pub max_per_hour: Option<Spanned<i64>>,
    /// Delivery of one topic's alerts on this sink, over the sink's own:
    /// `per_topic.summit = { digest = "daily 08:00" }`, `{ deliver = "immediate" }`,
    /// `{ max_per_hour = 3 }`.
    #[serde(default)]
    pub per_topic: BTreeMap<String, Spanned<RawTopicDelivery>>,
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

/// `per_topic.NAME = { … }` in a `[[sinks]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopicDelivery {
    /// `"immediate"`: this topic's alerts go out one by one even on a digest sink.
    pub deliver: Option<Spanned<String>>,
    /// `"daily 08:00"` / `"hourly"`: this topic's alerts in a digest of their own.
    pub digest: Option<Spanned<String>>,
    /// This topic's alerts on this sink, at most this many an hour (besides the sink's own
    /// `max_per_hour`); the rest fold into the next digest.
    pub max_per_hour: Option<Spanned<i64>>,
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

/// A webhook's or ntfy topic's URL: its path and query often are the credential (a hook's
/// token, an ntfy topic's name), so `Debug` shows only the scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct SinkUrl(pub Url);

impl std::ops::Deref for SinkUrl {
    type Target = Url;
    fn deref(&self) -> &Url {
        &self.0
    }
}

impl fmt::Debug for SinkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SinkUrl({}://{}/<redacted>)",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
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
    /// Alerts go out in digests on this schedule rather than one by one.
    pub digest: Option<Schedule>,
    pub time_zone: Zone,
    pub max_per_hour: Option<u32>,
    /// Topics delivered otherwise than the sink's default (`per_topic`).
    pub per_topic: BTreeMap<String, TopicDelivery>,
}

/// How one topic's alerts reach a sink, where it differs from the sink's own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TopicDelivery {
    pub mode: TopicMode,
    pub max_per_hour: Option<u32>,
}

/// `per_topic.NAME.deliver` / `.digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TopicMode {
    /// Neither given: as the sink (immediate, or in the sink's digest).
    #[default]
    AsSink,
    /// `deliver = "immediate"`: one by one, even on a digest sink.
    Immediate,
    /// `digest = "…"`: a digest of the topic's own.
    Digest(Schedule),
}

/// Which held deliveries of a sink one digest gathers: a topic with a digest of its own, or
/// (`topic` empty) the sink's digest, which gathers all the others.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DigestGroup {
    /// The topic, or "" for the sink's own digest.
    pub topic: String,
    /// For the sink's own digest: the topics left out (they have their own).
    pub except: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum SinkKind {
    Webhook {
        url: SinkUrl,
        secret: Option<Secret>,
        headers: Vec<(String, Secret)>,
    },
    Ntfy {
        url: SinkUrl,
        token: Option<Secret>,
        tags: Vec<String>,
    },
    Exec {
        argv: Vec<String>,
    },
    Email(EmailConfig),
}

/// An SMTP submission server and the mail's addresses.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub server: String,
    pub port: u16,
    /// Implicit TLS (SMTPS) rather than STARTTLS.
    pub implicit_tls: bool,
    pub credentials: Option<(String, Secret)>,
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    /// Extra trusted certificates (PEM), read at load.
    pub ca_pem: Option<Vec<u8>>,
}

impl SinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Ntfy { .. } => "ntfy",
            SinkKind::Exec { .. } => "exec",
            SinkKind::Email(_) => "email",
        }
    }
}

impl SinkConfig {
    /// The digest `topic`'s alerts wait for on this sink; `None`: they go out one by one.
    pub fn digest_for(&self, topic: &str) -> Option<Schedule> {
        match self.per_topic.get(topic).map(|t| t.mode) {
            Some(TopicMode::Immediate) => None,
            Some(TopicMode::Digest(s)) => Some(s),
            Some(TopicMode::AsSink) | None => self.digest,
        }
    }

    /// `max_per_hour` of `topic` on this sink, besides the sink's own.
    pub fn topic_budget(&self, topic: &str) -> Option<u32> {
        self.per_topic.get(topic).and_then(|t| t.max_per_hour)
    }

    /// Does this sink count sends against any budget?
    pub fn has_budget(&self) -> bool {
        self.max_per_hour.is_some() || self.per_topic.values().any(|t| t.max_per_hour.is_some())
    }

    /// The digest a held delivery of `topic` goes out in.
    pub fn group_of(&self, topic: &str) -> DigestGroup {
        match self.per_topic.get(topic).map(|t| t.mode) {
            Some(TopicMode::Digest(_)) => DigestGroup {
                topic: topic.to_owned(),
                except: Vec::new(),
            },
            _ => self.sink_group(),
        }
    }

    fn sink_group(&self) -> DigestGroup {
        DigestGroup {
            topic: String::new(),
            except: self
                .per_topic
                .iter()
                .filter(|(_, t)| matches!(t.mode, TopicMode::Digest(_)))
                .map(|(name, _)| name.clone())
                .collect(),
        }
    }

    /// Each digest of this sink and when it goes out: every topic with a digest of its own,
    /// and the sink's digest (its schedule, else hourly when a budget may fold alerts into it).
    /// Empty when this sink holds nothing back.
    pub fn digest_groups(&self) -> Vec<(DigestGroup, Schedule)> {
        let mut out: Vec<(DigestGroup, Schedule)> = self
            .per_topic
            .iter()
            .filter_map(|(name, t)| match t.mode {
                TopicMode::Digest(s) => Some((
                    DigestGroup {
                        topic: name.clone(),
                        except: Vec::new(),
                    },
                    s,
                )),
                _ => None,
            })
            .collect();
        let overflow = self.max_per_hour.is_some()
            || self
                .per_topic
                .values()
                .any(|t| t.max_per_hour.is_some() && !matches!(t.mode, TopicMode::Digest(_)));
        if let Some(s) = self.digest.or(overflow.then_some(Schedule::Hourly)) {
            out.push((self.sink_group(), s));
        }
        out
    }

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
            let digest = self.digest(s);
            let time_zone = match &s.time_zone {
                None => Zone::Local,
                Some(z) => match crate::sinks::digest::parse_zone(z.get_ref()) {
                    Ok(z) => z,
                    Err(msg) => {
                        self.error(z.span(), msg);
                        Zone::Local
                    }
                },
            };
            let max_per_hour = s
                .max_per_hour
                .as_ref()
                .map(|_| self.count(&s.max_per_hour, "max_per_hour", 1, 100_000) as u32);
            let per_topic = self.per_topic(s, &topic_names, topics.as_deref());
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
                "email" => self.email(s),
                other => {
                    self.error(
                        s.kind.span(),
                        format!(
                            "unknown sink kind \"{other}\"; expected webhook, ntfy, email or exec"
                        ),
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
                    digest,
                    time_zone,
                    max_per_hour,
                    per_topic,
                });
            }
        }
        out
    }

    /// `digest = "daily 08:00"`, or the same as `deliver`; `deliver = "immediate"` is the default.
    fn digest(&mut self, s: &RawSink) -> Option<Schedule> {
        match self.delivery(s.digest.as_ref(), s.deliver.as_ref()) {
            TopicMode::Digest(schedule) => Some(schedule),
            TopicMode::AsSink | TopicMode::Immediate => None,
        }
    }

    /// `digest` and `deliver` of a sink or of one topic on it, as a topic's mode: `AsSink` when
    /// neither is given (or when what is given is wrong, which is reported).
    fn delivery(
        &mut self,
        digest: Option<&Spanned<String>>,
        deliver: Option<&Spanned<String>>,
    ) -> TopicMode {
        let parse = |v: &Spanned<String>, cx: &mut Self| match crate::sinks::digest::parse_schedule(
            v.get_ref(),
        ) {
            Ok(x) => TopicMode::Digest(x),
            Err(msg) => {
                cx.error(v.span(), format!("{msg}, or deliver = \"immediate\""));
                TopicMode::AsSink
            }
        };
        match (digest, deliver) {
            (Some(d), Some(v)) if v.get_ref().trim() == "immediate" => {
                self.error(
                    d.span(),
                    "digest and deliver = \"immediate\" contradict each other; keep one",
                );
                TopicMode::AsSink
            }
            (Some(d), _) => parse(d, self),
            (None, Some(v)) if v.get_ref().trim() == "immediate" => TopicMode::Immediate,
            (None, Some(v)) => parse(v, self),
            (None, None) => TopicMode::AsSink,
        }
    }

    /// `per_topic.NAME = { deliver, digest, max_per_hour }`: each name a configured topic
    /// this sink receives.
    fn per_topic(
        &mut self,
        s: &RawSink,
        known: &HashSet<&str>,
        wanted: Option<&[String]>,
    ) -> BTreeMap<String, TopicDelivery> {
        let mut out = BTreeMap::new();
        for (name, t) in &s.per_topic {
            if !known.contains(name.as_str()) {
                self.error(
                    t.span(),
                    format!("per_topic: no topic named \"{name}\" is configured"),
                );
                continue;
            }
            if wanted.is_some_and(|w| !w.iter().any(|x| x == name)) {
                self.error(
                    t.span(),
                    format!(
                        "per_topic: this sink does not receive topic \"{name}\" (it is not in its topics)"
                    ),
                );
                continue;
            }
            let raw = t.get_ref();
            let mode = self.delivery(raw.digest.as_ref(), raw.deliver.as_ref());
            let key = format!("per_topic.{name}.max_per_hour");
            let max_per_hour = raw
                .max_per_hour
                .as_ref()
                .map(|_| self.count(&raw.max_per_hour, &key, 1, 100_000) as u32);
            if mode == TopicMode::AsSink && max_per_hour.is_none() {
                if raw.digest.is_none() && raw.deliver.is_none() {
                    self.error(
                        t.span(),
                        format!(
                            "per_topic.{name} sets nothing; give deliver, digest or max_per_hour"
                        ),
                    );
                }
                continue;
            }
            out.insert(name.clone(), TopicDelivery { mode, max_per_hour });
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

    fn no_email_keys(&mut self, s: &RawSink) {
        for (key, present) in [
            ("server", s.server.is_some()),
            ("port", s.port.is_some()),
            ("tls", s.tls.is_some()),
            ("username", s.username.is_some()),
            ("password", s.password.is_some()),
            ("from", s.from.is_some()),
            ("to", s.to.is_some()),
            ("ca_file", s.ca_file.is_some()),
        ] {
            self.unused(s, key, present);
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
        let text = self.secret(u, "url")?;
        // The URL itself is not repeated in an error: it may hold a token.
        match Url::parse(text.expose().trim()) {
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
        self.no_email_keys(s);
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
            url: SinkUrl(url?),
            secret,
            headers,
        })
    }

    fn ntfy(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.no_email_keys(s);
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
            url: SinkUrl(url?),
            token,
            tags,
        })
    }

    fn email(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.unused(s, "url", s.url.is_some());
        self.unused(s, "secret", s.secret.is_some());
        self.unused(s, "headers", !s.headers.is_empty());
        self.unused(s, "token", s.token.is_some());
        self.unused(s, "tags", s.tags.is_some());
        self.unused(s, "command", s.command.is_some());
        let server = match &s.server {
            Some(v) if !v.get_ref().trim().is_empty() => Some(v.get_ref().trim().to_owned()),
            Some(v) => {
                self.error(
                    v.span(),
                    "server is empty; give the SMTP server's host name",
                );
                None
            }
            None => {
                self.error(
                    s.kind.span(),
                    "an email sink needs server = \"smtp.example.com\"",
                );
                None
            }
        };
        let implicit_tls = match s.tls.as_ref().map(|t| (t.get_ref().as_str(), t.span())) {
            None | Some(("starttls", _)) => false,
            Some(("implicit", _)) => true,
            Some((other, span)) => {
                self.error(span, format!("tls must be \"starttls\" or \"implicit\" (mail is never sent unencrypted), got \"{other}\""));
                false
            }
        };
        let port = match &s.port {
            None => Some(if implicit_tls { 465 } else { 587 }),
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    self.error(
                        p.span(),
                        format!("port must be between 1 and 65535, got {}", p.get_ref()),
                    );
                    None
                }
            },
        };
        let credentials = match (&s.username, &s.password) {
            (Some(u), Some(p)) => self.secret(p, "password").map(|p| (u.get_ref().clone(), p)),
            (None, None) => Some((String::new(), Secret::new(""))),
            (Some(u), None) => {
                self.error(u.span(), "username needs a password (a string, { file = \"path\" } or { env = \"VAR\" })");
                None
            }
            (None, Some(p)) => {
                self.error(p.span(), "password needs a username");
                None
            }
        }
        .map(|c| (!c.0.is_empty()).then_some(c));
        let mailbox = |v: &Spanned<String>, cx: &mut Self| match v
            .get_ref()
            .parse::<lettre::message::Mailbox>()
        {
            Ok(m) => Some(m),
            Err(e) => {
                cx.error(v.span(), format!("\"{}\" is not a mail address ({e}); expected e.g. \"newshound <alerts@example.com>\"", v.get_ref()));
                None
            }
        };
        let from = match &s.from {
            Some(f) => mailbox(f, self),
            None => {
                self.error(
                    s.kind.span(),
                    "an email sink needs from = \"newshound <alerts@example.com>\"",
                );
                None
            }
        };
        let mut to = Vec::new();
        for t in s.to.iter().flatten() {
            if let Some(m) = mailbox(t, self) {
                to.push(m);
            }
        }
        if s.to.as_ref().is_none_or(|t| t.is_empty()) {
            self.error(
                s.kind.span(),
                "an email sink needs to = [\"you@example.com\"]",
            );
        }
        let ca_pem = match &s.ca_file {
            None => Some(None),
            Some(f) => {
                let path =
                    super::join_relative(&self.base_dir(), std::path::Path::new(f.get_ref()));
                match std::fs::read(&path) {
                    Ok(b) => Some(Some(b)),
                    Err(e) => {
                        self.error(
                            f.span(),
                            format!("ca_file: cannot read {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
        };
        if to.is_empty() {
            return None;
        }
        Some(SinkKind::Email(EmailConfig {
            server: server?,
            port: port?,
            implicit_tls,
            credentials: credentials?,
            from: from?,
            to,
            ca_pem: ca_pem?,
        }))
    }

    fn exec(&mut self, s: &RawSink) -> Option<SinkKind> {
        self.no_email_keys(s);
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

/// A sink for unit tests: an exec of `true`, every topic, immediate, no budget.
#[cfg(test)]
pub(crate) fn test_sink(name: &str) -> SinkConfig {
    SinkConfig {
        name: name.into(),
        kind: SinkKind::Exec {
            argv: vec!["true".into()],
        },
        topics: None,
        timeout: DEFAULT_TIMEOUT,
        concurrency: 1,
        retry_min: DEFAULT_RETRY_MIN,
        retry_max: DEFAULT_RETRY_MAX,
        give_up_after: DEFAULT_GIVE_UP_AFTER,
        digest: None,
        time_zone: Zone::Local,
        max_per_hour: None,
        per_topic: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug() {
        let s = SinkKind::Webhook {
            url: SinkUrl(Url::parse("https://example.com/hook/t0k3n").unwrap()),
            secret: Some(Secret::new("hunter2")),
            headers: vec![("Authorization".into(), Secret::new("Bearer tok3n"))],
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok3n") && !shown.contains("t0k3n"),
            "{shown}"
        );
        assert!(shown.contains("https://example.com/"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn per_topic_settings_pick_each_topics_digest() {
        let mut s = test_sink("mail");
        s.digest = Some(Schedule::Daily { hour: 8, minute: 0 });
        let own = Schedule::Hourly;
        s.per_topic.insert(
            "urgent".into(),
            TopicDelivery {
                mode: TopicMode::Immediate,
                max_per_hour: Some(3),
            },
        );
        s.per_topic.insert(
            "noisy".into(),
            TopicDelivery {
                mode: TopicMode::Digest(own),
                max_per_hour: None,
            },
        );
        assert_eq!(s.digest_for("urgent"), None);
        assert_eq!(s.digest_for("noisy"), Some(own));
        assert_eq!(s.digest_for("other"), s.digest);
        assert_eq!(s.topic_budget("urgent"), Some(3));
        assert_eq!(s.group_of("noisy").topic, "noisy");
        // The sink's digest gathers the rest (an immediate topic's overflow included).
        assert_eq!(s.group_of("urgent"), s.group_of("other"));
        assert_eq!(s.group_of("other").except, ["noisy"]);
        let groups = s.digest_groups();
        assert_eq!(groups.len(), 2);
        assert!(groups.contains(&(s.group_of("noisy"), own)));
        assert!(groups.contains(&(s.group_of("other"), Schedule::Daily { hour: 8, minute: 0 })));
        // An immediate sink with only a topic's budget still has an hourly digest for it.
        let mut s = test_sink("hook");
        s.per_topic.insert(
            "urgent".into(),
            TopicDelivery {
                mode: TopicMode::AsSink,
                max_per_hour: Some(1),
            },
        );
        assert_eq!(s.digest_groups(), [(s.group_of("x"), Schedule::Hourly)]);
        assert!(test_sink("plain").digest_groups().is_empty());
    }
}
