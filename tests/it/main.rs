//! End-to-end tests: the real binary against a loopback feed server (127.0.0.1 only).

mod common;

mod cli;
mod config_errors;
mod daemon;
mod dedup;
mod fetching;
mod netns;
mod quality;
mod stories;
mod topics;
