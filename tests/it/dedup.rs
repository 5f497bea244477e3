//! One story, stored once: across feeds, with tracking parameters, and when edited.

use crate::common::*;

fn two_feeds(server: &Server) -> Workspace {
    Workspace::new(&format!(
        "[[feeds]]\nname = \"a\"\nurl = \"{}\"\n[[feeds]]\nname = \"b\"\nurl = \"{}\"\n",
        server.url("/a"),
        server.url("/b")
    ))
}

#[test]
fn the_same_story_in_two_feeds_with_tracking_parameters_is_one_item() {
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(
            &rss(&[("a-1", "Story", "https://n.example/s?id=1&utm_source=a", "x")]),
            "\"a\"",
        ),
    );
    server.route(
        "/b",
        Reply::feed(
            &rss(&[(
                "b-77",
                "Story (wire)",
                "https://N.example/s?fbclid=Z&id=1#top",
                "x",
            )]),
            "\"b\"",
        ),
    );
    let ws = two_feeds(&server);
    let r = ws.run(&["once", "--json"]);
    let reports = json_lines(&r.stdout);
    let new: u64 = reports.iter().map(|r| r["new"].as_u64().unwrap()).sum();
    let merged: u64 = reports.iter().map(|r| r["merged"].as_u64().unwrap()).sum();
    assert_eq!((new, merged), (1, 1), "{}", r.stdout);
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["canonical_url"], "https://n.example/s?id=1");
    assert_eq!(items[0]["sources"], serde_json::json!(["a", "b"]));
    assert_eq!(
        json_lines(&ws.run(&["items", "--json", "--feed", "b"]).stdout).len(),
        1
    );
}

#[test]
fn an_edited_item_is_updated_in_place_not_duplicated() {
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(
            &rss(&[("1", "Original headline", "https://n.example/1", "v1")]),
            "\"1\"",
        ),
    );
    server.route("/b", Reply::feed(&rss(&[]), "\"e\""));
    let ws = two_feeds(&server);
    ws.run(&["once"]);
    server.route(
        "/a",
        Reply::feed(
            &rss(&[("1", "Corrected headline", "https://n.example/1", "v2")]),
            "\"2\"",
        ),
    );
    let r = ws.run(&["once", "--json"]);
    let a = json_lines(&r.stdout)
        .into_iter()
        .find(|x| x["feed"] == "a")
        .unwrap();
    assert_eq!(
        (a["new"].as_u64(), a["updated"].as_u64()),
        (Some(0), Some(1)),
        "{a}"
    );
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Corrected headline");
    assert!(items[0]["changed"].is_string());
}

#[test]
fn replaying_the_same_document_never_adds_rows() {
    let server = Server::start();
    // No validators: every poll is a full 200.
    let body = rss(&[
        ("1", "A", "https://n.example/1", ""),
        ("2", "B", "https://n.example/2", ""),
    ]);
    server.route(
        "/a",
        Reply::Feed {
            body: body.into_bytes(),
            content_type: "application/rss+xml",
            etag: None,
            last_modified: None,
            gzip: false,
        },
    );
    server.route("/b", Reply::feed(&rss(&[]), "\"e\""));
    let ws = two_feeds(&server);
    for _ in 0..3 {
        ws.run(&["once"]);
    }
    let r = ws.run(&["once", "--json"]);
    let a = json_lines(&r.stdout)
        .into_iter()
        .find(|x| x["feed"] == "a")
        .unwrap();
    assert_eq!(a["unchanged"], 2);
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 2);
}

#[test]
fn one_story_from_three_feeds_is_one_story_with_three_sources_and_one_alert() {
    let server = Server::start();
    server.route(
        "/a",
        Reply::feed(&rss(&[("a1", "Japan PM Ishiba Eyes Meeting With Trump After Inauguration", "https://a.example/1", "Prime Minister Shigeru Ishiba is making arrangements to meet with U.S. President-elect Donald Trump in February or later, after Trump's inauguration.")]), "\"a\""),
    );
    server.route(
        "/b",
        Reply::feed(&rss(&[("b1", "Ishiba arranging to meet Trump in February or later after inauguration -sources", "https://b.example/1", "Japanese Prime Minister Shigeru Ishiba is arranging to hold talks with Donald Trump in February or later, after the U.S. president-elect's inauguration.")]), "\"b\""),
    );
    server.route(
        "/c",
        Reply::feed(
            &rss(&[(
                "c1",
                "Ishiba eyes February meeting with Trump after inauguration",
                "https://c.example/1",
                "Ishiba plans a formal meeting with Trump after the inauguration, sources said.",
            )]),
            "\"c\"",
        ),
    );
    // concurrency 1: the three feeds arrive one after another, as they would over time.
    let mut cfg = String::from("[defaults]\nconcurrency = 1\n");
    for f in ["a", "b", "c"] {
        cfg.push_str(&format!(
            "[[feeds]]\nname = \"{f}\"\nurl = \"{}\"\n",
            server.url(&format!("/{f}"))
        ));
    }
    cfg.push_str("[[topics]]\nname = \"summit\"\nquery = \"(meet* OR summit) NEAR/8 (arrang* OR eyes OR plan*)\"\n");
    let ws = Workspace::new(&cfg);
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("newshound::alert").count(),
        1,
        "{}",
        r.stderr
    );
    let stories = json_lines(&ws.run(&["stories", "--json", "--min-sources", "2"]).stdout);
    assert_eq!(stories.len(), 1, "{stories:?}");
    assert_eq!(stories[0]["sources"], serde_json::json!(["a", "b", "c"]));
    let explain = ws.run(&["stories", "--explain"]).stdout;
    assert!(explain.contains("3 item(s) from 3 source(s)"), "{explain}");
    assert!(explain.contains("same story, score"), "{explain}");
    // Every merge says its tier, the score's parts and the bar it had to reach.
    for part in [
        "names ",
        "content ",
        "× time ",
        "threshold 0.30",
        "jaccard ",
    ] {
        assert!(explain.contains(part), "{part:?} in {explain}");
    }
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        items.iter().all(|i| i["story_id"] == stories[0]["id"]),
        "{items:?}"
    );
}
