//! The store's vocabulary: what a poll hands over, what it gets back, and what the commands read.

use super::*;

/// What one poll of one feed produced, to be committed atomically.
#[derive(Debug)]
pub struct PollRecord {
    pub feed: String,
    pub url: String,
    pub at: DateTime<Utc>,
    pub outcome: PollOutcome,
    /// The feed's facts as the poll read them, with what the answer said (validators, ttl and
    /// skips of a fetched document, cache directives): the store applies the outcome to its own
    /// copy (`FeedFacts::after`) and returns the result.
    pub facts: FeedFacts,
}

#[derive(Debug)]
pub enum PollOutcome {
    /// A 200 with a parsed feed.
    Fetched {
        status: u16,
        permanent_redirect: Option<String>,
        title: Option<String>,
        items: Vec<MatchedItem>,
        /// What the parser recovered from or skipped ("3 of 50 entries unreadable: …"), shown
        /// by `feeds` until the next poll.
        warning: Option<String>,
    },
    /// 304 (or an unchanged file).
    NotModified {
        status: u16,
        permanent_redirect: Option<String>,
    },
    Failed {
        status: Option<u16>,
        class: ErrorClass,
        message: String,
    },
}

/// An item with the topics it matched (computed before the transaction, off the writer).
#[derive(Debug, Clone)]
pub struct MatchedItem {
    pub item: Item,
    pub matches: Vec<AlertCandidate>,
    /// For story assignment (computed off the writer, with the matching).
    pub features: Features,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertCandidate {
    pub topic: String,
    pub query_index: usize,
    pub terms: Vec<String>,
    pub field: String,
    pub snippet: String,
}

/// How items become stories and matches become alerts.
#[derive(Debug, Clone, Copy)]
pub struct IngestPolicy {
    /// Items dated longer ago than this never alert.
    pub max_age: Option<Duration>,
    /// Items join stories started at most this long before them.
    pub story_window: Duration,
    /// The similarity at which an item joins a story.
    pub story_threshold: f64,
    /// Keep the search index (`[storage] search`): fixed when the writer starts.
    pub search: bool,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        IngestPolicy {
            max_age: Some(Duration::from_secs(86400)),
            story_window: Duration::from_secs(48 * 3600),
            story_threshold: crate::stories::DEFAULT_THRESHOLD,
            search: false,
        }
    }
}

impl From<&crate::config::Config> for IngestPolicy {
    fn from(cfg: &crate::config::Config) -> Self {
        IngestPolicy {
            max_age: cfg.alert_max_age,
            story_window: cfg.story_window,
            story_threshold: cfg.story_threshold,
            search: cfg.search,
        }
    }
}

/// What a poll changed.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PollSummary {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Already stored from another feed (or with other tracking parameters).
    pub merged: usize,
    /// Alerts recorded in this transaction (log them after commit).
    pub alerts: Vec<NewAlert>,
    /// Matches not alerted: too old, undated on a feed's first fetch, or a suspected GUID rotation.
    pub suppressed: usize,
    /// Most of a known feed's items looked new at once.
    pub rotation_suspected: bool,
    pub first_fetch: bool,
    /// A permanent redirect was just adopted as the feed's URL.
    pub adopted: Option<String>,
    /// The feed just answered 410 Gone for the first time.
    pub became_gone: bool,
    /// The feed's facts as committed with this poll.
    pub facts: FeedFacts,
    /// Matches on stories that had already alerted for the topic: (topic, story).
    pub also_reported: Vec<(String, i64)>,
    /// Deliveries queued in the outbox with this poll's alerts.
    pub enqueued: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewAlert {
    pub alert_id: i64,
    pub item_id: i64,
    pub story_id: i64,
    /// Feeds that reported the story so far.
    pub sources: u32,
    pub topic: String,
    pub feed: String,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub terms: Vec<String>,
    pub field: String,
    pub snippet: String,
    pub query_index: usize,
}

/// A feed's stored state: its facts and how its polls went.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    #[serde(flatten)]
    pub facts: FeedFacts,
    pub last_fetch_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_error_class: Option<ErrorClass>,
    pub redirect_url: Option<String>,
    pub redirect_seen: u32,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub poll_interval_secs: Option<u64>,
    pub schedule_reason: Option<String>,
    pub items: u64,
    /// A permanent redirect target polled instead of the configured URL.
    pub adopted_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredItem {
    pub id: i64,
    pub feed: String,
    pub sources: Vec<String>,
    pub title: String,
    pub summary: String,
    pub url: Option<String>,
    pub canonical_url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub changed: Option<DateTime<Utc>>,
    pub story_id: Option<i64>,
    /// Why the item is in its story: "first item", or the similarity that joined it.
    pub join_reason: Option<String>,
}

/// A story: its headline item, and every item and feed that reported it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredStory {
    pub id: i64,
    pub headline: String,
    pub url: Option<String>,
    pub started: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub sources: Vec<String>,
    pub items: Vec<StoredItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    pub id: i64,
    pub topic: String,
    pub feed: String,
    pub item_id: i64,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub terms: Vec<String>,
    pub field: String,
    pub snippet: String,
    pub created: DateTime<Utc>,
    pub story_id: i64,
}

/// A feed's next poll, as `feeds` shows it.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub feed: String,
    pub next: DateTime<Utc>,
    /// The base interval (configured or adapted); the wait may be longer (ttl, backoff …).
    pub interval: Duration,
    pub reason: String,
}
