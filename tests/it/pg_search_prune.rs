//! Search and retention on PostgreSQL (`[storage] url`): the same answers as on SQLite for the
//! same feeds, and the same rules for what `prune` keeps, with one pruner at a time. Each test
//! creates and drops its own database (see `shared_store.rs`).

use std::collections::BTreeSet;

use crate::common::*;
use crate::shared_store::PgDb;

/// Real feeds we did not write (`../shared/corpus`, the repository's NHK fixture): Japanese,
/// Chinese (GB2312), Czech (accents) and English; and one of ours that changes between runs.
/// `None` (the test skips, saying so) when the corpus is missing, unless `CI` is set.
fn serve_real_feeds(server: &Server) -> Option<Vec<(String, String)>> {
    let files = [
        ("nhk", "tests/fixtures/feeds/nhk-ja.rdf".to_owned()),
        ("kc", corpus("netnewswire__kc0011.rss")),
        ("aktuality", corpus("netnewswire__aktuality.rss")),
        ("guardian", corpus("rss-parser__guardian.rss")),
    ];
    let mut feeds = Vec::new();
    for (name, path) in files {
        let body = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must have the corpus at ../shared/corpus (or NEWSHOUND_CORPUS): {path}: {e}"
                );
                eprintln!("skipped: no corpus ({path}: {e}); set NEWSHOUND_CORPUS");
                return None;
            }
        };
        server.route(
            &format!("/{name}"),
            Reply::Feed {
                body,
                content_type: "application/xml",
                etag: Some("\"1\"".into()),
                last_modified: None,
                gzip: false,
            },
        );
        feeds.push((name.to_owned(), server.url(&format!("/{name}"))));
    }
    feeds.push(("ours".into(), server.url("/ours")));
    Some(feeds)
}

/// A corpus feed: `NEWSHOUND_CORPUS`, else `../shared/corpus` beside the checkout (as
/// `quality.rs` finds it; CI has it there).
fn corpus(file: &str) -> String {
    let dir = std::env::var_os("NEWSHOUND_CORPUS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        std::path::PathBuf::from,
    );
    dir.join("feeds").join(file).display().to_string()
}

const OURS_1: (&str, &str, &str, &str) = (
    "o1",
    "Café owners back the well-known summit plan",
    "https://ours.example/1",
    "Leaders said it's a \"trade talks\" breakthrough; naïve hopes aside.",
);
const OURS_2: (&str, &str, &str, &str) = (
    "o2",
    "Trade talks resume in Geneva",
    "https://ours.example/2",
    "Delegations met on Tuesday.",
);

/// The feeds, and a topic for `topics explain`.
fn feeds_toml(feeds: &[(String, String)]) -> String {
    let mut s: String = feeds
        .iter()
        .map(|(n, u)| format!("[[feeds]]\nname = \"{n}\"\nurl = \"{u}\"\n"))
        .collect();
    s.push_str("[[topics]]\nname = \"summit\"\nquery = \"summit\"\n");
    s
}

/// The titles of a search's hits, as a set (the two stores rank differently).
fn found(ws: &Workspace, query: &str) -> BTreeSet<String> {
    let run = ws.run(&["search", "--json", "--limit", "1000", query]);
    assert_eq!(run.code, 0, "search {query:?}: {}", run.stderr);
    json_lines(&run.stdout)
        .iter()
        .map(|h| format!("{} <{}>", h["title"], h["url"]))
        .collect()
}

/// Queries from the stored titles: a word, a two-word phrase and a prefix per title (Latin
/// script), and 1, 2 and 3 characters in a row of each CJK title; at most 24 of each kind.
fn queries_from(titles: &[String]) -> Vec<String> {
    let (mut latin, mut cjk) = (BTreeSet::new(), BTreeSet::new());
    for title in titles {
        let run = title
            .split(|c: char| !newshound::search::is_cjk(c))
            .map(|r| r.chars().collect::<Vec<char>>())
            .find(|r| r.len() >= 4);
        if let Some(run) = run {
            // Never the run's last character: a lone one is found where it starts a pair.
            let n = cjk.len() % (run.len() - 3);
            cjk.insert(run[n].to_string());
            cjk.insert(run[n + 1..n + 3].iter().collect::<String>());
            cjk.insert(run[n + 1..n + 4].iter().collect::<String>());
            continue;
        }
        let words: Vec<&str> = title
            .split_whitespace()
            .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphanumeric))
            .collect();
        if let Some(w) = words.iter().max_by_key(|w| w.len()) {
            latin.insert((*w).to_owned());
            let stem: String = w.chars().take(4).collect();
            latin.insert(format!("{stem}*"));
        }
        let all: Vec<&str> = title.split_whitespace().collect();
        if let Some(pair) = all
            .windows(2)
            .find(|p| p.iter().all(|w| w.chars().all(char::is_alphanumeric)))
        {
            latin.insert(format!("\"{} {}\"", pair[0], pair[1]));
        }
    }
    let spread = |set: BTreeSet<String>| {
        let step = set.len().div_ceil(24).max(1);
        set.into_iter().step_by(step).collect::<Vec<_>>()
    };
    let mut out = spread(latin);
    out.extend(spread(cjk));
    out
}

#[test]
fn search_on_postgres_finds_what_sqlite_finds_for_the_same_feeds() {
    let Some(db) = PgDb::create("search") else {
        return;
    };
    let server = Server::start();
    server.route("/ours", Reply::feed(&rss(&[OURS_1]), "\"1\""));
    let Some(feeds) = serve_real_feeds(&server) else {
        return;
    };
    let sqlite = Workspace::new(&format!("search = true\n\n{}", feeds_toml(&feeds)));
    // PostgreSQL starts without the index: the second run's catch-up indexes the first's items.
    let pg = db.workspace(&feeds_toml(&feeds));
    let check = pg.run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    for ws in [&sqlite, &pg] {
        let run = ws.run(&["once"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let off = pg.run(&["search", "summit"]);
    assert_eq!(off.code, 78, "search is off: {}", off.stderr);
    std::fs::write(
        &pg.config,
        format!(
            "[storage]\nurl = \"{}\"\nsearch = true\n\n{}",
            db.url(),
            feeds_toml(&feeds)
        ),
    )
    .unwrap();
    // A new item on the second run is indexed with it, in the same transaction.
    server.route("/ours", Reply::feed(&rss(&[OURS_1, OURS_2]), "\"2\""));
    for ws in [&sqlite, &pg] {
        let run = ws.run(&["once"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    // (Read from the databases: `items --json` of them all is more than a pipe holds.)
    let titles: Vec<String> = db
        .client()
        .query("SELECT title FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let on_sqlite: i64 = rusqlite::Connection::open(sqlite.db())
        .unwrap()
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(titles.len() as i64, on_sqlite);
    assert!(titles.len() > 100, "{} items", titles.len());
    assert_eq!(
        db.count("SELECT count(*) FROM items_search"),
        on_sqlite,
        "every item indexed"
    );

    let derived = queries_from(&titles);
    assert!(
        derived
            .iter()
            .filter(|q| q.chars().any(newshound::search::is_cjk))
            .count()
            >= 9,
        "{derived:?}"
    );
    // (query, whether it must find something)
    let mut queries: Vec<(String, bool)> = derived.into_iter().map(|q| (q, true)).collect();
    queries.extend(
        [
            ("cafe", true),               // accents folded: Café
            ("naive", true),              // naïve
            ("\"trade talks\"", true),    // a phrase, in a title and in a summary
            ("\"talks trade\"", false),   // not that phrase
            ("well-known", true),         // cut into words where FTS5 cuts it
            ("trade -geneva", true),      // an exclusion
            ("geneva OR café", true),     // either
            ("首脳会談", true),           // four characters in a row
            ("東京 OR 北京", false),      // CJK words, either
            ("NEAR(trade talks)", false), // FTS5's operators are words on both
        ]
        .map(|(q, must)| (q.to_owned(), must)),
    );
    let mut hits = 0;
    for (q, must) in &queries {
        let (a, b) = (found(&sqlite, q), found(&pg, q));
        assert_eq!(
            a, b,
            "query {q:?}: SQLite (left) and PostgreSQL (right) differ"
        );
        assert!(
            !*must || !a.is_empty(),
            "query {q:?} found nothing on either"
        );
        hits += a.len();
    }
    assert!(
        hits > queries.len(),
        "{hits} hits for {} queries",
        queries.len()
    );
    // The CJK and accent cases found what they are about.
    assert_eq!(
        found(&pg, "cafe"),
        BTreeSet::from([format!("\"{}\" <\"{}\">", OURS_1.1, OURS_1.2)])
    );
    assert!(found(&pg, "\"trade talks\"").len() >= 2);
    // Query mistakes are usage errors on PostgreSQL too.
    let bad = pg.run(&["search", "\"open"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    // `topics explain` reads PostgreSQL.
    let id = db.count("SELECT min(id) FROM items").to_string();
    let explain = pg.run(&["topics", "explain", "summit", &id]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain.stdout.contains(&format!("item {id}:")),
        "{}",
        explain.stdout
    );
}

const DAY: i64 = 86_400;

/// Moves everything stored back in time by `days`, as if it had been stored then.
fn age_everything(db: &PgDb, days: i64) {
    let d = days * DAY;
    db.client()
        .batch_execute(&format!(
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

/// The key of the retention pass's advisory lock (`src/store/pg/retention.rs`).
const PRUNE_LOCK: i64 = 0x6e65_7773_686f_756e + 10;

/// The rules of `tests/it/retention.rs` on PostgreSQL: what is older than `keep` goes with its
/// sightings, features, alerts and search rows; an item a feed still lists and an open story
/// stay; a second pruner waits its turn; and the daemons sharing the database learn that the
/// stories changed (the store generation moved).
#[test]
fn prune_on_postgres_keeps_what_it_must_one_pruner_at_a_time() {
    let Some(db) = PgDb::create("prune") else {
        return;
    };
    let server = Server::start();
    server.route("/old", Reply::feed(&rss(&[VOLCANO, HARBOUR]), "\"1\""));
    server.route("/fresh", Reply::feed(&rss(&[]), "\"1\""));
    let ws = db.workspace(&format!(
        "keep = \"30d\"\nsearch = true\n\n[[feeds]]\nname = \"old\"\nurl = \"{}\"\n[[feeds]]\nname = \"fresh\"\nurl = \"{}\"\n\n\
         [[topics]]\nname = \"volcano\"\nquery = \"volcano\"\n",
        server.url("/old"),
        server.url("/fresh")
    ));
    let check = ws.run(&["check"]);
    assert_eq!(
        check.code, 0,
        "keep and search are accepted: {}",
        check.stderr
    );
    assert_eq!(ws.run(&["once"]).code, 0);
    assert_eq!(json_lines(&ws.run(&["alerts", "--json"]).stdout).len(), 1);
    // Stored 400 days ago, and nothing newer since: these stories are the newest, still open.
    age_everything(&db, 400);
    let run = ws.run(&["prune", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(json_lines(&run.stdout)[0]["items"], 0, "open stories stay");
    // The old feed lists only the harbour item again; a fresh feed brings today's news.
    server.route("/old", Reply::feed(&rss(&[HARBOUR]), "\"3\""));
    server.route(
        "/fresh",
        Reply::feed(
            &rss(&[(
                "f1",
                "Markets open higher",
                "https://fresh.example/markets",
                "Stocks rose.",
            )]),
            "\"3\"",
        ),
    );
    assert_eq!(ws.run(&["once"]).code, 0);

    // Another pruner holds the lock: this one says so and deletes nothing.
    let mut other = db.client();
    other
        .execute("SELECT pg_advisory_lock($1)", &[&PRUNE_LOCK])
        .unwrap();
    let busy = ws.run(&["prune"]);
    assert_ne!(busy.code, 0);
    assert!(
        busy.stderr.contains("another newshound is pruning"),
        "{}",
        busy.stderr
    );
    other
        .execute("SELECT pg_advisory_unlock($1)", &[&PRUNE_LOCK])
        .unwrap();
    assert_eq!(db.count("SELECT count(*) FROM items"), 3);

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
    assert_eq!(
        db.count("SELECT count(*) FROM items"),
        3,
        "a dry run deletes nothing"
    );

    assert_eq!(
        json_lines(&ws.run(&["search", "--json", "volcano"]).stdout).len(),
        1
    );
    let generation = db.count("SELECT n FROM generation");
    let run = ws.run(&["prune"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("deleted 1 story: 1 item, 1 sighting, 1 story features, 1 alert"),
        "{}",
        run.stdout
    );
    assert!(db.count("SELECT n FROM generation") > generation);
    let items = json_lines(&ws.run(&["items", "--json"]).stdout);
    let titles: Vec<&str> = items.iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(!titles.contains(&VOLCANO.1), "{titles:?}");
    assert!(json_lines(&ws.run(&["alerts", "--json"]).stdout).is_empty());
    let search = |q: &str| {
        let run = ws.run(&["search", "--json", q]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        json_lines(&run.stdout).len()
    };
    assert_eq!((search("volcano"), search("harbour")), (0, 1));
    // Nothing left to do; no dangling rows; the lock was given back.
    let again = ws.run(&["prune", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(json_lines(&again.stdout)[0]["items"], 0);
    assert_eq!(
        db.count(
            "SELECT (SELECT count(*) FROM sightings WHERE item_id NOT IN (SELECT id FROM items))
                  + (SELECT count(*) FROM item_features WHERE item_id NOT IN (SELECT id FROM items))
                  + (SELECT count(*) FROM items_search WHERE item_id NOT IN (SELECT id FROM items))
                  + (SELECT count(*) FROM stories WHERE headline_item_id NOT IN (SELECT id FROM items))"
        ),
        0
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
             WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        ),
        0
    );
}

/// The store lock (`src/store/pg/mod.rs`), taken by every ingest transaction.
const STORE_LOCK: i64 = 0x6e65_7773_686f_756e + 1;

/// A deleting batch waits for the transaction of a poll being stored by another daemon (which
/// holds the store lock until it commits) and decides only after it: it never deletes under an
/// ingest. Here a client stands for that daemon, its transaction held open.
#[test]
fn prune_waits_for_an_ingest_in_progress_on_postgres() {
    use crate::daemon::wait_until;
    let Some(db) = PgDb::create("prunewait") else {
        return;
    };
    let url = db.url();
    drop(newshound::store::PgStore::open(&url).unwrap());
    let mut ingesting = db.client();
    let mut tx = ingesting.transaction().unwrap();
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&STORE_LOCK])
        .unwrap();
    let pruner = std::thread::spawn(move || {
        let mut store = newshound::store::PgStore::open(&url)?;
        store.prune(
            std::time::Duration::from_secs(180 * 86_400),
            86_400,
            chrono::Utc::now(),
            false,
        )
    });
    wait_until(
        std::time::Duration::from_secs(20),
        "the pruner to wait for the store lock",
        || {
            db.count(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                 WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
            ) == 1
        },
    );
    assert!(!pruner.is_finished(), "it waits while the ingest is open");
    tx.commit().unwrap();
    let (_, report) = pruner
        .join()
        .unwrap()
        .expect("the pass ends once the ingest committed");
    assert_eq!(report, newshound::store::PruneReport::default());
}
