//! The PostgreSQL backend: the same store for several daemons sharing one database.
//!
//! Shape: one synchronous [`postgres::Client`] per store, owned by the writer thread exactly as
//! SQLite's connection is (group commit, the in-memory story index), so the daemon has one
//! architecture whatever the backend. The client runs its own small tokio runtime; it is never
//! used on one of the daemon's tokio threads (the commands call it on a thread of their own, see
//! [`off_runtime`]).
//!
//! What differs from SQLite is the SQL and the coordination (ARCHITECTURE.md, "Several daemons"):
//! every write transaction first takes one transaction-level advisory lock (the store lock), so
//! dedup and story placement see every item committed before and decide as one writer would;
//! the story index is read again when another daemon wrote since this one last did.

mod ingest;
mod lease;
mod outbox;
mod read;
mod retention;
mod schema;
pub mod search;

use std::time::Duration;

use postgres::types::ToSql;
use postgres::{GenericClient, Statement};
use rustc_hash::FxHashMap;

use super::story_index::StoryIndex;
use super::{OutboxRoutes, Result, StoreError};

pub use lease::{Claim, Instance, InstanceRow};

/// Advisory lock keys (one namespace: the first 8 bytes of "newshoun").
const MIGRATION_LOCK: i64 = 0x6e65_7773_686f_756e;
/// Taken by every write transaction that stores items (see the module's doc).
const STORE_LOCK: i64 = MIGRATION_LOCK + 1;

/// A PostgreSQL store.
pub struct PgStore {
    /// `None` only while being dropped (see `Drop`).
    client: Option<postgres::Client>,
    /// Statements prepared on this connection, by their text.
    cache: FxHashMap<&'static str, Statement>,
    pub(super) stories: StoryIndex,
    pub(super) routes: OutboxRoutes,
    /// The store generation this daemon's story index reflects.
    generation: i64,
    /// The URL without its password, for messages.
    pub(super) shown: String,
    /// Set when this store belongs to a daemon that shares the work.
    pub(super) instance: Option<Instance>,
    /// Who claims deliveries: the daemon's instance id once it joined, else an id of this
    /// process's own (`once`, the commands), so claims always name their owner.
    pub(super) claimer: String,
    /// How long a claim on a delivery lasts ([`crate::config::PostgresConfig::lease`]).
    pub(super) lease: Duration,
    /// Set once this process claimed a delivery (its claims are given back when it is dropped).
    pub(super) claimed: bool,
    /// Its heartbeat thread: stops when the sender is dropped.
    heartbeat: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    /// This connection holds the retention pass's lock (`retention.rs`).
    pruning: bool,
}

/// Runs `f` on a thread of its own: the synchronous client starts a runtime of its own, which
/// tokio forbids on a thread already driving one (every command runs inside `main`'s runtime).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Connects with TLS through rustls when the server offers it (`sslmode=prefer`, the default) or
/// must (`sslmode=require`, `verify-ca`, `verify-full`); the server's certificate is checked against
/// the platform's roots, or against the CA file `sslrootcert` names.
pub(super) fn connect(url: &str) -> Result<postgres::Client> {
    let shown = crate::config::redacted(url);
    let parts = crate::config::PgUrl::parse(url).map_err(|message| StoreError::Tls {
        message: format!("{shown}: {message}"),
    })?;
    let mut config: postgres::Config =
        parts
            .driver_url
            .parse()
            .map_err(|source| StoreError::PgOpen {
                url: shown.clone(),
                source,
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("newshound");
    }
    let tls = tls_config(&shown, parts.root_cert.as_deref())?;
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
    off_runtime(move || config.connect(tls)).map_err(|source| {
        // tokio-postgres's `prefer` does not fall back to plain text after a failed handshake,
        // and its certificate is always verified here (libpq's `prefer` and `require` do not).
        if source.to_string().contains("TLS") {
            let remedy = match &parts.root_cert {
                Some(path) => format!(
                    "the server's certificate is not signed by a CA of {} (or does not name the host the URL gives)",
                    path.display()
                ),
                None => "the server's certificate is not trusted here (see the log above); give its CA file as sslrootcert=PATH in the URL or install it in the system's roots, or add sslmode=disable to the URL on a trusted network".into(),
            };
            StoreError::Tls {
                message: format!("{shown}: {source}: {remedy}"),
            }
        } else {
            StoreError::PgOpen {
                url: shown,
                source,
            }
        }
    })
}

/// The TLS client: the platform's verifier, or only the CAs of `root_cert` when given.
fn tls_config(shown: &str, root_cert: Option<&std::path::Path>) -> Result<rustls::ClientConfig> {
    let Some(path) = root_cert else {
        use rustls_platform_verifier::ConfigVerifierExt;
        return rustls::ClientConfig::with_platform_verifier().map_err(|e| StoreError::Tls {
            message: e.to_string(),
        });
    };
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let fail = |what: String| StoreError::Tls {
        message: format!("{shown}: sslrootcert {}: {what}", path.display()),
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("not a usable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificate in the file (PEM expected)".into()));
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl PgStore {
    /// A connection and a store around it, neither migrated nor checked.
    fn connected(url: &str) -> Result<PgStore> {
        Ok(PgStore {
            client: Some(connect(url)?),
            cache: FxHashMap::default(),
            stories: StoryIndex::default(),
            routes: OutboxRoutes::default(),
            generation: -1,
            shown: crate::config::redacted(url),
            instance: None,
            claimer: Instance::new(crate::config::DEFAULT_LEASE).id,
            lease: crate::config::DEFAULT_LEASE,
            claimed: false,
            heartbeat: None,
            pruning: false,
        })
    }

    /// Connects, applies pending migrations (once, under an advisory lock, whichever daemon gets
    /// there first) and refuses a schema newer than this build's.
    pub fn open(url: &str) -> Result<PgStore> {
        let mut store = PgStore::connected(url)?;
        off_runtime(|| store.migrate())?;
        Ok(store)
    }

    /// Opens without migrating, for the read commands: a database never written is an error,
    /// as a missing SQLite file is, and a newer one is refused.
    pub fn open_read_only(url: &str) -> Result<PgStore> {
        let mut store = PgStore::connected(url)?;
        let found = off_runtime(|| store.check_version())?;
        if found == 0 {
            return Err(StoreError::PgEmpty {
                url: store.shown.clone(),
            });
        }
        Ok(store)
    }

    fn client(&mut self) -> &mut postgres::Client {
        match self.client.as_mut() {
            Some(c) => c,
            None => unreachable!("the client is only taken when the store is dropped"),
        }
    }

    /// A transaction with this connection's statement cache.
    fn begin(&mut self) -> Result<Tx<'_>> {
        let client = match self.client.as_mut() {
            Some(c) => c,
            None => unreachable!("the client is only taken when the store is dropped"),
        };
        Ok(Tx {
            tx: client.transaction()?,
            cache: &mut self.cache,
        })
    }

    /// Statements outside a transaction (each its own, one round trip), with the statement cache.
    fn auto(&mut self) -> Auto<'_> {
        let client = match self.client.as_mut() {
            Some(c) => c,
            None => unreachable!("the client is only taken when the store is dropped"),
        };
        Auto {
            tx: client,
            cache: &mut self.cache,
        }
    }

    /// How long this process's claims on deliveries last (`[storage] lease`; the daemon's is set
    /// by [`PgStore::join`]).
    pub fn set_lease(&mut self, lease: Duration) {
        self.lease = lease;
    }

    /// A claim's length in milliseconds.
    fn claim_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// A trivial query: the server answers.
    pub fn ping(&mut self) -> Result<()> {
        self.client().simple_query("SELECT 1")?;
        Ok(())
    }
}

impl Drop for PgStore {
    /// The client's runtime must not be dropped on a thread driving another one: dropped on a
    /// thread of its own. The heartbeat stops first, and a daemon's leases are given back.
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.heartbeat.take() {
            drop(stop);
            let _ = thread.join();
        }
        if let Some(me) = self.instance.take()
            && let Some(client) = self.client.as_mut()
        {
            let _ = off_runtime(|| lease::leave(client, &me.id));
        }
        // Deliveries claimed and not finished (a `once` stopped at its deadline) are claimable
        // again at once, not after the claim's end.
        let claimer = std::mem::take(&mut self.claimer);
        let claimed = self.claimed;
        if let Some(client) = self.client.as_mut().filter(|_| claimed) {
            let _ = off_runtime(|| PgStore::release_deliveries(client, &claimer));
        }
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// A connection to run statements on, and the statement cache: a transaction ([`Tx`], what the
/// backend's SQL runs through) or the client in autocommit ([`Auto`], single statements, one
/// round trip each: what the leases need).
pub(super) struct Cached<'a, C> {
    pub(super) tx: C,
    cache: &'a mut FxHashMap<&'static str, Statement>,
}

pub(super) type Tx<'a> = Cached<'a, postgres::Transaction<'a>>;
pub(super) type Auto<'a> = Cached<'a, &'a mut postgres::Client>;

/// What [`Cached`] runs statements on: a transaction, or a borrowed client.
pub(super) trait Conn {
    type Client: GenericClient;
    fn client(&mut self) -> &mut Self::Client;
}

impl<'t> Conn for postgres::Transaction<'t> {
    type Client = postgres::Transaction<'t>;
    fn client(&mut self) -> &mut Self::Client {
        self
    }
}

impl Conn for &mut postgres::Client {
    type Client = postgres::Client;
    fn client(&mut self) -> &mut Self::Client {
        self
    }
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<C: Conn> Cached<'_, C> {
    /// The prepared statement for `sql` (prepared once per connection).
    fn st(&mut self, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.client().prepare(sql)?;
        self.cache.insert(sql, s.clone());
        Ok(s)
    }

    pub(super) fn exec(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> std::result::Result<u64, postgres::Error> {
        let s = self.st(sql)?;
        self.tx.client().execute(&s, params)
    }

    pub(super) fn one(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> std::result::Result<postgres::Row, postgres::Error> {
        let s = self.st(sql)?;
        self.tx.client().query_one(&s, params)
    }

    pub(super) fn opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> std::result::Result<Option<postgres::Row>, postgres::Error> {
        let s = self.st(sql)?;
        self.tx.client().query_opt(&s, params)
    }

    pub(super) fn all(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> std::result::Result<Vec<postgres::Row>, postgres::Error> {
        let s = self.st(sql)?;
        self.tx.client().query(&s, params)
    }
}

impl Tx<'_> {
    pub(super) fn commit(self) -> std::result::Result<(), postgres::Error> {
        self.tx.commit()
    }
}
