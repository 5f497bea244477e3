//! PostgreSQL as a shared store (`[storage] url`): each test creates and drops its own database
//! on 127.0.0.1:5432 (trust auth, user `$PGUSER` or root). Without a server the tests skip; with
//! `CI` set they fail instead (.ci/run installs and starts PostgreSQL).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::daemon::{Daemon, wait_until};

/// A database of this test's own, dropped at the end.
pub(crate) struct PgDb {
    pub(crate) name: String,
}

fn user() -> String {
    std::env::var("PGUSER").unwrap_or_else(|_| "root".into())
}

fn admin() -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(5432)
        .user(&user())
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(5))
        .connect(postgres::NoTls)
}

impl PgDb {
    /// `None` (the test skips) when no server answers, unless `CI` is set: then it panics.
    pub(crate) fn create(tag: &str) -> Option<PgDb> {
        let mut admin = match admin() {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL on 127.0.0.1:5432 is required when CI is set: {e}");
                }
                eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432 ({e})");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("nh_it_{tag}_{}_{nanos}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Some(PgDb { name })
    }

    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://{}@127.0.0.1:5432/{}?sslmode=disable",
            user(),
            self.name
        )
    }

    pub(crate) fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).unwrap()
    }

    pub(crate) fn count(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).unwrap().get(0)
    }

    /// [`count`](Self::count) while a daemon may not have created the tables yet (-1).
    pub(crate) fn items(&self) -> i64 {
        postgres::Client::connect(&self.url(), postgres::NoTls)
            .and_then(|mut c| c.query_one("SELECT count(*) FROM items", &[]))
            .map_or(-1, |r| r.get(0))
    }

    /// A workspace whose config stores into this database.
    pub(crate) fn workspace(&self, body: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("[storage]\nurl = \"{}\"\n\n{body}", self.url()),
        )
        .unwrap();
        Workspace { dir, config }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = admin() {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn migrations_run_once_when_daemons_start_together_and_a_newer_schema_is_refused() {
    let Some(db) = PgDb::create("migrate") else {
        return;
    };
    let url = db.url();
    let opened: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| newshound::store::PgStore::open(&url).is_ok()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(opened, vec![true; 4]);
    // Each version applied once (v2: the search index; v3: the sinks' claims and digest runs;
    // v4: the claimed rows' index, for the budgets).
    assert_eq!(db.count("SELECT count(*) FROM newshound_schema"), 4);
    assert_eq!(db.count("SELECT max(version) FROM newshound_schema"), 4);
    db.client()
        .batch_execute("INSERT INTO newshound_schema (version) VALUES (99)")
        .unwrap();
    let err = newshound::store::PgStore::open(&url)
        .err()
        .expect("a newer schema is refused");
    assert!(err.to_string().contains("schema version 99"), "{err}");
    assert!(!err.to_string().contains("password"), "{err}");
}

/// The lease itself, on the library: a claim holds a feed against another daemon until the
/// holder's schedule write gives it back (then until the feed's next poll), or until the lease ends
/// when the holder never writes it (stuck, or dead).
#[test]
fn a_claim_holds_a_feed_until_its_schedule_is_written_or_its_lease_ends() {
    use chrono::Utc;
    use newshound::store::{Claim, Instance, PgStore};
    let Some(db) = PgDb::create("lease") else {
        return;
    };
    let url = db.url();
    let lease = Duration::from_secs(2);
    let join = |id: &str| {
        let mut s = PgStore::open(&url).unwrap();
        let me = Instance {
            id: id.into(),
            host: "test".into(),
            pid: 1,
            lease,
        };
        s.join(&url, me).unwrap();
        s
    };
    let (mut a, mut b) = (join("a"), join("b"));
    let feed = ("f", "http://127.0.0.1:9/f");
    let t0 = Utc::now();
    assert_eq!(a.claim(feed.0, feed.1, t0).unwrap(), Claim::Granted);
    assert!(matches!(b.claim(feed.0, feed.1, t0).unwrap(), Claim::Busy(w) if w <= lease));
    // A polled it; its next poll is a minute away: B waits for that, not for the lease.
    let next = t0 + chrono::Duration::seconds(60);
    a.set_schedule(feed.0, next, Duration::from_secs(60), "interval")
        .unwrap();
    assert!(
        matches!(b.claim(feed.0, feed.1, Utc::now()).unwrap(), Claim::Busy(w) if w > Duration::from_secs(50))
    );
    // At its next poll time, B gets it; A, asking then too, is told when B's lease ends.
    let later = next + chrono::Duration::milliseconds(1);
    assert_eq!(b.claim(feed.0, feed.1, later).unwrap(), Claim::Granted);
    assert!(matches!(a.claim(feed.0, feed.1, later).unwrap(), Claim::Busy(w) if w <= lease));
    // B, about to fetch, renews its claim: a whole lease from now; A cannot renew what it lost.
    assert!(b.renew(feed.0).unwrap(), "the holder renews");
    assert!(
        !a.renew(feed.0).unwrap(),
        "a daemon whose claim was taken over cannot renew it"
    );
    // B never writes its schedule (stuck or dead): A takes the feed over once the lease has ended,
    // and B, waking up late (a poll that outwaited its lease in the queue), may not fetch.
    std::thread::sleep(lease + Duration::from_millis(300));
    assert!(
        !b.renew(feed.0).unwrap(),
        "a claim that ran out is not renewed"
    );
    assert_eq!(a.claim(feed.0, feed.1, later).unwrap(), Claim::Granted);
    assert!(
        !b.renew(feed.0).unwrap(),
        "nor once another daemon holds the feed"
    );
    assert!(a.renew(feed.0).unwrap());
    let live = db.count("SELECT count(*) FROM instances");
    assert_eq!(live, 2);
    drop((a, b));
    // A clean stop gives leases back and leaves `instances`.
    assert_eq!(db.count("SELECT count(*) FROM instances"), 0);
    assert_eq!(
        db.count("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL"),
        0
    );
}

const TOPIC: &str = "[[topics]]\nname = \"summit\"\nquery = \"summit\"\n";

/// A server that refuses says what it refused, not the driver's bare "db error".
#[test]
fn a_missing_database_is_named_in_the_error() {
    let Some(db) = PgDb::create("missing") else {
        return;
    };
    let missing = PgDb {
        name: format!("{}_absent", db.name),
    };
    let ws = missing.workspace("");
    let run = ws.run(&["once"]);
    std::mem::forget(missing); // never created, nothing to drop
    assert_eq!(run.code, 73, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("database \"{}_absent\" does not exist", db.name)),
        "{}",
        run.stderr
    );
}

#[test]
fn once_stores_dedups_and_the_read_commands_read_postgres() {
    let Some(db) = PgDb::create("once") else {
        return;
    };
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(
            &rss(&[
                (
                    "a1",
                    "Summit set for Geneva in May",
                    "https://n.example/summit",
                    "Leaders agree on a date.",
                ),
                (
                    "a2",
                    "Quiet day at the harbour",
                    "https://n.example/harbour",
                    "",
                ),
            ]),
            "\"1\"",
        ),
    );
    // The first article again, from another feed, with a tracking parameter.
    server.route(
        "/b",
        Reply::feed(
            &rss(&[(
                "b1",
                "Summit set for Geneva in May",
                "https://n.example/summit?utm_source=rss",
                "Leaders agree on a date.",
            )]),
            "\"1\"",
        ),
    );
    let ws = db.workspace(&format!(
        "[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[feeds]]\nname = \"b\"\nurl = \"{}\"\n{TOPIC}",
        server.url("/a"),
        server.url("/b")
    ));
    let check = ws.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    for _ in 0..2 {
        let run = ws.run(&["once"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("0 failed"),
            "{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    let run = ws.run(&["items", "--json"]);
    let items = json_lines(&run.stdout);
    assert_eq!(
        items.len(),
        2,
        "{items:#?} code {} out {} err {}",
        run.code,
        run.stdout,
        run.stderr
    );
    let summit = items
        .iter()
        .find(|i| i["title"] == "Summit set for Geneva in May")
        .unwrap();
    assert_eq!(summit["sources"], serde_json::json!(["a", "b"]));
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["topic"], "summit");
    let stories = json_lines(&ws.run(&["stories", "--json"]).stdout);
    assert_eq!(stories.len(), 2, "{stories:#?}");
    let feeds = ws.run(&["feeds", "--json"]);
    assert_eq!(feeds.code, 0, "{}", feeds.stderr);
    assert_eq!(json_lines(&feeds.stdout).len(), 2);
    assert_eq!(db.count("SELECT count(*) FROM items"), 2);
    assert_eq!(db.count("SELECT count(*) FROM sightings"), 3);
    // No sink: the outbox is read from PostgreSQL, and is empty.
    let outbox = ws.run(&["outbox", "--json"]);
    assert_eq!(outbox.code, 0, "{}", outbox.stderr);
    assert!(json_lines(&outbox.stdout).is_empty(), "{}", outbox.stdout);
    assert!(ws.run(&["instances"]).stdout.contains("no daemon"));
}

/// Two daemons, each polling one of two feeds that carry the same article: the second report is
/// stored by the daemon that did not store the first, after the first committed. Its story index
/// was read before, so only reading the other daemon's items again puts the copy in the same
/// story, and only that keeps the alert single.
#[test]
fn two_daemons_make_one_story_and_one_alert_of_one_article() {
    let Some(db) = PgDb::create("story") else {
        return;
    };
    let server = Server::start();
    let quiet = |g: &str| {
        rss(&[(
            g,
            "Quiet day at the harbour",
            &format!("https://q.example/{g}"),
            "",
        )])
    };
    server.route("/wire", Reply::feed(&quiet("w0"), "\"0\""));
    server.route("/paper", Reply::feed(&quiet("p0"), "\"0\""));
    let body = |name: &str| {
        format!(
            "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nshutdown_grace = \"2s\"\ntimeout = \"3s\"\nadaptive = false\n\
             [[feeds]]\nname = \"{name}\"\nurl = \"{}\"\n{TOPIC}",
            server.url(&format!("/{name}"))
        )
    };
    let (wa, wb) = (db.workspace(&body("wire")), db.workspace(&body("paper")));
    let (a, b) = (Daemon::start(&wa), Daemon::start(&wb));
    // Both have committed a poll: each has read its story index.
    wait_until(Duration::from_secs(60), "both feeds stored", || {
        db.items() == 2
    });
    let news = (
        "Summit: Washington and Beijing agree to meet in Geneva in May",
        "The two governments said on Tuesday their leaders would hold a summit in Geneva in May, the first in two years.",
    );
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[("w1", news.0, "https://wire.example/summit", news.1)]),
            "\"1\"",
        ),
    );
    wait_until(Duration::from_secs(60), "the wire's report stored", || {
        db.items() == 3
    });
    server.route(
        "/paper",
        Reply::feed(
            &rss(&[(
                "p1",
                news.0,
                "https://paper.example/world/summit-geneva",
                news.1,
            )]),
            "\"1\"",
        ),
    );
    wait_until(Duration::from_secs(60), "the paper's copy stored", || {
        db.items() == 4
    });
    a.stop(Duration::from_secs(20));
    b.stop(Duration::from_secs(20));
    let stories = db.count(
        "SELECT count(DISTINCT story_id) FROM items WHERE url IN ('https://wire.example/summit', 'https://paper.example/world/summit-geneva')",
    );
    assert_eq!(stories, 1, "the two reports are one story");
    assert_eq!(db.count("SELECT count(*) FROM alerts"), 1);
}

/// Issue #19's test: three daemons on one PostgreSQL, 300 loopback feeds whose content changes,
/// one daemon SIGKILLed mid-run. Every item is stored once, no feed is requested twice within its
/// interval (the server's log), no alert is logged twice, and the dead daemon's feeds are polled
/// again by the others once its leases expire.
#[test]
fn three_daemons_share_300_feeds_and_survive_one_killed() {
    let Some(db) = PgDb::create("three") else {
        return;
    };
    let feeds = 300;
    // The lease covers a poll from its claim to its commit: the wait for a slot (300 feeds due
    // together), the fetch and the group commit, on two cores shared with PostgreSQL and the
    // server (8 s was once too short: a claim expired before its poll committed; 20 s leaves room
    // for the rest of the suite running beside it).
    let interval = Duration::from_secs(6);
    let lease = Duration::from_secs(20);
    let server = Server::start();
    let publish = |round: usize| {
        for f in 0..feeds {
            let items: Vec<(String, String, String)> = (0..=round)
                .map(|r| {
                    (
                        format!("f{f}-r{r}"),
                        // Words of their own per item: these are not one story.
                        format!(
                            "Summit {} {} {}",
                            word(f * 7 + r),
                            word(f * 13 + r * 3 + 1),
                            word(f + r * 17 + 2)
                        ),
                        format!("https://n.example/{f}/{r}"),
                    )
                })
                .collect();
            let list: Vec<(&str, &str, &str, &str)> = items
                .iter()
                .map(|(g, t, u)| (g.as_str(), t.as_str(), u.as_str(), ""))
                .collect();
            server.route(
                &format!("/f{f}"),
                Reply::feed(&rss(&list), &format!("\"{round}\"")),
            );
        }
    };
    publish(0);
    let mut cfg = format!(
        "[defaults]\ninterval = \"{}s\"\nmin_interval = \"1s\"\nshutdown_grace = \"2s\"\ntimeout = \"3s\"\nadaptive = false\n\
         concurrency = 32\nper_host_concurrency = 32\nhost_spacing = \"0s\"\naddress_guard = \"off\"\n{TOPIC}",
        interval.as_secs()
    );
    for f in 0..feeds {
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"f{f}\"\nurl = \"{}\"\n",
            server.url(&format!("/f{f}"))
        ));
    }
    // One workspace (and log) per daemon, one config.
    let workspaces: Vec<Workspace> = (0..3)
        .map(|_| {
            let ws = db.workspace(&cfg);
            let text = std::fs::read_to_string(&ws.config).unwrap().replace(
                "[storage]\n",
                &format!("[storage]\nlease = \"{}s\"\n", lease.as_secs()),
            );
            std::fs::write(&ws.config, text).unwrap();
            ws
        })
        .collect();
    let ws = &workspaces[0];
    let check = ws.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let mut daemons: Vec<Daemon> = workspaces.iter().map(Daemon::start).collect();
    let db = &db;
    let stored = |n: i64| move || db.items() == n;
    wait_until(
        Duration::from_secs(120),
        "round 0 stored",
        stored(feeds as i64),
    );
    let instances = json_lines(&ws.run(&["instances", "--json"]).stdout);
    assert_eq!(instances.len(), 3, "{instances:#?}");
    publish(1);
    wait_until(
        Duration::from_secs(120),
        "round 1 stored",
        stored(2 * feeds as i64),
    );
    publish(2);
    // Mid-round: the victim holds leases now or soon.
    std::thread::sleep(interval / 2);
    let mut victim = daemons.remove(0);
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let killed_at = Instant::now();
    wait_until(
        Duration::from_secs(120),
        "round 2 stored",
        stored(3 * feeds as i64),
    );
    publish(3);
    wait_until(
        Duration::from_secs(120),
        "round 3 stored",
        stored(4 * feeds as i64),
    );
    // Every feed was requested after the kill: the victim's feeds were taken over.
    let requests = server.all_requests();
    let after_kill: HashSet<&str> = requests
        .iter()
        .filter(|r| r.at > killed_at)
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(after_kill.len(), feeds, "feeds polled after the kill");
    let takeover = requests
        .iter()
        .filter(|r| r.at > killed_at)
        .fold(HashMap::<&str, Instant>::new(), |mut m, r| {
            m.entry(r.path.as_str()).or_insert(r.at);
            m
        })
        .values()
        .map(|t| t.duration_since(killed_at))
        .max()
        .unwrap_or_default();
    eprintln!(
        "every feed polled again within {takeover:?} of the kill (lease {lease:?}, interval {interval:?})"
    );
    let logs: Vec<String> = daemons
        .iter()
        .map(Daemon::log)
        .chain([victim.log()])
        .collect();
    for d in daemons {
        let (code, _) = d.stop(Duration::from_secs(30));
        assert_eq!(code, 0);
    }
    // Stored once: no two items share a URL, and every published one is there.
    assert_eq!(
        db.count("SELECT count(DISTINCT url) FROM items"),
        4 * feeds as i64
    );
    // Never requested twice within the interval: the next request of a feed came at least an
    // interval after the last (the schedule only adds jitter).
    let mut by_feed: HashMap<&str, Vec<Instant>> = HashMap::new();
    for r in &requests {
        by_feed.entry(r.path.as_str()).or_default().push(r.at);
    }
    for (path, mut times) in by_feed {
        times.sort();
        for w in times.windows(2) {
            let gap = w[1].duration_since(w[0]);
            assert!(
                gap + Duration::from_millis(50) >= interval,
                "{path} requested twice within {gap:?} (interval {interval:?})"
            );
        }
    }
    // No alert logged twice, by any daemon; the database has one per item at most.
    let mut logged: Vec<i64> = logs
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| l.contains("newshound::alert"))
        .filter_map(|l| {
            l.split(" alert_id=")
                .nth(1)
                .and_then(|id| id.split_whitespace().next())
                .and_then(|id| id.parse::<i64>().ok())
        })
        .collect();
    let n = logged.len();
    logged.sort();
    logged.dedup();
    assert_eq!(logged.len(), n, "an alert was logged twice");
    assert!(n > 0, "no alert was logged");
    assert_eq!(
        db.count("SELECT count(*) FROM (SELECT topic, item_id FROM alerts GROUP BY 1, 2 HAVING count(*) > 1) d"),
        0
    );
}

/// A word per number, so that items are told apart by their text.
fn word(n: usize) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "be", "da", "fu", "go", "hi", "ju", "pe",
        "so",
    ];
    let mut n = n + 17;
    let mut w = String::new();
    for _ in 0..3 {
        w.push_str(SYL[n % 16]);
        n /= 16;
    }
    w
}

/// The server's TLS certificate file and whether TLS is on (Debian's default: on, with the
/// `ssl-cert` package's snakeoil certificate for `localhost`). `None` skips, unless `CI` is set.
fn server_tls_cert() -> Option<std::path::PathBuf> {
    let mut admin = admin().ok()?;
    let on: String = admin.query_one("SHOW ssl", &[]).unwrap().get(0);
    if on != "on" {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the PostgreSQL server on 127.0.0.1:5432 has ssl = off; this test needs TLS on (Debian's default)"
            );
        }
        eprintln!("skipped: the PostgreSQL server has ssl = off");
        return None;
    }
    let file: String = admin.query_one("SHOW ssl_cert_file", &[]).unwrap().get(0);
    let dir: String = admin.query_one("SHOW data_directory", &[]).unwrap().get(0);
    Some(std::path::Path::new(&dir).join(file))
}

#[test]
fn tls_with_sslrootcert_encrypts_and_verifies_the_server() {
    let Some(db) = PgDb::create("tls") else {
        return;
    };
    let Some(cert) = server_tls_cert() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = |host: &str, root: &std::path::Path| {
        format!(
            "postgres://{}@{host}:5432/{}?sslmode=verify-full&sslrootcert={}",
            user(),
            db.name,
            root.display()
        )
    };

    // The server's own certificate as the only trusted root: the connection is made, and the
    // server says it is encrypted.
    let store = newshound::store::PgStore::open(&url("localhost", &cert))
        .unwrap_or_else(|e| panic!("TLS with sslrootcert={}: {e}", cert.display()));
    let encrypted = db.count(&format!(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.datname = '{}' AND a.application_name = 'newshound' AND s.ssl",
        db.name
    ));
    assert_eq!(encrypted, 1, "the store's one connection is encrypted");
    drop(store);

    // The host name is checked: the certificate names localhost, not 127.0.0.1.
    let err = newshound::store::PgStore::open(&url("127.0.0.1", &cert))
        .err()
        .expect("a certificate for another name is refused");
    assert!(err.to_string().contains("not signed by a CA of"), "{err}");

    // Another CA's certificate as the root: refused, and the message says which file.
    let other = dir.path().join("other-ca.pem");
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let end = "-----END CERTIFICATE-----";
    let first = &bundle[..bundle.find(end).unwrap() + end.len()];
    std::fs::write(&other, first).unwrap();
    let err = newshound::store::PgStore::open(&url("localhost", &other))
        .err()
        .expect("a server certificate no trusted CA signed is refused");
    let message = err.to_string();
    assert!(message.contains("other-ca.pem"), "{message}");
    assert!(message.contains("not signed by a CA of"), "{message}");

    // A file with no certificate in it is a clear error before any connection.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = newshound::store::PgStore::open(&url("localhost", &empty))
        .err()
        .expect("an sslrootcert without certificates is refused");
    assert!(
        err.to_string().contains("no certificate in the file"),
        "{err}"
    );
}

/// A feed's facts (validators, ttl, skips, failures in a row, gone, activity) are kept alike by
/// both backends, on the library: each commit returns them as written, reading the feed's state
/// returns the same, and the outcomes move them as the schedule expects.
#[test]
fn both_backends_keep_a_feeds_facts_alike() {
    use chrono::{Duration as Days, Utc};
    use newshound::config::Synchronous;
    use newshound::error_class::ErrorClass;
    use newshound::model::{Item, ItemKey, stable_hash};
    use newshound::store::{
        Backend, FeedFacts, IngestPolicy, MatchedItem, PgStore, PollOutcome, PollRecord, Store,
    };
    let Some(db) = PgDb::create("facts") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut backends: Vec<Backend> = vec![
        Store::open(&dir.path().join("t.db"), Synchronous::Normal)
            .unwrap()
            .into(),
        PgStore::open(&db.url()).unwrap().into(),
    ];
    let start = Utc::now() - Days::days(1);
    let item = |i: usize| {
        let (title, summary) = (format!("Story number {i}"), format!("What happened {i}"));
        let url = format!("https://n.example/{i}");
        Item {
            key: ItemKey::Guid(format!("g{i}")),
            url: Some(url.clone()),
            canonical_url: Some(url.clone()),
            url_key: url::Url::parse(&url)
                .ok()
                .map(|u| newshound::stories::url_key(&u)),
            content_hash: stable_hash(&[&title, &summary]),
            published: Some(start - Days::days(i as i64)),
            updated: None,
            content: None,
            authors: vec![],
            categories: vec![],
            title,
            summary,
        }
    };
    let fetched = |items: Vec<Item>| PollOutcome::Fetched {
        status: 200,
        permanent_redirect: None,
        title: Some("N".into()),
        warning: None,
        items: items
            .into_iter()
            .map(|item| MatchedItem {
                features: newshound::stories::features(&item.title, &item.summary),
                item,
                matches: vec![],
            })
            .collect(),
    };
    let failed = |status: u16| PollOutcome::Failed {
        status: Some(status),
        class: ErrorClass::HttpStatus,
        message: format!("HTTP {status}"),
    };
    let said = FeedFacts {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Mon, 07 Dec 2026 10:00:00 GMT".into()),
        ttl_minutes: Some(90),
        skip_hours: vec![1, 2],
        skip_days: vec![6],
        ..FeedFacts::default()
    };
    let mut cached = FeedFacts::default();
    cached.cache.max_age = Some(Duration::from_secs(600));
    let polls: Vec<(PollOutcome, FeedFacts, &str)> = vec![
        (
            fetched(vec![item(1), item(2)]),
            said.clone(),
            "https://n.example/rss",
        ),
        (
            PollOutcome::NotModified {
                status: 304,
                permanent_redirect: None,
            },
            cached,
            "https://n.example/rss",
        ),
        (failed(500), FeedFacts::default(), "https://n.example/rss"),
        (failed(410), FeedFacts::default(), "https://n.example/rss"),
        (failed(503), FeedFacts::default(), "https://n.example/rss"),
        // The config points the feed elsewhere: its validators and its 410 are forgotten.
        (failed(500), FeedFacts::default(), "https://m.example/rss"),
        (
            fetched(vec![item(3)]),
            FeedFacts::default(),
            "https://m.example/rss",
        ),
    ];
    let mut seen: Vec<Vec<String>> = vec![vec![]; backends.len()];
    for (n, (outcome, facts, url)) in polls.into_iter().enumerate() {
        let rec = PollRecord {
            feed: "n".into(),
            url: url.into(),
            at: start + Days::minutes(n as i64),
            outcome,
            facts,
        };
        for (b, out) in backends.iter_mut().zip(&mut seen) {
            let summary = b
                .record_polls(&[&rec], IngestPolicy::default())
                .pop()
                .unwrap()
                .unwrap();
            let stored = b.feed_state("n").unwrap().unwrap().facts;
            let committed = summary.facts;
            // What was committed is what is read back (but the answer's cache directives,
            // which are not stored).
            let mut read_back = stored.clone();
            read_back.cache = committed.cache;
            assert_eq!(
                format!("{committed:?}"),
                format!("{read_back:?}"),
                "poll {n}"
            );
            match n {
                0 => {
                    assert_eq!(committed.etag.as_deref(), Some("\"v1\""));
                    assert_eq!(committed.ttl_minutes, Some(90));
                    assert_eq!(
                        (&committed.skip_hours[..], &committed.skip_days[..]),
                        (&[1, 2][..], &[6][..])
                    );
                    assert_eq!(committed.activity.items_7d, 2);
                }
                1 => {
                    assert_eq!(
                        committed.etag.as_deref(),
                        Some("\"v1\""),
                        "a 304 keeps the validators"
                    );
                    assert_eq!(committed.cache.max_age, Some(Duration::from_secs(600)));
                    assert_eq!(committed.activity.items_7d, 2, "and the activity");
                }
                2 => assert_eq!(
                    (committed.consecutive_failures, committed.gone()),
                    (1, false)
                ),
                3 => {
                    assert_eq!(
                        (committed.consecutive_failures, committed.gone()),
                        (2, true)
                    );
                    assert!(summary.became_gone);
                    assert_eq!(committed.ttl_minutes, Some(90), "a failure keeps the ttl");
                }
                4 => {
                    assert_eq!(
                        (committed.consecutive_failures, committed.gone()),
                        (3, true)
                    );
                    assert!(!summary.became_gone, "gone once");
                }
                5 => {
                    assert_eq!(
                        (committed.consecutive_failures, committed.gone()),
                        (4, false)
                    );
                    assert_eq!(committed.etag, None);
                }
                _ => {
                    assert_eq!(
                        (committed.consecutive_failures, committed.gone()),
                        (0, false)
                    );
                    assert_eq!(
                        (committed.ttl_minutes, committed.skip_hours.len()),
                        (None, 0)
                    );
                    assert_eq!(committed.activity.items_7d, 3);
                }
            }
            out.push(format!("{committed:?} {}", summary.became_gone));
        }
    }
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL agree");
}
