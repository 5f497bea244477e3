//! Storage. [`Store`] owns the SQLite connection; [`PgStore`] a PostgreSQL one; [`Backend`] is
//! either, behind the writer thread's [`StoreHandle`] and the read commands. No SQL lives
//! anywhere else.
//!
//! The interface is narrow on purpose: the poller hands over one [`PollRecord`] per feed poll and
//! gets a [`PollSummary`] back; the CLI reads feeds, items and alerts. Both backends implement
//! the same calls (PostgreSQL: not yet the outbox).
//!
//! Durability: WAL mode, one writer (`writer`), which commits the polls that finished together
//! in one `BEGIN IMMEDIATE` transaction (group commit); a feed's items, topic alerts *and*
//! validators (ETag/Last-Modified) are in the same transaction, so a crash or a failed commit
//! never skips items: the validators only advance with them.
//!
//! Dedup, in order, for each incoming item of feed F with key K (`dedup::upsert_item`, written once
//! for both backends over the `DedupDb` trait; a poll's other writes likewise in `record`):
//! 1. (F, K) already seen → the same item; if its content hash changed, update it in place;
//! 2. K is a URL-shaped GUID F used before under another scheme or host → the same item;
//! 3. its URL key (see [`crate::stories::url_key`]) is stored → the same article from another
//!    feed, or with tracking parameters: record the sighting, nothing new;
//! 4. no link, but an identical content hash among link-less items → the same;
//! 5. otherwise a new item, which joins a story or starts one (`story_index`, scored by
//!    [`crate::stories::score()`]).

mod backend;
mod dedup;
mod facts;
mod fts;
mod ingest;
mod outbox;
pub mod pg;
mod read;
mod record;
mod retention;
mod schema;
mod story_db;
mod story_index;
mod types;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::config::Synchronous;
use crate::error_class::ErrorClass;
use crate::model::Item;
use crate::stories::Features;
use story_index::StoryIndex;

use dedup::*;
use ingest::*;
use schema::*;

pub use backend::Backend;
pub use facts::{Activity, FeedFacts};
pub use fts::{IndexHit, SearchRanking};
pub use outbox::{
    Budget, Delivery, DeliveryUpdate, Due, HeldBack, OutboxRoutes, OutboxRow, Over, Payload,
    SinkStatus, from_ms, idempotency_key,
};
pub use pg::{Claim, Instance, InstanceRow, PgStore};
pub use record::ADOPT_REDIRECT_AFTER;
pub use retention::{PrunePlan, PruneReport};
pub use schema::Checkpointer;
pub use types::*;
pub use writer::{CommitHook, StoreHandle, spawn_writer, spawn_writer_observed};

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
    #[error("cannot connect to PostgreSQL at {url}: {}", pg_message(source))]
    PgOpen {
        url: String,
        source: postgres::Error,
    },
    #[error("cannot set up TLS for PostgreSQL: {message}")]
    Tls { message: String },
    #[error("no newshound database at {url} yet; run `newshound once` (or `run`) first")]
    PgEmpty { url: String },
    #[error("database error: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// An error reported to every poll of a failed group commit (the driver's is not `Clone`).
    #[error("database error: {0}")]
    Shared(String),
    #[error("{0} is not supported on PostgreSQL yet (see docs/postgres.md)")]
    Unsupported(&'static str),
    /// Another process (a daemon's hourly pass, or `newshound prune`) is pruning the shared
    /// PostgreSQL database now; one pass at a time is enough.
    #[error(
        "another newshound is pruning this database now (one pass at a time); try again when it is done"
    )]
    PruneBusy,
}

/// What the server said, not the driver's bare "db error": the message with its detail and hint,
/// or, for a failure before the server answered, the driver's error and its cause
/// ("error connecting to server: Connection refused").
fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            m.push_str("; ");
            m.push_str(d);
        }
        if let Some(h) = db.hint() {
            m.push_str("; hint: ");
            m.push_str(h);
        }
        return m;
    }
    match std::error::Error::source(e) {
        Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
        _ => e.to_string(),
    }
}

impl StoreError {
    /// The writer having stopped is a bug; everything else is the database's.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::WriterGone => ErrorClass::Internal,
            _ => ErrorClass::Storage,
        }
    }

    /// Disk full, I/O error, or a read-only database: the condition, not the statement.
    pub fn is_storage_fault(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::DatabaseBusy))
            || matches!(self, StoreError::Postgres(e) if e.is_closed())
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    stories: StoryIndex,
    /// Which sinks get which topics' alerts (empty: no outbox rows).
    routes: OutboxRoutes,
    /// Test seam: make the N-th write transaction from now fail as if the disk were full (or
    /// another storage fault), to prove nothing is lost. See [`Store::inject_commit_failure`].
    fault: Option<(u64, rusqlite::ErrorCode)>,
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

#[cfg(test)]
mod tests;
