//! End-to-end tests: the real binary against a loopback feed server (127.0.0.1 only).

mod common;

mod cli;
mod config_errors;
mod daemon;
mod dedup;
mod fetching;
mod hostile;
mod journal;
mod logging;
mod netns;
mod opml;
mod ops_http;
mod parsing;
mod pg_search_prune;
mod progress;
mod quality;
mod readme;
mod retention;
mod search;
mod shared_store;
mod sinks;
mod stories;
mod topics;
