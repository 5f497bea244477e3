//! `newshound search`: full-text search over stored titles and summaries, CJK included; the
//! query is the user's, so its mistakes are usage errors and FTS5's operators are plain words.

use crate::common::{Reply, Server, Workspace, json_lines, rss};

fn workspace(server: &Server) -> Workspace {
    Workspace::new(&format!(
        "search = true\n\n[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n",
        server.url("/wire")
    ))
}

fn search(ws: &Workspace, args: &[&str]) -> Vec<serde_json::Value> {
    let mut full = vec!["search", "--json"];
    full.extend_from_slice(args);
    let run = ws.run(&full);
    assert_eq!(run.code, 0, "search {args:?}: {}", run.stderr);
    json_lines(&run.stdout)
}

fn titles(hits: &[serde_json::Value]) -> Vec<&str> {
    hits.iter().filter_map(|h| h["title"].as_str()).collect()
}

#[test]
fn finds_words_in_titles_and_summaries_title_matches_first() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[
                (
                    "a",
                    "Markets steady before the holiday",
                    "https://wire.example/a",
                    "Traders said the summit on trade left prices unchanged.",
                ),
                (
                    "b",
                    "Summit on trade ends without a deal",
                    "https://wire.example/b",
                    "Leaders left the talks early.",
                ),
                (
                    "c",
                    "Weather: rain all week",
                    "https://wire.example/c",
                    "Umbrellas recommended.",
                ),
            ]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    assert_eq!(ws.run(&["once"]).code, 0);
    let hits = search(&ws, &["SUMMIT", "trade"]);
    assert_eq!(
        titles(&hits),
        [
            "Summit on trade ends without a deal",
            "Markets steady before the holiday"
        ]
    );
    let first = &hits[0];
    assert_eq!(first["feed"], "wire");
    assert_eq!(first["url"], "https://wire.example/b");
    assert!(first["item_id"].as_i64().is_some() && first["score"].as_f64() > Some(0.0));
    assert!(first["published"].is_string() && first["story_id"].is_i64());
    // The snippet is the summary around the first query word it holds.
    assert!(
        hits[1]["snippet"]
            .as_str()
            .is_some_and(|s| s.contains("summit on trade")),
        "{hits:#?}"
    );
    // Phrases, exclusions, prefixes, OR.
    assert_eq!(
        titles(&search(&ws, &["\"summit on trade\" -deal"])),
        ["Markets steady before the holiday"]
    );
    assert_eq!(
        titles(&search(&ws, &["umbrella*"])),
        ["Weather: rain all week"]
    );
    assert_eq!(search(&ws, &["rain", "OR", "deal"]).len(), 2);
    assert!(search(&ws, &["nothing-like-this"]).is_empty());
    // The human form: date, feed, title, snippet, link.
    let run = ws.run(&["search", "weather"]);
    assert!(
        run.stdout.contains("[wire]  Weather: rain all week"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("https://wire.example/c"));
}

#[test]
fn chinese_and_japanese_words_are_found_inside_unspaced_text() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[
                (
                    "ja1",
                    "石破首相 東京都で首脳会談",
                    "https://wire.example/ja1",
                    "トランプ次期大統領との会談は2月以降で調整している。",
                ),
                (
                    "ja2",
                    "京都の祭りに観光客",
                    "https://wire.example/ja2",
                    "祇園祭は7月に行われる。",
                ),
                (
                    "zh1",
                    "中美贸易谈判在北京举行",
                    "https://wire.example/zh1",
                    "双方就关税问题交换了意见。",
                ),
            ]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    assert_eq!(ws.run(&["once"]).code, 0);
    // Two-character words, which FTS5's trigram tokenizer cannot find.
    assert_eq!(
        titles(&search(&ws, &["首相"])),
        ["石破首相 東京都で首脳会談"]
    );
    assert_eq!(titles(&search(&ws, &["关税"])), ["中美贸易谈判在北京举行"]);
    assert_eq!(search(&ws, &["京都"]).len(), 2, "東京都 holds 京都 too");
    // Three characters in a row, not three characters anywhere.
    assert_eq!(
        titles(&search(&ws, &["東京都"])),
        ["石破首相 東京都で首脳会談"]
    );
    assert!(search(&ws, &["北京都"]).is_empty());
    // One character: found at the start of a pair; mixed scripts split where the script changes.
    assert_eq!(search(&ws, &["祭"]).len(), 1);
    assert_eq!(
        titles(&search(&ws, &["2月"])),
        ["石破首相 東京都で首脳会談"]
    );
}

#[test]
fn query_mistakes_are_usage_errors_with_a_caret_never_sql_errors() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[("a", "Title", "https://wire.example/a", "Text")]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    assert_eq!(ws.run(&["once"]).code, 0);
    for (query, says) in [
        ("\"unclosed phrase", "never closed"),
        ("-only -excluded", "at least one word"),
        ("title OR", "each side"),
        ("!!!", "no letters or digits"),
    ] {
        let run = ws.run(&["search", "--", query]);
        assert_eq!(run.code, 2, "{query}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{query}: {}", run.stderr);
        assert!(run.stderr.contains('^'), "{query}: {}", run.stderr);
        assert!(
            !run.stderr.to_lowercase().contains("fts5"),
            "{}",
            run.stderr
        );
    }
    // FTS5's own syntax, typed by a user, is plain words: no error, no surprise match.
    for query in [
        "NEAR(title text)",
        "title:Title",
        "^Title",
        "Title AND NOT",
        "{title summary}: Title",
        "x'); DROP TABLE items;",
    ] {
        let run = ws.run(&["search", "--json", query]);
        assert_eq!(run.code, 0, "{query}: {}", run.stderr);
        assert!(
            run.stderr.is_empty() || run.stderr.starts_with("no stored item"),
            "{query}: {}",
            run.stderr
        );
    }
    assert_eq!(ws.run(&["items", "--json"]).stdout.lines().count(), 1);
}

#[test]
fn a_changed_item_is_found_by_its_new_words_only() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[(
                "a",
                "Draft headline",
                "https://wire.example/a",
                "First text",
            )]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    assert_eq!(ws.run(&["once"]).code, 0);
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[(
                "a",
                "Final headline",
                "https://wire.example/a",
                "Corrected text",
            )]),
            "\"2\"",
        ),
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    assert!(search(&ws, &["draft"]).is_empty());
    assert_eq!(titles(&search(&ws, &["corrected"])), ["Final headline"]);
}

#[test]
fn a_database_from_before_search_gets_its_index_when_migrated() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[(
                "a",
                "Stored before search existed",
                "https://wire.example/a",
                "Old text",
            )]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    assert_eq!(ws.run(&["once"]).code, 0);
    // Make it a database of the schema before migration 0009 (undoing 0010 and 0009).
    {
        let conn = rusqlite::Connection::open(ws.db()).unwrap();
        conn.execute_batch(
            "DROP TABLE digest_runs;
             DROP TABLE items_fts; ALTER TABLE sightings DROP COLUMN last_seen_at; DROP INDEX alerts_by_item;
             ALTER TABLE feeds DROP COLUMN last_document_at;
             PRAGMA user_version = 8;",
        )
        .unwrap();
    }
    // Read-only commands do not migrate: a clear message, not "no such table".
    let run = ws.run(&["search", "stored"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no search index yet"), "{}", run.stderr);
    // Anything that writes migrates, indexing what is stored.
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        titles(&search(&ws, &["stored"])),
        ["Stored before search existed"]
    );
}

#[test]
fn with_search_off_search_says_how_to_turn_it_on() {
    let ws = Workspace::new("[[feeds]]\nname = \"wire\"\nurl = \"wire.xml\"\n");
    let run = ws.run(&["search", "anything"]);
    assert_eq!(run.code, 78);
    assert!(run.stderr.contains("search = true"), "{}", run.stderr);
}

#[test]
fn turning_search_on_indexes_what_was_stored_while_it_was_off() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[(
                "a",
                "Stored while search was off",
                "https://wire.example/a",
                "Text",
            )]),
            "\"1\"",
        ),
    );
    let ws = Workspace::new(&format!(
        "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n",
        server.url("/wire")
    ));
    assert_eq!(ws.run(&["once"]).code, 0);
    let text = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(&ws.config, text.replacen("\n\n", "\nsearch = true\n\n", 1)).unwrap();
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(
        titles(&search(&ws, &["stored"])),
        ["Stored while search was off"]
    );
}
