//! End-to-end tests: the real binary against a loopback feed server (127.0.0.1 only).

mod common;

mod cli;
mod config_errors;
mod daemon;
mod dedup;
mod fetching;
mod hostile;
mod logging;
mod netns;
mod opml;
mod parsing;
mod quality;
mod readme;
mod sinks;
mod stories;
mod topics;
