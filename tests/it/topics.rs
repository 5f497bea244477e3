//! Watched topics end to end: the seed story alerts once; hard negatives never do.

use crate::common::*;

const SEED_TITLE: &str = "Japan PM Ishiba Eyes Meeting With Trump After Inauguration; Intends to Explain Moves to Strengthen Defense Capabilities";
const SEED_SUMMARY: &str = "Prime Minister Shigeru Ishiba is making arrangements to meet with U.S. President-elect Donald Trump in February or later, after Trump’s inauguration, Japanese government sources have said.";

/// The shipped example config's topics (its `include` of the shipped library, and its own
/// tables), so the test checks what users get.
fn shipped_topics() -> (String, String) {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/newshound.toml"
    ))
    .unwrap();
    let include = example
        .lines()
        .find(|l| l.starts_with("include = "))
        .unwrap()
        .to_owned();
    let at = example.find("[lexicons]").unwrap();
    let tables = example[at..].replace("feeds = [\"nhk\", \"japan-news\", \"kyodo\"]\n", "");
    (include, tables)
}

fn negatives() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    vec![
        (
            "n1",
            "Toyota Schedules Board Meeting to Approve New President",
            "https://n.example/toyota",
            "The automaker plans to hold an extraordinary board meeting in January.",
        ),
        (
            "n2",
            "Climbers Plan Final Push to the Summit of Mount Everest",
            "https://n.example/everest",
            "The team plans to reach the summit in May.",
        ),
        (
            "n3",
            "Ishiba, Biden Held Talks in Lima; Leaders Wrapped Up APEC Summit",
            "https://n.example/apec",
            "The leaders wrapped up the summit with a joint statement and plans for cooperation.",
        ),
        (
            "n4",
            "Shareholders Meeting Scheduled as President Steps Down",
            "https://n.example/agm",
            "The company plans a shareholders meeting.",
        ),
    ]
}

fn workspace(server: &Server) -> Workspace {
    let (include, tables) = shipped_topics();
    Workspace::with_top_level(
        &include,
        &format!(
            "[[feeds]]\nname = \"japan-news\"\nurl = \"{}\"\n[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n\n{tables}",
            server.url("/jn"),
            server.url("/wire"),
        ),
    )
}

#[test]
fn the_seed_story_alerts_once_across_two_feeds_and_repolls_while_hard_negatives_do_not() {
    let server = Server::start();
    let mut jn = vec![(
        "seed",
        SEED_TITLE,
        "https://japannews.example/politics/ishiba-trump/?utm_source=rss",
        SEED_SUMMARY,
    )];
    jn.extend(negatives());
    server.route("/jn", Reply::feed(&rss(&jn), "\"1\""));
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[(
                "w1",
                SEED_TITLE,
                "https://japannews.example/politics/ishiba-trump/?fbclid=1",
                SEED_SUMMARY,
            )]),
            "\"w\"",
        ),
    );
    let ws = workspace(&server);
    let first = ws.run(&["once"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let alert_lines: Vec<_> = first
        .stderr
        .lines()
        .filter(|l| l.contains("newshound::alert"))
        .collect();
    assert_eq!(alert_lines.len(), 1, "{}", first.stderr);
    assert!(
        alert_lines[0].contains("topic=summit-scheduling"),
        "{}",
        alert_lines[0]
    );
    assert!(
        alert_lines[0].contains(" WARN "),
        "the topic's level: {}",
        alert_lines[0]
    );

    // Re-poll with new validators (full 200s): still one alert.
    server.route("/jn", Reply::feed(&rss(&jn), "\"2\""));
    let second = ws.run(&["once"]);
    assert!(
        !second.stderr.contains("newshound::alert"),
        "{}",
        second.stderr
    );
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["topic"], "summit-scheduling");
    let terms: Vec<&str> = alerts[0]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        terms.contains(&"Eyes (upcoming cue)") && terms.contains(&"Meeting"),
        "{terms:?}"
    );
    assert!(!alerts[0]["snippet"].as_str().unwrap().is_empty());
}

#[test]
fn alerts_in_json_logs_have_the_documented_fields() {
    let server = Server::start();
    server.route(
        "/jn",
        Reply::feed(
            &rss(&[("seed", SEED_TITLE, "https://j.example/1", SEED_SUMMARY)]),
            "\"1\"",
        ),
    );
    server.route("/wire", Reply::feed(&rss(&[]), "\"w\""));
    let ws = workspace(&server);
    let r = ws.run(&["--log-format", "json", "once"]);
    let events = json_lines(&r.stderr);
    let alert = events
        .iter()
        .find(|e| e["target"] == "newshound::alert")
        .expect("an alert event");
    for key in [
        "timestamp",
        "level",
        "topic",
        "feed",
        "title",
        "url",
        "published",
        "terms",
        "field",
        "snippet",
        "item_id",
        "alert_id",
    ] {
        assert!(alert.get(key).is_some(), "missing {key}: {alert}");
    }
    assert_eq!(alert["title"], SEED_TITLE);
    assert_eq!(alert["feed"], "japan-news");
}

#[test]
fn old_items_do_not_alert_by_default() {
    let server = Server::start();
    let old = rss(&[("seed", SEED_TITLE, "https://j.example/1", SEED_SUMMARY)]).replace(
        &(chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc2822(),
        "Tue, 31 Dec 2024 02:53:00 +0000",
    );
    server.route("/jn", Reply::feed(&old, "\"1\""));
    server.route("/wire", Reply::feed(&rss(&[]), "\"w\""));
    let ws = workspace(&server);
    let r = ws.run(&["once"]);
    assert!(!r.stderr.contains("newshound::alert"), "{}", r.stderr);
    assert!(ws.run(&["alerts", "--json"]).stdout.trim().is_empty());
}

#[test]
fn topics_test_runs_a_query_over_stored_items_with_highlights() {
    let server = Server::start();
    let mut jn = vec![("seed", SEED_TITLE, "https://j.example/1", SEED_SUMMARY)];
    jn.extend(negatives());
    server.route("/jn", Reply::feed(&rss(&jn), "\"1\""));
    server.route("/wire", Reply::feed(&rss(&[]), "\"w\""));
    let ws = workspace(&server);
    ws.run(&["once"]);
    let r = ws.run(&["topics", "test", "summit-scheduling"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("[[Eyes]] [[Meeting]]"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("1 of 5 stored items match summit-scheduling"),
        "{}",
        r.stdout
    );
    let adhoc = ws.run(&["topics", "test", "--query", "summit", "--json"]);
    assert_eq!(json_lines(&adhoc.stdout).len(), 2, "{}", adhoc.stdout);
    let bad = ws.run(&["topics", "test", "--query", "(summit"]);
    assert_eq!(bad.code, 78);
    assert!(bad.stderr.contains("^"), "{}", bad.stderr);
}

#[test]
fn feed_text_cannot_forge_log_lines() {
    let server = Server::start();
    // Newline, carriage return, ANSI escape, line separator, a journald priority prefix, and a
    // 10 KB run that must be truncated.
    let evil = format!(
        "Summit planned\nERROR newshound::alert: forged\r\u{1b}[2J\u{2028}<0>emergency {}",
        "x".repeat(10_000)
    );
    let body = rss(&[(
        "e",
        &evil,
        "https://j.example/e",
        "Leaders plan a summit; President Xi to visit",
    )]);
    server.route("/jn", Reply::feed(&body, "\"1\""));
    server.route("/wire", Reply::feed(&rss(&[]), "\"w\""));
    let ws = workspace(&server);
    for format in ["text", "json"] {
        std::fs::remove_file(ws.db()).ok();
        let r = ws.run(&["--log-format", format, "once"]);
        let alerts: Vec<_> = r
            .stderr
            .lines()
            .filter(|l| l.contains("newshound::alert"))
            .collect();
        assert_eq!(alerts.len(), 1, "{format}: {}", r.stderr);
        assert!(
            !r.stderr.contains("\nERROR newshound::alert: forged"),
            "{format}"
        );
        assert!(
            !r.stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{format}: raw control characters in logs"
        );
        assert!(!r.stderr.contains('\u{2028}'), "{format}");
        // One physical line per event: every line starts a record.
        for line in r.stderr.lines() {
            if format == "json" {
                assert!(
                    serde_json::from_str::<serde_json::Value>(line).is_ok(),
                    "not one JSON object: {line}"
                );
            } else {
                assert!(
                    line.len() > 20
                        && line.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                        && line.as_bytes()[4] == b'-',
                    "a line that does not start a record: {line}"
                );
            }
        }
        // Feed text in logs is truncated (to 200 characters, escaped): no 10 KB lines.
        assert!(
            alerts.iter().all(|l| l.len() < 3_000),
            "{format}: an alert line of {} bytes",
            alerts.iter().map(|l| l.len()).max().unwrap_or(0)
        );
    }
}

// Issue #14: lexicons, the shipped library, backtests and cut listings, through the binary.

/// A workspace whose one feed (`/jn`) holds the seed story and the hard negatives, polled once.
fn polled(top: &str, topics: &str) -> (Server, Workspace) {
    let server = Server::start();
    let mut jn = vec![("seed", SEED_TITLE, "https://j.example/seed", SEED_SUMMARY)];
    jn.extend(negatives());
    server.route("/jn", Reply::feed(&rss(&jn), "\"1\""));
    let ws = Workspace::with_top_level(
        top,
        &format!(
            "[[feeds]]\nname = \"japan-news\"\nurl = \"{}\"\n\n{topics}",
            server.url("/jn")
        ),
    );
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (server, ws)
}

#[test]
fn issue_14_the_shipped_library_is_included_by_name_and_a_path_overrides_it() {
    let (_server, ws) = polled("include = [\"summit-scheduling\", \"us-china-trade\"]", "");
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("1 feeds, 2 topics"), "{}", r.stdout);
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["topic"], "summit-scheduling");

    // A path reads a file beside the config; an unknown name lists the shipped ones.
    std::fs::write(
        ws.dir.path().join("mine.toml"),
        "[[topics]]\nname = \"mine\"\nquery = '@birds'\n[lexicons]\nbirds = [\"eagle\"]\n",
    )
    .unwrap();
    let ws2 = Workspace::with_top_level(
        "include = [\"./mine.toml\", \"no-such-topic\"]",
        "[[feeds]]\nurl = \"https://a.example/feed\"\n",
    );
    std::fs::copy(
        ws.dir.path().join("mine.toml"),
        ws2.dir.path().join("mine.toml"),
    )
    .unwrap();
    let r = ws2.run(&["check"]);
    assert_eq!(r.code, 78);
    assert!(r.stderr.contains("config.toml:1:"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no shipped topic \"no-such-topic\"; shipped: summit-scheduling"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_14_lexicon_errors_name_file_line_and_column() {
    let ws = Workspace::new(
        "[[feeds]]\nurl = \"https://a.example/feed\"\n\n[lexicons]\nok = [\"a\"]\nbad = [\"fine\", \"x*y\"]\n\n[[topics]]\nname = \"t\"\nquery = '@nope summit'\n",
    );
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 78);
    // The config opens with [storage]; the bad entry is on line 9, column 16.
    assert!(
        r.stderr.contains(
            "config.toml:9:16: lexicon \"bad\": \"x*y\": \"*\" is only allowed at the end"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("unknown lexicon @nope"), "{}", r.stderr);

    // An included file's errors name that file.
    std::fs::write(
        ws.dir.path().join("inc.toml"),
        "[[topics]]\nname = \"i\"\nquery = 'x'\n\n[lexicons]\nempty = []\n",
    )
    .unwrap();
    let ws2 = Workspace::with_top_level(
        "include = \"inc.toml\"",
        "[[feeds]]\nurl = \"https://a.example/f\"\n",
    );
    std::fs::copy(
        ws.dir.path().join("inc.toml"),
        ws2.dir.path().join("inc.toml"),
    )
    .unwrap();
    let r = ws2.run(&["check"]);
    assert!(
        r.stderr
            .contains("inc.toml:6:1: lexicon \"empty\" is empty"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue_14_check_warns_about_a_query_that_can_never_match() {
    let ws = Workspace::new(
        "[[feeds]]\nurl = \"https://a.example/feed\"\n\n[[topics]]\nname = \"t\"\nquery = 'title:summit NEAR/3 summary:talks'\n",
    );
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning: topic \"t\":"), "{}", r.stderr);
    assert!(r.stderr.contains("can never match"), "{}", r.stderr);
}

#[test]
fn issue_14_topics_test_scores_against_labels_and_lists_each_error() {
    let (_server, ws) = polled(
        "",
        "[[topics]]\nname = \"plans\"\nquery = 'arrang* OR schedul*'\n",
    );
    // The seed, n1 and n4 match; n2 and n3 do not.
    let labels = ws.dir.path().join("labels.jsonl");
    std::fs::write(
        &labels,
        [
            r#"{"link": "https://j.example/seed", "label": true}"#,
            r#"{"url": "https://n.example/toyota", "label": false}"#,
            r#"{"id": "c3", "labels": {"plans": true, "other": false}}"#,
            r#"{"id": "c4", "labels": {"plans": "uncertain"}}"#,
            r#"{"link": "https://n.example/not-stored", "label": true}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let items = ws.dir.path().join("items.jsonl");
    std::fs::write(&items, r#"{"id": "c3", "link": "https://n.example/apec"}"#).unwrap();
    let r = ws.run(&[
        "topics",
        "test",
        "plans",
        "--labels",
        labels.to_str().unwrap(),
        "--items",
        items.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("plans: precision 0.500  recall 0.500  F1 0.500  (1 found, 1 false, 1 missed; 1 labelled items not stored, 1 labels left out)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("FALSE POSITIVE  Toyota Schedules Board Meeting")
            && r.stdout
                .contains("fired on: schedul* = \"Schedules\" (title)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("FALSE NEGATIVE  Ishiba, Biden Held Talks")
            && r.stdout.contains("query #1 missing: (arrang* OR schedul*)"),
        "{}",
        r.stdout
    );

    // explain: the tree for one stored item, found by URL.
    let r = ws.run(&["topics", "explain", "plans", "https://j.example/seed"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("+ arrang*: \"arrangements\" in summary"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("matches plans (query #1)"),
        "{}",
        r.stdout
    );
}

#[test]
fn issue_14_listings_say_how_many_rows_the_limit_left_out() {
    let (_server, ws) = polled("", "[[topics]]\nname = \"any\"\nquery = 'the OR a'\n");
    let r = ws.run(&["items", "--limit", "2"]);
    assert!(
        r.stderr.contains("3 more items (use --limit)"),
        "{}",
        r.stderr
    );
    let r = ws.run(&["alerts", "--limit", "1", "--json"]);
    assert_eq!(json_lines(&r.stdout).len(), 1);
    assert!(
        r.stderr.contains("more alerts (use --limit)"),
        "{}",
        r.stderr
    );
    let r = ws.run(&["stories", "--limit", "1"]);
    assert!(
        r.stderr.contains("more stories (use --limit)"),
        "{}",
        r.stderr
    );
    let r = ws.run(&["items", "--limit", "50"]);
    assert!(!r.stderr.contains("more"), "{}", r.stderr);
}

/// An event-status match says why it counted the event as upcoming: the alert's terms name the
/// cue that decided it.
#[test]
fn an_upcoming_alert_names_the_cue_that_decided_it() {
    let ws = Workspace::new(
        "[alerts]\nmax_age = \"off\"\n\n[[feeds]]\nname = \"f\"\nurl = \"f.xml\"\n\n\
         [[topics]]\nname = \"t\"\nquery = 'UPCOMING(summit) leaders'\n",
    );
    std::fs::write(
        ws.dir.path().join("f.xml"),
        rss(&[(
            "g1",
            "Leaders will hold a summit in Geneva",
            "https://x.example/1",
            "",
        )]),
    )
    .unwrap();
    assert_eq!(ws.run(&["once"]).code, 0);
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 1);
    let terms = alerts[0]["terms"].to_string();
    assert!(terms.contains("will (upcoming cue)"), "{terms}");
}
