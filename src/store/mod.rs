//! SQLite storage. [`Store`] owns the connection; no SQL lives anywhere else.
//!
//! The interface is narrow on purpose: the poller hands over one [`PollRecord`] per feed poll and
//! gets a [`PollSummary`] back; the CLI reads feeds, items and alerts. A second backend
//! (PostgreSQL) would implement the same calls.
//!
//! Durability: WAL mode, one writer, each feed's poll in one `BEGIN IMMEDIATE` transaction, which
//! stores the items, the topic alerts *and* the feed's validators (ETag/Last-Modified) together.
//! A crash or a failed commit therefore never skips items: the validators only advance with them.
//!
//! Dedup, in order, for each incoming item of feed F with key K:
//! 1. (F, K) already seen → the same item; if its content hash changed, update it in place;
//! 2. K is a URL-shaped GUID F used before under another scheme or host → the same item;
//! 3. its URL key (see [`crate::stories::url_key`]) is stored → the same article from another
//!    feed, or with tracking parameters: record the sighting, nothing new;
//! 4. no link, but an identical content hash among link-less items → the same;
//! 5. otherwise a new item, which joins a story or starts one (`assign_story`).

mod fts;
mod retention;
mod story_index;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::config::Synchronous;
use crate::model::{Item, stable_hash};
use crate::stories::Features;
use story_index::{NewItem, StoryIndex};

pub use fts::{IndexHit, SearchRanking};
pub use retention::{PrunePlan, PruneReport};
pub use writer::{StoreHandle, spawn_writer};

/// Schema migrations, applied in order; `PRAGMA user_version` counts how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_schedule.sql"),
    include_str!("migrations/0003_stories.sql"),
    include_str!("migrations/0004_features.sql"),
    include_str!("migrations/0005_id_marks.sql"),
    include_str!("migrations/0006_url_hash.sql"),
    include_str!("migrations/0007_alerts_per_item.sql"),
    SEARCH_MIGRATION,
];

/// Migration 0009 (reserved for this team; 0008 is another's).
const SEARCH_MIGRATION: &str = include_str!("migrations/0009_search_retention.sql");

/// The writer's SQLite page cache, in KiB: SQLite's default. Story assignment reads no pages
/// (its candidates are in memory), and 8 MB bought ~5% on a cold 50,000-item run for 6 MB more
/// RSS; past a few hundred thousand items no cache of this order holds the indexes anyway.
const CACHE_KIB: i64 = 2 * 1024;

/// How stale a sighting's `last_seen_at` may get before a poll that lists the item again
/// refreshes it: retention counts in days, and a daily write keeps re-polls write-free.
const SEEN_AGAIN_SECS: i64 = 86_400;

/// A permanent redirect seen on this many consecutive polls becomes the URL polled.
pub const ADOPT_REDIRECT_AFTER: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the database directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("no database at {} yet; run `newshound once` (or `run`) first", path.display())]
    Missing { path: PathBuf },
    #[error(
        "database {} has schema version {found}, newer than this newshound understands ({supported}); upgrade newshound or use another database",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// Disk full, I/O error, or a read-only database: the condition, not the statement.
    pub fn is_storage_fault(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::DatabaseBusy))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What one poll of one feed produced, to be committed atomically.
#[derive(Debug)]
pub struct PollRecord {
    pub feed: String,
    pub url: String,
    pub at: DateTime<Utc>,
    pub outcome: PollOutcome,
}

#[derive(Debug)]
pub enum PollOutcome {
    /// A 200 with a parsed feed.
    Fetched {
        status: u16,
        etag: Option<String>,
        last_modified: Option<String>,
        permanent_redirect: Option<String>,
        title: Option<String>,
        ttl: Option<u32>,
        /// RSS `<skipHours>` (UTC hours) and `<skipDays>` (0 = Monday).
        skip_hours: Vec<u8>,
        skip_days: Vec<u8>,
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
        class: &'static str,
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
    pub gone: bool,
    /// The feed's recent publishing, for adaptive scheduling.
    pub activity: Activity,
    /// Matches on stories that had already alerted for the topic: (topic, story).
    pub also_reported: Vec<(String, i64)>,
}

/// How much a feed published lately: items dated (or first seen) in the last 7 days, and the
/// oldest such date.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Activity {
    pub items_7d: u32,
    pub oldest_7d: Option<DateTime<Utc>>,
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

/// A feed's stored state.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_fetch_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_error_class: Option<String>,
    pub consecutive_failures: u32,
    pub redirect_url: Option<String>,
    pub redirect_seen: u32,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub poll_interval_secs: Option<u64>,
    pub schedule_reason: Option<String>,
    pub ttl_minutes: Option<u32>,
    pub items: u64,
    /// Answered 410 Gone: the daemon no longer polls it.
    pub dead_since: Option<DateTime<Utc>>,
    /// A permanent redirect target polled instead of the configured URL.
    pub adopted_url: Option<String>,
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
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

pub struct Store {
    conn: Connection,
    path: PathBuf,
    stories: StoryIndex,
    /// Test seam: make the N-th write transaction from now fail as if the disk were full (or
    /// another storage fault), to prove nothing is lost. See [`Store::inject_commit_failure`].
    fault: Option<(u64, rusqlite::ErrorCode)>,
}

/// WAL pages (4 KB each) after which the writer checkpoints by itself although a
/// [`Checkpointer`] runs: 40 MB, ten times SQLite's default, reached only if the other stalls.
const BACKSTOP_PAGES: i64 = 10_000;

/// Copies the WAL into the database file beside the writer, on its own connection, so the
/// writer never waits for a checkpoint's copying and `fsync`s (in a burst of new items they
/// took a seventh of its time). A `PASSIVE` checkpoint never blocks the writer or readers; it
/// copies what it can, and the writer starts the WAL over once everything was copied.
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    /// One passive checkpoint: copies what it can now.
    pub fn run(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// Which feeds' states to read: one name, or a JSON array of names.
enum Names<'a> {
    One(&'a str),
    Json(&'a str),
}

/// `execute` and `query_row` through the connection's statement cache: the per-poll statements
/// run thousands of times in a burst, and preparing one costs more than running it.
trait Cached {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Statements kept prepared: every statement of a poll's write path fits (rusqlite's default
/// of 16 did not, and the least recently used ones were prepared again for every poll).
const STATEMENT_CACHE: usize = 64;

fn ts(d: DateTime<Utc>) -> i64 {
    d.timestamp()
}

fn from_ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| Utc.timestamp_opt(t, 0).single())
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Store> {
        Store::open_with(path, synchronous, false)
    }

    /// [`Store::open`]; a database created now with `incremental_vacuum` gives the pages
    /// retention frees back to the file system (`[storage] keep` set when it is created).
    pub fn open_with(
        path: &Path,
        synchronous: Synchronous,
        incremental_vacuum: bool,
    ) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            stories: StoryIndex::default(),
            fault: None,
        };
        store
            .configure(synchronous, incremental_vacuum)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens a second connection to the writer's database that only copies the WAL into the
    /// database file: see [`Checkpointer`].
    pub fn checkpointer(&self) -> Result<Checkpointer> {
        let conn = Connection::open(&self.path).map_err(|source| StoreError::Open {
            path: self.path.clone(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // A checkpoint copies frames straight from the WAL: it needs next to no page cache.
        conn.pragma_update(None, "cache_size", 16)?;
        Ok(Checkpointer { conn })
    }

    /// Opens an existing database for reading (the CLI's `feeds`, `items`, `alerts`).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let store = Store {
            conn,
            path: path.to_owned(),
            stories: StoryIndex::default(),
            fault: None,
        };
        store.check_version()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(
        &mut self,
        synchronous: Synchronous,
        incremental_vacuum: bool,
    ) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        // A new database gives the pages retention frees back to the file system, a step at
        // a time (`Store::vacuum_step`); only possible before its first table exists. Only
        // then: its pointer-map pages cost every write a little.
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables == 0 && incremental_vacuum {
            self.conn
                .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        self.conn.pragma_update(None, "synchronous", sync)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // When a batch has to isolate a failing poll, each poll is a savepoint, whose rollback
        // journal then lives in memory rather than in a temporary file: at most the pages one
        // poll touches.
        self.conn.pragma_update(None, "temp_store", "MEMORY")?;
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        self.conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        self.conn
            .set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(())
    }

    fn version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn check_version(&self) -> Result<i64> {
        let found = self.version()?;
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                supported,
            });
        }
        Ok(found)
    }

    /// Applies pending migrations, each in its own transaction with the version bump.
    fn migrate(&mut self) -> Result<()> {
        let current = self.check_version()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            finish_migration(&tx, i + 1)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        let latest = MIGRATIONS.len();
        if current == 0 {
            tracing::info!(
                "database created at {} (schema v{latest})",
                self.path.display()
            );
        } else if (current as usize) < latest {
            tracing::info!("database schema migrated from v{current} to v{latest}");
        }
        Ok(())
    }

    /// Leaves checkpoints to a [`Checkpointer`] beside the writer: this connection then only
    /// checkpoints itself when the WAL passes `BACKSTOP_PAGES`, in case the other falls behind.
    pub fn leave_checkpoints_to_another(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        Ok(())
    }

    /// Checkpoints the WAL into the main file and truncates it (after a cycle, at shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// One feed's state, if it was ever polled.
    pub fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        Ok(self
            .feed_states_where(Some(Names::One(name)))?
            .into_iter()
            .next())
    }

    pub fn feed_states(&self) -> Result<Vec<FeedState>> {
        self.feed_states_where(None)
    }

    /// The stored state of the named feeds (those that have one), in one query.
    pub fn feed_states_named(&self, names: &[String]) -> Result<Vec<FeedState>> {
        let names = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
        self.feed_states_where(Some(Names::Json(&names)))
    }

    fn feed_states_where(&self, name: Option<Names<'_>>) -> Result<Vec<FeedState>> {
        const COLUMNS: &str = "SELECT name, url, etag, last_modified, last_fetch_at, last_success_at, last_status, last_error,
                    last_error_class, consecutive_failures, redirect_url, redirect_seen, next_poll_at, poll_interval,
                    schedule_reason, ttl_minutes, (SELECT count(*) FROM sightings s WHERE s.feed_id = feeds.id),
                    dead_since, adopted_url, skip_hours, skip_days
             FROM feeds";
        // Two statements, not `?1 IS NULL OR name = ?1`: a plan fixed at prepare time (QPSG)
        // could not use the name index for that, and one feed's lookup would scan them all.
        let (mut stmt, args) = match name {
            Some(Names::One(n)) => (
                self.conn
                    .prepare_cached(&format!("{COLUMNS} WHERE name = ?1"))?,
                vec![n],
            ),
            Some(Names::Json(list)) => (
                self.conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE name IN (SELECT value FROM json_each(?1))"
                ))?,
                vec![list],
            ),
            None => (
                self.conn
                    .prepare_cached(&format!("{COLUMNS} ORDER BY name"))?,
                vec![],
            ),
        };
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(FeedState {
                name: r.get(0)?,
                url: r.get(1)?,
                etag: r.get(2)?,
                last_modified: r.get(3)?,
                last_fetch_at: from_ts(r.get(4)?),
                last_success_at: from_ts(r.get(5)?),
                last_status: r.get(6)?,
                last_error: r.get(7)?,
                last_error_class: r.get(8)?,
                consecutive_failures: r.get(9)?,
                redirect_url: r.get(10)?,
                redirect_seen: r.get(11)?,
                next_poll_at: from_ts(r.get(12)?),
                poll_interval_secs: r.get::<_, Option<i64>>(13)?.map(|v| v.max(0) as u64),
                schedule_reason: r.get(14)?,
                ttl_minutes: r.get(15)?,
                items: r.get::<_, i64>(16)?.max(0) as u64,
                dead_since: from_ts(r.get(17)?),
                adopted_url: r.get(18)?,
                skip_hours: parse_list(r.get(19)?),
                skip_days: parse_list(r.get(20)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
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

impl Store {
    /// A trivial query: the database answers.
    pub fn ping(&mut self) -> Result<()> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Records the daemon's schedule decision for a feed.
    pub fn set_schedule(
        &mut self,
        feed: &str,
        next: DateTime<Utc>,
        interval: Duration,
        reason: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE feeds SET next_poll_at = ?2, poll_interval = ?3, schedule_reason = ?4 WHERE name = ?1",
            params![feed, ts(next), interval.as_secs() as i64, reason],
        )?;
        Ok(())
    }

    /// Records the schedule decisions of a round of polls (`once`) in one transaction.
    pub fn set_schedules(&mut self, rows: &[Schedule]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE feeds SET next_poll_at = ?2, poll_interval = ?3, schedule_reason = ?4 WHERE name = ?1",
            )?;
            for r in rows {
                stmt.execute(params![
                    r.feed,
                    ts(r.next),
                    r.interval.as_secs() as i64,
                    r.reason
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Commits one poll: items, alerts and the feed's new state, in one transaction.
    pub fn record_poll(&mut self, rec: &PollRecord, policy: IngestPolicy) -> Result<PollSummary> {
        self.record_polls(&[rec], policy)
            .pop()
            .unwrap_or(Err(StoreError::WriterGone))
    }

    /// Commits several polls in one transaction (group commit). A poll whose writes fail is
    /// rolled back alone and reported; the others commit. If the final commit fails, every poll
    /// reports it, and none of them advanced its validators.
    ///
    /// Writes almost never fail, so the batch first runs without savepoints (a savepoint makes
    /// SQLite copy every page a poll touches that an earlier poll of the batch had already
    /// changed: a tenth of the allocations of a cold run). Only when a poll fails is the batch
    /// rolled back and run again with each poll inside its own savepoint.
    pub fn record_polls(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
    ) -> Vec<Result<PollSummary>> {
        self.record_batch(recs, policy, false)
    }

    /// One attempt at a batch. Without savepoints, the first failing poll abandons the attempt
    /// (nothing kept) for one with them, where it is rolled back alone and reported.
    fn record_batch(
        &mut self,
        recs: &[&PollRecord],
        policy: IngestPolicy,
        savepoints: bool,
    ) -> Vec<Result<PollSummary>> {
        let all_fail = |e: &rusqlite::Error| {
            recs.iter()
                .map(|_| Err(StoreError::Sqlite(clone_error(e))))
                .collect()
        };
        let mut tx = match self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(tx) => tx,
            Err(e) => return all_fail(&e),
        };
        // Rows get their ids from the writer, so an item is inserted once, already in its story.
        // Inside this IMMEDIATE transaction nobody else writes; a rolled-back savepoint only
        // leaves a gap.
        if let Err(e) = self.stories.next_ids.reset(&tx) {
            return all_fail(&e);
        }
        // The polls' times are at most the transaction's; a clock running ahead in a test
        // still leaves every item after its hour's mark.
        let t = recs.iter().map(|r| ts(r.at)).fold(ts(Utc::now()), i64::max);
        if let Err(e) = mark_ids(&tx, t, self.stories.next_ids) {
            return all_fail(&e);
        }
        let mut results = Vec::with_capacity(recs.len());
        for rec in recs {
            let one = if savepoints {
                (|| {
                    let sp = tx.savepoint()?;
                    let summary = record_in(&sp, rec, policy, &mut self.stories)?;
                    sp.commit()?;
                    Ok(summary)
                })()
            } else {
                record_in(&tx, rec, policy, &mut self.stories)
            };
            if one.is_err() && !savepoints {
                drop(tx); // rolled back: nothing of the attempt is kept
                // Nor what it did to the in-memory story index.
                self.stories.invalidate();
                return self.record_batch(recs, policy, true);
            }
            results.push(one);
        }
        let failed = results.iter().any(Result::is_err);
        if let Some(e) = take_fault(&mut self.fault) {
            drop(tx); // rolled back, as a failed COMMIT is
            self.stories.invalidate();
            return all_fail(&e);
        }
        if let Err(e) = tx.commit() {
            self.stories.invalidate();
            return all_fail(&e);
        }
        if failed {
            // A rolled-back savepoint may have opened stories in memory that do not exist.
            self.stories.invalidate();
        }
        results
    }

    /// Test seam: the `nth` write transaction from now (1 = the next) fails with `code` instead of
    /// committing; nothing it wrote is kept.
    #[doc(hidden)]
    pub fn inject_commit_failure(&mut self, nth: u64, code: rusqlite::ErrorCode) {
        self.fault = Some((nth.max(1), code));
    }
}

/// What the SQL of migration `version` cannot do alone, in its transaction, after it.
fn finish_migration(tx: &Connection, version: usize) -> rusqlite::Result<()> {
    if version == 6 {
        // The hash of each stored URL key.
        let keys: Vec<(i64, String)> = tx
            .prepare("SELECT id, url_key FROM items WHERE url_key IS NOT NULL")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut set = tx.prepare("UPDATE items SET url_hash = ?2 WHERE id = ?1")?;
        for (id, key) in keys {
            set.execute(params![id, url_hash(&key)])?;
        }
    }
    Ok(())
}

/// The index key of a URL key (`items.url_hash`): its host's hash in the top 24 bits and the
/// whole key's in the low 40, so that a site's items sit together in the index (a feed's new
/// items mostly touch its own site's few pages) while an entry stays 8 bytes. Keys that share a
/// value are told apart by the lookup, which compares the key itself.
fn url_hash(url_key: &str) -> i64 {
    const LOW: u64 = (1 << 40) - 1;
    let host = url_key.split('/').next().unwrap_or(url_key);
    ((stable_hash(&[host]) & !LOW) | (stable_hash(&[url_key]) & LOW)) as i64
}

/// Records the ids written from `t`'s hour on, if this is the first write transaction of a new
/// hour. Marks only move forward: after the clock steps back, none is written until it passes
/// the last marked hour again, so every mark stays below every id written after it.
fn mark_ids(tx: &Connection, t: i64, next: NextIds) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO id_marks (hour, item_id, story_id) SELECT ?1, ?2, ?3
         WHERE ?1 > (SELECT coalesce(max(hour), -1) FROM id_marks)",
    )?
    .execute(params![t.div_euclid(3600), next.item, next.story])?;
    Ok(())
}

/// The first item and story ids that can have been written at or after `t`: those of the last
/// mark at or before its hour (0 before the first).
fn ids_since(conn: &Connection, t: i64) -> rusqlite::Result<NextIds> {
    Ok(conn
        .prepare_cached(
            "SELECT item_id, story_id FROM id_marks WHERE hour <= ?1 ORDER BY hour DESC LIMIT 1",
        )?
        .query_row(params![t.div_euclid(3600)], |r| {
            Ok(NextIds {
                item: r.get(0)?,
                story: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Counts down an injected fault; the error when it fires.
fn take_fault(fault: &mut Option<(u64, rusqlite::ErrorCode)>) -> Option<rusqlite::Error> {
    {
        let (n, code) = (*fault)?;
        if n > 1 {
            *fault = Some((n - 1, code));
            return None;
        }
        *fault = None;
        let raw = match code {
            rusqlite::ErrorCode::DiskFull => rusqlite::ffi::SQLITE_FULL,
            rusqlite::ErrorCode::DatabaseBusy => rusqlite::ffi::SQLITE_BUSY,
            _ => rusqlite::ffi::SQLITE_IOERR,
        };
        Some(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(raw),
            Some("injected storage fault".into()),
        ))
    }
}

impl Store {
    /// Stored items, newest first.
    pub fn items(
        &self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        self.items_where(feed, since, None, limit)
    }

    fn items_where(
        &self,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
        story: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.id, f.name, i.title, i.summary, i.url, i.canonical_url, i.published_at, i.updated_at, i.first_seen_at, i.changed_at,
                    (SELECT group_concat(f2.name, char(31)) FROM sightings s JOIN feeds f2 ON f2.id = s.feed_id WHERE s.item_id = i.id),
                    i.story_id, i.join_reason
             FROM items i JOIN feeds f ON f.id = i.first_feed_id
             WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM sightings s JOIN feeds f3 ON f3.id = s.feed_id WHERE s.item_id = i.id AND f3.name = ?1))
               AND i.id >= ?5 AND (?2 IS NULL OR i.first_seen_at >= ?2)
               AND (?4 IS NULL OR i.story_id = ?4)
             ORDER BY coalesce(i.published_at, i.first_seen_at) DESC, i.id DESC LIMIT ?3",
        )?;
        let first = match since {
            Some(t) => ids_since(&self.conn, ts(t))?.item,
            None => 0,
        };
        let params = params![feed, since.map(ts), limit as i64, story, first];
        let rows = stmt.query_map(params, |r| {
            let sources: Option<String> = r.get(10)?;
            let mut sources: Vec<String> = sources
                .map(|s| s.split('\u{1f}').map(str::to_owned).collect())
                .unwrap_or_default();
            sources.sort();
            sources.dedup();
            Ok(StoredItem {
                id: r.get(0)?,
                feed: r.get(1)?,
                title: r.get(2)?,
                summary: r.get(3)?,
                url: r.get(4)?,
                canonical_url: r.get(5)?,
                published: from_ts(r.get(6)?),
                updated: from_ts(r.get(7)?),
                first_seen: from_ts(r.get(8)?).unwrap_or_default(),
                changed: from_ts(r.get(9)?),
                sources,
                story_id: r.get(11)?,
                join_reason: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stories started since `since` with at least `min_sources` feeds, newest first.
    pub fn stories(
        &self,
        since: Option<DateTime<Utc>>,
        min_sources: usize,
        limit: usize,
    ) -> Result<Vec<StoredStory>> {
        type Row = (i64, String, Option<String>, i64, i64);
        // Those started since `from` (all with `None`), read from the first story that can have
        // been written since: a story cannot start after it is written.
        let started_since = |from: Option<i64>| -> Result<Vec<Row>> {
            let first = match from {
                Some(t) => ids_since(&self.conn, t)?.story,
                None => 0,
            };
            let mut stmt = self.conn.prepare_cached(
                "SELECT st.id, i.title, i.url, st.started_at, st.last_at FROM stories st JOIN items i ON i.id = st.headline_item_id
                 WHERE st.id >= ?1 AND (?2 IS NULL OR st.started_at >= ?2)
                   AND (SELECT count(DISTINCT s.feed_id) FROM items m JOIN sightings s ON s.item_id = m.id WHERE m.story_id = st.id) >= ?3
                 ORDER BY st.started_at DESC, st.id DESC LIMIT ?4",
            )?;
            Ok(stmt
                .query_map(
                    params![first, from, min_sources as i64, limit as i64],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?
                .collect::<rusqlite::Result<_>>()?)
        };
        let ids = match since {
            Some(t) => started_since(Some(ts(t)))?,
            None => {
                // The newest `limit` of all: looked for in the last day, then 8, 64, ... days,
                // then everywhere. Once a span holds `limit` of them they are the newest, as
                // every story written before the span started before it.
                let now = ts(Utc::now());
                let mut days = 1;
                loop {
                    if days > 100_000 {
                        break started_since(None)?;
                    }
                    let found = started_since(Some(now - days * 86_400))?;
                    if found.len() >= limit {
                        break found;
                    }
                    days *= 8;
                }
            }
        };
        ids.into_iter()
            .map(|(id, headline, url, started, last)| {
                let mut items = self.items_where(None, None, Some(id), 1000)?;
                items.reverse();
                let mut sources: Vec<String> = items
                    .iter()
                    .flat_map(|i| i.sources.iter().cloned())
                    .collect();
                sources.sort();
                sources.dedup();
                Ok(StoredStory {
                    id,
                    headline,
                    url,
                    started: from_ts(Some(started)).unwrap_or_default(),
                    last: from_ts(Some(last)).unwrap_or_default(),
                    sources,
                    items,
                })
            })
            .collect()
    }

    /// Stored alerts, newest first.
    pub fn alerts(
        &self,
        topic: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<StoredAlert>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.id, a.topic, f.name, a.item_id, i.title, i.url, i.published_at, a.terms, a.field, a.snippet, a.created_at, a.story_id
             FROM alerts a JOIN items i ON i.id = a.item_id JOIN feeds f ON f.id = a.feed_id
             WHERE (?1 IS NULL OR a.topic = ?1) AND (?2 IS NULL OR a.created_at >= ?2)
             ORDER BY a.created_at DESC, a.id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![topic, since.map(ts), limit as i64], |r| {
            let terms: String = r.get(7)?;
            Ok(StoredAlert {
                id: r.get(0)?,
                topic: r.get(1)?,
                feed: r.get(2)?,
                item_id: r.get(3)?,
                title: r.get(4)?,
                url: r.get(5)?,
                published: from_ts(r.get(6)?),
                terms: serde_json::from_str(&terms).unwrap_or_default(),
                field: r.get(8)?,
                snippet: r.get(9)?,
                created: from_ts(r.get(10)?).unwrap_or_default(),
                story_id: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counts for tests and reports: (items, sightings, alerts).
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        Ok(self.conn.query_row("SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM sightings), (SELECT count(*) FROM alerts)", [], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
        })?)
    }
}

/// One poll's writes, inside the caller's transaction or savepoint.
fn record_in(
    tx: &Connection,
    rec: &PollRecord,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
) -> Result<PollSummary> {
    let (feed_id, known_url, last_success): (i64, String, Option<i64>) = {
        tx.execute_cached(
            "INSERT INTO feeds (name, url) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![rec.feed, rec.url],
        )?;
        tx.query_row_cached(
            "SELECT id, url, last_success_at FROM feeds WHERE name = ?1",
            params![rec.feed],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
    };
    if known_url != rec.url {
        // The config now points the feed elsewhere: the old validators mean nothing there.
        tx.execute_cached(
            "UPDATE feeds SET url = ?2, etag = NULL, last_modified = NULL, redirect_url = NULL, redirect_seen = 0,
                    dead_since = NULL, adopted_url = NULL WHERE id = ?1",
            params![feed_id, rec.url],
        )?;
    }
    let at = ts(rec.at);
    let mut summary = PollSummary {
        first_fetch: last_success.is_none(),
        ..PollSummary::default()
    };
    match &rec.outcome {
        PollOutcome::Fetched {
            status,
            etag,
            last_modified,
            permanent_redirect,
            title,
            ttl,
            skip_hours,
            skip_days,
            items,
            warning,
        } => {
            ingest(
                tx,
                feed_id,
                &rec.feed,
                at,
                items,
                policy,
                rec.at,
                stories,
                &mut summary,
            )?;
            tx.execute_cached(
                "UPDATE feeds SET etag = ?2, last_modified = ?3, last_fetch_at = ?4, last_success_at = ?4, last_document_at = ?4, last_status = ?5,
                    last_error = ?10, last_error_class = CASE WHEN ?10 IS NULL THEN NULL ELSE 'warning' END,
                    consecutive_failures = 0, title = coalesce(?6, title),
                    ttl_minutes = ?7, skip_hours = ?8, skip_days = ?9, dead_since = NULL WHERE id = ?1",
                params![feed_id, etag, last_modified, at, status, title, ttl, join_list(skip_hours), join_list(skip_days), warning],
            )?;
            summary.adopted = note_redirect(tx, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::NotModified {
            status,
            permanent_redirect,
        } => {
            tx.execute_cached(
                "UPDATE feeds SET last_fetch_at = ?2, last_success_at = ?2, last_status = ?3, last_error = NULL,
                    last_error_class = NULL, consecutive_failures = 0, dead_since = NULL WHERE id = ?1",
                params![feed_id, at, status],
            )?;
            summary.adopted = note_redirect(tx, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::Failed {
            status,
            class,
            message,
        } => {
            let was_dead: Option<i64> = tx.query_row_cached(
                "SELECT dead_since FROM feeds WHERE id = ?1",
                params![feed_id],
                |r| r.get(0),
            )?;
            let gone = *status == Some(410);
            summary.gone = gone && was_dead.is_none();
            tx.execute_cached(
                "UPDATE feeds SET last_fetch_at = ?2, last_status = ?3, last_error = ?4, last_error_class = ?5,
                    consecutive_failures = consecutive_failures + 1,
                    dead_since = CASE WHEN ?6 THEN coalesce(dead_since, ?2) ELSE dead_since END WHERE id = ?1",
                params![feed_id, at, status, message, class, gone],
            )?;
        }
    }
    // Publishing activity changes only when items arrive: computed then, read back otherwise.
    summary.activity = if matches!(rec.outcome, PollOutcome::Fetched { .. }) {
        let a = activity(tx, feed_id, at)?;
        tx.prepare_cached(
            "UPDATE feeds SET activity_items = ?2, activity_oldest = ?3 WHERE id = ?1",
        )?
        .execute(params![feed_id, a.items_7d, a.oldest_7d.map(ts)])?;
        a
    } else {
        tx.prepare_cached("SELECT activity_items, activity_oldest FROM feeds WHERE id = ?1")?
            .query_row(params![feed_id], |r| {
                Ok(Activity {
                    items_7d: r.get::<_, Option<u32>>(0)?.unwrap_or(0),
                    oldest_7d: from_ts(r.get(1)?),
                })
            })?
    };
    Ok(summary)
}

fn parse_list(s: Option<String>) -> Vec<u8> {
    s.map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn join_list(xs: &[u8]) -> Option<String> {
    (!xs.is_empty()).then(|| xs.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
}

/// The feed's publishing over the last 7 days (by item date, else first sighting; undated items
/// of the feed's first poll in the window are its backlog, not a rate, and do not count), among
/// the items first seen in the last 8: the feed's older sightings (a year of a busy feed is
/// thousands) are passed over by their item id, without reading their items.
fn activity(tx: &Connection, feed_id: i64, now: i64) -> rusqlite::Result<Activity> {
    let recent = ids_since(tx, now - 8 * 86_400)?.item;
    tx.prepare_cached(
        "SELECT count(*), min(coalesce(i.published_at, i.first_seen_at)) FROM sightings s JOIN items i ON i.id = s.item_id
         WHERE s.feed_id = ?1 AND s.item_id >= ?3 AND coalesce(i.published_at, i.first_seen_at) >= ?2
           AND (i.published_at IS NOT NULL OR s.first_seen_at > (SELECT min(first_seen_at) FROM sightings WHERE feed_id = ?1 AND item_id >= ?3))",
    )?
    .query_row(params![feed_id, now - 7 * 86_400, recent], |r| Ok(Activity { items_7d: r.get::<_, i64>(0)?.max(0) as u32, oldest_7d: from_ts(r.get(1)?) }))
}

fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

/// Counts consecutive polls that ended in the same permanent redirect; after
/// [`ADOPT_REDIRECT_AFTER`] of them the target becomes the URL polled. Returns it when adopted now.
fn note_redirect(
    tx: &Connection,
    feed_id: i64,
    target: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    let Some(t) = target else {
        tx.execute_cached(
            "UPDATE feeds SET redirect_url = NULL, redirect_seen = 0 WHERE id = ?1",
            params![feed_id],
        )?;
        return Ok(None);
    };
    tx.execute_cached(
        "UPDATE feeds SET redirect_seen = CASE WHEN redirect_url = ?2 THEN redirect_seen + 1 ELSE 1 END, redirect_url = ?2 WHERE id = ?1",
        params![feed_id, t],
    )?;
    let (seen, adopted): (u32, Option<String>) = tx.query_row_cached(
        "SELECT redirect_seen, adopted_url FROM feeds WHERE id = ?1",
        params![feed_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if seen >= ADOPT_REDIRECT_AFTER && adopted.as_deref() != Some(t) {
        tx.execute_cached("UPDATE feeds SET adopted_url = ?2, redirect_url = NULL, redirect_seen = 0 WHERE id = ?1", params![feed_id, t])?;
        return Ok(Some(t.to_owned()));
    }
    Ok(None)
}

enum Seen {
    New(i64),
    Updated(i64),
    Unchanged,
    Merged,
}

/// The next free item and story ids, read at the start of each write transaction.
#[derive(Default, Clone, Copy)]
pub(crate) struct NextIds {
    pub(crate) item: i64,
    pub(crate) story: i64,
}

impl NextIds {
    fn reset(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        let next = |table: &str| {
            tx.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                [],
                |r| r.get::<_, i64>(0),
            )
        };
        *self = NextIds {
            item: next("items")?,
            story: next("stories")?,
        };
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn ingest(
    tx: &Connection,
    feed_id: i64,
    feed_name: &str,
    at: i64,
    items: &[MatchedItem],
    policy: IngestPolicy,
    now: DateTime<Utc>,
    stories: &mut StoryIndex,
    summary: &mut PollSummary,
) -> Result<()> {
    let stored_before: i64 = tx.query_row_cached(
        "SELECT count(*) FROM sightings WHERE feed_id = ?1",
        params![feed_id],
        |r| r.get(0),
    )?;
    let mut to_alert: Vec<(i64, &MatchedItem)> = Vec::new();
    // A feed without sightings (its first poll) knows none of its items by their own keys,
    // unless its document lists one twice: the lookups by key are skipped but for keys already
    // seen in this poll (by hash: a collision only costs the lookup).
    let mut first_poll = (stored_before == 0).then(FxHashSet::<u64>::default);
    let mut stmts = ItemStatements::prepare(tx, policy.search)?;
    for mi in items {
        match upsert_item(
            tx,
            &mut stmts,
            feed_id,
            at,
            mi,
            policy,
            stories,
            first_poll.as_mut(),
        )? {
            Seen::New(id) => {
                summary.new += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Updated(id) => {
                summary.updated += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Unchanged => summary.unchanged += 1,
            Seen::Merged => summary.merged += 1,
        }
    }
    // A known feed where most items suddenly look new: its GUIDs rotated. One warning, no flood.
    summary.rotation_suspected =
        stored_before >= 10 && summary.new >= 5 && summary.new * 2 > items.len();
    let max_age = policy
        .max_age
        .and_then(|d| chrono::Duration::from_std(d).ok());
    let mut insert = tx.prepare_cached(
        "INSERT INTO alerts (topic, item_id, story_id, feed_id, query_index, terms, snippet, field, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (topic, item_id) DO NOTHING",
    )?;
    for (item_id, mi) in to_alert {
        let date = mi.item.date();
        let too_old = matches!((date, max_age), (Some(d), Some(age)) if d < now - age);
        let undated_baseline = date.is_none() && summary.first_fetch;
        if too_old || undated_baseline || summary.rotation_suspected {
            summary.suppressed += mi.matches.len();
            continue;
        }
        let story_id: i64 = tx.query_row_cached(
            "SELECT story_id FROM items WHERE id = ?1",
            params![item_id],
            |r| r.get(0),
        )?;
        for m in &mi.matches {
            // Once per story, but only where the story is certain: an item that is the same
            // article as, or confidently the same story as, an item that alerted for this topic
            // is "also reported"; any other item alerts on its own, so a wrong merge can cost a
            // duplicate alert but never hide one.
            let alerted: Vec<i64> = tx
                .prepare_cached(
                    "SELECT a.item_id FROM items i JOIN alerts a ON a.item_id = i.id AND a.topic = ?1
                     WHERE i.story_id = ?2 AND i.id != ?3",
                )?
                .query_map(params![m.topic, story_id, item_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if alerted
                .iter()
                .any(|&other| stories.confidently_same(item_id, other))
            {
                summary.also_reported.push((m.topic.clone(), story_id));
                continue;
            }
            let terms = serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into());
            let n = insert.execute(params![
                m.topic,
                item_id,
                story_id,
                feed_id,
                m.query_index as i64,
                terms,
                m.snippet,
                m.field,
                at
            ])?;
            if n == 1 {
                let sources: i64 = tx
                    .prepare_cached("SELECT count(DISTINCT s.feed_id) FROM items i JOIN sightings s ON s.item_id = i.id WHERE i.story_id = ?1")?
                    .query_row(params![story_id], |r| r.get(0))?;
                summary.alerts.push(NewAlert {
                    alert_id: tx.last_insert_rowid(),
                    item_id,
                    story_id,
                    sources: sources.max(1) as u32,
                    topic: m.topic.clone(),
                    feed: feed_name.to_owned(),
                    title: mi.item.title.clone(),
                    url: mi.item.url.clone(),
                    published: mi.item.published,
                    terms: m.terms.clone(),
                    field: m.field.clone(),
                    snippet: m.snippet.clone(),
                    query_index: m.query_index,
                });
            } else {
                summary.also_reported.push((m.topic.clone(), story_id));
            }
        }
    }
    Ok(())
}

/// The statements of [`upsert_item`], taken from the statement cache once per poll rather than
/// once per item: each take and return costs a hash of the SQL text and an allocation, about 2%
/// of a cold run's instructions when done per item.
struct ItemStatements<'c> {
    sighting: rusqlite::CachedStatement<'c>,
    by_key: rusqlite::CachedStatement<'c>,
    update_item: rusqlite::CachedStatement<'c>,
    by_url_key: rusqlite::CachedStatement<'c>,
    by_hash: rusqlite::CachedStatement<'c>,
    insert_item: rusqlite::CachedStatement<'c>,
    insert_features: rusqlite::CachedStatement<'c>,
    /// The search index's statements, when it is kept.
    index: Option<(rusqlite::CachedStatement<'c>, rusqlite::CachedStatement<'c>)>,
    seen_again: rusqlite::CachedStatement<'c>,
}

impl<'c> ItemStatements<'c> {
    fn prepare(tx: &'c Connection, search: bool) -> rusqlite::Result<Self> {
        Ok(ItemStatements {
            sighting: tx.prepare_cached(
                "INSERT INTO sightings (feed_id, item_key, item_id, first_seen_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            )?,
            by_key: tx.prepare_cached(
                "SELECT s.item_id, i.content_hash, coalesce(s.last_seen_at, s.first_seen_at) FROM sightings s JOIN items i ON i.id = s.item_id
                 WHERE s.feed_id = ?1 AND s.item_key = ?2",
            )?,
            update_item: tx.prepare_cached(
                "UPDATE items SET title = ?2, summary = ?3, content = ?4, content_hash = ?5, updated_at = coalesce(?6, updated_at),
                        changed_at = ?7 WHERE id = ?1",
            )?,
            by_url_key: tx
                .prepare_cached("SELECT id FROM items WHERE url_hash = ?1 AND url_key = ?2")?,
            by_hash: tx.prepare_cached(
                "SELECT id FROM items WHERE canonical_url IS NULL AND content_hash = ?1 LIMIT 1",
            )?,
            insert_item: tx.prepare_cached(
                "INSERT INTO items (id, canonical_url, url_key, url_hash, content_hash, title, summary, content, url, published_at,
                                    updated_at, first_seen_at, authors, categories, first_feed_id, story_id, join_reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )?,
            insert_features: tx
                .prepare_cached("INSERT INTO item_features (item_id, features) VALUES (?1, ?2)")?,
            index: if search {
                Some((tx.prepare_cached(fts::INSERT)?, tx.prepare_cached(fts::DELETE)?))
            } else {
                None
            },
            seen_again: tx.prepare_cached(
                "UPDATE sightings SET last_seen_at = ?3 WHERE feed_id = ?1 AND item_key = ?2",
            )?,
        })
    }
}

/// Finds the item an incoming one is, strongest key first: this feed's key for it; its GUID
/// without scheme and host; its URL key (any feed); for link-less items, identical content.
#[allow(clippy::too_many_arguments)]
fn upsert_item(
    tx: &Connection,
    stmts: &mut ItemStatements<'_>,
    feed_id: i64,
    at: i64,
    mi: &MatchedItem,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
    mut first_poll: Option<&mut FxHashSet<u64>>,
) -> Result<Seen> {
    let item = &mi.item;
    let key = item.key.as_stored();
    let hash = item.content_hash as i64;
    // (item id, its content hash, when this feed last listed it)
    let by_key =
        |stmts: &mut ItemStatements<'_>, k: &str| -> rusqlite::Result<Option<(i64, i64, i64)>> {
            stmts
                .by_key
                .query_row(params![feed_id, k], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
        };
    let path_key = match &item.key {
        crate::model::ItemKey::Guid(g) => {
            crate::stories::guid_path_key(g).map(|p| format!("p:{p}"))
        }
        _ => None,
    };
    let met = |seen: &FxHashSet<u64>, k: &str| seen.contains(&stable_hash(&[k]));
    let lookup = match first_poll.as_deref() {
        Some(seen) => met(seen, &key) || path_key.as_deref().is_some_and(|p| met(seen, p)),
        None => true,
    };
    let mut remember = |k: &str| {
        if let Some(seen) = first_poll.as_deref_mut() {
            seen.insert(stable_hash(&[k]));
        }
    };
    let mut known = if lookup { by_key(stmts, &key)? } else { None };
    if lookup
        && known.is_none()
        && let Some(pk) = &path_key
    {
        // A GUID that only changed scheme or host: the same item; remember the new spelling.
        known = by_key(stmts, pk)?;
        if let Some((id, _, _)) = known {
            stmts.sighting.execute(params![feed_id, key, id, at])?;
            remember(&key);
        }
    }
    if let Some((id, old_hash, last_seen)) = known {
        // Still listed by the feed: retention keeps it. Written at most once a day per item, so
        // re-polls of unchanged documents write nothing.
        if at - last_seen >= SEEN_AGAIN_SECS {
            stmts.seen_again.execute(params![feed_id, key, at])?;
        }
        if old_hash == hash {
            return Ok(Seen::Unchanged);
        }
        stmts.update_item.execute(params![
            id,
            item.title,
            item.summary,
            item.content,
            hash,
            item.updated.map(ts),
            at
        ])?;
        if let Some((insert, delete)) = &mut stmts.index {
            delete.execute(params![id])?;
            insert.execute(params![
                id,
                crate::search::index_text(&item.title),
                crate::search::index_text(&item.summary)
            ])?;
        }
        return Ok(Seen::Updated(id));
    }
    let url_key = &item.url_key;
    let url_hash = url_key.as_deref().map(url_hash);
    let existing: Option<i64> = match (url_key, url_hash) {
        (Some(k), Some(h)) => stmts
            .by_url_key
            .query_row(params![h, k], |r| r.get(0))
            .optional()?,
        _ => stmts
            .by_hash
            .query_row(params![hash], |r| r.get(0))
            .optional()?,
    };
    if let Some(id) = existing {
        stmts.sighting.execute(params![feed_id, key, id, at])?;
        remember(&key);
        if let Some(pk) = &path_key {
            stmts.sighting.execute(params![feed_id, pk, id, at])?;
            remember(pk);
        }
        return Ok(Seen::Merged);
    }
    // The item's own date (published, else first seen; never later than now): stories run on
    // the items' clock.
    let when = item.date().map_or(at, ts).min(at);
    let id = stories.next_ids.item;
    stories.next_ids.item += 1;
    let placed = stories.place(
        tx,
        NewItem {
            id,
            at: when,
            feed: feed_id,
            order: story_index::order_key(url_key.as_deref(), hash),
            features: &mi.features,
        },
        policy.story_window.as_secs() as i64,
        policy.story_threshold,
    )?;
    let (story_id, join_reason) = (placed.story, placed.reason);
    stmts.insert_item.execute(params![
        id,
        item.canonical_url,
        url_key,
        url_hash,
        hash,
        item.title,
        item.summary,
        item.content,
        item.url,
        item.published.map(ts),
        item.updated.map(ts),
        at,
        serde_json::to_string(&item.authors).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&item.categories).unwrap_or_else(|_| "[]".into()),
        feed_id,
        story_id,
        join_reason,
    ])?;
    stmts
        .insert_features
        .execute(params![id, mi.features.to_bytes()])?;
    if let Some((insert, _)) = &mut stmts.index {
        insert.execute(params![
            id,
            crate::search::index_text(&item.title),
            crate::search::index_text(&item.summary)
        ])?;
    }
    stmts.sighting.execute(params![feed_id, key, id, at])?;
    remember(&key);
    if let Some(pk) = &path_key {
        stmts.sighting.execute(params![feed_id, pk, id, at])?;
        remember(pk);
    }
    Ok(Seen::New(id))
}

#[cfg(test)]
mod tests;
