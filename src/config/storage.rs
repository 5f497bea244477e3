//! `[storage] url`: PostgreSQL as a store shared by several daemons (SQLite when `path` is given
//! or nothing is). Validated here (the URL's syntax, what the PostgreSQL backend does not do);
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
    /// How long a daemon's claim on a feed lasts: a daemon that dies loses its feeds to the others
    /// this long after it claimed them. Longer than a poll can take (`timeout` and the commit).
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

/// A PostgreSQL URL split into what the driver reads and what newshound handles itself: libpq's
/// `sslrootcert` (the CA file that signed the server's certificate, for a server whose CA is not in
/// the system's roots) and the verifying modes `verify-ca` / `verify-full`, which the driver does
/// not know. Certificates are always verified (chain and host name), so both mean `require` here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// The URL the driver parses (without `sslrootcert`, with a mode it knows).
    pub driver_url: String,
    /// `sslrootcert=PATH`: trust only the certificates in this PEM file.
    pub root_cert: Option<std::path::PathBuf>,
}

impl PgUrl {
    /// Splits `url`; an error names the parameter and what is accepted.
    pub fn parse(url: &str) -> Result<PgUrl, String> {
        let Ok(mut u) = url::Url::parse(url) else {
            return Ok(PgUrl {
                driver_url: url.to_owned(),
                root_cert: None,
            });
        };
        let mut root_cert = None;
        let mut kept = Vec::new();
        let mut changed = false;
        for (k, v) in u.query_pairs() {
            changed |= k == "sslrootcert" || (k == "sslmode" && v.starts_with("verify-"));
            match (k.as_ref(), v.as_ref()) {
                ("sslrootcert", "") => {
                    return Err(
                        "sslrootcert is empty: give the path of a PEM file of CA certificates"
                            .into(),
                    );
                }
                ("sslrootcert", "system") => {}
                ("sslrootcert", path) => root_cert = Some(std::path::PathBuf::from(path)),
                ("sslmode", "verify-ca" | "verify-full") => {
                    kept.push(("sslmode".to_owned(), "require".to_owned()))
                }
                _ => kept.push((k.into_owned(), v.into_owned())),
            }
        }
        let driver_url = if !changed {
            url.to_owned()
        } else {
            if kept.is_empty() {
                u.set_query(None);
            } else {
                u.query_pairs_mut().clear().extend_pairs(kept);
            }
            u.to_string()
        };
        if let Err(e) = driver_url.parse::<postgres::Config>() {
            return Err(e.to_string());
        }
        Ok(PgUrl {
            driver_url,
            root_cert,
        })
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
        http: bool,
        sinks: bool,
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
        match PgUrl::parse(text) {
            Err(e) => {
                self.error(span.clone(), format!("storage.url: {e}"));
                return None;
            }
            Ok(PgUrl {
                root_cert: Some(path),
                ..
            }) if !path.is_file() => {
                self.error(
                    span.clone(),
                    format!(
                        "storage.url: sslrootcert {}: no such file (a PEM file of the CA certificates that signed the server's)",
                        path.display()
                    ),
                );
            }
            Ok(_) => {}
        }
        // SQLite's fsync setting has no one-to-one counterpart: on PostgreSQL durability is the
        // server's `synchronous_commit` (five levels, replication included), which its operator
        // sets for newshound's role or database without newshound (docs/postgres.md).
        if let Some(sync) = &s.synchronous {
            self.error(
                sync.span(),
                "storage.synchronous is SQLite's setting; with storage.url, durability is PostgreSQL's synchronous_commit: \
                 remove the key, and if wanted run e.g. `ALTER ROLE newshound SET synchronous_commit = off` on the server",
            );
        }
        // What the PostgreSQL backend does not do yet: refused here rather than half-working.
        let unsupported = [
            (http, "[http] (the operations listener reads SQLite)"),
            (sinks, "[[sinks]] (the outbox)"),
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
            let span = s.lease.as_ref().map_or(span, toml::Spanned::span);
            self.error(
                span,
                format!(
                    "storage.lease ({}) must be longer than a poll's timeout ({}): a feed would be claimed again while it is polled",
                    humantime::format_duration(lease),
                    humantime::format_duration(timeout)
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
        // Search and retention work on PostgreSQL; synchronous is SQLite's, and says what to do.
        assert_eq!(
            diags(
                "url = \"postgres://h/db\"\nsearch = true\nkeep = \"180d\"",
                ""
            ),
            Vec::<String>::new()
        );
        let d = diags("url = \"postgres://h/db\"\nsynchronous = \"full\"", "");
        assert!(
            d.len() == 1
                && d[0].starts_with("3:15: storage.synchronous is SQLite's setting")
                && d[0].contains("synchronous_commit"),
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
    fn sslrootcert_and_the_verifying_modes_are_taken_out_of_the_drivers_url() {
        use super::PgUrl;
        let parts = PgUrl::parse(
            "postgres://nh@db.example/news?sslmode=verify-full&sslrootcert=/etc/nh/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(
            parts.driver_url,
            "postgres://nh@db.example/news?sslmode=require&application_name=x"
        );
        assert_eq!(
            parts.root_cert.as_deref(),
            Some(Path::new("/etc/nh/ca.pem"))
        );
        // libpq's "system" means the platform's roots, as without the parameter.
        let parts = PgUrl::parse("postgres://h/db?sslrootcert=system").unwrap();
        assert_eq!(
            (parts.driver_url.as_str(), parts.root_cert),
            ("postgres://h/db", None)
        );
        // A URL with neither is handed over untouched.
        let url = "postgres://u:p%40ss@h:5433/db?sslmode=prefer";
        assert_eq!(PgUrl::parse(url).unwrap().driver_url, url);
        assert!(PgUrl::parse("postgres://h/db?sslrootcert=").is_err());

        let d = diags(
            "url = \"postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem\"",
            "",
        );
        assert_eq!(
            d,
            [
                "2:7: storage.url: sslrootcert /nonexistent/ca.pem: no such file (a PEM file of the CA certificates that signed the server's)"
            ]
        );
    }
}
