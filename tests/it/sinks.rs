//! Sinks (issue #16): each against a real loopback receiver, through the real binary.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use crate::daemon::{Daemon, wait_until};

const FAST: &str = "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nshutdown_grace = \"2s\"\ntimeout = \"3s\"\nadaptive = false\n";

/// A feed of `n` matching items, each its own story (no words shared but the topic's).
pub(crate) fn summit_feed(server: &Server, path: &str, from: usize, n: usize) {
    let items: Vec<(String, String, String)> = (from..from + n)
        .map(|i| {
            (
                format!("g{i}"),
                format!("Summit {} {} {}", word(i, 1), word(i, 2), word(i, 3)),
                format!("https://n.example/{i}"),
            )
        })
        .collect();
    let list: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(g, t, u)| (g.as_str(), t.as_str(), u.as_str(), ""))
        .collect();
    server.route(path, Reply::feed(&rss(&list), &format!("\"{from}-{n}\"")));
}

/// A made-up word unique to item `i` (so no two items share a story).
fn word(i: usize, salt: usize) -> String {
    let letters = b"bcdfghjklmnpqrstvwxz";
    let mut x = i * 7919 + salt * 104_729 + 17;
    let mut w = String::new();
    for _ in 0..6 {
        w.push(letters[x % letters.len()] as char);
        x /= letters.len();
        w.push(['a', 'e', 'i', 'o', 'u'][(x + salt) % 5]);
    }
    w
}

fn config(server: &Server, sinks: &str) -> String {
    format!(
        "{FAST}[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\nlevel = \"warn\"\n{sinks}",
        server.url("/a")
    )
}

/// Replaces the config's body (keeping its database).
fn rewrite(ws: &Workspace, body: &str) {
    std::fs::write(
        &ws.config,
        format!("[storage]\npath = \"db.sqlite\"\n{body}"),
    )
    .unwrap();
}

fn outbox(ws: &Workspace) -> Vec<serde_json::Value> {
    json_lines(&ws.run(&["outbox", "--json", "--limit", "100000"]).stdout)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn a_webhook_gets_each_alert_once_as_signed_json_with_its_idempotency_key() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 3);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = \"s3cret\"\nheaders = {{ X-Team = \"news\" }}\n",
            rx.url("/hook")
        ),
    ));
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 3, "one POST per alert");
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    let mut keys = HashSet::new();
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hook");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-team"), Some("news"));
        assert_eq!(
            r.header("x-newshound-signature"),
            Some(hmac_hex("s3cret", &r.body).as_str()),
            "the signature is HMAC-SHA256 of the exact body"
        );
        let body = r.json();
        let key = body["idempotency_key"].as_str().unwrap().to_owned();
        assert_eq!(r.header("idempotency-key"), Some(key.as_str()));
        let alert = alerts
            .iter()
            .find(|a| a["id"] == body["alert_id"])
            .expect("the body names a stored alert");
        assert_eq!(key, format!("summit:{}:hook", alert["story_id"]));
        assert_eq!(body["topic"], "summit");
        assert_eq!(body["title"], alert["title"]);
        assert_eq!(body["url"], alert["url"]);
        assert_eq!(body["sources"], serde_json::json!(["a"]));
        assert_eq!(body["terms"], serde_json::json!(["Summit"]));
        assert_eq!(body["field"], "title");
        keys.insert(key);
    }
    assert_eq!(keys.len(), 3);
    let rows = outbox(&ws);
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["state"] == "sent" && r["attempts"] == 1),
        "{rows:?}"
    );
    // A second run: nothing new, nothing sent again.
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 3);
}

#[test]
fn a_sink_gets_only_its_topics_and_without_sinks_nothing_is_queued() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 2);
    let rx = Receiver::start();
    let ws = Workspace::new(&format!(
        "{}[[topics]]\nname = \"other\"\nquery = \"summit\"\n[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\ntopics = [\"other\"]\nurl = \"{}\"\n",
        config(&server, ""),
        rx.url("/")
    ));
    assert_eq!(ws.run(&["once"]).code, 0);
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.json()["topic"] == "other"));

    let plain = Workspace::new(&config(&server, ""));
    assert_eq!(plain.run(&["once"]).code, 0);
    assert_eq!(
        json_lines(&plain.run(&["alerts", "--json"]).stdout).len(),
        2
    );
    assert!(outbox(&plain).is_empty());
}

#[test]
fn a_500_is_retried_after_the_backoff_or_retry_after_and_a_400_is_dead_until_retried_by_hand() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    rx.script(|_, _| {
        Answer::status(503)
            .with_header("Retry-After", "600")
            .with_body("busy")
    });
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nretry_min = \"30s\"\n",
            rx.url("/")
        ),
    ));
    assert_eq!(ws.run(&["once"]).code, 0);
    let rows = outbox(&ws);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["state"], "failed");
    assert_eq!(row["attempts"], 1);
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 503: busy"),
        "{row}"
    );
    let secs = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(row[k].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let wait = secs("next") - secs("last_attempt");
    assert!(
        (600_000..=601_000).contains(&wait),
        "Retry-After: 600 outweighs a 30 s backoff: {wait} ms"
    );
    // Not due yet: the next run does not send it.
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 1);

    // Due by hand; now the receiver refuses it for good.
    rx.script(|_, _| Answer::status(400).with_body("{\"error\":\"bad field\"}"));
    let id = row["id"].as_i64().unwrap().to_string();
    assert_eq!(ws.run(&["outbox", "retry", &id]).code, 0);
    let run = ws.run(&["once"]);
    assert_eq!(rx.received().len(), 2);
    let row = &outbox(&ws)[0];
    assert_eq!(row["state"], "dead", "4xx is permanent: {row}");
    assert!(run.stderr.contains("dead-lettered"), "{}", run.stderr);
    assert!(run.stderr.contains("bad field"));
    assert_eq!(
        json_lines(&ws.run(&["outbox", "--state", "dead", "--json"]).stdout).len(),
        1
    );

    // Dead stays dead across runs, until `outbox retry --dead`.
    rx.script(|_, _| Answer::status(204));
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 2);
    let retry = ws.run(&["outbox", "retry", "--dead"]);
    assert_eq!(retry.code, 0);
    assert!(
        retry.stdout.contains("1 delivery queued again"),
        "{}",
        retry.stdout
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 3);
    let row = &outbox(&ws)[0];
    assert_eq!(row["state"], "sent");
    assert_eq!(row["attempts"], 3);
    // The same key every time: the receiver can drop repeats.
    let keys: HashSet<String> = rx
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 1);
}

#[test]
fn the_daemon_retries_a_failing_receiver_with_backoff_until_it_answers() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    // 500, a stall past the sink's timeout, 429, then success.
    rx.script(|n, _| match n {
        0 => Answer::status(500),
        1 => Answer::status(200).after(Duration::from_secs(3)),
        2 => Answer::status(429),
        _ => Answer::status(200),
    });
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"500ms\"\nretry_min = \"200ms\"\nretry_max = \"400ms\"\n",
            rx.url("/")
        ),
    ));
    let d = Daemon::start(&ws);
    let addr = crate::ops_http::listening(&d);
    wait_until(
        Duration::from_secs(20),
        "delivery after three failures",
        || outbox(&ws).first().is_some_and(|r| r["state"] == "sent"),
    );
    // /metrics counts each attempt by outcome, and reads the queue's length.
    wait_until(Duration::from_secs(5), "the delivery counted", || {
        let m = crate::ops_http::get(addr, "/metrics").body;
        crate::ops_http::sample(
            &m,
            "newshound_deliveries_total{sink=\"hook\",outcome=\"sent\"}",
        ) == Some(1.0)
    });
    let m = crate::ops_http::get(addr, "/metrics").body;
    assert_eq!(
        crate::ops_http::sample(
            &m,
            "newshound_deliveries_total{sink=\"hook\",outcome=\"failed\"}"
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        crate::ops_http::sample(&m, "newshound_delivery_queue_length{sink=\"hook\"}"),
        Some(0.0),
        "{m}"
    );
    let row = &outbox(&ws)[0];
    assert_eq!(row["attempts"], 4, "{row}");
    let got = rx.received();
    assert_eq!(got.len(), 4);
    // Each retry came at least the backoff's lower half (100 ms) after the previous attempt.
    for w in got.windows(2) {
        let gap = w[1].at.duration_since(w[0].at).unwrap();
        assert!(gap >= Duration::from_millis(100), "{gap:?}");
    }
    let log = d.log();
    assert!(log.contains("delivery failed; will retry"), "{log}");
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    let status = json_lines(&ws.run(&["sinks", "--json"]).stdout);
    assert_eq!(status[0]["sink"], "hook");
    assert_eq!(status[0]["sends"], 1);
    assert_eq!(status[0]["failures"], 3);
    assert_eq!(status[0]["queued"], 0);
}

#[test]
fn the_address_guard_applies_to_webhooks() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            rx.url("/")
        ),
    ));
    // Strict: no local addresses for anyone (the feed itself is local: it fails, but a sink test
    // shows the guard refusing the hook before any request).
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        text.replace(
            "adaptive = false\n",
            "adaptive = false\naddress_guard = \"strict\"\n",
        ),
    )
    .unwrap();
    let run = ws.run(&["sinks", "test", "hook"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("would not be retried: address refused"),
        "{}",
        run.stdout
    );
    assert!(rx.received().is_empty());
}

#[test]
fn sinks_test_sends_a_sample_and_prints_the_answer() {
    let server = Server::start();
    let rx = Receiver::start();
    rx.script(|_, _| Answer::status(202).with_body("queued as #41"));
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            rx.url("/")
        ),
    ));
    let run = ws.run(&["sinks", "test", "hook"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("delivered: HTTP 202: queued as #41"),
        "{}",
        run.stdout
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["topic"], "summit");
    assert!(outbox(&ws).is_empty(), "a test is not queued");
    assert_eq!(ws.run(&["sinks", "test", "nope"]).code, 1);
}

#[test]
fn ntfy_gets_title_message_click_priority_tags_and_token() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"phone\"\nkind = \"ntfy\"\nurl = \"{}\"\ntoken = {{ env = \"NTFY_TEST_TOKEN_16\" }}\ntags = [\"newspaper\"]\n",
            rx.url("/news-alerts")
        ),
    ));
    // The token comes from the environment of the process that loads the config.
    let run = {
        let mut c = std::process::Command::new(bin());
        c.args(["--config", ws.config.to_str().unwrap(), "once"])
            .env("NTFY_TEST_TOKEN_16", "tk_abc");
        c.output().unwrap()
    };
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(
        r.path, "/",
        "published to the server's root with the topic in the JSON"
    );
    assert_eq!(r.header("authorization"), Some("Bearer tk_abc"));
    let m = r.json();
    assert_eq!(m["topic"], "news-alerts");
    assert!(
        m["title"].as_str().unwrap().starts_with("summit: Summit "),
        "{m}"
    );
    assert_eq!(m["click"], "https://n.example/0");
    assert_eq!(m["priority"], 4, "level warn");
    assert_eq!(m["tags"], serde_json::json!(["newspaper"]));
    assert!(m["message"].as_str().unwrap().contains("reported by a"));
}

#[test]
fn exec_gets_the_alert_on_stdin_and_its_exit_status_decides() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(&server, ""));
    let out = ws.dir.path().join("got.json");
    let script = ws.dir.path().join("hook.sh");
    let flag = ws.dir.path().join("fail-once");
    std::fs::write(&flag, "").unwrap();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ -e {flag} ]; then rm {flag}; printf 'not yet\\n\\033[31mred' >&2; exit 3; fi\ncat > {out}\necho \"$NEWSHOUND_IDEMPOTENCY_KEY\" > {out}.key\n",
            flag = flag.display(),
            out = out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        format!(
            "{text}[[sinks]]\nname = \"script\"\nkind = \"exec\"\ncommand = [\"{}\", \"--flag with space\"]\nretry_min = \"1ms\"\nretry_max = \"1ms\"\n",
            script.display()
        ),
    )
    .unwrap();
    let first = ws.run(&["once"]);
    assert_eq!(first.code, 0);
    let row = &outbox(&ws)[0];
    assert_eq!(row["state"], "failed");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .starts_with("exit status 3: not yet"),
        "{row}"
    );
    // Its stderr is logged escaped: the ESC byte cannot reach the terminal.
    assert!(
        first.stderr.contains("not yet\\n\\u{1b}[31mred"),
        "{}",
        first.stderr
    );
    assert!(!first.stderr.contains('\u{1b}'));
    let second = ws.run(&["once"]);
    assert_eq!(second.code, 0);
    let row = &outbox(&ws)[0];
    assert_eq!(row["state"], "sent", "{row}");
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(body["topic"], "summit");
    let key = std::fs::read_to_string(format!("{}.key", out.display())).unwrap();
    assert_eq!(key.trim(), body["idempotency_key"].as_str().unwrap());
    assert!(rx.received().is_empty());
}

#[test]
fn an_exec_that_hangs_is_killed_at_the_timeout_and_retried() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let ws = Workspace::new(&config(
        &server,
        "[[sinks]]\nname = \"slow\"\nkind = \"exec\"\ncommand = [\"sleep\", \"30\"]\ntimeout = \"300ms\"\n",
    ));
    let t = std::time::Instant::now();
    assert_eq!(ws.run(&["once"]).code, 0);
    assert!(t.elapsed() < Duration::from_secs(20));
    let row = &outbox(&ws)[0];
    assert_eq!(row["state"], "failed");
    assert!(
        row["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 300ms"),
        "{row}"
    );
}

#[test]
fn secrets_come_from_files_and_the_environment_and_never_reach_the_logs() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    rx.script(|_, _| Answer::status(500).with_body("nope"));
    let ws = Workspace::new(&config(&server, ""));
    std::fs::write(ws.dir.path().join("hook.secret"), "file-s3cret-value\n").unwrap();
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        format!(
            "{text}[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret = {{ file = \"hook.secret\" }}\nheaders = {{ Authorization = {{ env = \"HOOK_TOKEN_16\" }} }}\n\
             [[sinks]]\nname = \"closed\"\nkind = \"webhook\"\nurl = {{ env = \"HOOK_URL_16\" }}\n",
            rx.url("/")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args([
            "--config",
            ws.config.to_str().unwrap(),
            "--log-level",
            "trace",
            "once",
        ])
        .env("HOOK_TOKEN_16", "Bearer env-t0ken-value")
        // A hook whose URL is its credential, at a port nobody listens on: the transport
        // error is logged and stored without the URL.
        .env("HOOK_URL_16", "http://127.0.0.1:9/hooks/p4th-t0ken-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("authorization"),
        Some("Bearer env-t0ken-value")
    );
    assert_eq!(
        got[0].header("x-newshound-signature"),
        Some(hmac_hex("file-s3cret-value", &got[0].body).as_str()),
        "the file's trailing newline is not part of the secret"
    );
    assert!(log.contains("delivery failed"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("delivery failed") && l.contains("sink=closed")),
        "{log}"
    );
    assert!(
        !log.contains("s3cret-value") && !log.contains("t0ken-value"),
        "{log}"
    );
    // (Read from the database: the commands need the variables.)
    let errors: Vec<String> = rusqlite::Connection::open(ws.db())
        .unwrap()
        .prepare("SELECT coalesce(last_error, '') FROM outbox WHERE sink = 'closed'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("request failed"), "{errors:?}");
    assert!(!errors[0].contains("t0ken-value"), "{errors:?}");
    // A missing variable is a config error with its position.
    let missing = ws.run(&["check"]);
    assert_eq!(missing.code, 78);
    assert!(
        missing
            .stderr
            .contains("the environment variable HOOK_TOKEN_16 is not set"),
        "{}",
        missing.stderr
    );
    assert!(!missing.stderr.contains("s3cret-value"));
}

#[test]
fn a_bad_sink_config_is_a_check_error_with_its_position() {
    let ws = Workspace::new(
        "[[feeds]]\nurl = \"http://127.0.0.1:9/a\"\n[[topics]]\nname = \"summit\"\nquery = \"summit\"\n\
         [[sinks]]\nname = \"hook\"\nkind = \"webhok\"\n\
         [[sinks]]\nname = \"h2\"\nkind = \"webhook\"\nurl = \"ftp://x\"\ntopics = [\"nosuch\"]\n\
         [[sinks]]\nname = \"h3\"\nkind = \"exec\"\ncommand = []\ntimeout = \"soon\"\n",
    );
    let run = ws.run(&["check"]);
    assert_eq!(run.code, 78);
    let file = ws.config.display().to_string();
    for (line, col, what) in [
        (11, 8, "unknown sink kind \"webhok\""),
        (15, 7, "unsupported URL scheme \"ftp\""),
        (16, 11, "no topic named \"nosuch\""),
        (19, 8, "an exec sink needs command"),
        (21, 11, "timeout: \"soon\" is not a duration"),
    ] {
        let want = format!("{file}:{line}:{col}: ");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&want) && l.contains(what)),
            "{want}{what}\n{}",
            run.stderr
        );
    }
}

#[test]
fn sighup_removes_and_adds_sinks_without_losing_queued_deliveries() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 2);
    let rx = Receiver::start();
    rx.script(|_, _| Answer::status(503));
    let hook = |retry: &str| {
        format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nretry_min = \"{retry}\"\nretry_max = \"{retry}\"\n",
            rx.url("/")
        )
    };
    let ws = Workspace::new(&config(&server, &hook("1h")));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "two failed attempts", || {
        rx.received().len() >= 2
    });
    // The hook removed: its deliveries stay queued, nothing is sent.
    rewrite(&ws, &config(&server, ""));
    d.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(10), "the reload", || {
        d.log().contains("config reloaded")
    });
    summit_feed(&server, "/a", 0, 3);
    wait_until(Duration::from_secs(10), "the third alert", || {
        d.log().matches("alert: summit").count() == 3
    });
    let rows = outbox(&ws);
    assert_eq!(rows.len(), 2, "no delivery for a removed sink: {rows:?}");
    assert!(rows.iter().all(|r| r["state"] == "failed"));
    // They were due in an hour: made due by hand (while the daemon runs), then the hook comes
    // back and the receiver is healthy: both queued deliveries go out.
    for r in &rows {
        let id = r["id"].as_i64().unwrap().to_string();
        assert_eq!(ws.run(&["outbox", "retry", &id]).code, 0);
    }
    rx.script(|_, _| Answer::status(200));
    rewrite(&ws, &config(&server, &hook("1h")));
    d.signal(libc::SIGHUP);
    wait_until(Duration::from_secs(20), "the queued deliveries", || {
        outbox(&ws).iter().filter(|r| r["state"] == "sent").count() == 2
    });
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
}

#[test]
fn sigterm_waits_at_most_the_grace_for_a_stalled_receiver_and_the_delivery_stays_queued() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let rx = Receiver::start();
    rx.script(|_, _| Answer::status(200).after(Duration::from_secs(60)));
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"60s\"\n",
            rx.url("/")
        ),
    ));
    let d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "the send", || {
        !rx.received().is_empty()
    });
    let (code, took) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    // shutdown_grace is 2 s; the daemon exits at most about a second after it.
    assert!(took < Duration::from_secs(4), "{took:?}");
    let rows = outbox(&ws);
    assert_eq!(rows[0]["state"], "pending", "still queued: {rows:?}");
}

/// The crash test: the daemon with a webhook sink, against a receiver that fails a
/// third of requests with 500 and stalls some past the sink's timeout, is killed with SIGKILL at
/// pseudo-random moments while alerts keep coming. At the end every alert was received at least
/// once and, with repeats dropped by idempotency key, exactly once; the repeats are counted
/// (only a kill between a send and the commit of its outcome makes one).
///
/// `NEWSHOUND_SINK_KILLS=50` runs a longer variant.
#[test]
fn kill_9_during_deliveries_loses_nothing_and_repeats_only_by_key() {
    let server = Server::start();
    let rx = Receiver::start();
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        rng >> 33
    };
    // A third 500, a twelfth stalled past the sink's timeout, the rest taken.
    let fate = |n: usize| ((n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) % 12;
    rx.script(move |n, _| match fate(n) {
        0..=3 => Answer::status(500),
        4 => Answer::status(200).after(Duration::from_millis(1500)),
        _ => Answer::status(200),
    });
    let kills: usize = std::env::var("NEWSHOUND_SINK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let sinks = format!(
        "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"1s\"\nretry_min = \"50ms\"\nretry_max = \"200ms\"\n",
        rx.url("/")
    );
    let ws = Workspace::new(&config(&server, &sinks));
    let per_round = 8;
    for round in 0..kills {
        summit_feed(&server, "/a", 0, per_round * (round + 1));
        let mut d = Daemon::start(&ws);
        std::thread::sleep(Duration::from_millis(200 + next() % 1300));
        d.child.kill().unwrap();
        d.child.wait().unwrap();
    }
    // A last run, left to finish every delivery.
    let d = Daemon::start(&ws);
    let expected: HashSet<String> = loop {
        // Alerts first: a delivery row is committed with its alert, so rows read after the
        // alerts can only be as many or more (read the other way round, a commit in between
        // shows more alerts than rows).
        let alerts = json_lines(&ws.run(&["alerts", "--json", "--limit", "100000"]).stdout);
        let rows = outbox(&ws);
        if alerts.len() == per_round * kills && rows.iter().all(|r| r["state"] == "sent") {
            assert_eq!(rows.len(), alerts.len(), "one delivery per alert");
            break rows
                .iter()
                .map(|r| r["idempotency_key"].as_str().unwrap().to_owned())
                .collect();
        }
        assert!(
            d.child.id() > 0 && rx.received().len() < 100_000,
            "runaway sending"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    // Per key, the requests the receiver took (answered 200 at once); a request for a key
    // already taken is a repeat, which the receiver drops by its key.
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut repeats = 0;
    let mut seen: HashSet<String> = HashSet::new();
    let all = rx.received();
    for (n, r) in all.iter().enumerate() {
        let key = r.header("idempotency-key").unwrap().to_owned();
        seen.insert(key.clone());
        if taken.get(&key).is_some_and(|&t| t > 0) {
            repeats += 1;
        }
        if fate(n) > 4 {
            *taken.entry(key).or_default() += 1;
        }
    }
    assert_eq!(
        seen, expected,
        "every alert reached the receiver, none unknown"
    );
    assert!(
        expected
            .iter()
            .all(|k| taken.get(k).is_some_and(|&t| t >= 1)),
        "every alert was taken at least once"
    );
    let once: HashSet<&String> = taken.keys().collect();
    assert_eq!(
        once.len(),
        expected.len(),
        "exactly once after dropping repeats by key"
    );
    eprintln!(
        "crash test: {kills} kills, {} alerts, {} requests, {repeats} repeats of a delivery the receiver had taken",
        expected.len(),
        all.len()
    );
}

/// A real SMTP server (Python's aiosmtpd, installed into a venv on first use) with a
/// certificate made for the test by `openssl`, signed by a test CA the sink is told to trust.
struct Smtp {
    child: std::process::Child,
    ports: serde_json::Value,
    mails: std::path::PathBuf,
    ca: std::path::PathBuf,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sh(cmd: &mut std::process::Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Smtp {
    fn start(dir: &std::path::Path, password: &str) -> Option<Smtp> {
        use std::io::BufRead;
        use std::process::Command;
        let venv = std::env::var("NEWSHOUND_SMTP_VENV")
            .unwrap_or_else(|_| "/tmp/newshound-smtp-venv".into());
        let py = format!("{venv}/bin/python");
        let ready = sh(Command::new(&py).args(["-c", "import aiosmtpd"]))
            || (sh(Command::new("python3").args(["-m", "venv", &venv]))
                && sh(Command::new(&py).args(["-m", "pip", "install", "-q", "aiosmtpd==1.4.6"])));
        if !ready {
            skip("python3 with venv and pip (for aiosmtpd) is needed for the email test");
            return None;
        }
        let p = |f: &str| dir.join(f).to_str().unwrap().to_owned();
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let made = sh(Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=newshound test CA",
            ]))
            && sh(Command::new("openssl").args(["req"]).args(ec).args([
                "-keyout",
                &p("key.pem"),
                "-out",
                &p("leaf.csr"),
                "-subj",
                "/CN=localhost",
            ]))
            && sh(Command::new("openssl").args([
                "x509",
                "-req",
                "-in",
                &p("leaf.csr"),
                "-CA",
                &p("ca.pem"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-out",
                &p("cert.pem"),
                "-days",
                "2",
                "-extfile",
                &p("ext.cnf"),
            ]));
        if !made {
            skip("openssl is needed to make the email test's certificates");
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_server.py");
        let mut child = Command::new(&py)
            .args([
                script,
                &p("mails.jsonl"),
                &p("cert.pem"),
                &p("key.pem"),
                password,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: serde_json::Value = serde_json::from_str(&line).expect("the server's ports");
        Some(Smtp {
            child,
            ports,
            mails: dir.join("mails.jsonl"),
            ca: dir.join("ca.pem"),
        })
    }

    fn mails(&self) -> Vec<serde_json::Value> {
        json_lines(&std::fs::read_to_string(&self.mails).unwrap_or_default())
    }
}

#[test]
fn email_goes_through_a_real_smtp_server_with_starttls_or_implicit_tls_and_auth() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 1);
    let ws = Workspace::new(&config(&server, ""));
    let Some(smtp) = Smtp::start(ws.dir.path(), "pw-s3cret") else {
        return;
    };
    std::fs::write(ws.dir.path().join("smtp.password"), "pw-s3cret\n").unwrap();
    let sink = |name: &str, mode: &str, password: &str| {
        format!(
            "[[sinks]]\nname = \"{name}\"\nkind = \"email\"\nserver = \"127.0.0.1\"\nport = {}\ntls = \"{mode}\"\n\
             username = \"newshound\"\npassword = {password}\nfrom = \"newshound <alerts@example.org>\"\n\
             to = [\"me@example.org\"]\nca_file = \"{}\"\nretry_min = \"1h\"\n",
            smtp.ports[mode],
            smtp.ca.display()
        )
    };
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        format!(
            "{text}{}{}{}",
            sink("mail", "starttls", "{ file = \"smtp.password\" }"),
            sink("smtps", "implicit", "{ file = \"smtp.password\" }"),
            sink("wrongpw", "starttls", "\"nope\""),
        ),
    )
    .unwrap();
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("pw-s3cret"));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}\n{}", run.stderr);
    let rows = outbox(&ws);
    for mode in ["starttls", "implicit"] {
        let m = mails.iter().find(|m| m["mode"] == mode).unwrap();
        assert_eq!(m["tls"], true);
        assert_eq!(m["authenticated"], true);
        assert_eq!(m["from"], "alerts@example.org");
        assert_eq!(m["to"], serde_json::json!(["me@example.org"]));
        let data = m["data"].as_str().unwrap();
        assert!(
            data.contains("Subject: [newshound] summit: Summit "),
            "{data}"
        );
        assert!(data.contains("https://n.example/0"));
        assert!(data.contains("Content-Type: text/plain"));
        // The Message-ID is the idempotency key, made safe.
        let sink = if mode == "starttls" { "mail" } else { "smtps" };
        let key = rows.iter().find(|r| r["sink"] == sink).unwrap()["idempotency_key"]
            .as_str()
            .unwrap()
            .replace(':', "=3A");
        assert!(
            data.contains(&format!("Message-ID: <{key}@newshound>")),
            "{data}"
        );
    }
    // A wrong password is the server's 535: permanent, dead-lettered at once.
    let bad = rows.iter().find(|r| r["sink"] == "wrongpw").unwrap();
    assert_eq!(bad["state"], "dead", "{bad}");
    assert!(bad["last_error"].as_str().unwrap().contains("535"), "{bad}");
    // `sinks test` through the same server prints its answer.
    let t = ws.run(&["sinks", "test", "mail"]);
    assert_eq!(t.code, 0, "{}{}", t.stdout, t.stderr);
    assert!(t.stdout.contains("delivered: SMTP 250"), "{}", t.stdout);
}

#[test]
fn a_digest_sink_holds_alerts_and_sends_them_as_one_message() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 3);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"daily\"\nkind = \"webhook\"\nurl = \"{}\"\ndigest = \"daily 08:00\"\ntime_zone = \"UTC\"\n",
            rx.url("/")
        ),
    ));
    assert_eq!(ws.run(&["once"]).code, 0);
    assert!(rx.received().is_empty(), "held for the digest");
    let rows = outbox(&ws);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["state"] == "held"));
    // The digest's time comes (here: by hand; its schedule is tested with an injected clock).
    let made = ws.run(&["outbox", "digest", "daily"]);
    assert!(made.stdout.contains("digest queued"), "{}", made.stdout);
    assert_eq!(ws.run(&["once"]).code, 0);
    let got = rx.received();
    assert_eq!(got.len(), 1, "one message for the three alerts");
    let body = got[0].json();
    assert_eq!(body["digest"], true);
    assert_eq!(body["count"], 3);
    assert_eq!(body["alerts"].as_array().unwrap().len(), 3);
    assert!(
        body["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("digest:daily:")
    );
    let rows = outbox(&ws);
    assert_eq!(rows.iter().filter(|r| r["state"] == "digested").count(), 3);
    assert_eq!(rows.iter().filter(|r| r["state"] == "sent").count(), 1);
}

#[test]
fn alerts_over_max_per_hour_are_folded_into_the_next_digest_and_the_log_says_so() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 5);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nmax_per_hour = 2\nconcurrency = 1\n",
            rx.url("/")
        ),
    ));
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0);
    assert_eq!(rx.received().len(), 2, "two within the budget");
    assert_eq!(
        run.stderr.matches("folded into the next digest").count(),
        3,
        "{}",
        run.stderr
    );
    let rows = outbox(&ws);
    assert_eq!(rows.iter().filter(|r| r["state"] == "held").count(), 3);
    // A restart does not start a fresh hour: the budget is read back from what was sent, so
    // two more alerts are held too.
    summit_feed(&server, "/a", 0, 7);
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0);
    assert_eq!(rx.received().len(), 2, "no more within the hour");
    assert_eq!(
        run.stderr.matches("folded into the next digest").count(),
        2,
        "{}\n{:?}",
        run.stderr,
        outbox(&ws)
    );
    let rows = outbox(&ws);
    assert_eq!(rows.iter().filter(|r| r["state"] == "held").count(), 5);
    // The overflow's digest (hourly when the sink has none) carries the other five.
    assert!(
        ws.run(&["outbox", "digest", "hook"])
            .stdout
            .contains("digest queued")
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    let got = rx.received();
    assert_eq!(got.len(), 3, "a digest is not held back by the budget");
    assert_eq!(got[2].json()["count"], 5);
}

/// Delivery latency from commit to receiver, for 1,000 alerts committed in one poll (a burst:
/// the worst case for queueing), on loopback, with the sink's default concurrency (4).
/// Prints median and p99; a measurement, not a check (docs/performance.md, "Sinks").
///
/// `NEWSHOUND_BENCH_BIN=target/release/newshound cargo test --test it -- --ignored --nocapture delivery_latency`
#[test]
#[ignore = "a measurement; run by hand (docs/performance.md)"]
fn delivery_latency_of_1000_alerts() {
    let n: usize = std::env::var("NEWSHOUND_BENCH_ALERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let server = Server::start();
    summit_feed(&server, "/a", 0, n);
    let rx = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            rx.url("/")
        ),
    ));
    let text = std::fs::read_to_string(&ws.config).unwrap();
    // The feed's 1,000 items in one document; a second poll would not add any.
    std::fs::write(
        &ws.config,
        text.replace("interval = \"1s\"", "interval = \"1h\""),
    )
    .unwrap();
    let binary = std::env::var("NEWSHOUND_BENCH_BIN").unwrap_or_else(|_| bin().to_owned());
    let mut child = std::process::Command::new(binary)
        .args(["--config", ws.config.to_str().unwrap(), "run"])
        .env_remove("NOTIFY_SOCKET")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(120), "every delivery", || {
        rx.received().len() >= n
    });
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let mut ms: Vec<f64> = rx
        .received()
        .iter()
        .map(|r| {
            let enqueued = r.json()["enqueued_at"].as_i64().unwrap();
            let at =
                r.at.duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs_f64()
                    * 1000.0;
            at - enqueued as f64
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    eprintln!(
        "delivery latency, {} alerts in one commit: first {:.1} ms, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms.len(),
        q(0.0),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

/// A feed of `summit` matching items and `tariff` matching items, each its own story.
fn two_topic_feed(server: &Server, path: &str, summits: usize, tariffs: usize) {
    let items: Vec<(String, String, String)> = (0..summits + tariffs)
        .map(|i| {
            let what = if i < summits { "Summit" } else { "Tariff" };
            (
                format!("g{i}"),
                format!("{what} {} {} {}", word(i, 1), word(i, 2), word(i, 3)),
                format!("https://n.example/{i}"),
            )
        })
        .collect();
    let list: Vec<(&str, &str, &str, &str)> = items
        .iter()
        .map(|(g, t, u)| (g.as_str(), t.as_str(), u.as_str(), ""))
        .collect();
    server.route(
        path,
        Reply::feed(&rss(&list), &format!("\"{summits}-{tariffs}\"")),
    );
}

const TWO_TOPICS: &str = "[[topics]]\nname = \"summit\"\nquery = \"summit\"\n[[topics]]\nname = \"tariff\"\nquery = \"tariff\"\n";

/// `per_topic` on a sink: one topic in a digest of its own while the sink sends the others
/// one by one, another with a budget of its own; each digest carries only its alerts.
#[test]
fn a_topic_can_have_its_own_digest_and_budget_on_a_sink() {
    let server = Server::start();
    two_topic_feed(&server, "/a", 3, 3);
    let rx = Receiver::start();
    let ws = Workspace::new(&format!(
        "{FAST}[[feeds]]\nname = \"a\"\nurl = \"{}\"\n{TWO_TOPICS}\
         [[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nconcurrency = 1\n\
         per_topic.summit = {{ digest = \"daily 08:00\" }}\nper_topic.tariff = {{ max_per_hour = 1 }}\n",
        server.url("/a"),
        rx.url("/")
    ));
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 1, "one tariff alert within its budget");
    assert_eq!(got[0].json()["topic"], "tariff");
    let folded: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("folded into the next digest"))
        .collect();
    assert_eq!(folded.len(), 2, "{}", run.stderr);
    assert!(
        folded.iter().all(|l| l.contains("budget=\"topic\"")),
        "{folded:?}"
    );
    let rows = outbox(&ws);
    let held = |topic: &str| {
        rows.iter()
            .filter(|r| r["state"] == "held" && r["topic"] == topic)
            .count()
    };
    assert_eq!((held("summit"), held("tariff")), (3, 2));

    // Each digest's time comes (by hand here): two messages, each with only its alerts.
    let made = ws.run(&["outbox", "digest", "hook"]);
    assert_eq!(
        made.stdout.matches("digest queued").count(),
        2,
        "{}",
        made.stdout
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let mut digests: Vec<serde_json::Value> = got[1..].iter().map(|r| r.json()).collect();
    digests.sort_by_key(|d| d["topic"].is_null());
    assert_eq!(digests[0]["topic"], "summit");
    assert_eq!(digests[0]["count"], 3);
    assert!(
        digests[0]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["topic"] == "summit")
    );
    assert!(
        digests[0]["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("digest:hook:summit:")
    );
    assert!(digests[1]["topic"].is_null(), "the sink's own digest");
    assert_eq!(digests[1]["count"], 2);
    assert!(
        digests[1]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["topic"] == "tariff")
    );
}

#[test]
fn per_topic_and_time_zone_mistakes_are_check_errors_with_their_positions() {
    let ws = Workspace::new(&format!(
        "[[feeds]]\nurl = \"http://127.0.0.1:9/a\"\n{TWO_TOPICS}\
         [[sinks]]\nname = \"h\"\nkind = \"exec\"\ncommand = [\"true\"]\ntopics = [\"summit\"]\n\
         time_zone = \"Mars/Olympus\"\ndigest = \"weekly\"\n\
         per_topic.nosuch = {{ max_per_hour = 1 }}\n\
         per_topic.tariff = {{ max_per_hour = 1 }}\n\
         per_topic.summit = {{ digest = \"daily 25:00\", max_per_hour = 0 }}\n\
         [[sinks]]\nname = \"h2\"\nkind = \"exec\"\ncommand = [\"true\"]\nper_topic.summit = {{}}\n"
    ));
    let run = ws.run(&["check"]);
    assert_eq!(run.code, 78);
    let file = ws.config.display().to_string();
    for (line, col, what) in [
        (17, 13, "\"Mars/Olympus\" is not a time zone"),
        (18, 10, "\"weekly\" is not a digest schedule"),
        (19, 20, "per_topic: no topic named \"nosuch\""),
        (20, 20, "this sink does not receive topic \"tariff\""),
        (21, 31, "\"daily 25:00\" is not a digest schedule"),
        (
            21,
            61,
            "per_topic.summit.max_per_hour must be between 1 and",
        ),
        (26, 20, "per_topic.summit sets nothing"),
    ] {
        let want = format!("{file}:{line}:{col}: ");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&want) && l.contains(what)),
            "{want}{what}\n{}",
            run.stderr
        );
    }
    // A key that is not a per-topic setting.
    let ws = Workspace::new(&format!(
        "[[feeds]]\nurl = \"http://127.0.0.1:9/a\"\n{TWO_TOPICS}\
         [[sinks]]\nname = \"h\"\nkind = \"exec\"\ncommand = [\"true\"]\n\
         per_topic.summit = {{ digest = \"hourly\", budget = 3 }}\n"
    ));
    let run = ws.run(&["check"]);
    assert_eq!(run.code, 78);
    let want = format!("{}:16:", ws.config.display());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(&want) && l.contains("budget")),
        "{}",
        run.stderr
    );
    // A named zone and per-topic settings that are right pass.
    let ws = Workspace::new(&format!(
        "[[feeds]]\nurl = \"http://127.0.0.1:9/a\"\n{TWO_TOPICS}\
         [[sinks]]\nname = \"h\"\nkind = \"exec\"\ncommand = [\"true\"]\n\
         digest = \"daily 08:00\"\ntime_zone = \"Europe/Paris\"\nmax_per_hour = 5\n\
         per_topic.summit = {{ deliver = \"immediate\", max_per_hour = 2 }}\n\
         [sinks.per_topic.tariff]\ndigest = \"hourly\"\n"
    ));
    let run = ws.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A full disk while enqueuing (issue #16, "Bad input and faults"): the database on a small
/// tmpfs (root only, as `daemon.rs`'s full-disk test; with `NEWSHOUND_REQUIRE_ROOT=1` it fails
/// rather than skip). Alerts of a digest sink (so no send changes the rows) keep coming while
/// the disk is full: the poll's transaction fails whole, so at every moment each alert has
/// exactly its outbox row and no row lacks its alert; when space returns, every alert and its
/// delivery are stored.
#[test]
fn a_full_disk_while_enqueuing_fails_the_poll_whole_and_nothing_is_half_written() {
    use std::process::Command;
    if unsafe { libc::geteuid() } != 0 {
        skip("mounting a tmpfs needs root");
        return;
    }
    let server = Server::start();
    // Stories of ~2 KB each, no two alike (a word of their own per position).
    let publish = |n: usize| {
        let items: Vec<(String, String, String, String)> = (0..n)
            .map(|i| {
                let words: Vec<String> = (0..150).map(|k| word(i, k + 10)).collect();
                (
                    format!("g{i}"),
                    format!("Summit {} {} {}", word(i, 1), word(i, 2), word(i, 3)),
                    format!("https://n.example/{i}"),
                    words.join(" "),
                )
            })
            .collect();
        let list: Vec<(&str, &str, &str, &str)> = items
            .iter()
            .map(|(g, t, u, s)| (g.as_str(), t.as_str(), u.as_str(), s.as_str()))
            .collect();
        server.route("/a", Reply::feed(&rss(&list), &format!("\"{n}\"")));
    };
    publish(5);
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
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
    let ws = Workspace::new(&config(
        &server,
        "[[sinks]]\nname = \"daily\"\nkind = \"exec\"\ncommand = [\"true\"]\ndigest = \"daily 08:00\"\n",
    ));
    let cfg = std::fs::read_to_string(&ws.config).unwrap().replace(
        "path = \"db.sqlite\"",
        &format!("path = \"{}\"", db.display()),
    );
    std::fs::write(&ws.config, cfg).unwrap();
    // (alerts, outbox rows, alerts without their row, rows without their alert)
    let counts = || -> (i64, i64, i64, i64) {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row(
                    "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM outbox),
                            (SELECT count(*) FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.alert_id = a.id)),
                            (SELECT count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = o.alert_id))",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .unwrap_or((-1, -1, -1, -1))
    };
    let mut d = Daemon::start(&ws);
    wait_until(Duration::from_secs(10), "the first alerts queued", || {
        counts() == (5, 5, 0, 0)
    });

    // Fill the disk, leaving a few KB, then publish 200 more alerting stories: about 1 MB to
    // write, more than the WAL file already holds (SQLite reuses its space after a checkpoint,
    // so a smaller transaction could still commit).
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
    publish(205);
    wait_until(
        Duration::from_secs(15),
        "the commit to fail for lack of space",
        || d.log().contains("could not commit polls"),
    );
    let failed_at = server.requests("/a").len();
    wait_until(Duration::from_secs(30), "two more polls", || {
        server.requests("/a").len() >= failed_at + 2
    });
    assert!(d.child.try_wait().unwrap().is_none(), "still running");
    let (alerts, rows, orphans, strays) = counts();
    assert!((5..205).contains(&alerts), "{alerts} alerts");
    assert_eq!(
        (rows, orphans, strays),
        (alerts, 0, 0),
        "each alert with its delivery, nothing half-written"
    );

    std::fs::remove_file(&filler).unwrap();
    wait_until(
        Duration::from_secs(15),
        "every alert and its delivery after space returns",
        || counts() == (205, 205, 0, 0),
    );
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(
        outbox(&ws).iter().all(|r| r["state"] == "held"),
        "held for the digest"
    );
}

/// A receiver that hangs holds only its own sink's slots: polling goes on and another sink
/// gets every alert as it comes, while the hung one's deliveries wait (issue #16, "Bad input
/// and faults").
#[test]
fn a_hung_receiver_blocks_neither_polling_nor_another_sink() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 2);
    let hung = Receiver::start();
    hung.script(|_, _| Answer::status(200).after(Duration::from_secs(120)));
    let fast = Receiver::start();
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hung\"\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"120s\"\nconcurrency = 1\n\
             [[sinks]]\nname = \"fast\"\nkind = \"webhook\"\nurl = \"{}\"\n",
            hung.url("/"),
            fast.url("/")
        ),
    ));
    let d = Daemon::start(&ws);
    wait_until(
        Duration::from_secs(10),
        "both alerts at the fast sink",
        || fast.received().len() == 2,
    );
    wait_until(
        Duration::from_secs(10),
        "the hung sink's first send",
        || hung.received().len() == 1,
    );
    // New stories while the hung send holds its sink's only slot.
    summit_feed(&server, "/a", 0, 5);
    wait_until(
        Duration::from_secs(10),
        "the new alerts at the fast sink",
        || fast.received().len() == 5,
    );
    assert_eq!(hung.received().len(), 1, "one slot, still held");
    let rows = outbox(&ws);
    let waiting = rows
        .iter()
        .filter(|r| r["sink"] == "hung" && r["state"] == "pending")
        .count();
    assert_eq!(waiting, 5, "the hung sink's deliveries wait: {rows:?}");
    // (Shutdown within the grace despite the hung send: the SIGTERM test above.)
    let (code, _) = d.stop(Duration::from_secs(10));
    assert_eq!(code, 0);
}

/// `[storage] keep` prunes the outbox too: deliveries sent (or dead) before the cutoff go,
/// one still waiting stays however old, and `prune` says how many.
#[test]
fn prune_deletes_old_sent_deliveries_and_keeps_waiting_ones() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 3);
    let rx = Receiver::start();
    rx.script(|n, _| {
        if n == 2 {
            Answer::status(503)
        } else {
            Answer::status(200)
        }
    });
    let ws = Workspace::new(&config(
        &server,
        &format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nconcurrency = 1\n",
            rx.url("/")
        ),
    ));
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        text.replace(
            "path = \"db.sqlite\"",
            "path = \"db.sqlite\"\nkeep = \"180d\"",
        ),
    )
    .unwrap();
    assert_eq!(ws.run(&["once"]).code, 0);
    let states = |ws: &Workspace| {
        let mut s: Vec<String> = outbox(ws)
            .iter()
            .map(|r| r["state"].as_str().unwrap().to_owned())
            .collect();
        s.sort();
        s
    };
    assert_eq!(states(&ws), ["failed", "sent", "sent"]);
    // As if all this happened 400 days ago.
    rusqlite::Connection::open(ws.db())
        .unwrap()
        .execute_batch(
            "UPDATE outbox SET created_at = created_at - 34560000000, sent_at = sent_at - 34560000000,
                               last_at = last_at - 34560000000",
        )
        .unwrap();
    let dry = ws.run(&["prune", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("would delete 2 deliveries sent or dead"),
        "{}",
        dry.stdout
    );
    assert_eq!(states(&ws).len(), 3, "a dry run deletes nothing");
    let run = ws.run(&["prune", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json_lines(&run.stdout)[0]["deliveries"], 2);
    assert_eq!(states(&ws), ["failed"], "the waiting one is kept");
}

/// A sink whose digest is taken out of the config sends what it held under the old one at its
/// next start (as one digest) rather than keeping it forever.
#[test]
fn alerts_held_under_an_earlier_config_go_out_when_the_digest_is_removed() {
    let server = Server::start();
    summit_feed(&server, "/a", 0, 3);
    let rx = Receiver::start();
    let hook = |extra: &str| {
        format!(
            "[[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n{extra}",
            rx.url("/")
        )
    };
    let ws = Workspace::new(&config(&server, &hook("digest = \"daily 08:00\"\n")));
    assert_eq!(ws.run(&["once"]).code, 0);
    assert!(rx.received().is_empty(), "held for the digest");
    rewrite(&ws, &config(&server, &hook("")));
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("held under an earlier config"),
        "{}",
        run.stderr
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["count"], 3);
    // Nothing is held any more, and an immediate sink's runs record no digest.
    assert!(outbox(&ws).iter().all(|r| r["state"] != "held"));
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(rx.received().len(), 1);
}
