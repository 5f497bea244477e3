//! `parse --json` (issue #15): the golden output of every fixture feed, compared exactly, and
//! what only a real HTTP response can show (the charset and base it gives).
//!
//! To regenerate the golden files after a deliberate change, run
//! `NEWSHOUND_UPDATE_GOLDEN=1 cargo test --test it parsing` and review the diff.

use crate::common::*;

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = format!("{}/tests/fixtures/feeds", env!("CARGO_MANIFEST_DIR"));
    let mut feeds: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".expected.jsonl"))
        .collect();
    feeds.sort();
    feeds
}

#[test]
fn parse_json_of_every_fixture_matches_its_golden_file() {
    let update = std::env::var_os("NEWSHOUND_UPDATE_GOLDEN").is_some();
    let feeds = fixtures();
    assert!(feeds.len() >= 8, "{feeds:?}");
    let mut wrong = Vec::new();
    for feed in &feeds {
        let r = run_bin(&["parse", "--json", feed.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}: {}", feed.display(), r.stderr);
        let golden = std::path::PathBuf::from(format!("{}.expected.jsonl", feed.display()));
        if update {
            std::fs::write(&golden, &r.stdout).unwrap();
            wrong.push(format!("{}: rewritten", golden.display()));
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (NEWSHOUND_UPDATE_GOLDEN=1 writes it)",
                golden.display()
            )
        });
        if r.stdout != expected {
            wrong.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{}",
                feed.display(),
                r.stdout
            ));
        }
    }
    // A run that rewrote the golden files compared nothing: it fails, so that it cannot pass
    // for a check (review the diff, then run again without NEWSHOUND_UPDATE_GOLDEN).
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn parse_json_prints_the_feed_then_each_entry_as_published() {
    let path = format!(
        "{}/tests/fixtures/feeds/microblog.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let r = run_bin(&["parse", "--json", &path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = json_lines(&r.stdout);
    let feed = &lines[0];
    assert_eq!(feed["kind"], "feed");
    assert_eq!(feed["format"], "rss20");
    assert_eq!(feed["title"], "Desk (microblog fixture)");
    assert_eq!(feed["link"], "https://social.example/@desk");
    assert!(feed["warnings"].as_array().unwrap().is_empty());
    let entries = &lines[1..];
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e["kind"] == "entry"));
    // The id as published, not newshound's key; a title made from the post says so.
    assert_eq!(entries[0]["id"], "https://social.example/@desk/113745");
    assert_eq!(entries[0]["key"], "g:https://social.example/@desk/113745");
    assert_eq!(entries[0]["title_source"], "summary");
    assert_eq!(entries[2]["id"], "desk-113743");
    assert_eq!(entries[2]["title_source"], "none");
}

#[test]
fn the_http_charset_and_content_location_apply() {
    let server = Server::start();
    let mut body =
        b"<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>".to_vec();
    body.extend_from_slice(&[0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]); // "Привет" in windows-1251
    body.extend_from_slice(
        b"</title><entry><id>urn:1</id><title>t</title><link href=\"rel/1\"/></entry></feed>",
    );
    server.route(
        "/feed",
        Reply::Feed {
            body,
            content_type: "application/atom+xml; charset=windows-1251",
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    let r = run_bin(&["parse", "--json", &server.url("/feed")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_lines(&r.stdout)[0]["title"], "Привет");

    server.route(
        "/moved",
        Reply::FeedWith(
            "<rss version=\"2.0\"><channel><title>T</title><item><guid>g</guid><title>t</title><link>story/2</link></item></channel></rss>".into(),
            vec![("Content-Location".into(), "https://cl.example/feeds/rss".into())],
        ),
    );
    let r = run_bin(&["parse", "--json", &server.url("/moved")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        json_lines(&r.stdout)[1]["url"],
        "https://cl.example/feeds/story/2"
    );
}

#[test]
fn a_poll_reports_unreadable_entries_in_its_log_and_in_feeds() {
    let server = Server::start();
    let doc = std::fs::read_to_string(format!(
        "{}/tests/fixtures/feeds/one-bad-entry.atom",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    server.route("/atom", Reply::feed(&doc, "\"v1\""));
    let ws = Workspace::new(&format!(
        "[[feeds]]\nname = \"mixed\"\nurl = \"{}\"\n",
        server.url("/atom")
    ));
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("feed read with problems")
            && r.stderr.contains("1 of 4 entries unreadable"),
        "{}",
        r.stderr
    );
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 3);
    let feeds = ws.run(&["feeds"]);
    assert!(
        feeds
            .stdout
            .contains("warning:        1 of 4 entries unreadable: "),
        "{}",
        feeds.stdout
    );
}

/// A feed served with this Content-Type, read by `parse --json`: its lines.
fn parse_served(
    server: &Server,
    path: &str,
    body: Vec<u8>,
    ct: &'static str,
) -> Vec<serde_json::Value> {
    server.route(
        path,
        Reply::Feed {
            body,
            content_type: ct,
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    let r = run_bin(&["parse", "--json", &server.url(path)]);
    assert_eq!(r.code, 0, "{path}: {}", r.stderr);
    json_lines(&r.stdout)
}

fn rss_titled(decl: &str, title: &[u8]) -> Vec<u8> {
    [
        decl.as_bytes(),
        b"<rss version=\"2.0\"><channel><title>C</title><item><guid>g</guid><title>",
        title,
        b"</title></item></channel></rss>",
    ]
    .concat()
}

#[test]
fn issue_15_charset_precedence_over_http_is_rfc_7303s() {
    let server = Server::start();
    let privet_1251: &[u8] = &[0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2];
    // The HTTP charset wins over the document's declaration.
    let lines = parse_served(
        &server,
        "/http-wins",
        rss_titled(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>",
            privet_1251,
        ),
        "application/rss+xml; charset=windows-1251",
    );
    assert_eq!(lines[1]["title"], "Привет");
    // A byte-order mark wins over the HTTP charset.
    let bom = [&b"\xef\xbb\xbf"[..], &rss_titled("", "Größe".as_bytes())].concat();
    let lines = parse_served(
        &server,
        "/bom-wins",
        bom,
        "application/xml; charset=iso-8859-1",
    );
    assert_eq!(lines[1]["title"], "Größe");
    // text/xml without a charset: the declaration decides (RFC 7303 dropped RFC 3023's us-ascii).
    let lines = parse_served(
        &server,
        "/text-xml",
        rss_titled(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>",
            b"Gr\xf6\xdfe",
        ),
        "text/xml",
    );
    assert_eq!(lines[1]["title"], "Größe");
    // An HTTP charset the bytes contradict (utf-8 on Latin-1): read as declared, with a warning.
    let lines = parse_served(
        &server,
        "/lying-http",
        rss_titled(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>",
            b"Gr\xf6\xdfe",
        ),
        "application/xml; charset=utf-8",
    );
    assert_eq!(lines[1]["title"], "Größe");
    assert!(
        lines[0]["warnings"].to_string().contains("not valid UTF-8"),
        "{}",
        lines[0]
    );
}

#[test]
fn issue_15_the_url_after_redirects_is_the_base_for_relative_links_in_parse_and_in_a_poll() {
    let server = Server::start();
    server.route("/old/feed", Reply::Redirect(301, server.url("/new/feed")));
    server.route(
        "/new/feed",
        Reply::feed(
            "<rss version=\"2.0\"><channel><title>T</title><item><guid>g</guid><title>t</title><link>story/2</link></item></channel></rss>",
            "\"v1\"",
        ),
    );
    let r = run_bin(&["parse", "--json", &server.url("/old/feed")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_lines(&r.stdout)[1]["url"], server.url("/new/story/2"));

    // The daemon's poll resolves the same way, and so does Content-Location (over the URL).
    server.route(
        "/cl/feed",
        Reply::FeedWith(
            "<rss version=\"2.0\"><channel><title>T</title><item><guid>h</guid><title>u</title><link>story/3</link></item></channel></rss>".into(),
            vec![("Content-Location".into(), "https://cl.example/feeds/rss".into())],
        ),
    );
    let ws = Workspace::new(&format!(
        "[[feeds]]\nname = \"moved\"\nurl = \"{}\"\n\n[[feeds]]\nname = \"located\"\nurl = \"{}\"\n",
        server.url("/old/feed"),
        server.url("/cl/feed")
    ));
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    let urls: Vec<&str> = items.iter().filter_map(|i| i["url"].as_str()).collect();
    assert!(
        urls.contains(&server.url("/new/story/2").as_str()),
        "{urls:?}"
    );
    assert!(
        urls.contains(&"https://cl.example/feeds/story/3"),
        "{urls:?}"
    );
}
