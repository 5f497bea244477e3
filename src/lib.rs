//! newshound: a self-hosted news-watching daemon.
//!
//! # How an item flows
//!
//! ```text
//! config ──► poll::Poller ──► fetch (HTTP/file, limits, conditional GET)
//!                               │ bytes
//!                               ▼
//!                        normalize (charset, compat repairs, feed-rs, plain text, canonical URL, ItemKey)
//!                               │ Vec<Item>
//!                               ▼
//!                        topics::Matcher (all topics at once)  ── on the parse threads (cpu_pool)
//!                               │ Vec<MatchedItem>
//!                               ▼
//!                        store (one writer thread; group commit: the polls that finished
//!                               together share one transaction, each poll all or nothing:
//!                               dedup, items, sightings, stories, alerts, outbox rows,
//!                               the feed's facts)
//!                               │ PollSummary (new alerts, the feed's FeedFacts: the schedule's inputs)
//!                               ▼
//!                        alert::emit ──► logs (target `newshound::alert`)
//!
//!                        sinks::Outbox (a task): outbox rows ──► webhook / ntfy / email / exec,
//!                               retried, dead-lettered, outcomes back through the writer
//! ```
//!
//! `once` runs that for every feed; `run` (the [`daemon`]) runs it on each feed's schedule.
//!
//! # Errors
//!
//! Each stage has its own error type, each with a `class()` from one vocabulary
//! ([`error_class::ErrorClass`]); one feed's failure is recorded
//! against that feed and logged once, and never stops the others. Text from feeds is untrusted:
//! it is stored as bounded plain text and logged only through [`text::Untrusted`].

pub mod alert;
pub mod canon;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cpu_pool;
pub mod daemon;
pub mod error_class;
pub mod exit;
pub mod fetch;
pub mod guard;
pub mod http;
pub mod journal;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod opml;
pub mod poll;
pub mod progress;
pub mod scheduler;
pub mod search;
pub mod sinks;
pub mod store;
pub mod stories;
pub mod text;
pub mod topics;

#[cfg(test)]
mod properties;
