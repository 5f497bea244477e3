//! A hostile fleet with the limits a user gets by default: stalling and dripping hosts among
//! healthy ones (each on its own loopback address, 127.0.0.x, since limits are per host), a
//! SIGTERM while bodies drip, and a 100,000-item document. Only the intervals, the grace and the
//! test's own timings are shortened; `concurrency`, `per_host_concurrency`, `timeout`,
//! `read_timeout`, `max_body_size`, `adaptive` and `slow_after` are the defaults.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::daemon::{Daemon, wait_until};

/// One feed of one healthy story, dated half an hour ago: adaptive scheduling calls it quiet
/// and polls it every 4 × `interval`.
fn healthy(server: &Server, path: &str, n: usize) {
    let host = server.url("");
    let host = host.trim_start_matches("http://");
    let guid = format!("{host}{path}-{n}");
    let link = format!("https://h.example/{host}{path}/{n}");
    server.route(
        path,
        Reply::feed(&rss(&[(&guid, "A healthy story", &link, "")]), "\"1\""),
    );
}

fn feed_entry(name: &str, url: &str) -> String {
    format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n")
}

/// Healthy feeds on 4 hosts, 5 each, beside one feed on each of those hosts that stalls after its
/// headers and one that drips; hostile feeds on `hostile_hosts` other hosts, 3 each: one stalls
/// before its headers, one after them, one drips a byte every 500 ms.
struct Fleet {
    healthy: Vec<(Server, String)>,
    hostile: Vec<Server>,
    config: String,
}

fn fleet(first_ip: u8, hostile_hosts: u8, defaults: &str) -> Fleet {
    let mut config = format!("[defaults]\n{defaults}");
    let mut healthy_feeds = Vec::new();
    for h in 0..4u8 {
        let server = Server::start_on(&format!("127.0.0.{}", first_ip + h));
        for f in 0..5 {
            let path = format!("/ok{f}");
            healthy(&server, &path, 0);
            config.push_str(&feed_entry(&format!("ok-{h}-{f}"), &server.url(&path)));
            healthy_feeds.push((server.clone(), path));
        }
        for (path, reply) in [
            ("/stall", Reply::Stall),
            ("/drip", Reply::Drip(Duration::from_millis(500))),
        ] {
            server.route(path, reply);
            config.push_str(&feed_entry(&format!("bad-ok-{h}{path}"), &server.url(path)));
        }
    }
    let mut hostile = Vec::new();
    for h in 0..hostile_hosts {
        let server = Server::start_on(&format!("127.0.0.{}", first_ip + 4 + h));
        for (path, reply) in [
            ("/silent", Reply::Silent),
            ("/stall", Reply::Stall),
            ("/drip", Reply::Drip(Duration::from_millis(500))),
        ] {
            server.route(path, reply);
            config.push_str(&feed_entry(&format!("bad-{h}{path}"), &server.url(path)));
        }
        hostile.push(server);
    }
    Fleet {
        healthy: healthy_feeds,
        hostile,
        config,
    }
}

/// Intervals between a feed's consecutive requests that both arrived in `window`.
fn intervals(server: &Server, path: &str, window: std::ops::Range<Instant>) -> Vec<f64> {
    let at: Vec<Instant> = server
        .requests(path)
        .iter()
        .map(|r| r.at)
        .filter(|t| window.contains(t))
        .collect();
    at.windows(2).map(|p| (p[1] - p[0]).as_secs_f64()).collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// What the daemon logged of one poll's admission (`admitted`, at debug): the feed, and how long
/// it waited for a first fetch's share, for its host and for a slot (ms).
struct Admitted {
    feed: String,
    waited_ms: u64,
    line: String,
}

fn admissions(log: &str) -> Vec<Admitted> {
    let field = |line: &str, name: &str| -> Option<String> {
        let at = line.find(&format!("{name}="))? + name.len() + 1;
        let rest = &line[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '}' || c == ':')
            .unwrap_or(rest.len());
        Some(rest[..end].trim_matches('"').to_owned())
    };
    log.lines()
        .filter(|l| l.contains("admitted"))
        .filter_map(|l| {
            let ms = |name| field(l, name).and_then(|v| v.parse::<u64>().ok());
            Some(Admitted {
                feed: field(l, "feed")?,
                waited_ms: ms("first_wait_ms")? + ms("host_wait_ms")? + ms("slot_wait_ms")?,
                line: l.to_owned(),
            })
        })
        .collect()
}

/// 8 hosts that stall or drip hold 24 feeds, more than the 16 default fetch slots, and each
/// healthy host has a stalling and a dripping feed of its own, as many as its 2 slots; before the
/// fix their polls held every slot for up to 45 s and the healthy feeds' polls waited behind
/// them. Now a host's queued polls wait for the host, not on fetch slots, a poll still fetching
/// after 5 s leaves its slots for the slow lane (one slot a host), and slow and failing feeds
/// use only the slow lane: the healthy feeds keep their schedule (each feed's median interval
/// within 25% of its schedule), and no poll of a healthy feed after its first waited for a slot
/// as long as `slow_after`, by the daemon's own account of each poll's waits (a wall-clock bound
/// on the worst interval failed on a machine loaded by other builds, where every step is slow).
#[test]
fn stalling_and_dripping_hosts_do_not_starve_healthy_feeds() {
    let fleet = fleet(
        20,
        8,
        "interval = \"500ms\"\nmin_interval = \"500ms\"\nshutdown_grace = \"1s\"\n",
    );
    let ws = Workspace::new(&fleet.config);
    let d = Daemon::start_with(&ws, &["--log-level", "info,newshound::poll=debug"]);
    let start = Instant::now();
    let measured_to = start + Duration::from_secs(32);
    std::thread::sleep(measured_to - start);
    let log_path = ws.dir.path().join("daemon.log");
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    let admitted = admissions(&std::fs::read_to_string(log_path).unwrap());

    let db = rusqlite::Connection::open(ws.db()).unwrap();
    let mut worst = (0.0f64, String::new());
    let mut last_first = Duration::ZERO;
    for (server, path) in &fleet.healthy {
        // From its first poll on: a feed not fetched yet may wait for its host's stalling and
        // dripping feeds to be found out (5 s each); feeds seen fast never wait for them.
        let first = server.requests(path).first().map_or(measured_to, |r| r.at);
        last_first = last_first.max(first - start);
        let gaps = intervals(server, path, first..measured_to);
        let url = server.url(path);
        let (name, interval, reason): (String, i64, String) = db
            .query_row(
                "SELECT name, poll_interval, schedule_reason FROM feeds WHERE url = ?1",
                [&url],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        // The schedule: 2 s (quiet: 4 × 500 ms), plus up to 10% jitter.
        assert_eq!(interval, 2, "{url}: {reason}");
        let scheduled = 2.0 * 1.05;
        assert!(
            gaps.len() >= 3,
            "{url} was polled {} times, first {:?} after the start",
            gaps.len() + 1,
            first - start
        );
        let m = median(gaps.clone());
        assert!(
            (scheduled * 0.75..=scheduled * 1.25).contains(&m),
            "{url}: median interval {m:.2} s against {scheduled:.2} s scheduled ({reason}); intervals {gaps:.2?}"
        );
        let max = gaps.iter().copied().fold(0.0, f64::max);
        if max > worst.0 {
            worst = (max, url.clone());
        }
        let polls: Vec<&Admitted> = admitted.iter().filter(|a| a.feed == name).collect();
        assert!(
            polls.len() > gaps.len(),
            "{name}: {} admissions logged for {} polls",
            polls.len(),
            gaps.len() + 1
        );
        for a in &polls[1..] {
            assert!(
                a.waited_ms < 5000,
                "{name} waited {} ms for slots after its first poll: {}",
                a.waited_ms,
                a.line
            );
        }
    }
    eprintln!(
        "healthy feeds: every one first polled within {last_first:?}, then at most {:.2} s apart ({})",
        worst.0, worst.1
    );
    // Every hostile host was asked; their later polls queue in the slow lane, not for slots.
    assert!(fleet.hostile.iter().all(|s| !s.all_requests().is_empty()));
    let failing: i64 = db
        .query_row(
            "SELECT count(*) FROM feeds WHERE name LIKE 'bad-%' AND last_error_class = 'timeout'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(failing > 0, "no hostile feed failed with a timeout");
}

/// `once` with feeds that timed out last time and still stall, more of them than the polls
/// `once` keeps started (twice `concurrency`), listed before healthy feeds. Before the fix, their
/// history sent them all to the slow lane (a quarter of `concurrency`, one slot a host), where
/// they waited for each other, each for its `read_timeout`, while filling the window of started
/// polls, so the healthy feeds after them were not even started: 12 stalls cost `once` 12 × 3 s.
/// Now `once` polls every feed in the fetch slots: a stall leaves its fetch slot for probation
/// after `slow_after` / 5 and at `slow_after` moves to the slow lane or fails, and no feed waits
/// for the slow lane.
#[test]
fn once_does_not_queue_stalling_feeds_for_the_slow_lane() {
    let mut config =
        String::from("[defaults]\nconcurrency = 4\nslow_after = \"1s\"\nread_timeout = \"3s\"\n");
    let mut stalling = Vec::new();
    for h in 0..4u8 {
        let server = Server::start_on(&format!("127.0.0.{}", 80 + h));
        for f in 0..3 {
            let path = format!("/stall{f}");
            server.route(&path, Reply::Stall);
            config.push_str(&feed_entry(&format!("stall-{h}-{f}"), &server.url(&path)));
        }
        stalling.push(server);
    }
    let ok = Server::start_on("127.0.0.84");
    for f in 0..6 {
        let path = format!("/ok{f}");
        healthy(&ok, &path, 0);
        config.push_str(&feed_entry(&format!("ok-{f}"), &ok.url(&path)));
    }
    let ws = Workspace::new(&config);
    // The first run finds the stalls out: each times out.
    let first = ws.run(&["once"]);
    assert_eq!(first.code, 10, "{}", first.stderr);
    let db = rusqlite::Connection::open(ws.db()).unwrap();
    let timed_out = |db: &rusqlite::Connection| -> i64 {
        db.query_row(
            "SELECT count(*) FROM feeds WHERE name LIKE 'stall-%' AND last_error_class = 'timeout'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(timed_out(&db), 12);
    // The second run: their history says slow.
    let second = ws.run(&["once"]);
    assert_eq!(second.code, 10, "{}", second.stderr);
    assert_eq!(timed_out(&db), 12);
    let mut rows = db
        .prepare("SELECT name, last_error_class, coalesce(last_error, ''), schedule_reason FROM feeds ORDER BY name")
        .unwrap();
    let rows: Vec<(String, Option<String>, String, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut moved = 0;
    for (name, class, error, reason) in &rows {
        assert!(
            !reason.contains("for the slow lane"),
            "{name} waited for the slow lane: {reason} ({error})"
        );
        if name.starts_with("ok-") {
            assert_eq!(class, &None, "{name}: {error}");
        } else if reason.contains("moved to the slow lane") {
            moved += 1;
        } else {
            assert!(
                error.contains("while the slow lane was full"),
                "{name} neither moved to the slow lane nor failed at slow_after: {error} ({reason})"
            );
        }
    }
    // The slow lane has one slot (a quarter of 4) and each stall holds it for its read_timeout.
    assert!(moved < 12, "every stall waited out its read_timeout");
    assert_eq!(
        ok.all_requests().len(),
        6 + 6,
        "each healthy feed fetched once a run"
    );
}

/// SIGTERM while bodies drip, headers stall and healthy feeds are due: the daemon starts no
/// request once it handled the signal, cancels what still runs at `shutdown_grace`, commits what finished,
/// and exits 0 within grace + 1 s. Before the fix it started ~80 requests after the signal and
/// exited when the last drip timed out (45 s).
#[test]
fn sigterm_during_slow_bodies_exits_within_grace_and_starts_nothing_after() {
    let fleet = fleet(
        40,
        3,
        "interval = \"500ms\"\nmin_interval = \"500ms\"\nshutdown_grace = \"2s\"\n",
    );
    let ws = Workspace::new(&fleet.config);
    let d = Daemon::start_with(&ws, &["--log-level", "info,newshound::poll=debug"]);
    // Every hostile host has a poll in flight, and every healthy feed was polled.
    wait_until(Duration::from_secs(20), "every feed asked", || {
        fleet.hostile.iter().all(|s| {
            ["/silent", "/stall", "/drip"]
                .iter()
                .any(|p| !s.requests(p).is_empty())
        }) && fleet.healthy.iter().all(|(s, p)| !s.requests(p).is_empty())
    });
    std::thread::sleep(Duration::from_secs(1));
    // Exit 0, and from "stopping" to "stopped" within the grace + 1 s, measured in the daemon's
    // own log (the signal's delivery and the process's exit are the kernel's scheduling).
    d.stop_within_grace(Duration::from_secs(2), Duration::from_secs(30));
    // No poll was admitted to fetch after the daemon logged "stopping" (it does so once no poll
    // can start): the daemon's own order of events, not the test server's clock, which on a
    // loaded machine saw requests sent before the signal was handled arrive a while after it
    // was sent. Each request the servers saw was an admitted poll, so none escaped the count.
    let log = std::fs::read_to_string(ws.dir.path().join("daemon.log")).unwrap();
    let stopping = log
        .find("newshound::daemon: stopping: no poll starts")
        .expect("a stopping line");
    let late: Vec<&str> = log[stopping..]
        .lines()
        .filter(|l| l.contains("admitted"))
        .collect();
    assert!(late.is_empty(), "polls admitted after stopping: {late:#?}");
    let admitted = admissions(&log[..stopping]).len();
    let mut servers: Vec<&Server> = fleet.hostile.iter().collect();
    for (s, _) in &fleet.healthy {
        if !servers.iter().any(|k| k.url("") == s.url("")) {
            servers.push(s);
        }
    }
    let requests: usize = servers.iter().map(|s| s.all_requests().len()).sum();
    assert!(
        requests <= admitted,
        "{requests} requests seen, {admitted} polls admitted"
    );
    // What finished was committed: every healthy feed's story is stored.
    let db = rusqlite::Connection::open(ws.db()).unwrap();
    let stored: i64 = db
        .query_row(
            "SELECT count(*) FROM items WHERE url LIKE 'https://h.example/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 20, "healthy stories stored");
}

/// A second signal during the grace exits at once (130), whatever is in flight.
#[test]
fn a_second_signal_exits_at_once() {
    let server = Server::start_on("127.0.0.60");
    server.route("/drip", Reply::Drip(Duration::from_millis(500)));
    let ws = Workspace::new(&format!(
        "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\n{}",
        feed_entry("drip", &server.url("/drip"))
    ));
    let mut d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "the drip requested", || {
        !server.requests("/drip").is_empty()
    });
    d.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    d.signal(libc::SIGTERM);
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still running after a second signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
}

/// Peak resident memory of a process (MiB), from the kernel's high-water mark.
fn peak_rss(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// A 100,000-item document of undated items (about 9 MB, under the default 16 MiB cap): the
/// first 1,000 are kept, the daemon's peak memory stays under the documented bound, and the
/// undated backlog does not make adaptive polling call the feed busy. Before the fix, feed-rs
/// built all 100,000 entries (peak ~280 MB) and the feed was re-polled at `min_interval`.
#[test]
fn a_100k_item_document_is_read_in_bounded_memory_and_is_not_called_busy() {
    let server = Server::start_on("127.0.0.61");
    let mut doc = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title><link>https://huge.example/</link>",
    );
    for i in 0..100_000 {
        doc.push_str(&format!(
            "<item><guid>huge-{i}</guid><title>Story number {i}</title><link>https://huge.example/{i}</link><description>Some words about story {i}.</description></item>"
        ));
    }
    doc.push_str("</channel></rss>");
    // No validators: every poll reads the whole document again.
    server.route(
        "/huge",
        Reply::Feed {
            body: doc.clone().into_bytes(),
            content_type: "application/rss+xml",
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    let ws = Workspace::new(&format!(
        "[defaults]\ninterval = \"2s\"\nmin_interval = \"1s\"\nshutdown_grace = \"1s\"\n{}",
        feed_entry("huge", &server.url("/huge"))
    ));
    let d = Daemon::start(&ws);
    let db_path = ws.db();
    let polled = || {
        rusqlite::Connection::open(&db_path)
            .and_then(|db| {
                db.query_row(
                    "SELECT schedule_reason FROM feeds WHERE name = 'huge'",
                    [],
                    |r| r.get::<_, Option<String>>(0),
                )
            })
            .ok()
            .flatten()
    };
    wait_until(Duration::from_secs(60), "the huge feed polled", || {
        polled().is_some()
    });
    let first = polled().unwrap();
    // The second poll sees the same 1,000 undated items: still no rate.
    wait_until(
        Duration::from_secs(60),
        "the huge feed polled again",
        || server.requests("/huge").len() >= 2,
    );
    wait_until(Duration::from_secs(60), "the second poll recorded", || {
        server.requests("/huge").len() >= 3 || polled().is_some_and(|r| r != first)
    });
    let peak = peak_rss(d.child.id()).unwrap();
    let reason = polled().unwrap();
    assert!(!first.contains("busy"), "first schedule: {first}");
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    let db = rusqlite::Connection::open(ws.db()).unwrap();
    let items: i64 = db
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    eprintln!(
        "100k-item document ({} bytes): peak RSS {peak:.1} MiB, {items} items kept, schedule: {reason}",
        doc.len()
    );
    assert_eq!(items, 1000);
    assert!(!reason.contains("busy"), "schedule: {reason}");
    let interval: i64 = db
        .query_row(
            "SELECT poll_interval FROM feeds WHERE name = 'huge'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        interval >= 2,
        "polled every {interval} s, more often than its 2 s interval ({reason})"
    );
    assert!(peak <= 64.0, "peak RSS {peak:.1} MiB");
}

/// A document of `n` entries each carrying about 16 KB of HTML: in CDATA, escaped, or as a JSON
/// Feed's `content_html`. Every byte is content newshound keeps (up to 64 KB of text an item),
/// so cutting entries cannot help; only what the parse builds beside the body can be bounded.
fn large_entries(kind: &str, tag: usize, n: usize) -> (Vec<u8>, &'static str) {
    let words = "Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit. ".repeat(250);
    let html = |i: usize| format!("<p>Story {i} of feed {tag}. {words}</p>");
    let mut doc = String::new();
    let content_type = match kind {
        "json" => {
            doc.push_str(
                "{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"J\", \"items\": [",
            );
            for i in 0..n {
                let item = serde_json::json!({"id": format!("{tag}-{i}"), "title": format!("Story {i} of feed {tag}"), "content_html": html(i)});
                doc.push_str(&item.to_string());
                doc.push(if i + 1 < n { ',' } else { ']' });
            }
            doc.push('}');
            "application/feed+json"
        }
        _ => {
            doc.push_str("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Large</title><link>https://large.example/</link>");
            for i in 0..n {
                let description = if kind == "cdata" {
                    format!("<![CDATA[{}]]>", html(i))
                } else {
                    esc(&html(i))
                };
                doc.push_str(&format!(
                    "<item><guid>{tag}-{i}</guid><title>Story {i} of feed {tag}</title><description>{description}</description></item>"
                ));
            }
            doc.push_str("</channel></rss>");
            "application/rss+xml"
        }
    };
    (doc.into_bytes(), content_type)
}

/// Four documents of 600 entries of 16 KB HTML (10 MB each: CDATA, escaped twice, JSON Feed),
/// each on its own host, polled at once and again, with the default limits: peak RSS stays
/// under the documented 64 MiB. Before the fix the 24 MiB body budget let two of them in at a
/// time, and each parse held about three times its document (feed-rs kept a second copy of the
/// XML in its event buffer, its strings grown by doubling; a JSON document was also built as a
/// `serde_json::Value` beside feed-rs's model): well over 100 MiB.
#[test]
fn documents_of_large_entries_at_once_stay_under_the_memory_bound() {
    let mut config = String::from(
        "[defaults]\ninterval = \"2s\"\nmin_interval = \"1s\"\nshutdown_grace = \"1s\"\n",
    );
    let mut servers = Vec::new();
    for (i, kind) in ["cdata", "escaped", "escaped", "json"]
        .into_iter()
        .enumerate()
    {
        let server = Server::start_on(&format!("127.0.0.{}", 70 + i));
        let (body, content_type) = large_entries(kind, i, 600);
        // No validators: every poll reads and parses the whole document again.
        server.route(
            "/large",
            Reply::Feed {
                body,
                content_type,
                etag: None,
                last_modified: None,
                gzip: false,
            },
        );
        config.push_str(&feed_entry(&format!("large-{i}"), &server.url("/large")));
        servers.push(server);
    }
    let ws = Workspace::new(&config);
    let d = Daemon::start(&ws);
    let db_path = ws.db();
    let stored = || {
        rusqlite::Connection::open(&db_path)
            .and_then(|db| db.query_row("SELECT count(*) FROM items", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    // The heap's peak, sampled: a debug binary maps more of itself than a release one (its
    // file-backed pages), so the whole RSS is compared with the bound only in release figures
    // (docs/testing.md); the heap is what the limits bound in either.
    let mut heap_peak = 0.0f64;
    wait_until(
        Duration::from_secs(180),
        "every document stored and read twice",
        || {
            heap_peak = heap_peak.max(rss_anon(d.child.id()).unwrap_or(0.0));
            stored() >= 2400 && servers.iter().all(|s| s.requests("/large").len() >= 3)
        },
    );
    let peak = peak_rss(d.child.id()).unwrap();
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    eprintln!(
        "four 10 MB documents of large entries: peak RSS {peak:.1} MiB, heap (anonymous) peak sampled {heap_peak:.1} MiB"
    );
    assert_eq!(stored(), 2400);
    assert!(heap_peak <= HEAP_BOUND_MIB, "heap peak {heap_peak:.1} MiB");
}

/// What the default limits let the heap reach: the body budget (24 MiB), the parse expansion
/// budget (1½ × 16 MiB) and the runtime's and the store's own (about 10 MiB with these 2,400
/// items, more on a loaded machine, where polls wait longer for the writer); the binary's mapped
/// pages come on top (docs/testing.md, "Peak memory").
const HEAP_BOUND_MIB: f64 = 64.0;

/// The process's anonymous resident memory (MiB): its heap and stacks, not its mapped binary.
fn rss_anon(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
