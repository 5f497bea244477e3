//! newshound: a self-hosted news-watching daemon.
pub mod canon;
pub mod config;
pub mod model;
pub mod normalize;
pub mod text;
pub mod topics;
