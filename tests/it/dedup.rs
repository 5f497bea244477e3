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
