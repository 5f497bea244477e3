//! The operations listener (`[http]`): the real daemon with the listener on a loopback port,
//! spoken to over plain TCP, as curl or Prometheus would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::daemon::{Daemon, wait_until};

const FAST: &str = "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nshutdown_grace = \"3s\"\ntimeout = \"3s\"\nadaptive = false\n[alerts]\nmax_age = \"off\"\n";

/// One HTTP response: status, head (lower-cased) and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

/// `GET path` with `Connection: close` and extra header lines, read to the end.
fn get_with(addr: SocketAddr, path: &str, extra: &str) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect to the listener");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // One write: the listener may answer (431) and close before a request in pieces is all sent.
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(request.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    Response {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

pub(crate) fn get(addr: SocketAddr, path: &str) -> Response {
    get_with(addr, path, "")
}

/// The address the daemon says it listens on (the config asks for port 0).
pub(crate) fn listening(d: &Daemon) -> SocketAddr {
    let mut addr = None;
    wait_until(Duration::from_secs(10), "the listener's address", || {
        addr = d
            .log()
            .lines()
            .find(|l| l.contains("http: listening"))
            .and_then(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        addr.is_some()
    });
    addr.unwrap()
}

/// A sample value of `metrics` (a line `name{labels} value`).
pub(crate) fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn summit_feed(server: &Server) -> Workspace {
    server.route(
        "/a",
        Reply::feed(
            &rss(&[
                ("1", "Summit planned for March", "https://n.example/1", ""),
                ("2", "Quiet day", "https://n.example/2", ""),
            ]),
            "\"1\"",
        ),
    );
    Workspace::new(&format!(
        "{FAST}[http]\nlisten = \"127.0.0.1:0\"\n[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\n",
        server.url("/a")
    ))
}

#[test]
fn metrics_health_and_the_api_answer_over_http_and_stop_with_the_daemon() {
    let server = Server::start();
    let ws = summit_feed(&server);
    let d = Daemon::start(&ws);
    let addr = listening(&d);

    assert_eq!(get(addr, "/healthz").status, 200);
    // Search is off by default: no box on the page, and no stale answers.
    assert!(!get(addr, "/").body.contains("role=\"search\""));
    let off = get(addr, "/search?q=summit");
    assert_eq!(off.status, 404);
    assert!(
        off.body.contains("add search = true under [storage]"),
        "{}",
        off.body
    );
    assert_eq!(get(addr, "/api/search?q=summit").status, 404);
    wait_until(Duration::from_secs(15), "/readyz to say ready", || {
        get(addr, "/readyz").status == 200
    });
    wait_until(Duration::from_secs(15), "two polls counted", || {
        let m = get(addr, "/metrics").body;
        sample(&m, "newshound_polls_total{outcome=\"fetched\"}").unwrap_or(0.0)
            + sample(&m, "newshound_polls_total{outcome=\"not_modified\"}").unwrap_or(0.0)
            >= 2.0
    });
    let m = get(addr, "/metrics");
    assert!(
        m.head
            .contains("content-type: application/openmetrics-text"),
        "{}",
        m.head
    );
    let m = m.body;
    assert_eq!(
        sample(&m, "newshound_items_total{change=\"new\"}"),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        sample(&m, "newshound_alerts_total{topic=\"summit\"}"),
        Some(1.0)
    );
    assert!(sample(&m, "newshound_http_responses_total{code=\"200\"}").unwrap_or(0.0) >= 1.0);
    assert!(sample(&m, "newshound_http_responses_total{code=\"304\"}").unwrap_or(0.0) >= 1.0);
    assert!(sample(&m, "newshound_fetched_bytes_total").unwrap_or(0.0) > 0.0);
    assert!(sample(&m, "newshound_poll_duration_seconds_count").unwrap_or(0.0) >= 2.0);
    assert!(sample(&m, "newshound_store_commit_duration_seconds_count").unwrap_or(0.0) >= 1.0);
    assert_eq!(sample(&m, "newshound_feeds"), Some(1.0));
    assert_eq!(sample(&m, "newshound_feeds_failing"), Some(0.0));
    assert!(sample(&m, "newshound_database_size_bytes").unwrap_or(0.0) > 0.0);
    assert!(sample(&m, "process_resident_memory_bytes").unwrap_or(0.0) > 1e6);

    // The API's rows are the CLI's --json lines, as one array.
    for (path, args) in [
        ("/api/alerts", vec!["alerts", "--json"]),
        ("/api/feeds", vec!["feeds", "--json"]),
    ] {
        let r = get(addr, path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(r.head.contains("content-type: application/json"));
        let api: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let cli = json_lines(&ws.run(&args).stdout);
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(api.as_array().unwrap().len(), cli.len(), "{path}");
        assert_eq!(keys(&api[0]), keys(&cli[0]), "{path}");
        assert_eq!(api[0]["title"], cli[0]["title"], "{path}");
        assert_eq!(api[0]["name"], cli[0]["name"], "{path}");
    }
    let stories: serde_json::Value =
        serde_json::from_str(&get(addr, "/api/stories?limit=1").body).unwrap();
    assert_eq!(stories.as_array().unwrap().len(), 1);
    assert_eq!(get(addr, "/api/alerts?limit=0").status, 400);
    assert_eq!(get(addr, "/api/alerts?since=soon").status, 400);
    assert_eq!(get(addr, "/nothing-here").status, 404);

    // A keep-alive connection left open does not hold the daemon past its grace.
    let mut idle = TcpStream::connect(addr).unwrap();
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    d.stop_within_grace(Duration::from_secs(3), Duration::from_secs(30));
    drop(idle);
    assert_eq!(
        TcpStream::connect(addr).map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "the listener is closed after the daemon stopped"
    );
}

#[test]
fn hostile_feed_text_is_escaped_on_the_status_page() {
    let server = Server::start();
    // Double-escaped in the XML, so the stored titles hold the markup as text.
    server.route(
        "/evil",
        Reply::feed(
            &rss(&[
                (
                    "1",
                    "Summit &lt;script&gt;alert(1)&lt;/script&gt;",
                    "https://n.example/1",
                    "",
                ),
                (
                    "2",
                    "Summit &quot;&gt;&lt;img src=x onerror=alert(2)&gt;",
                    "javascript:alert(3)",
                    "",
                ),
            ]),
            "\"1\"",
        ),
    );
    let ws = Workspace::new(&format!(
        "search = true\n{FAST}[http]\nlisten = \"127.0.0.1:0\"\n[[feeds]]\nname = \"evil\u{202e}txt.exe\"\nurl = \"{}\"\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\n",
        server.url("/evil")
    ));
    let d = Daemon::start(&ws);
    let addr = listening(&d);
    wait_until(Duration::from_secs(15), "both alerts on the page", || {
        get(addr, "/").body.matches("class=\"badge warn\"").count() >= 2
    });
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.head.contains("content-type: text/html; charset=utf-8"));
    assert!(
        page.head
            .contains("content-security-policy: default-src 'none'"),
        "{}",
        page.head
    );
    let html = page.body;
    for raw in [
        "<script",
        "<img",
        "onerror=alert(2)>",
        "javascript:",
        "\u{202e}",
    ] {
        assert!(!html.contains(raw), "{raw:?} reached the page:\n{html}");
    }
    assert!(html.contains("Summit &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Summit &quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    // The feed's name: its bidi override shown, not obeyed, inside an isolate.
    assert!(html.contains("<bdi>evil\\u{202e}txt.exe</bdi>"), "{html}");
    // The API is JSON: the text as stored, escaped the JSON way.
    let api = get(addr, "/api/alerts").body;
    assert!(api.contains("Summit <script>alert(1)</script>"), "{api}");

    // The search box: results escaped, the query echoed escaped in the box.
    let found = get(addr, "/search?q=summit+alert");
    assert_eq!(found.status, 200);
    assert!(found.body.contains("2 results"), "{}", found.body);
    assert!(!found.body.contains("<script"), "{}", found.body);
    let echoed = get(addr, "/search?q=%22%3E%3Cscript%3Ex");
    assert!(
        echoed.body.contains("value=\"&quot;&gt;&lt;script&gt;x\""),
        "{}",
        echoed.body
    );
    assert!(!echoed.body.contains("<script"));
    let hits: serde_json::Value =
        serde_json::from_str(&get(addr, "/api/search?q=summit").body).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 2, "{hits}");
    assert_eq!(get(addr, "/api/search?q=%22unclosed").status, 400);
    assert_eq!(get(addr, "/search").status, 303);
    assert_eq!(
        d.stop(Duration::from_secs(10)).0,
        0,
        "exit status after SIGTERM"
    );
}

#[test]
fn a_token_guards_everything_but_healthz() {
    let server = Server::start();
    server.route("/a", Reply::feed(&rss(&[]), "\"1\""));
    let ws = Workspace::new("");
    std::fs::write(ws.dir.path().join("token"), "s3cret-token-0123456789\n").unwrap();
    std::fs::write(
        &ws.config,
        format!(
            "[storage]\npath = \"db.sqlite\"\n{FAST}[http]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n[[feeds]]\nname = \"a\"\nurl = \"{}\"\n",
            server.url("/a")
        ),
    )
    .unwrap();
    let d = Daemon::start(&ws);
    let addr = listening(&d);
    assert_eq!(get(addr, "/healthz").status, 200);
    for path in ["/", "/metrics", "/readyz", "/api/feeds"] {
        let r = get(addr, path);
        assert_eq!(r.status, 401, "{path}");
        assert!(r.head.contains("www-authenticate: bearer"));
        assert_eq!(
            get_with(
                addr,
                path,
                "Authorization: Bearer wrong-token-0123456789\r\n"
            )
            .status,
            401
        );
    }
    let ok = get_with(
        addr,
        "/api/feeds",
        "Authorization: Bearer s3cret-token-0123456789\r\n",
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        d.stop(Duration::from_secs(10)).0,
        0,
        "exit status after SIGTERM"
    );
}

#[test]
fn a_listener_reachable_from_other_hosts_must_be_asked_for() {
    let ws = Workspace::new(
        "[http]\nlisten = \"0.0.0.0:8080\"\n[[feeds]]\nurl = \"https://n.example/feed\"\n",
    );
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    assert!(
        r.stderr.contains("config.toml:5:10: http.listen 0.0.0.0:8080 is reachable from other hosts; set allow_remote = true"),
        "{}",
        r.stderr
    );
    let ws = Workspace::new(
        "[http]\nlisten = \"0.0.0.0:8080\"\nallow_remote = true\n[[feeds]]\nurl = \"https://n.example/feed\"\n",
    );
    assert_eq!(ws.run(&["check"]).code, 0);
    let ws = Workspace::new(
        "[http]\nlisten = \"localhost\"\n[[feeds]]\nurl = \"https://n.example/feed\"\n",
    );
    let r = ws.run(&["check"]);
    assert!(
        r.stderr
            .contains("http.listen must be an IP address and a port"),
        "{}",
        r.stderr
    );
}

/// Slowloris clients, a huge header and thousands of connections at once: polling goes on, the
/// listener stays within `max_connections`, and the daemon's memory stays bounded.
#[test]
fn bad_clients_cannot_block_polling_or_grow_memory() {
    let server = Server::start();
    let ws = summit_feed(&server);
    std::fs::write(
        &ws.config,
        std::fs::read_to_string(&ws.config).unwrap().replace(
            "listen = \"127.0.0.1:0\"",
            "listen = \"127.0.0.1:0\"\nmax_connections = 16",
        ),
    )
    .unwrap();
    let d = Daemon::start(&ws);
    let addr = listening(&d);
    wait_until(Duration::from_secs(15), "the first poll", || {
        !server.requests("/a").is_empty()
    });

    // A header far past the limit: 431, and the connection closed.
    let huge = format!("X-Filler: {}\r\n", "a".repeat(64 * 1024));
    assert_eq!(get_with(addr, "/healthz", &huge).status, 431);
    // Still being sent long after the answer: the answer must not be lost to a reset.
    let endless = format!("X-Filler: {}\r\n", "a".repeat(4 << 20));
    assert_eq!(get_with(addr, "/healthz", &endless).status, 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(get_with(addr, "/healthz", &many).status, 431);

    // Slowloris: every slot taken by a client that never finishes its request head.
    let slots_taken = Instant::now();
    let mut slow: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // Then a flood: 10,000 connections, held open.
    let mut flood = Vec::new();
    for _ in 0..10_000 {
        match TcpStream::connect(addr) {
            Ok(s) => flood.push(s),
            Err(e) => panic!("connect {}: {e}", flood.len()),
        }
    }
    let before = server.requests("/a").len();
    wait_until(
        Duration::from_secs(20),
        "three more polls during the flood",
        || server.requests("/a").len() >= before + 3,
    );
    // The slowloris connections are closed once their head timeout passes.
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 256];
        // 408 or a plain close; either way the connection ends. A reset ends it too: the
        // connections above may still hold their slots for a moment (see `linger`), and one
        // refused at accept with its request unread is reset by the kernel.
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("a slowloris connection was not closed: {e}"),
            }
        }
    }
    // How many of the flood the listener may have let in: the flood is accepted as fast as the
    // daemon's one tokio worker gets to it (beyond the listen backlog a connect waits for its SYN
    // to be sent again), about 40 s at load 8 in a debug build, longer in a loaded suite; until
    // now a slot changed hands at most once per head timeout (the slowloris' and then the flood's
    // own idle connections hold one at least that long); and the connections still in the
    // backlog (tokio listens with 1,024), closed now, may each take a slot briefly. Every other
    // connection of the flood must have been refused, however slow the machine.
    let turnovers = slots_taken.elapsed().as_secs() / newshound::http::HEAD_TIMEOUT.as_secs() + 1;
    let let_in = 16 * turnovers as usize + 1025;
    drop(flood);
    wait_until(
        Duration::from_secs(10),
        "the listener to answer again",
        || {
            TcpStream::connect(addr).is_ok_and(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ =
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut r = String::new();
                s.read_to_string(&mut r).is_ok() && r.starts_with("HTTP/1.1 200")
            })
        },
    );
    let m = get(addr, "/metrics").body;
    let refused = sample(&m, "newshound_http_connections_refused_total").unwrap_or(0.0);
    assert!(
        refused >= (10_000usize.saturating_sub(let_in)) as f64,
        "{refused} of 10,000 refused, with at most {let_in} let in\n{m}"
    );
    // VmHWM: the peak resident memory over the whole run, flood included.
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    eprintln!("daemon peak RSS over the flood: {hwm_kib} KiB");
    assert!(hwm_kib < 96 * 1024, "peak RSS {hwm_kib} KiB");
    assert_eq!(
        d.stop(Duration::from_secs(10)).0,
        0,
        "exit status after SIGTERM"
    );
}
