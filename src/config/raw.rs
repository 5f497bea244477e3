//! The serde shape of the TOML file, close to the input: strings and spans, nothing validated.
//! `config::load` turns it into a [`super::Config`] and reports every problem with its position.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub defaults: RawDefaults,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub stories: RawStories,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub feeds: Vec<RawFeed>,
    #[serde(default)]
    pub topics: Vec<RawTopic>,
    /// Where alerts go besides the log (see `config::sinks`).
    #[serde(default)]
    pub sinks: Vec<super::sinks::RawSink>,
    /// Topic files to add: shipped topic names, or paths.
    pub include: Option<RawInclude>,
    /// Named word lists for `@name` in queries.
    #[serde(default)]
    pub lexicons: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

/// `include = "name"` or `include = ["name", "path/to/file.toml"]`. (An untagged enum of
/// `Spanned` strings does not deserialize, so the value is taken whole and split here.)
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct RawInclude(pub Spanned<toml::Value>);

impl RawInclude {
    /// Each entry, with the span of the whole `include` value; a non-string entry is an error.
    pub fn entries(&self) -> Result<Vec<Spanned<String>>, std::ops::Range<usize>> {
        let span = self.0.span();
        let one = |v: &toml::Value| match v {
            toml::Value::String(s) => Ok(Spanned::new(span.clone(), s.clone())),
            _ => Err(span.clone()),
        };
        match self.0.get_ref() {
            toml::Value::Array(vs) => vs.iter().map(one).collect(),
            v => one(v).map(|s| vec![s]),
        }
    }
}

/// An included topic file: topics, and lexicons they may use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopicFile {
    #[serde(default)]
    pub topics: Vec<RawTopic>,
    #[serde(default)]
    pub lexicons: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    /// Database file; relative paths are relative to the config file's directory.
    pub path: Option<Spanned<String>>,
    /// `"normal"` (default) or `"full"`: SQLite's `synchronous` in WAL mode.
    pub synchronous: Option<Spanned<String>>,
    /// Retention: delete what is older than this (`"180d"`); absent or `"forever"`: keep all.
    pub keep: Option<Spanned<String>>,
    /// Keep the full-text search index (`newshound search`); default false.
    pub search: Option<bool>,
    /// A PostgreSQL server instead of a SQLite file (`postgres://…`).
    pub url: Option<Spanned<String>>,
    /// PostgreSQL: how long a daemon's claim on a feed lasts.
    pub lease: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub interval: Option<Spanned<String>>,
    pub min_interval: Option<Spanned<String>>,
    pub max_interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub read_timeout: Option<Spanned<String>>,
    pub max_body_size: Option<Spanned<RawSize>>,
    pub user_agent: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<i64>>,
    pub per_host_concurrency: Option<Spanned<i64>>,
    pub host_spacing: Option<Spanned<String>>,
    pub shutdown_grace: Option<Spanned<String>>,
    pub body_budget: Option<Spanned<RawSize>>,
    pub slow_after: Option<Spanned<String>>,
    pub adaptive: Option<bool>,
    /// `"local-feeds"` (default), `"strict"` or `"off"`.
    pub address_guard: Option<Spanned<String>>,
    pub allow_link_local: Option<bool>,
    pub failing_after: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    /// `"24h"`, or `"off"`.
    pub max_age: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStories {
    /// How long after a story's first item others can still join it.
    pub window: Option<Spanned<String>>,
    /// Similarity (0–1) at which an item joins a story.
    pub threshold: Option<Spanned<f64>>,
}

/// `[http]`: the operations listener (metrics, health, status page); off without `listen`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    /// `"127.0.0.1:8080"`: an IP address and a port.
    pub listen: Option<Spanned<String>>,
    /// Needed for an address other than loopback.
    pub allow_remote: Option<bool>,
    /// A file holding the bearer token every request but `/healthz` must present.
    pub token_file: Option<Spanned<String>>,
    /// Connections served at once; more are closed on accept.
    pub max_connections: Option<Spanned<i64>>,
}

/// A byte size: a plain integer, or a string such as `"16MiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSize {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    pub url: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub enabled: Option<bool>,
    pub max_body_size: Option<Spanned<RawSize>>,
    /// Labels for people and for OPML folders (`feeds import` fills them from categories).
    pub tags: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopic {
    pub name: Spanned<String>,
    pub query: Option<Spanned<String>>,
    pub queries: Option<Vec<Spanned<String>>>,
    pub feeds: Option<Vec<Spanned<String>>>,
    pub level: Option<Spanned<String>>,
    pub stem: Option<Spanned<String>>,
}
