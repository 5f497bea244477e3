//! Retention (`[storage] keep`, `newshound prune`): what is older than `keep` goes, whole
//! stories at a time, with its sightings, features, search rows and alerts; never a story that
//! is still open, nor an item a feed still lists.

use crate::common::{Reply, Server, Workspace, json_lines, rss};

const DAY: i64 = 86_400;

fn workspace(server: &Server, keep: &str) -> Workspace {
    Workspace::new(&format!(
        "keep = \"{keep}\"\nsearch = true\n\n[[feeds]]\nname = \"old\"\nurl = \"{}\"\n[[feeds]]\nname = \"fresh\"\nurl = \"{}\"\n\n\
         [[topics]]\nname = \"volcano\"\nquery = \"volcano\"\n",
        server.url("/old"),
        server.url("/fresh")
    ))
}

/// Moves everything stored back in time by `days`, as if it had been stored then.
fn age_everything(ws: &Workspace, days: i64) {
    let conn = rusqlite::Connection::open(ws.db()).unwrap();
    let d = days * DAY;
    conn.execute_batch(&format!(
        "UPDATE items SET first_seen_at = first_seen_at - {d}, published_at = published_at - {d};
         UPDATE sightings SET first_seen_at = first_seen_at - {d}, last_seen_at = last_seen_at - {d};
         UPDATE stories SET started_at = started_at - {d}, last_at = last_at - {d};
         UPDATE alerts SET created_at = created_at - {d};
         UPDATE id_marks SET hour = hour - {};",
        days * 24
    ))
    .unwrap();
}

const VOLCANO: (&str, &str, &str, &str) = (
    "v1",
    "Volcano erupts near the coast",
    "https://old.example/volcano",
    "Lava reached the sea on Monday.",
);
const HARBOUR: (&str, &str, &str, &str) = (
    "h1",
    "Harbour reopens after storm repairs",
    "https://old.example/harbour",
    "Ferries run again from Tuesday.",
);

#[test]
fn what_is_older_than_keep_goes_but_not_what_a_feed_still_lists() {
    let server = Server::start();
    server.route("/old", Reply::feed(&rss(&[VOLCANO, HARBOUR]), "\"1\""));
    server.route("/fresh", Reply::feed(&rss(&[]), "\"1\""));
    let ws = workspace(&server, "30d");
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(json_lines(&ws.run(&["alerts", "--json"]).stdout).len(), 1);
    age_everything(&ws, 400);
    // The old feed now lists only the harbour item; a fresh feed brings today's news.
    server.route("/old", Reply::feed(&rss(&[HARBOUR]), "\"2\""));
    server.route(
        "/fresh",
        Reply::feed(
            &rss(&[(
                "f1",
                "Markets open higher",
                "https://fresh.example/markets",
                "Stocks rose.",
            )]),
            "\"2\"",
        ),
    );
    assert_eq!(ws.run(&["once"]).code, 0);

    let dry = ws.run(&["prune", "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let counts = &json_lines(&dry.stdout)[0];
    assert_eq!(counts["dry_run"], true);
    for (what, n) in [
        ("stories", 1),
        ("items", 1),
        ("sightings", 1),
        ("features", 1),
        ("alerts", 1),
    ] {
        assert_eq!(counts[what], n, "{what}: {counts}");
    }
    // A dry run changes nothing.
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 3);

    let run = ws.run(&["prune"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("deleted 1 story: 1 item, 1 sighting, 1 story features, 1 alert"),
        "{}",
        run.stdout
    );
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(!titles.contains(&VOLCANO.1), "{titles:?}");
    assert!(json_lines(&ws.run(&["alerts", "--json"]).stdout).is_empty());
    assert!(json_lines(&ws.run(&["search", "--json", "volcano"]).stdout).is_empty());
    assert_eq!(
        json_lines(&ws.run(&["search", "--json", "harbour"]).stdout).len(),
        1
    );
    // Nothing left to do; and the database holds no dangling rows.
    let again = ws.run(&["prune", "--json"]);
    assert_eq!(json_lines(&again.stdout)[0]["items"], 0);
    let conn = rusqlite::Connection::open(ws.db()).unwrap();
    let dangling: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM sightings WHERE item_id NOT IN (SELECT id FROM items))
                  + (SELECT count(*) FROM item_features WHERE item_id NOT IN (SELECT id FROM items))
                  + (SELECT count(*) FROM stories WHERE headline_item_id NOT IN (SELECT id FROM items))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dangling, 0);
}

#[test]
fn the_newest_stories_are_open_and_never_deleted_however_old() {
    let server = Server::start();
    server.route("/old", Reply::feed(&rss(&[VOLCANO, HARBOUR]), "\"1\""));
    server.route("/fresh", Reply::feed(&rss(&[]), "\"1\""));
    let ws = workspace(&server, "30d");
    assert_eq!(ws.run(&["once"]).code, 0);
    age_everything(&ws, 400);
    // Stored 400 days ago, but nothing newer came since: on the items' clock these stories are
    // the latest, and an item arriving now could still join them.
    server.route("/old", Reply::feed(&rss(&[]), "\"2\""));
    let run = ws.run(&["prune", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json_lines(&run.stdout)[0]["items"], 0);
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 2);
}

#[test]
fn keep_is_checked_and_prune_without_it_says_how_to_set_it() {
    let server = Server::start();
    let ws = workspace(&server, "1d");
    let run = ws.run(&["check"]);
    assert_eq!(run.code, 78);
    assert!(
        run.stderr
            .contains("storage.keep must be longer than the story window"),
        "{}",
        run.stderr
    );
    let ws = workspace(&server, "forever");
    let run = ws.run(&["prune", "--dry-run"]);
    assert_eq!(run.code, 78);
    assert!(run.stderr.contains("keep = \"180d\""), "{}", run.stderr);
}

#[test]
fn what_a_feed_still_lists_stays_however_long_it_answers_304() {
    let server = Server::start();
    server.route("/old", Reply::feed(&rss(&[VOLCANO, HARBOUR]), "\"1\""));
    server.route("/fresh", Reply::feed(&rss(&[]), "\"1\""));
    let ws = workspace(&server, "30d");
    assert_eq!(ws.run(&["once"]).code, 0);
    age_everything(&ws, 400);
    {
        // Its last document, too, 400 days ago; it has answered 304 ever since.
        let conn = rusqlite::Connection::open(ws.db()).unwrap();
        conn.execute_batch(&format!(
            "UPDATE feeds SET last_document_at = last_document_at - {}",
            400 * DAY
        ))
        .unwrap();
    }
    server.route(
        "/fresh",
        Reply::feed(
            &rss(&[(
                "f1",
                "Markets open higher",
                "https://fresh.example/m",
                "Stocks rose.",
            )]),
            "\"2\"",
        ),
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    let old = ws.run(&["feeds", "--json"]);
    assert!(old.stdout.contains("\"last_status\":304"), "{}", old.stdout);
    let run = ws.run(&["prune", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json_lines(&run.stdout)[0]["items"], 0, "{}", run.stdout);
    assert_eq!(json_lines(&ws.run(&["items", "--json"]).stdout).len(), 3);
}

/// SIGHUP applies a new `keep` to the running daemon, and its first pass runs at once.
#[test]
fn a_reload_that_sets_keep_prunes_at_once() {
    use crate::daemon::{Daemon, wait_until};
    use std::time::Duration;

    let server = Server::start();
    server.route("/old", Reply::feed(&rss(&[VOLCANO, HARBOUR]), "\"1\""));
    server.route("/fresh", Reply::feed(&rss(&[]), "\"1\""));
    let ws = workspace(&server, "forever");
    let config = std::fs::read_to_string(&ws.config).unwrap();
    let fast = "[defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nadaptive = false\n";
    std::fs::write(&ws.config, format!("{config}\n{fast}")).unwrap();
    assert_eq!(ws.run(&["once"]).code, 0);
    age_everything(&ws, 400);
    // The old feed now lists only the harbour item; a fresh feed brings today's news (the
    // newest stories are open, and never deleted).
    server.route("/old", Reply::feed(&rss(&[HARBOUR]), "\"2\""));
    let markets = (
        "f1",
        "Markets open higher",
        "https://fresh.example/markets",
        "Stocks rose.",
    );
    server.route("/fresh", Reply::feed(&rss(&[markets]), "\"2\""));

    let d = Daemon::start(&ws);
    // Both lists seen by the daemon and committed: the harbour item's sighting is today's again.
    wait_until(
        Duration::from_secs(15),
        "the daemon's first polls committed",
        || {
            let conn = rusqlite::Connection::open(ws.db()).unwrap();
            conn.query_row(
            "SELECT count(*) FROM sightings WHERE coalesce(last_seen_at, first_seen_at) > unixepoch() - 86400",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
            == 2
        },
    );

    let config = std::fs::read_to_string(&ws.config).unwrap();
    std::fs::write(
        &ws.config,
        config.replace("keep = \"forever\"", "keep = \"30d\""),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    let t = std::time::Instant::now();
    while !d
        .log()
        .contains("retention: deleted what is older than keep")
    {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no retention pass within 15 s of the reload:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.log();
    assert!(log.contains("[storage] keep applied"), "{log}");
    assert!(!log.contains("[storage] changed"), "{log}");
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(
        !titles.contains(&VOLCANO.1),
        "the volcano story is past keep: {titles:?}"
    );
    assert_eq!(d.stop(Duration::from_secs(10)).0, 0);
}
