//! Fetching: conditional GET, limits, failures isolated per feed.

use std::time::Duration;

use crate::common::*;

fn one_feed(server: &Server, path: &str, extra: &str) -> Workspace {
    Workspace::new(&format!(
        "[defaults]\ntimeout = \"3s\"\nread_timeout = \"2s\"\nconnect_timeout = \"2s\"\n{extra}\n[[feeds]]\nname = \"f\"\nurl = \"{}\"\n",
        server.url(path)
    ))
}

#[test]
fn second_once_sends_validators_gets_304_and_writes_nothing() {
    let server = Server::start();
    server.route(
        "/rss",
        Reply::feed(
            &rss(&[
                ("1", "One", "https://a.example/1", "x"),
                ("2", "Two", "https://a.example/2", "y"),
            ]),
            "\"v1\"",
        ),
    );
    let ws = one_feed(&server, "/rss", "");
    let first = ws.run(&["once"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("2 new"), "{}", first.stdout);
    let items_before = ws.run(&["items", "--json"]).stdout;

    let second = ws.run(&["once"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stdout.contains("unchanged (not modified)"),
        "{}",
        second.stdout
    );
    let reqs = server.requests("/rss");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].headers.get("if-none-match"), None);
    assert_eq!(
        reqs[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    // Nothing written: the items read back exactly as after the first run.
    let items = ws.run(&["items", "--json"]).stdout;
    assert_eq!(json_lines(&items).len(), 2);
    assert_eq!(items, items_before);
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    assert_eq!(feeds[0]["last_status"], 304);
    assert_eq!(feeds[0]["etag"], "\"v1\"");
}

#[test]
fn last_modified_is_sent_back_exactly_as_given() {
    let server = Server::start();
    let lm = "Tue, 31 Dec 2024 02:53:00 GMT";
    server.route(
        "/rss",
        Reply::Feed {
            body: rss(&[("1", "One", "https://a.example/1", "")]).into_bytes(),
            content_type: "application/rss+xml",
            etag: None,
            last_modified: Some(lm.into()),
            gzip: false,
        },
    );
    let ws = one_feed(&server, "/rss", "");
    ws.run(&["once"]);
    let r = ws.run(&["once"]);
    assert!(r.stdout.contains("not modified"), "{}", r.stdout);
    assert_eq!(
        server.requests("/rss")[1]
            .headers
            .get("if-modified-since")
            .map(String::as_str),
        Some(lm)
    );
}

#[test]
fn gzip_bodies_are_decoded() {
    let server = Server::start();
    server.route(
        "/rss",
        Reply::Feed {
            body: rss(&[("1", "Zipped", "https://a.example/z", "")]).into_bytes(),
            content_type: "application/rss+xml",
            etag: None,
            last_modified: None,
            gzip: true,
        },
    );
    let ws = one_feed(&server, "/rss", "");
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        json_lines(&ws.run(&["items", "--json"]).stdout)[0]["title"],
        "Zipped"
    );
}

#[test]
fn a_broken_feed_beside_a_good_one_fails_alone() {
    let server = Server::start();
    server.route(
        "/good",
        Reply::feed(&rss(&[("1", "Good", "https://a.example/g", "")]), "\"g\""),
    );
    server.route("/500", Reply::Status(500, vec![]));
    server.route("/404", Reply::Status(404, vec![]));
    server.route(
        "/html",
        Reply::Feed {
            body: b"<!DOCTYPE html><html><body>hi</body></html>".to_vec(),
            content_type: "text/html",
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    server.route(
        "/bad",
        Reply::Feed {
            body: b"<rss version=\"2.0\"><channel><item><title>unclosed".to_vec(),
            content_type: "text/xml",
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    let mut cfg = String::from("[defaults]\ntimeout = \"3s\"\n");
    for p in ["good", "500", "404", "html", "bad"] {
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"{p}\"\nurl = \"{}\"\n",
            server.url(&format!("/{p}"))
        ));
    }
    let ws = Workspace::new(&cfg);
    let r = ws.run(&["once"]);
    assert_eq!(
        r.code, 10,
        "documented exit code for partial failure\n{}{}",
        r.stdout, r.stderr
    );
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 1);
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    let class =
        |name: &str| feeds.iter().find(|f| f["name"] == name).unwrap()["last_error_class"].clone();
    assert_eq!(class("good"), serde_json::Value::Null);
    assert_eq!(class("500"), "http_status");
    assert_eq!(class("404"), "http_status");
    assert_eq!(class("html"), "not_a_feed");
    assert_eq!(class("bad"), "invalid_feed");
    // one log line per failure, naming the feed
    for name in ["500", "404", "html", "bad"] {
        let lines = r
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("feed={name} ")) && l.contains("WARN"))
            .count();
        assert_eq!(lines, 1, "feed {name}:\n{}", r.stderr);
    }
}

#[test]
fn an_endless_body_is_cut_at_the_cap() {
    let server = Server::start();
    server.route("/endless", Reply::Endless);
    let ws = one_feed(&server, "/endless", "max_body_size = \"1MiB\"");
    let r = ws.run(&["once", "--json"]);
    // Cut at the cap, not read until the 3 s timeout: that would be class "timeout". (The run's
    // wall time said the same, and failed on a loaded machine.)
    let report = &json_lines(&r.stdout)[0];
    assert_eq!(report["class"], "body_too_large", "{report}");
}

#[test]
fn a_gzip_bomb_is_cut_at_the_cap_after_decompression() {
    let server = Server::start();
    server.route("/bomb", Reply::GzipBomb(64 << 20));
    let ws = one_feed(&server, "/bomb", "max_body_size = \"1MiB\"");
    let r = ws.run(&["once", "--json"]);
    assert_eq!(
        json_lines(&r.stdout)[0]["class"],
        "body_too_large",
        "{}",
        r.stdout
    );
}

#[test]
fn a_stalled_server_times_out_within_the_limit() {
    let server = Server::start();
    server.route("/stall", Reply::Stall);
    server.route("/drip", Reply::Drip(Duration::from_millis(500)));
    let ws = Workspace::new(&format!(
        "[defaults]\ntimeout = \"2s\"\nread_timeout = \"1s\"\n[[feeds]]\nname = \"stall\"\nurl = \"{}\"\n[[feeds]]\nname = \"drip\"\nurl = \"{}\"\n",
        server.url("/stall"),
        server.url("/drip")
    ));
    let r = ws.run(&["once", "--json"]);
    // The limit is each poll's: its own clock (`elapsed_ms`), not the run's, which adds the
    // process's start and the database on a machine whose load is not the test's to bound. The
    // margin over the 2 s timeout is 1 s, as the daemon's shutdown promise allows: a timer
    // waking late and the poll's bookkeeping.
    let reports = json_lines(&r.stdout);
    assert_eq!(reports.len(), 2, "{}", r.stdout);
    for report in reports {
        assert_eq!(report["class"], "timeout", "{report}");
        let took = report["elapsed_ms"].as_u64().unwrap_or(u64::MAX);
        assert!(took < 2_000 + 1_000, "{report}");
    }
}

#[test]
fn permanent_redirects_are_followed_and_recorded() {
    let server = Server::start();
    server.route("/old", Reply::Redirect(301, "/new".into()));
    server.route(
        "/new",
        Reply::feed(&rss(&[("1", "Moved", "https://a.example/m", "")]), "\"n\""),
    );
    let ws = one_feed(&server, "/old", "");
    assert_eq!(ws.run(&["once"]).code, 0);
    let feeds = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    assert_eq!(feeds[0]["redirect_url"], server.url("/new"));
    let text = ws.run(&["feeds"]).stdout;
    assert!(text.contains("moved to:"), "{text}");
}

#[test]
fn redirect_loops_fail_cleanly() {
    let server = Server::start();
    server.route("/a", Reply::Redirect(302, "/b".into()));
    server.route("/b", Reply::Redirect(302, "/a".into()));
    let ws = one_feed(&server, "/a", "");
    let r = ws.run(&["once", "--json"]);
    assert_eq!(json_lines(&r.stdout)[0]["class"], "redirect");
    assert!(server.requests("/a").len() + server.requests("/b").len() <= 6);
}

#[test]
fn retry_after_on_429_is_reported() {
    let server = Server::start();
    server.route(
        "/busy",
        Reply::Status(429, vec![("Retry-After".into(), "120".into())]),
    );
    let ws = one_feed(&server, "/busy", "");
    let r = ws.run(&["once", "--json"]);
    let report = &json_lines(&r.stdout)[0];
    assert_eq!(report["http_status"], 429);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("retry after 120s"),
        "{report}"
    );
}

#[test]
fn local_files_are_feeds_and_unchanged_files_are_not_reparsed() {
    let ws = Workspace::new("[[feeds]]\nname = \"file\"\nurl = \"feed.xml\"\n");
    std::fs::write(
        ws.dir.path().join("feed.xml"),
        rss(&[("1", "From disk", "https://a.example/d", "")]),
    )
    .unwrap();
    assert!(ws.run(&["once"]).stdout.contains("1 new"));
    assert!(ws.run(&["once"]).stdout.contains("not modified"));
}

#[test]
fn redirects_to_link_local_or_metadata_addresses_are_refused_in_every_spelling() {
    let server = Server::start();
    let targets = [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
        "http://0251.0376.0251.0376/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
    ];
    let mut cfg = String::from("[defaults]\ntimeout = \"3s\"\n");
    for (i, t) in targets.iter().enumerate() {
        server.route(&format!("/r{i}"), Reply::Redirect(302, (*t).into()));
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"r{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/r{i}"))
        ));
    }
    let ws = Workspace::new(&cfg);
    let r = ws.run(&["once", "--json"]);
    // Refused before any connection attempt: an attempt at these addresses would end in
    // "timeout" or "connect", not "blocked_address". (The run's wall time was checked too, and
    // failed on a loaded machine without saying anything more.)
    let reports = json_lines(&r.stdout);
    assert_eq!(reports.len(), targets.len(), "{}", r.stdout);
    for report in reports {
        assert_eq!(report["class"], "blocked_address", "{report}");
        assert!(
            report["error"].as_str().unwrap().contains("link-local"),
            "{report}"
        );
    }
}

#[test]
fn strict_mode_refuses_even_a_feed_configured_at_a_local_address() {
    let server = Server::start();
    server.route(
        "/rss",
        Reply::feed(&rss(&[("1", "x", "https://a.example/1", "")]), "\"1\""),
    );
    let ws = one_feed(&server, "/rss", "address_guard = \"strict\"");
    let r = ws.run(&["once", "--json"]);
    assert_eq!(
        json_lines(&r.stdout)[0]["class"],
        "blocked_address",
        "{}",
        r.stdout
    );
    assert!(
        server.requests("/rss").is_empty(),
        "no request reached the server"
    );
    let off = one_feed(&server, "/rss", "address_guard = \"off\"");
    assert_eq!(off.run(&["once"]).code, 0);
}
