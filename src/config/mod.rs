//! Configuration: TOML in, a validated [`Config`] out.
//!
//! Two stages. `raw` is the serde shape of the file, with spans. [`load_str`] validates it and
//! collects *every* problem as a [`Diagnostic`] naming `FILE:LINE:COLUMN`, with the offending line
//! and a caret, and saying what was expected. Topic queries are parsed here (and compiled by
//! [`crate::topics::Matcher`]), so a bad query fails `newshound check`, not the daemon at 3 a.m.

mod http;
mod library;
mod raw;
mod sinks;
mod storage;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::topics::{self, Lexicons, Stem, TopicSpec};
use raw::{RawConfig, RawSize, RawTopic, RawTopicFile};
#[cfg(test)]
pub(crate) use sinks::test_sink;
pub use sinks::{
    DigestGroup, EmailConfig, Schedule, Secret, SinkConfig, SinkKind, SinkUrl, TopicDelivery,
    TopicMode, Zone,
};
pub use storage::{DEFAULT_LEASE, PgUrl, PostgresConfig, redacted};

pub use http::{HttpConfig, Token};

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Http(Url),
    File(PathBuf),
}

impl fmt::Display for FeedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedSource::Http(u) => f.write_str(u.as_str()),
            FeedSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub source: FeedSource,
    pub interval: Duration,
    pub headers: Vec<(String, String)>,
    pub max_body_bytes: u64,
    /// Free labels (OPML folders and categories); they change nothing in polling.
    pub tags: Vec<String>,
}

/// The log level of a topic's alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub spec: TopicSpec,
    pub level: AlertLevel,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    pub user_agent: String,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    pub host_spacing: Duration,
    pub shutdown_grace: Duration,
    /// Bytes of response bodies held at once across all polls (see `fetch`).
    pub body_budget: u64,
    /// A fetch still running after this gives up its fetch slot for the slow lane (see `poll`).
    pub slow_after: Duration,
    pub adaptive: bool,
    pub failing_after: u32,
    /// Which addresses feeds may reach (see [`crate::guard`]).
    pub address_guard: crate::guard::Mode,
    /// Allow link-local addresses (169.254/16, fe80::/10: cloud metadata) for every feed.
    pub allow_link_local: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            interval: Duration::from_secs(15 * 60),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            max_body_bytes: 16 * 1024 * 1024,
            user_agent: default_user_agent(),
            concurrency: 16,
            per_host_concurrency: 2,
            host_spacing: Duration::from_millis(0),
            shutdown_grace: Duration::from_secs(10),
            body_budget: 24 * 1024 * 1024,
            slow_after: Duration::from_secs(5),
            adaptive: true,
            failing_after: 3,
            address_guard: crate::guard::Mode::LocalFeeds,
            allow_link_local: false,
        }
    }
}

pub fn default_user_agent() -> String {
    format!(
        "newshound/{} (+https://github.com/newshound/newshound)",
        env!("CARGO_PKG_VERSION")
    )
}

/// SQLite's durability setting in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Durable across crashes; the last commits may roll back on power loss.
    Normal,
    /// Durable across power loss too, at the cost of an fsync per commit.
    Full,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from.
    pub path: PathBuf,
    pub database: PathBuf,
    pub synchronous: Synchronous,
    /// `[storage] url`: a PostgreSQL server shared by several daemons; `database` then unused.
    pub postgres: Option<PostgresConfig>,
    /// Retention: stories, items, sightings, features and alerts older than this are deleted
    /// (hourly by the daemon, or by `newshound prune`); `None` keeps everything.
    pub keep: Option<Duration>,
    /// Keep the full-text search index as items are stored (`newshound search`). Off by
    /// default: it costs the cold ingest about half again its CPU (docs/performance.md).
    pub search: bool,
    pub defaults: Defaults,
    /// Items published longer ago than this never alert; `None` disables the rule.
    pub alert_max_age: Option<Duration>,
    /// Items join stories started at most this long before them.
    pub story_window: Duration,
    /// The similarity (0–1) at which an item joins a story.
    pub story_threshold: f64,
    /// Enabled feeds only.
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<TopicConfig>,
    /// `[http]`: the operations listener, when `listen` is set.
    pub http: Option<HttpConfig>,
    /// Where alerts go besides the log.
    pub sinks: Vec<SinkConfig>,
    /// Problems that do not stop the config from loading (a topic query that can never match),
    /// printed by `check`.
    pub warnings: Vec<Diagnostic>,
}

/// One problem in a config file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The offending source line and a caret line under the column.
    pub snippet: Option<(String, String)>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some((line, caret)) = &self.snippet {
            write!(f, "\n   | {line}\n   | {caret}")?;
        }
        Ok(())
    }
}

/// Why a config could not be loaded: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out.push_str(&format!(
        "\n{} error{} in config",
        diags.len(),
        if diags.len() == 1 { "" } else { "s" }
    ));
    out
}

impl ConfigError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// The default config path: `$NEWSHOUND_CONFIG`, then `$CONFIGURATION_DIRECTORY/config.toml`
/// (systemd), then `/etc/newshound/config.toml` for root, else
/// `$XDG_CONFIG_HOME/newshound/config.toml` (or `~/.config/newshound/config.toml`).
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("NEWSHOUND_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = systemd_dir("CONFIGURATION_DIRECTORY") {
        return dir.join("config.toml");
    }
    if is_root() {
        return PathBuf::from("/etc/newshound/config.toml");
    }
    xdg_dir(XdgDir::Config).join("newshound/config.toml")
}

/// The default database path: `$STATE_DIRECTORY/newshound.db` (systemd), then
/// `/var/lib/newshound/newshound.db` for root, else `$XDG_STATE_HOME/newshound/newshound.db`.
pub fn default_database() -> PathBuf {
    if let Some(dir) = systemd_dir("STATE_DIRECTORY") {
        return dir.join("newshound.db");
    }
    if is_root() {
        return PathBuf::from("/var/lib/newshound/newshound.db");
    }
    xdg_dir(XdgDir::State).join("newshound/newshound.db")
}

/// A directory systemd passes in `var`; it may list several separated by ':', the first is ours.
fn systemd_dir(var: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os(var).filter(|p| !p.is_empty())?;
    dirs.to_string_lossy()
        .split(':')
        .next()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The XDG base directory of this kind (`etcetera`, which reads `$XDG_*_HOME` and falls back to
/// the spec's defaults under `$HOME`); `./` when there is no home directory at all.
fn xdg_dir(kind: XdgDir) -> PathBuf {
    use etcetera::BaseStrategy;
    let Ok(xdg) = etcetera::base_strategy::Xdg::new() else {
        return PathBuf::from(".");
    };
    match kind {
        XdgDir::Config => xdg.config_dir(),
        XdgDir::State => xdg
            .state_dir()
            .unwrap_or_else(|| xdg.home_dir().join(".local/state")),
    }
}

#[derive(Clone, Copy)]
enum XdgDir {
    Config,
    State,
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(&text, path)
}

/// Validates config text; `path` names the file in diagnostics and anchors relative paths.
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut cx = Validator {
        text,
        path,
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    if text.trim().is_empty() {
        cx.error(0..0, "the config file is empty; it needs at least one [[feeds]] entry (see config/newshound.toml)");
        return Err(ConfigError::Invalid(cx.diags));
    }
    let Some((raw, placeholders)) = cx.read_raw() else {
        return Err(ConfigError::Invalid(cx.diags));
    };
    let read_errors = cx.diags.len();
    let cfg = cx.validate(raw);
    // A required key filled in by `read_raw` was reported there; not again as empty.
    let filled: Vec<(usize, usize)> = placeholders.iter().map(|p| cx.line_col(p.start)).collect();
    let mut i = 0;
    cx.diags.retain(|d| {
        i += 1;
        i <= read_errors || !filled.contains(&(d.line, d.column))
    });
    // In file order, whichever pass found them.
    cx.diags.sort_by_key(|d| (d.line, d.column));
    match cfg {
        Some(mut cfg) if cx.diags.is_empty() => {
            cfg.warnings = cx.warnings;
            Ok(cfg)
        }
        _ => Err(ConfigError::Invalid(cx.diags)),
    }
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Validator<'_> {
    /// Reads the TOML into its serde shape, reporting every problem rather than the first:
    /// all syntax errors at once; then, one at a time, each key of an unknown name or a wrong
    /// type is reported and taken out, and the rest read again, so one mistake hides no other.
    /// A required key that is missing is reported and filled with an empty placeholder (whose
    /// spans are returned, so validation does not report it a second time).
    fn read_raw(&mut self) -> Option<(RawConfig, Vec<Range<usize>>)> {
        let (mut table, syntax) = toml::de::DeTable::parse_recoverable(self.text);
        if !syntax.is_empty() {
            for e in syntax {
                self.error(e.span().unwrap_or(0..0), e.message().trim_end());
            }
            return None;
        }
        let mut placeholders = Vec::new();
        // Each round takes one key out (or fills one in); a config has far fewer keys.
        for _ in 0..1000 {
            let de = toml::de::Deserializer::from(table.clone());
            let e = match <RawConfig as serde::Deserialize>::deserialize(de) {
                Ok(raw) => return Some((raw, placeholders)),
                Err(e) => e,
            };
            let span = e.span().unwrap_or(0..0);
            self.error(span.clone(), e.message().trim_end());
            let missing = e
                .message()
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
                .map(str::to_owned);
            // Nothing to take out or fill in: the rest cannot be read past this error.
            match missing {
                Some(key) => placeholders.push(fill_in(table.get_mut(), span.start, &key)?),
                None => take_out(table.get_mut(), span.start).then_some(())?,
            }
        }
        None
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.diagnostic(span.start, message.into());
        self.diags.push(d);
    }

    fn diagnostic(&self, offset: usize, message: String) -> Diagnostic {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        let column = self.text[line_start..offset].chars().count() + 1;
        let source_line = self.text[line_start..line_end]
            .trim_end_matches('\r')
            .to_owned();
        let caret = format!("{}^", " ".repeat(column - 1));
        let snippet = (!source_line.is_empty()).then_some((source_line, caret));
        Diagnostic {
            file: self.path.to_owned(),
            line,
            column,
            message,
            snippet,
        }
    }

    /// The config file's directory, which relative paths in it are relative to: resolved, so
    /// that `../target/demo.db` in `config/demo.toml` reads as `/…/target/demo.db` in logs.
    fn base_dir(&self) -> PathBuf {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        std::fs::canonicalize(&dir).unwrap_or(dir)
    }

    fn duration(
        &mut self,
        value: &Option<toml::Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let Some(v) = value else { return default };
        match parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.error(
                    v.span(),
                    format!("{key} must be longer than zero, got \"{}\"", v.get_ref()),
                );
                default
            }
            Ok(d) => d,
            Err(msg) => {
                self.error(v.span(), format!("{key}: {msg}"));
                default
            }
        }
    }

    fn size(&mut self, value: &Option<toml::Spanned<RawSize>>, key: &str, default: u64) -> u64 {
        let Some(v) = value else { return default };
        let parsed = match v.get_ref() {
            RawSize::Bytes(n) if *n > 0 => Ok(*n as u64),
            RawSize::Bytes(n) => Err(format!("must be a positive number of bytes, got {n}")),
            RawSize::Text(s) => parse_size(s),
        };
        match parsed {
            Ok(n) if n >= 1024 => n,
            Ok(n) => {
                self.error(
                    v.span(),
                    format!("{key} of {n} bytes is too small to hold a feed; use at least 1KiB"),
                );
                default
            }
            Err(msg) => {
                self.error(v.span(), format!("{key}: {msg}"));
                default
            }
        }
    }

    fn count(
        &mut self,
        value: &Option<toml::Spanned<i64>>,
        key: &str,
        default: usize,
        max: usize,
    ) -> usize {
        let Some(v) = value else { return default };
        let n = *v.get_ref();
        if n < 1 || n as u64 > max as u64 {
            self.error(
                v.span(),
                format!("{key} must be between 1 and {max}, got {n}"),
            );
            return default;
        }
        n as usize
    }

    fn validate(&mut self, raw: RawConfig) -> Option<Config> {
        let base = self.base_dir();
        let base_defaults = Defaults::default();
        let d = &raw.defaults;
        let mut defaults = Defaults {
            interval: self.duration(&d.interval, "interval", base_defaults.interval),
            min_interval: self.duration(
                &d.min_interval,
                "min_interval",
                base_defaults.min_interval,
            ),
            max_interval: self.duration(
                &d.max_interval,
                "max_interval",
                base_defaults.max_interval,
            ),
            timeout: self.duration(&d.timeout, "timeout", base_defaults.timeout),
            connect_timeout: self.duration(
                &d.connect_timeout,
                "connect_timeout",
                base_defaults.connect_timeout,
            ),
            read_timeout: self.duration(
                &d.read_timeout,
                "read_timeout",
                base_defaults.read_timeout,
            ),
            max_body_bytes: self.size(
                &d.max_body_size,
                "max_body_size",
                base_defaults.max_body_bytes,
            ),
            user_agent: base_defaults.user_agent.clone(),
            concurrency: self.count(
                &d.concurrency,
                "concurrency",
                base_defaults.concurrency,
                1024,
            ),
            per_host_concurrency: self.count(
                &d.per_host_concurrency,
                "per_host_concurrency",
                base_defaults.per_host_concurrency,
                64,
            ),
            host_spacing: Duration::ZERO,
            shutdown_grace: self.duration(
                &d.shutdown_grace,
                "shutdown_grace",
                base_defaults.shutdown_grace,
            ),
            body_budget: self.size(&d.body_budget, "body_budget", base_defaults.body_budget),
            slow_after: self.duration(&d.slow_after, "slow_after", base_defaults.slow_after),
            adaptive: d.adaptive.unwrap_or(base_defaults.adaptive),
            failing_after: self.count(
                &d.failing_after,
                "failing_after",
                base_defaults.failing_after as usize,
                1000,
            ) as u32,
            address_guard: base_defaults.address_guard,
            allow_link_local: d.allow_link_local.unwrap_or(false),
        };
        if let Some(g) = &d.address_guard {
            defaults.address_guard = match g.get_ref().as_str() {
                "local-feeds" => crate::guard::Mode::LocalFeeds,
                "strict" => crate::guard::Mode::Strict,
                "off" => crate::guard::Mode::Off,
                other => {
                    self.error(g.span(), format!("address_guard must be \"local-feeds\", \"strict\" or \"off\", got \"{other}\""));
                    crate::guard::Mode::LocalFeeds
                }
            };
        }
        if let Some(spacing) = &d.host_spacing {
            match parse_duration(spacing.get_ref()) {
                Ok(v) => defaults.host_spacing = v,
                Err(msg) => self.error(spacing.span(), format!("host_spacing: {msg}")),
            }
        }
        if let Some(ua) = &d.user_agent {
            if ua.get_ref().trim().is_empty() || ua.get_ref().chars().any(char::is_control) {
                self.error(ua.span(), "user_agent must be non-empty printable text");
            } else {
                defaults.user_agent = ua.get_ref().clone();
            }
        }
        if defaults.min_interval > defaults.max_interval {
            let span = d.min_interval.as_ref().map_or(0..0, toml::Spanned::span);
            self.error(span, "min_interval is longer than max_interval");
        }

        let database = match &raw.storage.path {
            Some(p) if p.get_ref().trim().is_empty() => {
                self.error(
                    p.span(),
                    "storage.path is empty; give a file path such as \"newshound.db\"",
                );
                PathBuf::new()
            }
            Some(p) => join_relative(&base, Path::new(p.get_ref())),
            None => default_database(),
        };
        let synchronous = match raw
            .storage
            .synchronous
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("normal", _)) => Synchronous::Normal,
            Some(("full", _)) => Synchronous::Full,
            Some((other, span)) => {
                self.error(
                    span,
                    format!("synchronous must be \"normal\" or \"full\", got \"{other}\""),
                );
                Synchronous::Normal
            }
        };
        let alert_max_age = match &raw.alerts.max_age {
            None => Some(Duration::from_secs(24 * 3600)),
            Some(v) if v.get_ref() == "off" => None,
            Some(v) => match parse_duration(v.get_ref()) {
                Ok(d) => Some(d),
                Err(msg) => {
                    self.error(v.span(), format!("max_age: {msg}, or \"off\""));
                    None
                }
            },
        };

        let story_window = self.duration(
            &raw.stories.window,
            "stories.window",
            Duration::from_secs(48 * 3600),
        );
        let story_threshold = match &raw.stories.threshold {
            None => crate::stories::DEFAULT_THRESHOLD,
            Some(t) if (0.05..=1.0).contains(t.get_ref()) => *t.get_ref(),
            Some(t) => {
                self.error(
                    t.span(),
                    format!(
                        "stories.threshold must be between 0.05 and 1.0, got {}",
                        t.get_ref()
                    ),
                );
                crate::stories::DEFAULT_THRESHOLD
            }
        };

        let keep = match &raw.storage.keep {
            None => None,
            Some(v) if v.get_ref() == "forever" => None,
            Some(v) => match parse_duration(v.get_ref()) {
                // Stories still open (the story window, and a day) are never deleted anyway;
                // a shorter keep would look like it works and delete nothing.
                Ok(d) if d < story_window + Duration::from_secs(86_400) => {
                    self.error(
                        v.span(),
                        format!(
                            "storage.keep must be longer than the story window ({}) and a day, got \"{}\"",
                            humantime::format_duration(story_window),
                            v.get_ref()
                        ),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(msg) => {
                    self.error(v.span(), format!("storage.keep: {msg}, or \"forever\""));
                    None
                }
            },
        };

        let mut feeds = Vec::new();
        let mut names: HashMap<String, Range<usize>> = HashMap::new();
        let mut sources: HashMap<String, Range<usize>> = HashMap::new();
        for f in &raw.feeds {
            let Some(source) = self.feed_source(&f.url, &base) else {
                continue;
            };
            let name = match &f.name {
                Some(n) => {
                    let s = n.get_ref().trim();
                    if s.is_empty() || s.chars().any(char::is_control) {
                        self.error(n.span(), "feed name must be non-empty printable text");
                        continue;
                    }
                    s.to_owned()
                }
                None => derived_name(&source),
            };
            let key = source.to_string();
            // A duplicate is reported, and the rest of its table still checked.
            let mut duplicate = false;
            if let Some(first) = sources.get(&key) {
                let (l, _) = self.line_col(first.start);
                self.error(
                    f.url.span(),
                    format!("duplicate feed URL {key} (first used on line {l})"),
                );
                duplicate = true;
            }
            let name_span = f.name.as_ref().map_or(f.url.span(), toml::Spanned::span);
            if let Some(first) = names.get(&name) {
                let (l, _) = self.line_col(first.start);
                self.error(name_span.clone(), format!("duplicate feed name \"{name}\" (first used on line {l}); give each feed a unique name"));
                duplicate = true;
            }
            if !duplicate {
                names.insert(name.clone(), name_span);
                sources.insert(key, f.url.span());
            }
            let interval = self.duration(&f.interval, "interval", defaults.interval);
            let mut headers = Vec::new();
            for (k, v) in &f.headers {
                let valid_name = !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !valid_name {
                    self.error(v.span(), format!("\"{k}\" is not a valid HTTP header name"));
                } else if v
                    .get_ref()
                    .bytes()
                    .any(|b| b.is_ascii_control() && b != b'\t')
                {
                    self.error(v.span(), format!("header {k} contains control characters"));
                } else {
                    headers.push((k.clone(), v.get_ref().clone()));
                }
            }
            let max_body_bytes =
                self.size(&f.max_body_size, "max_body_size", defaults.max_body_bytes);
            let mut tags = Vec::new();
            for t in f.tags.iter().flatten() {
                let v = t.get_ref().trim();
                if v.is_empty() || v.chars().any(char::is_control) {
                    self.error(t.span(), "a tag must be non-empty printable text");
                } else {
                    tags.push(v.to_owned());
                }
            }
            if f.enabled.unwrap_or(true) && !duplicate {
                feeds.push(FeedConfig {
                    name,
                    source,
                    interval,
                    headers,
                    max_body_bytes,
                    tags,
                });
            }
        }

        let topics = self.all_topics(&raw, &names);
        let http = self.http(&raw.http, &base);
        let sinks = self.sinks(&raw.sinks, &topics);
        let send_timeout = sinks.iter().map(|s| s.timeout).max();
        let postgres = self.postgres(&raw.storage, defaults.timeout, send_timeout);
        Some(Config {
            path: self.path.to_owned(),
            database,
            synchronous,
            postgres,
            keep,
            search: raw.storage.search.unwrap_or(false),
            defaults,
            alert_max_age,
            story_window,
            story_threshold,
            feeds,
            topics,
            http,
            sinks,
            warnings: Vec::new(),
        })
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let d = self.diagnostic(offset, String::new());
        (d.line, d.column)
    }

    fn feed_source(&mut self, url: &toml::Spanned<String>, base: &Path) -> Option<FeedSource> {
        let s = url.get_ref().trim();
        if s.is_empty() {
            self.error(
                url.span(),
                "feed url is empty; expected http://, https://, file:// or a file path",
            );
            return None;
        }
        if let Some(path) = s.strip_prefix("file://") {
            return Some(FeedSource::File(join_relative(base, Path::new(path))));
        }
        let looks_like_url = s.contains("://") || s.starts_with("feed:");
        if !looks_like_url {
            return Some(FeedSource::File(join_relative(base, Path::new(s))));
        }
        match Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                Some(FeedSource::Http(u))
            }
            Ok(u) => {
                self.error(
                    url.span(),
                    format!(
                        "unsupported URL scheme \"{}\"; expected http, https or file",
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.error(
                    url.span(),
                    format!(
                        "invalid feed URL: {e}; expected e.g. \"https://example.com/feed.xml\""
                    ),
                );
                None
            }
        }
    }

    /// The config's own topics and those of its `include`d files, with the lexicons of both
    /// (the config's own win over an included file's, which win over the shipped ones). A topic
    /// the config defines itself replaces an included one of the same name.
    fn all_topics(
        &mut self,
        raw: &RawConfig,
        feed_names: &HashMap<String, Range<usize>>,
    ) -> Vec<TopicConfig> {
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        let entries = match raw.include.as_ref().map(raw::RawInclude::entries) {
            None => Vec::new(),
            Some(Ok(entries)) => entries,
            Some(Err(span)) => {
                self.error(
                    span,
                    "include must be a topic name or a list of them, as in include = [\"summit-scheduling\"]",
                );
                Vec::new()
            }
        };
        for entry in &entries {
            let name = entry.get_ref().trim();
            if library::is_path(name) {
                let path = self.base_dir().join(name);
                match std::fs::read_to_string(&path) {
                    Ok(text) => files.push((path, text)),
                    Err(e) => self.error(
                        entry.span(),
                        format!("cannot read included topic file {}: {e}", path.display()),
                    ),
                }
            } else if let Some((path, text)) = library::find(name) {
                files.push((PathBuf::from(format!("(shipped) {path}")), text.to_owned()));
            } else {
                let names: Vec<&str> = library::TOPICS.iter().map(|(n, _, _)| *n).collect();
                self.error(
                    entry.span(),
                    format!(
                        "include: no shipped topic \"{name}\"; shipped: {} (or give a path to a .toml file)",
                        names.join(", ")
                    ),
                );
            }
        }
        let mut lexicons = Lexicons::default();
        let mut parsed: Vec<(usize, RawTopicFile)> = Vec::new();
        for (i, (path, text)) in files.iter().enumerate() {
            let mut sub = Validator {
                text,
                path,
                diags: Vec::new(),
                warnings: Vec::new(),
            };
            match toml::from_str::<RawTopicFile>(text) {
                Ok(file) => {
                    sub.lexicons(&file.lexicons, &mut lexicons);
                    parsed.push((i, file));
                }
                Err(e) => sub.error(e.span().unwrap_or(0..0), e.message().trim_end()),
            }
            self.diags.extend(sub.diags);
        }
        self.lexicons(&raw.lexicons, &mut lexicons);
        let own: HashSet<String> = raw
            .topics
            .iter()
            .map(|t| t.name.get_ref().trim().to_owned())
            .collect();
        let mut out = Vec::new();
        let mut included: HashSet<String> = HashSet::new();
        for (i, file) in &parsed {
            let (path, text) = &files[*i];
            let mut sub = Validator {
                text,
                path,
                diags: Vec::new(),
                warnings: Vec::new(),
            };
            let topics: Vec<&RawTopic> = file
                .topics
                .iter()
                .filter(|t| !own.contains(t.name.get_ref().trim()))
                .collect();
            for t in sub.topics(&topics, feed_names, &lexicons) {
                if included.insert(t.spec.name.clone()) {
                    out.push(t);
                } else {
                    let message = format!(
                        "topic \"{}\" is included twice (from {})",
                        t.spec.name,
                        path.display()
                    );
                    self.diags.push(self.diagnostic(0, message));
                }
            }
            self.diags.extend(sub.diags);
            self.warnings.extend(sub.warnings);
        }
        let own: Vec<&RawTopic> = raw.topics.iter().collect();
        out.extend(self.topics(&own, feed_names, &lexicons));
        out
    }

    /// Adds a `[lexicons]` table to `into`, reporting bad names and entries where they are.
    fn lexicons(
        &mut self,
        table: &std::collections::BTreeMap<toml::Spanned<String>, Vec<toml::Spanned<String>>>,
        into: &mut Lexicons,
    ) {
        let mut errors = Vec::new();
        into.add_table(table, &mut errors);
        for e in errors {
            self.error(e.span, e.message);
        }
    }

    fn topics(
        &mut self,
        raw_topics: &[&RawTopic],
        feed_names: &HashMap<String, Range<usize>>,
        lexicons: &Lexicons,
    ) -> Vec<TopicConfig> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for t in raw_topics {
            let name = t.name.get_ref().trim().to_owned();
            if name.is_empty() || name.chars().any(char::is_control) {
                self.error(t.name.span(), "topic name must be non-empty printable text");
                continue;
            }
            // A duplicate is reported, and the rest of its table still checked.
            let duplicate = if let Some(first) = seen.get(&name) {
                self.error(
                    t.name.span(),
                    format!("duplicate topic name \"{name}\" (first used on line {first})"),
                );
                true
            } else {
                let (line, _) = self.line_col(t.name.span().start);
                seen.insert(name.clone(), line);
                false
            };
            let mut queries: Vec<&toml::Spanned<String>> = Vec::new();
            match (&t.query, &t.queries) {
                (Some(q), None) => queries.push(q),
                (None, Some(qs)) if !qs.is_empty() => queries.extend(qs.iter()),
                (Some(_), Some(qs)) => {
                    let span = qs.first().map_or(t.name.span(), toml::Spanned::span);
                    self.error(
                        span,
                        format!("topic \"{name}\" has both query and queries; use one"),
                    );
                    continue;
                }
                _ => {
                    self.error(
                        t.name.span(),
                        format!("topic \"{name}\" needs a query (or queries = [...])"),
                    );
                    continue;
                }
            }
            let mut sources = Vec::new();
            let mut ok = true;
            for q in queries {
                match topics::parse_query_with(q.get_ref(), lexicons) {
                    Err(e) => {
                        let offset = self.offset_in_string(q, e.offset);
                        let mut d =
                            self.diagnostic(offset, format!("topic \"{name}\": {}", e.message));
                        // Show the query itself with the caret, which is clearer than the file
                        // line for multi-line queries.
                        d.snippet = Some(e.snippet(q.get_ref()));
                        self.diags.push(d);
                        ok = false;
                    }
                    Ok(expr) => {
                        for w in topics::lint(&expr) {
                            let d = self.diagnostic(
                                q.span().start,
                                format!("warning: topic \"{name}\": {}", w.message),
                            );
                            self.warnings.push(d);
                        }
                        sources.push(q.get_ref().clone());
                    }
                }
            }
            let feeds = t.feeds.as_ref().map(|fs| {
                fs.iter()
                    .filter_map(|f| {
                        if feed_names.contains_key(f.get_ref()) {
                            Some(f.get_ref().clone())
                        } else {
                            self.error(
                                f.span(),
                                format!(
                                    "topic \"{name}\" names feed \"{}\", which is not configured",
                                    f.get_ref()
                                ),
                            );
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            });
            let level = match t
                .level
                .as_ref()
                .map(|l| (l.get_ref().to_ascii_lowercase(), l.span()))
            {
                None => AlertLevel::Info,
                Some((l, span)) => {
                    match l.as_str() {
                        "error" => AlertLevel::Error,
                        "warn" | "warning" => AlertLevel::Warn,
                        "info" => AlertLevel::Info,
                        "debug" => AlertLevel::Debug,
                        "trace" => AlertLevel::Trace,
                        _ => {
                            self.error(span, format!("level must be one of error, warn, info, debug, trace; got \"{l}\""));
                            AlertLevel::Info
                        }
                    }
                }
            };
            let stem = match t
                .stem
                .as_ref()
                .map(|s| (s.get_ref().to_ascii_lowercase(), s.span()))
            {
                None => None,
                Some((s, span)) => match Stem::from_name(&s) {
                    Some(stem) => Some(stem),
                    None => {
                        self.error(
                            span,
                            format!(
                                "stem must be a language such as \"english\" ({}); got \"{s}\"",
                                Stem::NAMES.join(", ")
                            ),
                        );
                        None
                    }
                },
            };
            if ok && !duplicate {
                out.push(TopicConfig {
                    spec: TopicSpec {
                        name,
                        queries: sources,
                        feeds,
                        stem,
                        lexicons: lexicons.clone(),
                    },
                    level,
                });
            }
        }
        out
    }

    /// Maps an offset inside a string value to an offset in the file. Exact for literal strings
    /// (`'...'`, `'''...'''`) and escape-free basic strings; otherwise the string's start.
    fn offset_in_string(&self, value: &toml::Spanned<String>, inner: usize) -> usize {
        let span = value.span();
        let raw = &self.text[span.clone()];
        let mut start = span.start;
        for delim in ["'''", "\"\"\"", "'", "\""] {
            if let Some(rest) = raw.strip_prefix(delim) {
                start += delim.len();
                if delim.len() == 3 && rest.starts_with('\n') {
                    start += 1;
                } else if delim.len() == 3 && rest.starts_with("\r\n") {
                    start += 2;
                }
                let escaped = delim.starts_with('"') && raw.contains('\\');
                return if escaped { span.start } else { start + inner };
            }
        }
        span.start
    }
}

/// A name for a feed that has none: the host and path of its URL, or the file name.
fn derived_name(source: &FeedSource) -> String {
    match source {
        FeedSource::Http(u) => {
            let host = u.host_str().unwrap_or("feed");
            let path = u.path().trim_end_matches('/');
            format!("{host}{path}")
        }
        FeedSource::File(p) => p.file_stem().map_or_else(
            || p.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
    }
}

/// Parses a human duration: `"90s"`, `"15m"`, `"1h30m"`, `"2 days"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("\"{s}\" is not a duration ({e}); expected e.g. \"90s\", \"15m\", \"1h30m\"")
    })
}

/// Parses a byte size: `"16MiB"`, `"512 KB"`, `"1048576"`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "\"{s}\" is not a size; expected e.g. \"16MiB\" or a number of bytes"
        ));
    }
    let bytes = t
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| {
            format!(
                "\"{s}\" is not a size; expected a number of bytes or a number with a unit: \
             B, KB, KiB, MB, MiB, GB or GiB (e.g. \"16MiB\")"
            )
        })?;
    // bytesize reads through an f64 and saturates: past 2^53 a size is no longer exact.
    if bytes >= 1 << 53 {
        return Err(format!("\"{s}\" is too large"));
    }
    Ok(bytes)
}

/// Takes out of `table`, or of any table within it, the key whose name or value holds byte
/// `at`. (A table's own span is only its header, so every table is searched.)
fn take_out(table: &mut toml::de::DeTable<'_>, at: usize) -> bool {
    let hit = table.iter().find_map(|(k, v)| {
        let scalar = !matches!(
            v.get_ref(),
            toml::de::DeValue::Table(_) | toml::de::DeValue::Array(_)
        );
        let here = k.span().contains(&at) || (scalar && v.span().contains(&at));
        here.then(|| k.get_ref().clone())
    });
    if let Some(key) = hit {
        return table.remove(key.as_ref()).is_some();
    }
    let mut inner = None;
    for (k, v) in table.iter_mut() {
        let found = match v.get_mut() {
            toml::de::DeValue::Table(t) => take_out(t, at),
            toml::de::DeValue::Array(a) => a.iter_mut().any(|e| match e.get_mut() {
                toml::de::DeValue::Table(t) => take_out(t, at),
                _ => false,
            }),
            _ => false,
        };
        if found {
            return true;
        }
        if v.span().contains(&at) {
            // An array of scalars (or an inline table) with a wrong element: the whole key.
            inner = Some(k.get_ref().clone());
        }
    }
    inner.is_some_and(|key| table.remove(key.as_ref()).is_some())
}

/// Puts `key = ""` into the innermost table whose span holds byte `at` (where serde reports a
/// missing key); returns the placeholder's span.
fn fill_in(table: &mut toml::de::DeTable<'_>, at: usize, key: &str) -> Option<Range<usize>> {
    for (_, v) in table.iter_mut() {
        let span = v.span();
        let inner = match v.get_mut() {
            toml::de::DeValue::Table(t) if span.contains(&at) => {
                fill_in(t, at, key).or_else(|| insert_placeholder(t, span.clone(), key))
            }
            toml::de::DeValue::Array(a) => a.iter_mut().find_map(|e| {
                let span = e.span();
                match e.get_mut() {
                    toml::de::DeValue::Table(t) if span.contains(&at) => {
                        fill_in(t, at, key).or_else(|| insert_placeholder(t, span, key))
                    }
                    _ => None,
                }
            }),
            _ => None,
        };
        if inner.is_some() {
            return inner;
        }
    }
    None
}

fn insert_placeholder(
    table: &mut toml::de::DeTable<'_>,
    span: Range<usize>,
    key: &str,
) -> Option<Range<usize>> {
    if table.contains_key(key) {
        return None;
    }
    let value = toml::de::DeValue::String(std::borrow::Cow::Borrowed(""));
    table.insert(
        toml::Spanned::new(span.clone(), std::borrow::Cow::Owned(key.to_owned())),
        toml::Spanned::new(span.clone(), value),
    );
    Some(span)
}

/// `base` joined with `rel`, with `.` and `..` taken out lexically where they step back over
/// `base`'s own components (the base is resolved, so no symlink is crossed there); an absolute
/// `rel` stands alone.
fn join_relative(base: &Path, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            // `/..` is `/`.
            Component::ParentDir if out.has_root() && out.parent().is_none() => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_step_back_over_the_config_dir_lexically() {
        let j = |b: &str, r: &str| join_relative(Path::new(b), Path::new(r));
        assert_eq!(
            j("/srv/app/config", "../target/demo/x.db"),
            Path::new("/srv/app/target/demo/x.db")
        );
        assert_eq!(
            j("/srv/app/config", "./feeds/a.xml"),
            Path::new("/srv/app/config/feeds/a.xml")
        );
        assert_eq!(
            j("/srv/app/config", "/var/lib/x.db"),
            Path::new("/var/lib/x.db")
        );
        assert_eq!(j("/", "../x.db"), Path::new("/x.db"));
        assert_eq!(j(".", "../x.db"), Path::new("../x.db"));
    }

    fn diags(text: &str) -> Vec<String> {
        match load_str(text, Path::new("cfg.toml")) {
            Ok(_) => vec![],
            Err(e) => e
                .diagnostics()
                .iter()
                .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                .collect(),
        }
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let cfg = load_str(
            "[[feeds]]\nurl = \"https://example.com/rss\"\n",
            Path::new("/etc/nh/c.toml"),
        )
        .unwrap();
        assert_eq!(cfg.feeds.len(), 1);
        assert_eq!(cfg.feeds[0].name, "example.com/rss");
        assert_eq!(cfg.feeds[0].interval, Duration::from_secs(900));
        assert_eq!(cfg.alert_max_age, Some(Duration::from_secs(86400)));
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let cfg = load_str(
            "[storage]\npath = \"db.sqlite\"\n[[feeds]]\nurl = \"feeds/a.xml\"\n",
            Path::new("/srv/nh/c.toml"),
        )
        .unwrap();
        assert_eq!(cfg.database, PathBuf::from("/srv/nh/db.sqlite"));
        assert_eq!(
            cfg.feeds[0].source,
            FeedSource::File(PathBuf::from("/srv/nh/feeds/a.xml"))
        );
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let d = diags("[[feeds]]\nurl = \"https://a.example/\"\nnmae = \"x\"\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("3:1: unknown field `nmae`"), "{d:?}");
    }

    #[test]
    fn bad_duration_and_bad_url_are_both_reported() {
        let d = diags(
            "[[feeds]]\nurl = \"https://a.example/\"\ninterval = \"often\"\n[[feeds]]\nurl = \"ftp://b.example/\"\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].starts_with("3:12: interval: \"often\" is not a duration"),
            "{d:?}"
        );
        assert!(
            d[1].starts_with("5:7: unsupported URL scheme \"ftp\""),
            "{d:?}"
        );
    }

    #[test]
    fn duplicate_names_and_urls_are_errors() {
        let d = diags(
            "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\n[[feeds]]\nname = \"a\"\nurl = \"https://b.example/\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d[0].contains("duplicate feed name \"a\" (first used on line 2)"),
            "{d:?}"
        );
        assert!(d[1].contains("duplicate feed URL"), "{d:?}");
    }

    #[test]
    fn query_errors_point_inside_the_query() {
        let d = diags(
            "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"t\"\nquery = '(summit OR'\n",
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("5:20: topic \"t\":"), "{d:?}");
    }

    #[test]
    fn every_bad_topic_is_reported() {
        let d = diags(
            "[[topics]]\nname = \"a\"\nquery = 'x NEAR/ y'\n[[topics]]\nname = \"b\"\nquery = '\"open'\n",
        );
        assert_eq!(d.len(), 2, "{d:?}");
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("512 KB"), Ok(512_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_size("16mib"), Ok(16 << 20));
        for (bad, says) in [
            (
                "12 parsecs",
                "expected a number of bytes or a number with a unit",
            ),
            ("-5MB", "is not a size"),
            ("", "is not a size"),
            ("MiB", "is not a size"),
            ("99999999999999999999 GiB", "is too large"),
        ] {
            let e = parse_size(bad).unwrap_err();
            assert!(
                e.contains(says) && e.contains(&format!("\"{bad}\"")),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn type_errors_come_from_toml_with_position() {
        let d = diags("[defaults]\nconcurrency = \"ten\"\n");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].starts_with("2:15: invalid type: string \"ten\", expected i64"),
            "{d:?}"
        );
    }
}
