//! `newshound run`: the real daemon against a loopback server, with second-scale intervals.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub(crate) struct Daemon {
    pub(crate) child: Child,
    log: std::path::PathBuf,
}

impl Daemon {
    pub(crate) fn start(ws: &Workspace) -> Daemon {
        Daemon::start_with(ws, &[])
    }

    /// As `start`, with global options before `run` (`--log-level`).
    pub(crate) fn start_with(ws: &Workspace, options: &[&str]) -> Daemon {
        let log = ws.dir.path().join("daemon.log");
        let child = Command::new(bin())
            .args(["--config", ws.config.to_str().unwrap()])
            .args(options)
            .arg("run")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("NEWSHOUND_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    pub(crate) fn log(&self) -> String {
        let mut s = String::new();
        std::fs::File::open(&self.log)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Sends SIGTERM and waits for the exit status, at most `within`.
    pub(crate) fn stop(mut self, within: Duration) -> (i32, Duration) {
        let t = Instant::now();
        self.signal(libc::SIGTERM);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), t.elapsed());
            }
            assert!(
                t.elapsed() < within,
                "daemon did not stop within {within:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Daemon {
    /// Sends SIGTERM and checks the shutdown promise (README, "Signals"): the process exits 0
    /// within `shutdown_grace` + 1 s. The interval measured is the daemon's own, from its
    /// "stopping" log line (the signal handled, the grace's deadline set) to its "stopped" line
    /// (everything joined or given up): that is the part the daemon decides. Before it, the
    /// signal's delivery, and after it, the process's exit, are the kernel's scheduling, not the
    /// daemon's to bound (measured from the signal, this check failed at load ~20 on two cores);
    /// the wall-clock wait is bounded only as a hang detector (`within`), and reported.
    pub(crate) fn stop_within_grace(self, grace: Duration, within: Duration) {
        let log_path = self.log.clone();
        let (code, took) = self.stop(within);
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert_eq!(code, 0, "{log}");
        let at = |marker: &str| {
            let line = log
                .lines()
                .rfind(|l| l.contains(marker))
                .unwrap_or_else(|| panic!("no {marker:?} line in the log:\n{log}"));
            let stamp = line.split_whitespace().next().unwrap_or_default();
            chrono::DateTime::parse_from_rfc3339(stamp)
                .unwrap_or_else(|e| panic!("no timestamp in {line:?}: {e}"))
        };
        let stopping = at("newshound::daemon: stopping: no poll starts");
        let stopped = at("newshound::daemon: stopped");
        let decided = (stopped - stopping)
            .to_std()
            .unwrap_or_else(|_| panic!("\"stopped\" logged before \"stopping\"\n{log}"));
        assert!(
            decided <= grace + Duration::from_secs(1),
            "the daemon took {decided:?} from stopping to stopped, beyond its grace of {grace:?} + 1 s \
             ({took:?} from the signal to the exit)\n{log}"
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `cond` holds, at most `limit`; the condition's description goes in the panic.
pub(crate) fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const FAST: &str = "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nshutdown_grace = \"3s\"\ntimeout = \"3s\"\nadaptive = false\n";

fn alerts_in(ws: &Workspace) -> usize {
    json_lines(&ws.run(&["alerts", "--json"]).stdout).len()
}

#[test]
fn new_items_published_while_running_are_stored_and_alerted_once() {
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(
            &rss(&[("1", "Quiet day", "https://n.example/1", "")]),
            "\"1\"",
        ),
    );
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\n",
        server.url("/a")
    ));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "the first poll", || {
        !server.requests("/a").is_empty() && ws.db().exists()
    });
    server.route(
        "/a",
        Reply::feed(
            &rss(&[
                ("1", "Quiet day", "https://n.example/1", ""),
                ("2", "Summit planned", "https://n.example/2", ""),
            ]),
            "\"2\"",
        ),
    );
    wait_until(Duration::from_secs(10), "the alert", || {
        d.log().contains("topic=summit")
    });
    // Several more polls: still one alert, and conditional requests.
    let seen = server.requests("/a").len();
    wait_until(Duration::from_secs(10), "three more polls", || {
        server.requests("/a").len() >= seen + 3
    });
    assert_eq!(
        d.log().matches("newshound::alert").count(),
        1,
        "{}",
        d.log()
    );
    assert!(
        server
            .requests("/a")
            .last()
            .unwrap()
            .headers
            .contains_key("if-none-match")
    );
    d.stop_within_grace(Duration::from_secs(3), Duration::from_secs(30));
    assert_eq!(alerts_in(&ws), 1);
}

#[test]
fn retry_after_is_respected_and_a_failing_feed_does_not_slow_the_others() {
    let server = Server::start();
    server.route(
        "/busy",
        Reply::Status(429, vec![("Retry-After".into(), "60".into())]),
    );
    server.route("/down", Reply::Status(500, vec![]));
    server.route(
        "/ok",
        Reply::feed(&rss(&[("1", "x", "https://n.example/x", "")]), "\"1\""),
    );
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"busy\"\nurl = \"{}\"\n[[feeds]]\nname = \"down\"\nurl = \"{}\"\n[[feeds]]\nname = \"ok\"\nurl = \"{}\"\n",
        server.url("/busy"),
        server.url("/down"),
        server.url("/ok")
    ));
    let d = Daemon::start(&ws);
    wait_until(
        Duration::from_secs(15),
        "five polls of the healthy feed",
        || server.requests("/ok").len() >= 5,
    );
    assert_eq!(
        server.requests("/busy").len(),
        1,
        "polled again before Retry-After"
    );
    // Backoff: 1s, 2s, 4s... so the failing feed is polled fewer times than the healthy one.
    assert!(
        server.requests("/down").len() < server.requests("/ok").len(),
        "{} vs {}",
        server.requests("/down").len(),
        server.requests("/ok").len()
    );
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    let busy = feeds.iter().find(|f| f["name"] == "busy").unwrap();
    assert_eq!(busy["schedule_reason"], "retry-after", "{busy}");
    let down = feeds.iter().find(|f| f["name"] == "down").unwrap();
    assert_eq!(down["schedule_reason"], "backoff", "{down}");
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_old_one_on_errors() {
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(&rss(&[("1", "a", "https://n.example/a", "")]), "\"a\""),
    );
    server.route(
        "/b",
        Reply::feed(&rss(&[("1", "b", "https://n.example/b", "")]), "\"b\""),
    );
    let feed = |name: &str| {
        format!(
            "[[feeds]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url(&format!("/{name}"))
        )
    };
    let ws = Workspace::new(&format!("{FAST}{}", feed("a")));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "feed a polled", || {
        !server.requests("/a").is_empty()
    });

    // An invalid config: rejected with the check errors, the old feed keeps being polled.
    std::fs::write(
        &ws.config,
        "[storage]\npath = \"db.sqlite\"\n[[feeds]]\nurl = \"ftp://nope/\"\n",
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(10), "the reload error", || {
        d.log().contains("reload failed")
    });
    assert!(d.log().contains("unsupported URL scheme"), "{}", d.log());
    let before = server.requests("/a").len();
    wait_until(Duration::from_secs(10), "feed a still polled", || {
        server.requests("/a").len() >= before + 2
    });

    // A valid config adding feed b.
    std::fs::write(
        &ws.config,
        format!(
            "[storage]\npath = \"db.sqlite\"\n{FAST}{}{}",
            feed("a"),
            feed("b")
        ),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(10), "feed b polled", || {
        !server.requests("/b").is_empty()
    });
    assert!(d.log().contains("config reloaded"), "{}", d.log());
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}

#[test]
fn sigterm_while_polling_exits_cleanly_and_a_restart_loses_and_duplicates_nothing() {
    let server = Server::start();
    let items: Vec<(String, String)> = (0..30)
        .map(|i| (format!("g{i}"), format!("https://n.example/{i}")))
        .collect();
    let list: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(g, u)| (g.as_str(), "Story", u.as_str(), ""))
        .collect();
    server.route("/a", Reply::feed(&rss(&list), "\"1\""));
    server.route("/slow", Reply::Stall);
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[feeds]]\nname = \"slow\"\nurl = \"{}\"\n",
        server.url("/a"),
        server.url("/slow")
    ));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "the slow poll in flight", || {
        !server.requests("/slow").is_empty() && !server.requests("/a").is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    d.stop_within_grace(Duration::from_secs(3), Duration::from_secs(30));
    let count = json_lines(&ws.run(&["items", "--json", "--limit", "1000"]).stdout).len();
    assert_eq!(count, 30);
    let before = server.requests("/a").len();
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "a poll after restart", || {
        server.requests("/a").len() > before
    });
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
    assert_eq!(
        json_lines(&ws.run(&["items", "--json", "--limit", "1000"]).stdout).len(),
        30
    );
    let wal = ws.dir.path().join("db.sqlite-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL checkpointed at exit"
    );
}

#[test]
fn cache_control_max_age_and_gone_feeds_are_respected() {
    let server = Server::start();
    server.route(
        "/cached",
        Reply::FeedWith(
            rss(&[("1", "x", "https://n.example/c", "")]),
            vec![("Cache-Control".into(), "max-age=60".into())],
        ),
    );
    server.route("/gone", Reply::Status(410, vec![]));
    server.route(
        "/ok",
        Reply::feed(&rss(&[("1", "x", "https://n.example/o", "")]), "\"1\""),
    );
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"cached\"\nurl = \"{}\"\n[[feeds]]\nname = \"gone\"\nurl = \"{}\"\n[[feeds]]\nname = \"ok\"\nurl = \"{}\"\n",
        server.url("/cached"),
        server.url("/gone"),
        server.url("/ok")
    ));
    let d = Daemon::start(&ws);
    wait_until(
        Duration::from_secs(15),
        "four polls of the healthy feed",
        || server.requests("/ok").len() >= 4,
    );
    assert_eq!(
        server.requests("/cached").len(),
        1,
        "polled again within max-age"
    );
    assert_eq!(
        server.requests("/gone").len(),
        1,
        "a gone feed is not polled again"
    );
    assert_eq!(
        d.log().matches("feed is gone").count(),
        1,
        "logged once:\n{}",
        d.log()
    );
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    let gone = feeds.iter().find(|f| f["name"] == "gone").unwrap();
    assert!(gone["dead_since"].is_string(), "{gone}");
    assert!(
        ws.run(&["feeds"])
            .stdout
            .contains("gone:           HTTP 410")
    );
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
    // A restart does not poll it either.
    let d = Daemon::start(&ws);
    let before = server.requests("/ok").len();
    wait_until(
        Duration::from_secs(10),
        "two more polls of the healthy feed",
        || server.requests("/ok").len() >= before + 2,
    );
    assert_eq!(server.requests("/gone").len(), 1);
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}

#[test]
fn a_permanent_redirect_is_adopted_after_three_polls() {
    let server = Server::start();
    server.route("/old", Reply::Redirect(301, "/new".into()));
    server.route(
        "/new",
        Reply::feed(&rss(&[("1", "x", "https://n.example/m", "")]), "\"1\""),
    );
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"m\"\nurl = \"{}\"\n",
        server.url("/old")
    ));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(15), "two polls after adoption", || {
        server.requests("/new").len() >= 5
    });
    assert_eq!(
        server.requests("/old").len(),
        3,
        "the old URL is left after three permanent redirects"
    );
    assert!(d.log().contains("feed moved permanently"), "{}", d.log());
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    assert_eq!(feeds[0]["adopted_url"], server.url("/new"));
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}

#[test]
fn requests_to_one_host_are_spaced() {
    let server = Server::start();
    // Eight feeds, one host, 300 ms apart: a round takes 2.4 s, so the host's queue backs up.
    let mut cfg = format!("{FAST}host_spacing = \"300ms\"\n");
    for i in 0..8 {
        server.route(
            &format!("/f{i}"),
            Reply::feed(
                &rss(&[("1", "x", &format!("https://n.example/{i}"), "")]),
                "\"1\"",
            ),
        );
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"f{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/f{i}"))
        ));
    }
    let ws = Workspace::new(&cfg);
    let d = Daemon::start(&ws);
    // Every feed polled: feeds not yet seen fast enter a host's queue one at a time (poll.rs).
    wait_until(Duration::from_secs(20), "every feed requested", || {
        (0..8).all(|i| !server.requests(&format!("/f{i}")).is_empty())
    });
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    assert!(
        feeds.iter().any(|f| f["schedule_reason"]
            .as_str()
            .is_some_and(|r| r.contains("host queue"))),
        "some feed waited behind the others on the one host: {feeds:?}"
    );
    // The daemon starts requests 300 ms apart; what reaches the server also carries the time
    // from a start to the request's arrival (connecting, a busy machine's scheduling), which
    // differs from one request to the next by a few milliseconds, and by tens with every test
    // running at once on two cores (CI once saw 276 ms when starts were claimed ahead, and 237 ms
    // was seen at load average 14). Unspaced requests arrive within a few milliseconds of each
    // other, so two thirds of the spacing still tells spacing from none.
    let mut times: Vec<_> = server.all_requests().iter().map(|r| r.at).collect();
    times.sort();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(200),
            "two requests {gap:?} apart"
        );
    }
}

#[test]
fn systemd_notify_ready_watchdog_reload_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(&rss(&[("1", "x", "https://n.example/a", "")]), "\"1\""),
    );
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"a\"\nurl = \"{}\"\n",
        server.url("/a")
    ));
    let sock_path = ws.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(["--config", ws.config.to_str().unwrap(), "run"])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut messages = Vec::new();
    let recv_until = |messages: &mut Vec<String>, what: &str, limit: Duration| {
        let t = Instant::now();
        let mut buf = [0u8; 4096];
        while !messages.iter().any(|m: &String| m.contains(what)) {
            assert!(
                t.elapsed() < limit,
                "no {what} within {limit:?}: {messages:?}"
            );
            if let Ok(n) = sock.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    recv_until(&mut messages, "READY=1", Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("STATUS=watching 1 feeds")),
        "{messages:?}"
    );
    recv_until(&mut messages, "WATCHDOG=1", Duration::from_secs(3));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    recv_until(&mut messages, "RELOADING=1", Duration::from_secs(5));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    recv_until(&mut messages, "STOPPING=1", Duration::from_secs(5));
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// A long-run knob from the environment (README, "Reliability"), or the suite's default.
fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Crash consistency: the daemon is killed with SIGKILL at pseudo-random moments while the
/// feeds change under it; after every restart the database is intact, nothing stored before is
/// missing, no item is stored twice, and no alert is logged twice across all the runs. At the
/// end one clean run must find every item ever published: had a crash committed a feed's
/// validators without its items, that run would get 304 and miss them.
///
/// The suite runs 10 kills over 50 feeds; `NEWSHOUND_CRASH_KILLS=50 NEWSHOUND_CRASH_FEEDS=200`
/// runs the long variant (README, "Reliability").
#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let server = Server::start();
    let feeds: usize = env("NEWSHOUND_CRASH_FEEDS", 50);
    let rounds: usize = env("NEWSHOUND_CRASH_KILLS", 10);
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let publish = |round: usize| {
        for f in 0..feeds {
            let items: Vec<(String, String, String)> = (0..=round)
                .map(|r| {
                    (
                        format!("f{f}-r{r}"),
                        format!("Summit story {f} round {r}"),
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
    let mut cfg =
        format!("{FAST}concurrency = 8\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\n");
    for f in 0..feeds {
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"f{f}\"\nurl = \"{}\"\n",
            server.url(&format!("/f{f}"))
        ));
    }
    let ws = Workspace::new(&cfg);
    let mut logged_alerts: Vec<i64> = Vec::new();
    let mut seen: std::collections::HashSet<String> = Default::default();
    for round in 0..rounds {
        publish(round);
        let mut d = Daemon::start(&ws);
        // The moments are counted from events, not from the process's start: from the database
        // being open (before it, a kill tests nothing, and the checks below would find no
        // tables) and, while nothing is stored yet, from the first alert logged, so that the
        // harness has something to lose whatever the machine's load (on a loaded machine the
        // first commit once came after 2 s, later than every kill).
        wait_until(Duration::from_secs(60), "the daemon running", || {
            d.log().contains("newshound running")
        });
        if seen.is_empty() {
            wait_until(Duration::from_secs(60), "a first alert", || {
                d.log().contains("newshound::alert")
            });
        }
        // Kill at a pseudo-random moment, 150 ms to 1.5 s after that (a fixed-seed LCG, so a
        // failure can be replayed).
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(150 + (rng >> 33) % 1350));
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        logged_alerts.extend(
            d.log()
                .lines()
                .filter(|l| l.contains("newshound::alert"))
                .filter_map(|l| {
                    l.split(" alert_id=")
                        .nth(1)
                        .and_then(|id| id.split_whitespace().next())
                        .and_then(|id| id.parse::<i64>().ok())
                }),
        );

        let db = rusqlite::Connection::open(ws.db()).unwrap();
        let ok: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok", "round {round}");
        let urls: Vec<String> = db
            .prepare("SELECT url FROM items")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let unique: std::collections::HashSet<&String> = urls.iter().collect();
        assert_eq!(
            unique.len(),
            urls.len(),
            "round {round}: an item stored twice"
        );
        for before in &seen {
            assert!(
                unique.contains(before),
                "round {round}: {before} was stored before the kill and is gone"
            );
        }
        seen = urls.into_iter().collect();
        // No alert is logged twice across restarts, and every logged alert is stored. (A kill
        // between a commit and its log line can leave a stored alert unlogged, never the reverse.)
        let stored: std::collections::HashSet<i64> = db
            .prepare("SELECT id FROM alerts")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut unique_logged = logged_alerts.clone();
        unique_logged.sort_unstable();
        unique_logged.dedup();
        assert_eq!(
            unique_logged.len(),
            logged_alerts.len(),
            "round {round}: an alert was logged twice"
        );
        assert!(
            logged_alerts.iter().all(|id| stored.contains(id)),
            "round {round}: a logged alert is not stored"
        );
    }
    assert!(!seen.is_empty());
    assert!(!logged_alerts.is_empty(), "the harness exercised alerts");
    // A clean run now finds everything ever published: no feed's validators got ahead of its items.
    // It is given a generous timeout: what it checks is what is stored, and a 3 s poll timeout on a
    // loaded machine (the whole suite beside it) could fail a feed for reasons of its own.
    let text = std::fs::read_to_string(&ws.config).unwrap();
    assert!(text.contains("timeout = \"3s\""));
    std::fs::write(
        &ws.config,
        text.replace("timeout = \"3s\"", "timeout = \"30s\""),
    )
    .unwrap();
    let clean = ws.run(&["once"]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let db = rusqlite::Connection::open(ws.db()).unwrap();
    let stored: i64 = db
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        stored as usize,
        feeds * rounds,
        "every published item is stored once"
    );
}

/// Samples a process's resident memory (MiB) and open file descriptors.
fn rss_and_fds(pid: u32) -> Option<(f64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((kib / 1024.0, fds))
}

/// A misbehaving fleet: a fifth of the feeds stall after their headers, drip a byte every two
/// seconds, answer 500, answer 429 with Retry-After, send garbage or an HTML page, redirect in a
/// loop, send a gzip bomb or an endless body; the rest are healthy and change now and then.
/// Healthy feeds keep their schedule, memory and descriptors stay bounded, each bad feed gets
/// its own error class, and the 429 feeds are not asked again before their Retry-After.
///
/// The suite runs 100 feeds for 12 s. The same harness is the soak test:
/// `NEWSHOUND_FLEET_FEEDS=1000 NEWSHOUND_FLEET_BAD_PERCENT=5 NEWSHOUND_FLEET_SECS=3600` (README,
/// "Reliability"); runs of 20 minutes or more also require RSS to grow less than 10% after the
/// first 10 minutes.
#[test]
fn a_misbehaving_fleet_does_not_starve_healthy_feeds_or_grow_without_bound() {
    let feeds: usize = env("NEWSHOUND_FLEET_FEEDS", 100);
    let bad_percent: usize = env("NEWSHOUND_FLEET_BAD_PERCENT", 20);
    let secs: u64 = env("NEWSHOUND_FLEET_SECS", 12);
    let interval: u64 = env("NEWSHOUND_FLEET_INTERVAL", 1).max(1);
    // Stories each healthy feed already has at the start (a backlog warms the database's caches).
    let backlog: u64 = env("NEWSHOUND_FLEET_BACKLOG", 0);
    let server = Server::start();
    let kinds: Vec<(&str, Reply, &str)> =
        vec![
        ("stall", Reply::Stall, "timeout"),
        ("drip", Reply::Drip(Duration::from_secs(2)), "timeout"),
        ("e500", Reply::Status(500, vec![]), "http_status"),
        (
            "e429",
            Reply::Status(429, vec![("Retry-After".into(), "5".into())]),
            "http_status",
        ),
        ("garbage", Reply::feed("\u{1}\u{2} not a feed at all", "\"g\""), "not_a_feed"),
        (
            "html",
            Reply::Feed {
                body: b"<!DOCTYPE html><html><head><title>Login</title></head><body>x</body></html>"
                    .to_vec(),
                content_type: "text/html",
                etag: None,
                last_modified: None,
                gzip: false,
            },
            "not_a_feed",
        ),
        ("loop", Reply::Redirect(302, String::new()), "redirect"),
        ("bomb", Reply::GzipBomb(16 << 20), "body_too_large"),
        ("endless", Reply::Endless, "body_too_large"),
    ];
    let bad = feeds * bad_percent / 100;
    let healthy_body = |f: usize, version: u64| {
        let items: Vec<(String, String, String)> = (0..=version)
            .map(|v| {
                (
                    format!("h{f}-{v}"),
                    format!("Healthy feed {f} story {v}"),
                    format!("https://h.example/{f}/{v}"),
                )
            })
            .collect();
        let list: Vec<(&str, &str, &str, &str)> = items
            .iter()
            .map(|(g, t, u)| (g.as_str(), t.as_str(), u.as_str(), ""))
            .collect();
        Reply::feed(&rss(&list), &format!("\"{version}\""))
    };
    let mut cfg = format!(
        "{}concurrency = 64\nper_host_concurrency = 64\nhost_spacing = \"0s\"\nmax_body_size = \"1MB\"\n",
        FAST.replace(
            "interval = \"1s\"\n",
            &format!("interval = \"{interval}s\"\n")
        )
    );
    let mut expected: Vec<(String, &str)> = Vec::new();
    for f in 0..feeds {
        let path = format!("/f{f}");
        if f < bad {
            let (kind, reply, class) = &kinds[f % kinds.len()];
            let reply = match reply {
                Reply::Redirect(code, _) => Reply::Redirect(*code, server.url(&path)),
                r => r.clone(),
            };
            server.route(&path, reply);
            expected.push((format!("{kind}{f}"), class));
            cfg.push_str(&format!(
                "[[feeds]]\nname = \"{kind}{f}\"\nurl = \"{}\"\n",
                server.url(&path)
            ));
        } else {
            server.route(&path, healthy_body(f, backlog));
            cfg.push_str(&format!(
                "[[feeds]]\nname = \"ok{f}\"\nurl = \"{}\"\n",
                server.url(&path)
            ));
        }
    }
    let ws = Workspace::new(&cfg);
    let d = Daemon::start(&ws);
    let pid = d.child.id();
    let started = Instant::now();
    let mut samples: Vec<(f64, f64, usize)> = Vec::new(); // (seconds, RSS MiB, fds)
    let mut version = backlog;
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        if let Some((rss, fds)) = rss_and_fds(pid) {
            let t = started.elapsed().as_secs_f64();
            // Long runs report a sample a minute: time, RSS, descriptors, WAL and database size.
            let minute = |s: f64| (s / 60.0) as u64;
            if secs >= 600 && samples.last().is_none_or(|s| minute(t) > minute(s.0)) {
                let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
                eprintln!(
                    "soak t={t:.0}s rss={rss:.1}MiB fds={fds} wal={} db={}",
                    size(ws.dir.path().join("db.sqlite-wal")),
                    size(ws.db())
                );
            }
            samples.push((t, rss, fds));
        }
        // Every 3 s a tenth of the healthy feeds publish a new story; on long runs, every minute
        // a thirtieth (for 1,000 feeds, about 45,000 stories a day: a busy real news day; the
        // writer keeps every story of its 48 h window in memory, so a faster rate grows RSS
        // by design, about 0.4 KB a story).
        let (every, share) = if secs >= 600 { (60, 30) } else { (3, 10) };
        let due = backlog + started.elapsed().as_secs() / every;
        if due > version {
            version = due;
            for f in (bad..feeds).filter(|f| (*f as u64 + version).is_multiple_of(share)) {
                server.route(&format!("/f{f}"), healthy_body(f, version));
            }
        }
    }
    let ended = Instant::now();
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    // The bounds below hold vacuously without samples (no /proc, or the daemon gone early).
    assert!(!samples.is_empty(), "no sample of the daemon's memory");

    let peak_rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let max_fds = samples.iter().map(|s| s.2).max().unwrap_or(0);
    let db_bytes = std::fs::metadata(ws.db()).map_or(0, |m| m.len());
    eprintln!(
        "fleet: {feeds} feeds ({bad} misbehaving) for {secs} s: peak RSS {peak_rss:.1} MiB, at most {max_fds} fds, {} requests, database {db_bytes} bytes",
        server.all_requests().len()
    );
    assert!(peak_rss <= 150.0, "peak RSS {peak_rss:.1} MiB");
    assert!(max_fds <= 64 + 64, "at most {max_fds} descriptors open");
    if secs >= 1200 {
        // The highest sample of the 11th minute against the highest of the last minute, so one
        // sample's allocator jitter decides nothing.
        let max_in = |from: f64, to: f64| {
            samples
                .iter()
                .filter(|s| (from..to).contains(&s.0))
                .map(|s| s.1)
                .fold(0.0, f64::max)
        };
        let at_10_min = max_in(600.0, 660.0);
        let last = max_in(secs as f64 - 60.0, f64::MAX);
        eprintln!("soak: RSS {at_10_min:.1} MiB in the 11th minute, {last:.1} MiB in the last");
        assert!(
            last < at_10_min * 1.10,
            "RSS grew from {at_10_min:.1} to {last:.1} MiB after the first 10 minutes"
        );
    }

    // Healthy feeds kept their schedule, counted from each one's first poll: the daemon's
    // start-up (a debug build opening the database and reading 100 feeds' config) is not the
    // schedule, and on a loaded machine it eats into a 12 s run. At least one poll per three
    // intervals after the first allows for a busy machine (the hostile fleet test holds the
    // schedule to 25%).
    for f in bad..feeds {
        let at: Vec<Instant> = server
            .requests(&format!("/f{f}"))
            .iter()
            .map(|r| r.at)
            .collect();
        let first = *at
            .first()
            .unwrap_or_else(|| panic!("healthy feed {f} was never polled"));
        let span = ended.saturating_duration_since(first).as_secs();
        let again = at.len() as u64 - 1;
        assert!(
            again >= span / (3 * interval),
            "healthy feed {f} was polled {again} more times in the {span} s after its first poll, at {interval} s intervals"
        );
    }
    // Each bad feed failed with its own error class, and 429s were not asked again early.
    let db = rusqlite::Connection::open(ws.db()).unwrap();
    for (name, class) in &expected {
        let got: Option<String> = db
            .query_row(
                "SELECT last_error_class FROM feeds WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap_or(None);
        assert_eq!(got.as_deref(), Some(*class), "{name}");
        if name.starts_with("e429") {
            let f: usize = name.trim_start_matches("e429").parse().unwrap();
            let at: Vec<Instant> = server
                .requests(&format!("/f{f}"))
                .iter()
                .map(|r| r.at)
                .collect();
            for pair in at.windows(2) {
                let gap = pair[1] - pair[0];
                assert!(
                    gap >= Duration::from_millis(4900),
                    "{name} asked again after {gap:?}, before its Retry-After of 5 s"
                );
            }
        }
    }
    // Every story the healthy feeds published is stored.
    let stored: i64 = db
        .query_row(
            "SELECT count(*) FROM items WHERE url LIKE 'https://h.example/%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored as usize >= feeds - bad,
        "{stored} healthy stories stored"
    );
}

/// A real full disk: the database lives on a small tmpfs (the test needs root to mount it, and
/// says so and passes elsewhere). The disk fills up while the daemon runs and a feed publishes
/// large new stories: the daemon keeps running and polling, logs the fault once, keeps nothing
/// half-written and does not advance the feed's validators; when space is freed, the next
/// cycle stores every story.
#[test]
fn a_full_disk_loses_nothing_and_the_daemon_recovers_when_space_returns() {
    if unsafe { libc::geteuid() } != 0 {
        skip("mounting a tmpfs needs root");
        return;
    }
    let server = Server::start();
    let story = |i: usize| {
        (
            format!("g{i}"),
            format!("Summit story {i}"),
            format!("https://full.example/{i}"),
            format!("{} {i}", "A long summary about the summit. ".repeat(60)),
        )
    };
    let publish = |n: usize, tag: &str| {
        let items: Vec<_> = (0..n).map(story).collect();
        let list: Vec<(&str, &str, &str, &str)> = items
            .iter()
            .map(|(g, t, u, s)| (g.as_str(), t.as_str(), u.as_str(), s.as_str()))
            .collect();
        server.route("/big", Reply::feed(&rss(&list), tag));
    };
    publish(5, "\"small\"");
    server.route(
        "/other",
        Reply::feed(&rss(&[("o", "Other", "https://o.example/1", "")]), "\"o\""),
    );

    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skip("could not mount a tmpfs here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    let db = mnt.join("db.sqlite");
    let ws = Workspace::new(&format!(
        "{FAST}\n[[feeds]]\nname = \"big\"\nurl = \"{}\"\n[[feeds]]\nname = \"other\"\nurl = \"{}\"\n",
        server.url("/big"),
        server.url("/other")
    ));
    // The database on the small disk.
    let cfg = std::fs::read_to_string(&ws.config).unwrap().replace(
        "path = \"db.sqlite\"",
        &format!("path = \"{}\"", db.display()),
    );
    std::fs::write(&ws.config, cfg).unwrap();

    let mut d = Daemon::start(&ws);
    let count = || -> i64 {
        rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM items", [], |r| r.get(0)))
            .unwrap_or(-1)
    };
    wait_until(Duration::from_secs(10), "the first stories stored", || {
        count() == 6
    });

    // Fill the disk, leaving a few KB, then publish 100 stories of ~2 KB.
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        let _ = f.sync_all();
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .and_then(|f| {
            let len = f.metadata()?.len();
            f.set_len(len.saturating_sub(16 * 1024))
        });
    publish(100, "\"big\"");
    wait_until(
        Duration::from_secs(15),
        "the commit to fail for lack of space",
        || d.log().contains("could not commit polls"),
    );
    // More failing cycles, counted rather than slept for, so that "logged once" is checked
    // against cycles that could have logged it again.
    let failed_at = server.requests("/big").len();
    wait_until(
        Duration::from_secs(30),
        "two more polls of the feed",
        || server.requests("/big").len() >= failed_at + 2,
    );
    assert!(d.child.try_wait().unwrap().is_none(), "still running");
    let log = d.log();
    assert_eq!(
        log.matches("could not commit polls").count(),
        1,
        "the fault is logged once, not every cycle:\n{log}"
    );
    assert!(log.contains("disk is full"), "{log}");
    let before = count();
    assert!(
        (6..106).contains(&before),
        "nothing half-written: {before} items"
    );

    // Space returns: the next cycles store every story (the feed's validators did not move on,
    // so the server is asked for the full feed again).
    std::fs::remove_file(&filler).unwrap();
    wait_until(
        Duration::from_secs(15),
        "every story stored after space returns",
        || count() == 101,
    );
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    let c = rusqlite::Connection::open(&db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// SIGHUP applies `[alerts]` (and `[stories]`) too, not only feeds and topics: the writer's
/// ingest policy follows the reloaded config.
#[test]
fn sighup_applies_the_alert_rules_to_the_writer() {
    let server = Server::start();
    let three_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc2822();
    let doc = |items: &[(&str, &str)]| {
        let mut s = String::from(
            "<rss version=\"2.0\"><channel><title>t</title><link>http://127.0.0.1/</link>",
        );
        for (guid, title) in items {
            s.push_str(&format!(
                "<item><guid>{guid}</guid><title>{title}</title><link>https://n.example/{guid}</link><pubDate>{three_hours_ago}</pubDate></item>"
            ));
        }
        s + "</channel></rss>"
    };
    server.route(
        "/f",
        Reply::feed(&doc(&[("g1", "Summit planned for May")]), "\"1\""),
    );
    let config = |max_age: &str| {
        format!(
            "[storage]\npath = \"db.sqlite\"\n{FAST}\n[alerts]\nmax_age = \"{max_age}\"\n\n[[feeds]]\nname = \"f\"\nurl = \"{}\"\n\n[[topics]]\nname = \"t\"\nquery = 'summit'\n",
            server.url("/f")
        )
    };
    let ws = Workspace::new("");
    std::fs::write(&ws.config, config("1h")).unwrap();
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "feed polled twice", || {
        server.requests("/f").len() >= 2
    });
    assert_eq!(alerts_in(&ws), 0, "an item 3 h old is past max_age = 1h");

    std::fs::write(&ws.config, config("off")).unwrap();
    d.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(10), "the reload", || {
        d.log().contains("config reloaded")
    });
    server.route(
        "/f",
        Reply::feed(
            &doc(&[
                ("g1", "Summit planned for May"),
                ("g2", "Summit venue chosen in Rome"),
            ]),
            "\"2\"",
        ),
    );
    wait_until(Duration::from_secs(10), "the new item to alert", || {
        alerts_in(&ws) >= 1
    });
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}
