//! `[http]`: where the operations listener listens, who may reach it, and how many at once.
//!
//! Off unless `listen` is set. Loopback addresses need nothing more; any other address must be
//! asked for with `allow_remote = true`, and may then require a bearer token read from
//! `token_file` (kept out of the config, which is world-readable as a Debian conffile).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::Validator;
use super::raw::RawHttp;

/// Connections served at once unless `max_connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// The validated `[http]` section.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// The bearer token requests must carry (all but `/healthz`), if one is configured.
    pub token: Option<Token>,
    pub max_connections: usize,
}

/// A bearer token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(s: impl Into<String>) -> Token {
        Token(s.into())
    }

    /// Whether an `Authorization` header value carries this token, compared in constant time
    /// (over the token's length) so the comparison does not tell how much of a guess was right.
    pub fn accepts(&self, authorization: &[u8]) -> bool {
        let Some(given) = authorization.strip_prefix(b"Bearer ") else {
            return false;
        };
        let want = self.0.as_bytes();
        if given.len() != want.len() {
            return false;
        }
        given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Shortest token accepted: anything shorter can be guessed.
const MIN_TOKEN_LEN: usize = 16;

impl Validator<'_> {
    pub(super) fn http(&mut self, h: &RawHttp, base: &Path) -> Option<HttpConfig> {
        let Some(listen) = &h.listen else {
            if h.allow_remote.is_some() || h.token_file.is_some() || h.max_connections.is_some() {
                self.error(
                    0..0,
                    "[http] has settings but no `listen`; add listen = \"127.0.0.1:8080\" to turn the listener on",
                );
            }
            return None;
        };
        let addr = match listen.get_ref().trim().parse::<SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                self.error(
                    listen.span(),
                    format!(
                        "http.listen must be an IP address and a port such as \"127.0.0.1:8080\" or \"[::1]:8080\", got \"{}\"",
                        listen.get_ref()
                    ),
                );
                return None;
            }
        };
        if !addr.ip().is_loopback() && h.allow_remote != Some(true) {
            self.error(
                listen.span(),
                format!(
                    "http.listen {addr} is reachable from other hosts; set allow_remote = true in [http] to mean it (and token_file to require a bearer token)"
                ),
            );
        }
        let token = h.token_file.as_ref().and_then(|p| {
            let path: PathBuf = super::join_relative(base, Path::new(p.get_ref()));
            match std::fs::read_to_string(&path) {
                Ok(t) if t.trim().len() >= MIN_TOKEN_LEN && t.trim().bytes().all(|b| b.is_ascii_graphic()) => {
                    Some(Token(t.trim().to_owned()))
                }
                Ok(_) => {
                    self.error(
                        p.span(),
                        format!(
                            "http.token_file {}: the token must be at least {MIN_TOKEN_LEN} printable ASCII characters without spaces",
                            path.display()
                        ),
                    );
                    None
                }
                Err(e) => {
                    self.error(
                        p.span(),
                        format!("http.token_file: cannot read {}: {e}", path.display()),
                    );
                    None
                }
            }
        });
        let max_connections = self.count(
            &h.max_connections,
            "http.max_connections",
            DEFAULT_MAX_CONNECTIONS,
            4096,
        );
        Some(HttpConfig {
            listen: addr,
            token,
            max_connections,
        })
    }
}
