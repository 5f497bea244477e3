//! Sinks on PostgreSQL with several daemons (issue #19): deliveries claimed with a lease so two
//! daemons never send one at once, a dead daemon's claims taken over when they end, digests made
//! once per period, and `/metrics` per instance. Each test creates and drops its own database.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use newshound::config::DigestGroup;
use newshound::store::PgStore;

use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use crate::daemon::{Daemon, wait_until};
use crate::ops_http::{get, listening};
use crate::shared_store::PgDb;
use crate::sinks::summit_feed;

const TOPIC: &str = "[[topics]]\nname = \"summit\"\nquery = \"summit\"\n";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Queues `n` due deliveries of sink `s` for topic `summit` by hand, in `state`.
fn queue(db: &PgDb, n: usize, state: &str) {
    for i in 0..n {
        queue_in(db, &format!("summit:{i}:s"), "summit", state);
    }
}

/// Queues one due delivery of sink `s` under `key` in `state` (a digest when `topic` is empty),
/// as an alert's transaction writes it.
fn queue_in(db: &PgDb, key: &str, topic: &str, state: &str) {
    let now = now_ms();
    db.client()
        .execute(
            "INSERT INTO outbox (sink, topic, idem_key, payload, created_at, retry_since, next_at, state)
             VALUES ('s', $1, $2, '{\"title\":\"t\"}', $3, $3, $3, $4)",
            &[&topic, &key, &now, &state],
        )
        .unwrap();
}

/// Two stores on `db`, as two daemons would open it, each with a claim lease of `lease`.
fn two_stores(db: &PgDb, lease: Duration) -> (PgStore, PgStore) {
    let open = || {
        let mut s = PgStore::open(&db.url()).unwrap();
        s.set_lease(lease);
        s
    };
    (open(), open())
}

/// On the library: what one store claims, another does not get until the claim ends; an outcome
/// clears the claim; a store whose claim ended and was taken over cannot overwrite the new
/// owner's outcome.
#[test]
fn a_claimed_delivery_is_not_claimed_again_until_its_claim_ends() {
    use newshound::store::DeliveryUpdate;
    let Some(db) = PgDb::create("claims") else {
        return;
    };
    let lease = Duration::from_secs(2);
    let (mut a, mut b) = two_stores(&db, lease);
    queue(&db, 6, "pending");
    let now = now_ms() + 1;
    let got_a = a.outbox_due("s", now, 4, &[], None).unwrap().send;
    let got_b = b.outbox_due("s", now, 4, &[], None).unwrap().send;
    assert_eq!(got_a.len(), 4);
    assert_eq!(got_b.len(), 2, "only the rows A did not claim");
    let ids_a: HashSet<i64> = got_a.iter().map(|d| d.id).collect();
    assert!(got_b.iter().all(|d| !ids_a.contains(&d.id)));
    // B is done with its two; A sends one of its four and is then stuck on the others.
    for d in &got_b {
        b.outbox_updates(&[DeliveryUpdate::Sent { id: d.id, at: now }])
            .unwrap();
    }
    a.outbox_updates(&[DeliveryUpdate::Sent {
        id: got_a[0].id,
        at: now,
    }])
    .unwrap();
    assert!(
        b.outbox_due("s", now_ms(), 4, &[], None)
            .unwrap()
            .send
            .is_empty()
    );
    std::thread::sleep(lease + Duration::from_millis(300));
    let taken = b.outbox_due("s", now_ms(), 4, &[], None).unwrap().send;
    let taken: HashSet<i64> = taken.iter().map(|d| d.id).collect();
    let stuck: HashSet<i64> = got_a[1..].iter().map(|d| d.id).collect();
    assert_eq!(taken, stuck, "A's unfinished claims, once they ended");
    // A comes back and records a failure of one of them: B holds it now, B's outcome stands.
    let late = got_a[1].id;
    a.outbox_updates(&[DeliveryUpdate::Retry {
        id: late,
        at: now_ms(),
        next_at: now_ms() + 60_000,
        error: "late".into(),
    }])
    .unwrap();
    b.outbox_updates(&[DeliveryUpdate::Sent {
        id: late,
        at: now_ms(),
    }])
    .unwrap();
    let state: String = db
        .client()
        .query_one("SELECT state FROM outbox WHERE id = $1", &[&late])
        .unwrap()
        .get(0);
    assert_eq!(state, "sent");
    assert_eq!(
        db.count("SELECT sends FROM sink_status WHERE sink = 's'"),
        4,
        "B's two, A's one, B's late one; A's late failure is not counted"
    );
    assert_eq!(
        db.count("SELECT failures FROM sink_status WHERE sink = 's'"),
        0
    );
    // A clean stop gives back the claims a store still holds.
    drop(b);
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE claim_owner IS NOT NULL AND state <> 'sent'"),
        0
    );
}

/// Queues one pending due delivery of sink `s` under `key` (a digest when `topic` is empty).
fn queue_one(db: &PgDb, key: &str, topic: &str) {
    queue_in(db, key, topic, "pending");
}

/// On the library: a sink's `max_per_hour` is decided in the claim, across stores: a store's
/// claim counts the sends in flight on another (their live claims) and holds what is over the
/// budget for the next digest; a failed send and a claim that ended without an outcome (its
/// daemon killed) give their budget back; a digest is never held back.
#[test]
fn the_claim_keeps_max_per_hour_across_stores_and_gives_back_what_was_not_sent() {
    use newshound::store::{Budget, DeliveryUpdate, Over};
    let Some(db) = PgDb::create("budget") else {
        return;
    };
    let lease = Duration::from_secs(2);
    let (mut a, mut b) = two_stores(&db, lease);
    let budget = Budget {
        sink: Some(5),
        topics: Vec::new(),
    };
    let ids =
        |ds: &[newshound::store::Delivery]| -> HashSet<i64> { ds.iter().map(|d| d.id).collect() };
    queue(&db, 8, "pending");
    let now = now_ms() + 1;
    let got_a = a.outbox_due("s", now, 4, &[], Some(&budget)).unwrap();
    assert_eq!((got_a.send.len(), got_a.held.len()), (4, 0));
    let got_b = b.outbox_due("s", now, 4, &[], Some(&budget)).unwrap();
    assert_eq!(
        got_b.send.len(),
        1,
        "what A's four sends in flight leave of the five"
    );
    assert_eq!(got_b.held.len(), 3);
    assert!(got_b.held.iter().all(|h| h.over == Over::Sink(5)));
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE state = 'held' AND claim_owner IS NULL"),
        3,
        "held for the next digest, as on SQLite"
    );
    // B's send fails: it gave its budget back, and its retry (due now) is claimed again.
    let mine = got_b.send[0].id;
    b.outbox_updates(&[DeliveryUpdate::Retry {
        id: mine,
        at: now_ms(),
        next_at: now_ms(),
        error: "503".into(),
    }])
    .unwrap();
    let again = b
        .outbox_due("s", now_ms() + 1, 4, &[], Some(&budget))
        .unwrap();
    assert_eq!(ids(&again.send), HashSet::from([mine]));
    // Sent this time: one sent and A's four in flight spend the hour; a digest still goes.
    b.outbox_updates(&[DeliveryUpdate::Sent {
        id: mine,
        at: now_ms(),
    }])
    .unwrap();
    queue_one(&db, "late", "summit");
    queue_one(&db, "digest:s:1", "");
    let more = b
        .outbox_due("s", now_ms() + 1, 4, &[], Some(&budget))
        .unwrap();
    assert_eq!(
        more.send
            .iter()
            .map(|d| d.idem_key.as_str())
            .collect::<Vec<_>>(),
        ["digest:s:1"]
    );
    assert_eq!(more.held.len(), 1);
    assert_eq!(more.held[0].idem_key, "late");
    b.outbox_updates(&[DeliveryUpdate::Sent {
        id: more.send[0].id,
        at: now_ms(),
    }])
    .unwrap();
    // A dies with its four sends: once their claims end they no longer count, and B claims
    // them, all four within the budget again (one sent, four in flight).
    std::thread::sleep(lease + Duration::from_millis(300));
    let taken = b.outbox_due("s", now_ms(), 4, &[], Some(&budget)).unwrap();
    assert_eq!(ids(&taken.send), ids(&got_a.send));
    assert!(taken.held.is_empty());
    // Without a budget the claim counts nothing (the cheap claim); B is sending the four.
    queue_one(&db, "free", "summit");
    let sending: Vec<i64> = ids(&taken.send).into_iter().collect();
    let free = b.outbox_due("s", now_ms() + 1, 4, &sending, None).unwrap();
    assert_eq!(free.send.len(), 1);
    assert!(free.held.is_empty());
}

/// On the library: claims of one budgeted sink take turns. Another daemon's claim in progress
/// (here by hand: the sink's budget lock taken, four rows claimed, not committed yet) makes a
/// store's claim wait for it, and then count its four: without the lock the store would count
/// before that claim commits, and claim four more of a budget of five.
#[test]
fn a_budgeted_claim_waits_for_another_daemons_claim_of_the_sink() {
    use newshound::store::Budget;
    let Some(db) = PgDb::create("budgetlock") else {
        return;
    };
    let mut a = PgStore::open(&db.url()).unwrap();
    queue(&db, 8, "pending");
    let mut other = db.client();
    let mut tx = other.transaction().unwrap();
    // `BUDGET_LOCK` in src/store/pg/outbox.rs.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext('s'))",
        &[&0x6e68_6268_i32],
    )
    .unwrap();
    tx.execute(
        "UPDATE outbox SET claim_owner = 'other', claim_until = (extract(epoch from clock_timestamp()) * 1000)::bigint + 60000
         WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 4)",
        &[],
    )
    .unwrap();
    let budget = Budget {
        sink: Some(5),
        topics: Vec::new(),
    };
    let due = std::thread::scope(|s| {
        let claim = s.spawn(|| a.outbox_due("s", now_ms() + 1, 4, &[], Some(&budget)));
        wait_until(
            Duration::from_secs(30),
            "the claim waiting for the lock, or done",
            || {
                claim.is_finished()
                    || db.count(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    ) > 0
            },
        );
        tx.commit().unwrap();
        claim.join().unwrap().unwrap()
    });
    assert_eq!(
        (due.send.len(), due.held.len()),
        (1, 3),
        "the other daemon's four claimed count"
    );
}

/// Three daemons on one PostgreSQL, a webhook with `max_per_hour = 5`, 20 alerts from three feeds
/// and a receiver slow enough that the daemons have sends in flight at once: exactly five alerts
/// reach the receiver, the other fifteen are held for the next digest, and each daemon logs and
/// counts its holds as SQLite's worker does.
#[test]
fn three_daemons_send_no_more_than_max_per_hour_between_them() {
    let Some(db) = PgDb::create("budgetd") else {
        return;
    };
    let server = Server::start();
    summit_feed(&server, "/a", 0, 7);
    summit_feed(&server, "/b", 1000, 7);
    summit_feed(&server, "/c", 2000, 6);
    let rx = Receiver::start();
    rx.script(|_, _| Answer::status(200).after(Duration::from_millis(500)));
    // A third feed, so that each daemon may poll one and send its alerts at once.
    let body = shared_config(&server, &rx, "20s", "max_per_hour = 5\nconcurrency = 2\n").replacen(
        "[[topics]]",
        &format!(
            "[[feeds]]\nname = \"c\"\nurl = \"{}\"\n[[topics]]",
            server.url("/c")
        ),
        1,
    );
    let wss: Vec<Workspace> = (0..3).map(|_| pg_workspace(&db, &body)).collect();
    let check = wss[0].run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let daemons: Vec<Daemon> = wss.iter().map(Daemon::start).collect();
    let total = 20;
    // Every alert decided: sent, or held (or folded into a digest, should the hour turn).
    wait_until(Duration::from_secs(120), "every alert sent or held", || {
        db.items() == total
            && db.count("SELECT count(*) FROM alerts") == total
            && db.count(
                "SELECT count(*) FROM outbox WHERE topic <> '' AND state IN ('sent', 'held', 'digested')",
            ) == total
    });
    let alerts_received = || -> Vec<String> {
        rx.received()
            .iter()
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .filter(|k| !k.starts_with("digest:"))
            .collect()
    };
    // Nothing more arrives: what is held waits for the digest.
    std::thread::sleep(Duration::from_secs(2));
    let got = alerts_received();
    let keys: HashSet<&String> = got.iter().collect();
    assert_eq!(
        keys.len(),
        5,
        "alerts received within the hour: {got:?}\n{:?}",
        db.client()
            .query(
                "SELECT idem_key, state, claim_owner FROM outbox ORDER BY id",
                &[]
            )
            .unwrap()
            .iter()
            .map(|r| (
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, Option<String>>(2)
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE topic <> '' AND state = 'sent'"),
        5
    );
    // The same vocabulary as SQLite: each hold logged and counted by the daemon that made it.
    let (mut sent, mut held, mut logged) = (0.0, 0.0, 0);
    for d in &daemons {
        let m = get(listening(d), "/metrics");
        assert_eq!(m.status, 200);
        let (s, h) = (deliveries(&m.body, "sent").0, deliveries(&m.body, "held").0);
        eprintln!("a daemon sent {s} and held {h}");
        sent += s;
        held += h;
        logged += d.log().matches("folded into the next digest").count();
    }
    // A digest (should the hour turn during the test) is counted as sent too.
    let digests = rx
        .received()
        .iter()
        .filter(|r| {
            r.header("idempotency-key")
                .is_some_and(|k| k.starts_with("digest:"))
        })
        .count();
    eprintln!(
        "three daemons, max_per_hour 5: {} alert requests, {sent} sent, {held} held, {digests} digests",
        got.len()
    );
    assert_eq!(
        (sent - digests as f64, held, logged),
        (5.0, 15.0, 15),
        "sends and holds by the daemons' metrics, holds by their logs"
    );
    for d in daemons {
        let (code, _) = d.stop(Duration::from_secs(10));
        assert_eq!(code, 0);
    }
}

/// On the library: two daemons seeing one digest due at once (the same scheduled time) make one
/// digest of the held alerts; the next period's run makes the next.
#[test]
fn a_digest_is_made_once_per_period_whichever_daemons_see_it_due() {
    let Some(db) = PgDb::create("digest") else {
        return;
    };
    let url = db.url();
    let _ = PgStore::open(&url).unwrap();
    queue(&db, 5, "held");
    let all = DigestGroup {
        topic: String::new(),
        except: Vec::new(),
    };
    let slot = now_ms();
    // Four daemons at once, each on its own connection.
    let made: Vec<Option<i64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let (url, all) = (url.clone(), all.clone());
                s.spawn(move || {
                    let mut st = PgStore::open(&url).unwrap();
                    st.outbox_digest("s", &all, slot + i, Some(slot)).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(made.iter().flatten().count(), 1, "{made:?}");
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'digest:%'"),
        1
    );
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE state = 'digested'"),
        5
    );
    // A new alert is held; a daemon late to the same period (it saw the digest due at the same
    // scheduled time) makes no second digest of it: it waits for the next period's.
    let mut c = db.client();
    c.execute(
        "INSERT INTO outbox (sink, topic, idem_key, payload, created_at, retry_since, next_at, state)
         VALUES ('s', 'summit', 'late', '{}', 0, 0, 0, 'held')",
        &[],
    )
    .unwrap();
    let mut st = PgStore::open(&url).unwrap();
    assert!(
        st.outbox_digest("s", &all, slot + 100, Some(slot))
            .unwrap()
            .is_none(),
        "that period's digest was made"
    );
    std::thread::sleep(Duration::from_millis(20));
    let next = now_ms();
    assert!(
        st.outbox_digest("s", &all, next, Some(next))
            .unwrap()
            .is_some(),
        "the next period's"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE idem_key LIKE 'digest:%'"),
        2
    );
}

/// The config two daemons share: two feeds, a webhook, the listener on a port of its own.
fn shared_config(server: &Server, rx: &Receiver, lease: &str, sink: &str) -> String {
    format!(
        "[storage]\nlease = \"{lease}\"\n\
         [defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nshutdown_grace = \"2s\"\ntimeout = \"2s\"\nadaptive = false\n\
         [alerts]\nmax_age = \"off\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[feeds]]\nname = \"b\"\nurl = \"{}\"\n{TOPIC}\
         [[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"2s\"\nretry_min = \"100ms\"\nretry_max = \"200ms\"\n{sink}",
        server.url("/a"),
        server.url("/b"),
        rx.url("/hook")
    )
}

/// Moves `[storage] lease` into the `[storage]` table `workspace` writes (one table per file).
fn pg_workspace(db: &PgDb, body: &str) -> Workspace {
    let (storage, rest) = body
        .strip_prefix("[storage]\n")
        .and_then(|b| b.split_once('\n'))
        .unwrap();
    let ws = db.workspace(rest);
    let text = std::fs::read_to_string(&ws.config).unwrap();
    let text = text.replacen("[storage]\n", &format!("[storage]\n{storage}\n"), 1);
    std::fs::write(&ws.config, text).unwrap();
    ws
}

/// The daemon's `newshound_deliveries_total` of `outcome`, and the instance id its series carry.
fn deliveries(metrics: &str, outcome: &str) -> (f64, Option<String>) {
    let line = metrics.lines().find(|l| {
        l.starts_with("newshound_deliveries_total{")
            && l.contains(&format!("outcome=\"{outcome}\""))
    });
    let Some(line) = line else {
        return (0.0, None);
    };
    let id = line
        .split("instance_id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_owned);
    let value = line.rsplit(' ').next().and_then(|v| v.parse().ok());
    (value.unwrap_or(0.0), id)
}

/// Two daemons on one PostgreSQL, one receiver that takes its time: every alert is delivered,
/// each key once (no daemon sends a delivery another one claimed), both daemons send, and each
/// daemon's `/metrics` counts its own deliveries under its own instance id, as `instances` and
/// the status page list them.
#[test]
fn two_daemons_deliver_every_alert_once_by_key_and_each_has_its_own_metrics() {
    let Some(db) = PgDb::create("sinks2") else {
        return;
    };
    let server = Server::start();
    let per_feed = 20;
    summit_feed(&server, "/a", 0, per_feed);
    summit_feed(&server, "/b", 1000, per_feed);
    let rx = Receiver::start();
    // Slow enough that one daemon's sends outlast the other's idle look at the outbox (5 s).
    rx.script(|_, _| Answer::status(200).after(Duration::from_millis(500)));
    let body = shared_config(&server, &rx, "6s", "concurrency = 2\n");
    let (wa, wb) = (pg_workspace(&db, &body), pg_workspace(&db, &body));
    let check = wa.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    let (a, b) = (Daemon::start(&wa), Daemon::start(&wb));
    let total = (2 * per_feed) as i64;
    wait_until(Duration::from_secs(90), "every delivery sent", || {
        db.items() == total && db.count("SELECT count(*) FROM outbox WHERE state = 'sent'") == total
    });
    let got = rx.received();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *by_key
            .entry(r.header("idempotency-key").unwrap().to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = by_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(by_key.len() as i64, total);
    let alerts = db.count("SELECT count(*) FROM alerts");
    assert_eq!(alerts, total);

    // Each daemon's metrics: its own counters, under its own instance id.
    let (ma, mb) = (
        get(listening(&a), "/metrics"),
        get(listening(&b), "/metrics"),
    );
    assert_eq!((ma.status, mb.status), (200, 200));
    let ((sa, ida), (sb, idb)) = (deliveries(&ma.body, "sent"), deliveries(&mb.body, "sent"));
    eprintln!("deliveries sent: {sa} by {ida:?}, {sb} by {idb:?}");
    assert_eq!(
        sa + sb,
        total as f64,
        "each delivery counted by the daemon that sent it"
    );
    assert!(sa > 0.0 && sb > 0.0, "both daemons sent: {sa} and {sb}");
    let ids: HashSet<String> = db
        .client()
        .query("SELECT id FROM instances", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let (ida, idb) = (ida.unwrap(), idb.unwrap());
    assert_ne!(ida, idb);
    assert_eq!(ids, HashSet::from([ida.clone(), idb.clone()]));
    assert!(
        ma.body
            .lines()
            .filter(|l| l.starts_with("newshound_polls_total{"))
            .all(|l| l.contains(&format!("instance_id=\"{ida}\""))),
        "every series carries the instance: {}",
        ma.body
    );
    // The status page and the API list both daemons; the queue gauge reads PostgreSQL.
    let page = get(listening(&a), "/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&ida) && page.body.contains(&idb));
    let api = get(listening(&b), "/api/instances");
    assert_eq!(api.status, 200, "{}", api.body);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&api.body).unwrap();
    assert_eq!(listed.len(), 2);
    let queue = mb
        .body
        .lines()
        .find(|l| {
            l.starts_with("newshound_delivery_queue_length{")
                && l.contains("sink=\"hook\"")
                && l.contains(&format!("instance_id=\"{idb}\""))
        })
        .unwrap_or_else(|| panic!("no queue gauge in {}", mb.body));
    assert!(queue.ends_with(" 0"), "{queue}");
    let ready = get(listening(&a), "/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);
    // `outbox` reads PostgreSQL: every row sent.
    let rows = json_lines(&wa.run(&["outbox", "--json", "--limit", "1000"]).stdout);
    assert_eq!(rows.len() as i64, total);
    assert!(rows.iter().all(|r| r["state"] == "sent"));
    for d in [a, b] {
        let (code, _) = d.stop(Duration::from_secs(10));
        assert_eq!(code, 0);
    }
}

/// A daemon SIGKILLed while its sends are in flight: its claimed deliveries are not sent by the
/// other daemon before the claims end, and are sent by it after; every alert reaches the receiver
/// (the killed sends again, which the receiver drops by key).
#[test]
fn a_killed_daemons_claimed_deliveries_are_sent_by_another_after_the_lease() {
    let Some(db) = PgDb::create("sinkkill") else {
        return;
    };
    let server = Server::start();
    summit_feed(&server, "/a", 0, 8);
    summit_feed(&server, "/b", 1000, 4);
    let rx = Receiver::start();
    // The first requests stall (the first daemon is killed meanwhile); the rest are taken at once.
    rx.script(|n, _| {
        if n < 4 {
            Answer::status(200).after(Duration::from_millis(1900))
        } else {
            Answer::status(200)
        }
    });
    let lease = Duration::from_secs(4);
    let body = shared_config(&server, &rx, "4s", "concurrency = 4\n");
    let (wa, wb) = (pg_workspace(&db, &body), pg_workspace(&db, &body));
    let mut a = Daemon::start(&wa);
    wait_until(Duration::from_secs(60), "the first daemon sending", || {
        rx.received().len() >= 4
    });
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed_at = now_ms();
    // What it had claimed and not finished: held until the claims end.
    let claimed: Vec<(String, i64)> = db
        .client()
        .query(
            "SELECT idem_key, claim_until FROM outbox WHERE claim_owner IS NOT NULL AND state IN ('pending', 'failed')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!claimed.is_empty(), "the daemon was killed mid-delivery");
    assert!(
        claimed
            .iter()
            .all(|(_, until)| *until <= killed_at + lease.as_millis() as i64 + 500)
    );
    let b = Daemon::start(&wb);
    wait_until(Duration::from_secs(60), "every delivery sent", || {
        db.count("SELECT count(*) FROM alerts") == 12
            && db.count("SELECT count(*) FROM outbox WHERE state = 'sent'") == 12
    });
    let got = rx.received();
    let at = |r: &crate::common::receiver::Received| {
        r.at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
    };
    for (key, until) in &claimed {
        let after: Vec<i64> = got
            .iter()
            .filter(|r| r.header("idempotency-key") == Some(key.as_str()) && at(r) >= killed_at)
            .map(at)
            .collect();
        assert!(!after.is_empty(), "{key} sent again after the kill");
        assert!(
            after.iter().all(|&at| at >= until - 50),
            "{key} sent at {after:?}, before its claim ended at {until}"
        );
    }
    let keys: HashSet<&str> = got
        .iter()
        .filter_map(|r| r.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 12, "every alert reached the receiver");
    eprintln!(
        "kill test: {} claims held at the kill, {} requests for {} alerts",
        claimed.len(),
        got.len(),
        keys.len()
    );
    let (code, _) = b.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
}

/// `once` on PostgreSQL: its alerts' deliveries are sent after the polls, `outbox` and `sinks` read
/// them back, nothing stays claimed, and a second run sends nothing again.
#[test]
fn once_on_postgres_sends_its_deliveries_and_the_outbox_commands_read_them() {
    let Some(db) = PgDb::create("sinkonce") else {
        return;
    };
    let server = Server::start();
    summit_feed(&server, "/a", 0, 3);
    summit_feed(&server, "/b", 1000, 0);
    let rx = Receiver::start();
    let body = shared_config(&server, &rx, "1m", "");
    let ws = pg_workspace(&db, &body);
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rx.received().len(), 3);
    let rows = json_lines(&ws.run(&["outbox", "--json"]).stdout);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["state"] == "sent" && r["attempts"] == 1),
        "{rows:?}"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM outbox WHERE claim_owner IS NOT NULL"),
        0
    );
    let sinks = ws.run(&["sinks"]);
    assert_eq!(sinks.code, 0, "{}", sinks.stderr);
    assert!(sinks.stdout.contains("hook"), "{}", sinks.stdout);
    assert_eq!(
        db.count("SELECT sends FROM sink_status WHERE sink = 'hook'"),
        3
    );
    // `outbox retry` of a sent delivery is refused, as on SQLite.
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    assert_ne!(ws.run(&["outbox", "retry", &id]).code, 0);
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 3, "nothing sent twice");
}

/// The claim's cost with and without a budget (docs/postgres.md, "Sinks across daemons"): 500
/// claims of 4 rows each, timed on the library, each round's rows then recorded sent (not timed):
/// with a budget of 100,000 (nothing held; the hour's sent rows counted grow from 0 to 2,000),
/// without one, then with the budget spent (each claim holds its 4 rows).
#[test]
#[ignore = "a measurement; run by hand (docs/postgres.md)"]
fn claim_cost_with_and_without_a_budget() {
    use newshound::store::{Budget, DeliveryUpdate};
    let Some(db) = PgDb::create("claimcost") else {
        panic!("a measurement on PostgreSQL needs the server");
    };
    let mut st = PgStore::open(&db.url()).unwrap();
    let rounds = 500;
    let run = |st: &mut PgStore, budget: Option<&Budget>, prefix: &str| {
        let mut c = db.client();
        c.execute(
            "INSERT INTO outbox (sink, topic, idem_key, payload, created_at, retry_since, next_at)
             SELECT 's', 'summit', $1 || g, '{}', 0, 0, 0 FROM generate_series(1, $2::int) g",
            &[&prefix, &(rounds * 4)],
        )
        .unwrap();
        c.execute("ANALYZE outbox", &[]).unwrap();
        let mut took = Vec::new();
        let mut held = 0;
        for _ in 0..rounds {
            let t = std::time::Instant::now();
            let due = st.outbox_due("s", now_ms(), 4, &[], budget).unwrap();
            took.push(t.elapsed().as_secs_f64() * 1000.0);
            held += due.held.len();
            let sent: Vec<DeliveryUpdate> = due
                .send
                .iter()
                .map(|d| DeliveryUpdate::Sent {
                    id: d.id,
                    at: now_ms(),
                })
                .collect();
            st.outbox_updates(&sent).unwrap();
        }
        let median = |xs: &[f64]| {
            let mut xs = xs.to_vec();
            xs.sort_by(f64::total_cmp);
            xs[xs.len() / 2]
        };
        let (first, last) = (median(&took[..50]), median(&took[took.len() - 50..]));
        took.sort_by(f64::total_cmp);
        let q = |p: f64| took[((took.len() - 1) as f64 * p).round() as usize];
        eprintln!(
            "{prefix}: {rounds} claims of 4, median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms; the first 50's median {first:.2} ms, the last 50's {last:.2} ms ({held} held)",
            q(0.5),
            q(0.9),
            q(0.99)
        );
    };
    let large = Budget {
        sink: Some(100_000),
        topics: Vec::new(),
    };
    run(&mut st, Some(&large), "a budget, not spent");
    run(&mut st, None, "no budget");
    let spent = Budget {
        sink: Some(10),
        topics: vec![("summit".into(), 5)],
    };
    run(&mut st, Some(&spent), "a budget spent (every row held)");
}

/// As `sinks::delivery_latency_of_1000_alerts`, on PostgreSQL with `NEWSHOUND_BENCH_DAEMONS`
/// daemons (1 by default): from each alert's row being written to the receiver reading it.
#[test]
#[ignore = "a measurement; run by hand (docs/postgres.md)"]
fn delivery_latency_of_1000_alerts_on_postgres() {
    let n: usize = std::env::var("NEWSHOUND_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let daemons: usize = std::env::var("NEWSHOUND_BENCH_DAEMONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let Some(db) = PgDb::create("latency") else {
        panic!("a measurement on PostgreSQL needs the server");
    };
    let server = Server::start();
    summit_feed(&server, "/a", 0, n);
    let rx = Receiver::start();
    let body = format!(
        "[defaults]\ninterval = \"1h\"\nmin_interval = \"1s\"\nshutdown_grace = \"2s\"\ntimeout = \"10s\"\n\
         [alerts]\nmax_age = \"off\"\n[[feeds]]\nname = \"a\"\nurl = \"{}\"\n{TOPIC}\
         [[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url("/a"),
        rx.url("/")
    );
    let binary = std::env::var("NEWSHOUND_BENCH_BIN").unwrap_or_else(|_| bin().to_owned());
    let wss: Vec<Workspace> = (0..daemons).map(|_| db.workspace(&body)).collect();
    let mut children: Vec<std::process::Child> = wss
        .iter()
        .map(|ws| {
            std::process::Command::new(&binary)
                .args(["--config", ws.config.to_str().unwrap(), "run"])
                .env_remove("NOTIFY_SOCKET")
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_until(Duration::from_secs(300), "every delivery", || {
        rx.received().len() >= n
    });
    for c in &mut children {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let _ = c.wait();
    }
    let mut ms: Vec<f64> = rx
        .received()
        .iter()
        .map(|r| {
            let enqueued = r.json()["enqueued_at"].as_i64().unwrap();
            let at = r.at.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
            at - enqueued as f64
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let keys: HashSet<String> = rx
        .received()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "delivery latency on PostgreSQL, {daemons} daemon(s), {} alerts in one commit ({} requests): first {:.1} ms, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        keys.len(),
        ms.len(),
        q(0.0),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}
