//! `[storage] url`: PostgreSQL as a store shared by several daemons (SQLite when `path` is given
//! or nothing is). Validated here (the URL's syntax, what the PostgreSQL backend does not do yet);
//! connecting is the store's.

use std::fmt;
use std::time::Duration;

use super::Validator;
use super::raw::RawStorage;

/// A PostgreSQL store.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database?sslmode=…` (or the key=value form).
    pub url: String,
    /// How long a daemon's claim on a feed (or on a delivery) lasts: a daemon that dies loses its
    /// feeds and deliveries to the others this long after it claimed them. Longer than a poll
    /// can take (`timeout` and the commit), and than a send (each sink's `timeout`).
    pub lease: Duration,
}

/// The URL's password never reaches a log or an error message.
impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redacted(&self.url))
            .field("lease", &self.lease)
            .finish()
    }
}

/// The URL with its password replaced by `***` (URLs only; the key=value form is shown as
/// `(connection string)`).
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(connection string)".into(),
    }
}

/// The default lease: long enough for any poll (a fetch times out after `timeout`, 45 s by default), short
/// enough that a dead daemon's feeds are taken over within minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

impl Validator<'_> {
    /// `[storage] url` and `lease`; `None` for SQLite.
    pub(super) fn postgres(
        &mut self,
        s: &RawStorage,
        timeout: Duration,
        send_timeout: Option<Duration>,
    ) -> Option<PostgresConfig> {
        let Some(url) = &s.url else {
            if let Some(l) = &s.lease {
                self.error(
                    l.span(),
                    "storage.lease applies to PostgreSQL (storage.url) only",
                );
            }
            return None;
        };
        let span = url.span();
        let text = url.get_ref().trim();
        if let Some(p) = &s.path {
            self.error(
                p.span(),
                "storage.path and storage.url both given: path is a SQLite file, url a PostgreSQL server; keep one",
            );
        }
        let is_url = text.starts_with("postgres://") || text.starts_with("postgresql://");
        if !is_url {
            self.error(
                span.clone(),
                "storage.url must be a PostgreSQL URL: postgres://user@host:5432/database",
            );
            return None;
        }
        if let Err(e) = text.parse::<postgres::Config>() {
            self.error(span.clone(), format!("storage.url: {e}"));
            return None;
        }
        // What the PostgreSQL backend does not do yet: refused here rather than half-working.
        let unsupported = [
            (s.search == Some(true), "storage.search (the search index)"),
            (
                s.keep.as_ref().is_some_and(|k| k.get_ref() != "forever"),
                "storage.keep (retention)",
            ),
            (
                s.synchronous.is_some(),
                "storage.synchronous (a SQLite setting)",
            ),
        ];
        for (set, what) in unsupported {
            if set {
                self.error(
                    span.clone(),
                    format!("{what} is not supported with storage.url (PostgreSQL) yet"),
                );
            }
        }
        let lease = self.duration(&s.lease, "storage.lease", DEFAULT_LEASE);
        if lease <= timeout {
            let span = s.lease.as_ref().map_or(span.clone(), toml::Spanned::span);
            self.error(
                span,
                format!(
                    "storage.lease ({}) must be longer than a poll's timeout ({}): a feed would be claimed again while it is polled",
                    humantime::format_duration(lease),
                    humantime::format_duration(timeout)
                ),
            );
        }
        // A delivery is claimed with the same lease (docs/postgres.md, "Sinks"): a claim ending
        // while its send waits for the receiver would let another daemon send it at once.
        if let Some(send) = send_timeout.filter(|&t| lease <= t) {
            let span = s.lease.as_ref().map_or(span, toml::Spanned::span);
            self.error(
                span,
                format!(
                    "storage.lease ({}) must be longer than a sink's timeout ({}): a delivery would be claimed again while it is sent",
                    humantime::format_duration(lease),
                    humantime::format_duration(send)
                ),
            );
        }
        Some(PostgresConfig {
            url: text.to_owned(),
            lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load_str;

    const FEED: &str = "[[feeds]]\nurl = \"feeds/a.xml\"\n";

    fn diags(storage: &str, rest: &str) -> Vec<String> {
        match load_str(
            &format!("[storage]\n{storage}\n{rest}{FEED}"),
            Path::new("cfg.toml"),
        ) {
            Ok(_) => vec![],
            Err(e) => e
                .diagnostics()
                .iter()
                .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                .collect(),
        }
    }

    #[test]
    fn a_postgres_url_loads_with_its_lease_and_its_password_hidden() {
        let cfg = load_str(
            &format!("[storage]\nurl = \"postgres://nh:s3cret@db.example:5433/news\"\nlease = \"2m\"\n{FEED}"),
            Path::new("cfg.toml"),
        )
        .unwrap();
        let pg = cfg.postgres.expect("postgres");
        assert_eq!(pg.lease, std::time::Duration::from_secs(120));
        let shown = format!("{pg:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://nh:***@db.example:5433/news"),
            "{shown}"
        );
        // Without a url: SQLite, as before.
        let cfg = load_str(
            &format!("[storage]\npath = \"x.db\"\n{FEED}"),
            Path::new("cfg.toml"),
        )
        .unwrap();
        assert!(cfg.postgres.is_none());
    }

    #[test]
    fn what_postgres_cannot_do_yet_is_refused_at_its_line() {
        assert_eq!(
            diags("url = \"postgres://h/db\"\npath = \"x.db\"", ""),
            [
                "3:8: storage.path and storage.url both given: path is a SQLite file, url a PostgreSQL server; keep one"
            ]
        );
        assert_eq!(
            diags("url = \"mysql://h/db\"", ""),
            ["2:7: storage.url must be a PostgreSQL URL: postgres://user@host:5432/database"]
        );
        let d = diags("url = \"postgres://h/db?sslmode=sometimes\"", "");
        assert!(
            d.len() == 1 && d[0].starts_with("2:7: storage.url: "),
            "{d:?}"
        );
        let d = diags("url = \"postgres://h/db\"\nsearch = true", "");
        assert!(
            d[0].contains("storage.search (the search index) is not supported"),
            "{d:?}"
        );
        let d = diags(
            "url = \"postgres://h/db\"\nlease = \"10s\"",
            "[defaults]\ntimeout = \"30s\"\n",
        );
        assert!(
            d[0].starts_with("3:9: storage.lease (10s) must be longer than a poll's timeout (30s)"),
            "{d:?}"
        );
        assert_eq!(
            diags("lease = \"1m\"", ""),
            ["2:9: storage.lease applies to PostgreSQL (storage.url) only"]
        );
    }

    #[test]
    fn sinks_and_the_listener_load_with_postgres_and_the_lease_must_outlast_a_send() {
        let hook = "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"2m\"\n";
        let http = "[http]\nlisten = \"127.0.0.1:0\"\n";
        assert_eq!(
            diags("url = \"postgres://h/db\"", &format!("{http}{hook}")),
            Vec::<String>::new()
        );
        let d = diags(
            "url = \"postgres://h/db\"\nlease = \"1m\"",
            &format!("{http}{hook}"),
        );
        assert_eq!(
            d,
            [
                "3:9: storage.lease (1m) must be longer than a sink's timeout (2m): a delivery would be claimed again while it is sent"
            ]
        );
    }
}
