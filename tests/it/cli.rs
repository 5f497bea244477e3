//! The command line: exit codes, config errors, output shapes.

use crate::common::*;

#[test]
fn check_accepts_the_shipped_configs() {
    for cfg in ["config/newshound.toml", "config/demo.toml"] {
        let path = format!("{}/{cfg}", env!("CARGO_MANIFEST_DIR"));
        let r = run_bin(&["--config", &path, "check"]);
        assert_eq!(r.code, 0, "{cfg}: {}", r.stderr);
        assert!(r.stdout.starts_with("ok: "), "{}", r.stdout);
    }
}

#[test]
fn check_reports_every_error_with_file_line_column_and_exits_78() {
    let ws = Workspace::new(
        "[defaults]\ninterval = \"often\"\n\n[[feeds]]\nurl = \"ftp://x.example/\"\n\n[[topics]]\nname = \"a\"\nquery = '(summit OR'\n\n[[topics]]\nname = \"b\"\nquery = 'x NEAR/0 y'\n",
    );
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    let file = ws.config.display().to_string();
    for expected in [
        format!("{file}:5:12: interval: \"often\" is not a duration"),
        format!("{file}:8:7: unsupported URL scheme \"ftp\""),
        format!("{file}:12:20: topic \"a\": expected a word"),
        format!("{file}:16:17: topic \"b\": NEAR distance must be a number from 1 to 1000"),
    ] {
        assert!(
            r.stderr.contains(&expected),
            "missing {expected:?} in\n{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("4 errors in config"), "{}", r.stderr);
}

#[test]
fn a_missing_or_empty_config_is_a_config_error() {
    let r = run_bin(&["--config", "/nonexistent/newshound.toml", "check"]);
    assert_eq!(r.code, 78);
    assert!(
        r.stderr
            .contains("cannot read config file /nonexistent/newshound.toml"),
        "{}",
        r.stderr
    );
    let ws = Workspace::new("");
    std::fs::write(&ws.config, "").unwrap();
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 78);
    assert!(
        r.stderr.contains(":1:1: the config file is empty"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_config_error_leaves_no_database_behind() {
    let ws = Workspace::new("[[feeds]]\nurl = \"https://a.example/\"\nbogus = 1\n");
    assert_eq!(ws.run(&["once"]).code, 78);
    assert!(!ws.db().exists());
}

#[test]
fn parse_prints_normalized_items_as_json_lines() {
    let path = format!(
        "{}/tests/fixtures/feeds/japan-news.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let r = run_bin(&["parse", &path, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = json_lines(&r.stdout);
    assert_eq!(lines[0]["kind"], "feed");
    let items = &lines[1..];
    assert_eq!(items.len(), 5);
    let first = &items[0];
    for key in [
        "id",
        "key",
        "title",
        "url",
        "published",
        "updated",
        "summary",
        "authors",
        "categories",
    ] {
        assert!(first.get(key).is_some(), "missing {key}: {first}");
    }
    assert_eq!(first["id"], "jn-20241231-0001");
    assert_eq!(first["key"], "g:jn-20241231-0001");
    assert_eq!(first["published"], "2024-12-31T02:53:00Z");
    assert_eq!(first["categories"], serde_json::json!(["Politics"]));
    assert!(
        first["summary"]
            .as_str()
            .unwrap()
            .starts_with("Prime Minister Shigeru Ishiba is making arrangements")
    );
}

#[test]
fn parse_reports_a_broken_document_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.xml");
    std::fs::write(&p, "<html><body>not a feed</body></html>").unwrap();
    let r = run_bin(&["parse", p.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a feed"), "{}", r.stderr);
}

#[test]
fn listing_commands_before_any_poll_say_what_to_do() {
    let ws = Workspace::new("[[feeds]]\nurl = \"https://a.example/\"\n");
    let r = ws.run(&["items"]);
    assert_eq!(r.code, 73);
    assert!(r.stderr.contains("run `newshound once`"), "{}", r.stderr);
}

#[test]
fn the_demo_runs_offline_and_alerts() {
    // The README's first command, against a copy so the repository's target/ is not touched.
    let root = env!("CARGO_MANIFEST_DIR");
    let demo = std::fs::read_to_string(format!("{root}/config/demo.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("demo.toml");
    let body = demo
        .replace(
            "../target/demo/newshound.db",
            &dir.path().join("demo.db").display().to_string(),
        )
        .replace("../tests/", &format!("{root}/tests/"));
    std::fs::write(&cfg, body).unwrap();
    let r = run_bin(&["--config", cfg.to_str().unwrap(), "once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alerts = r
        .stderr
        .lines()
        .filter(|l| l.contains("newshound::alert"))
        .count();
    assert!(alerts >= 2, "{}", r.stderr);
    let again = run_bin(&["--config", cfg.to_str().unwrap(), "once"]);
    assert!(
        again.stdout.contains("0 new items, 0 alerts, 0 failed"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_missing_feed_file_is_reported_once_with_the_os_error() {
    let r = run_bin(&["parse", "/nonexistent/feed.xml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("/nonexistent/feed.xml").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn version_names_the_git_commit_it_was_built_from() {
    let r = run_bin(&["--version"]);
    assert_eq!(r.code, 0);
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git runs in the checkout");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(head.len(), 12, "not a checkout? {head:?}");
    assert_eq!(
        r.stdout.trim(),
        format!("newshound {} ({head})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_are_valid_scripts_naming_every_command() {
    let r = run_bin(&["completions", "bash"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for cmd in [
        "check", "once", "run", "feeds", "items", "alerts", "stories", "parse",
    ] {
        assert!(r.stdout.contains(cmd), "{cmd} missing");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &r.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(file.path())
        .status()
        .unwrap();
    assert!(syntax.success(), "bash -n rejects the completion script");
    assert_eq!(run_bin(&["completions", "zsh"]).code, 0);
    assert_eq!(run_bin(&["completions", "nushell"]).code, 2);
}

/// `man` (man-db, which .ci/run installs) renders the page without a warning, and the page
/// documents every subcommand and the exit codes.
#[test]
fn the_man_page_renders_without_warnings_and_covers_every_command() {
    let r = run_bin(&["manpage"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let file = tempfile::Builder::new().suffix(".1").tempfile().unwrap();
    std::fs::write(file.path(), &r.stdout).unwrap();
    let out = std::process::Command::new("man")
        .args(["--warnings", "-l", "-Tutf8"])
        .arg(file.path())
        .env("MANWIDTH", "100")
        .output()
        .expect("man (man-db) is installed");
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "man warns: {warnings}");
    let page = plain(&String::from_utf8_lossy(&out.stdout));
    for section in [
        "NEWSHOUND CHECK",
        "NEWSHOUND ONCE",
        "NEWSHOUND TOPICS TEST",
        "130",
    ] {
        assert!(
            page.contains(section),
            "{section} missing from the man page"
        );
    }
}

/// Terminal output without its bold and underline: overstrikes (`X\x08X`) and SGR sequences.
fn plain(s: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x08' => {
                out.pop();
            }
            '\x1b' => {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    out.into_iter().collect()
}

/// `once` leaves each feed's next poll as the daemon would schedule it, and `feeds` shows the
/// wait actually scheduled (a `<ttl>` of 30 minutes) next to the base interval, not just the
/// interval.
#[test]
fn feeds_after_once_shows_the_next_poll_and_the_wait_a_ttl_asks_for() {
    let fixture = format!(
        "{}/tests/fixtures/feeds/japan-news.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let ws = Workspace::new(&format!(
        "[defaults]\ninterval = \"10s\"\nmin_interval = \"5s\"\nadaptive = false\n\n[[feeds]]\nname = \"jn\"\nurl = \"{fixture}\"\n"
    ));
    assert_eq!(ws.run(&["once"]).code, 0);
    let rows = json_lines(&ws.run(&["feeds", "--json"]).stdout);
    let next = rows[0]["next_poll_at"]
        .as_str()
        .expect("a next poll after once");
    let last = rows[0]["last_fetch_at"].as_str().unwrap();
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let wait = (parse(next) - parse(last)).num_seconds();
    assert!((30 * 60..=33 * 60 + 5).contains(&wait), "waits {wait}s");
    let text = ws.run(&["feeds"]).stdout;
    assert!(
        text.contains("after the last fetch, because: ttl; base interval 10s"),
        "{text}"
    );
}

/// Two feeds on one host, 1 s apart by `host_spacing`: the second's time in the `once`
/// summary says how much of it was spent queued for the host.
#[test]
fn once_says_how_much_of_a_feeds_time_was_queued_behind_its_host() {
    let server = Server::start();
    for p in ["/a", "/b"] {
        server.route(
            p,
            Reply::feed(&rss(&[("g", "Title", "https://x.example/1", "")]), "\"e\""),
        );
    }
    let ws = Workspace::new(&format!(
        "[defaults]\nhost_spacing = \"1s\"\nper_host_concurrency = 1\n\n[[feeds]]\nname = \"a\"\nurl = \"{}\"\n\n[[feeds]]\nname = \"b\"\nurl = \"{}\"\n",
        server.url("/a"),
        server.url("/b")
    ));
    let r = ws.run(&["once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let queued: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("ms of it queued"))
        .collect();
    assert_eq!(queued.len(), 1, "{}", r.stdout);
    let ms: u64 = queued[0]
        .rsplit('(')
        .next()
        .and_then(|t| t.split(" ms, ").nth(1))
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", queued[0]));
    assert!(ms >= 500, "{}", queued[0]);
}

/// A first run says once where the database is, with its path resolved (no `config/../`), not
/// one line per migration; a multi-line query is echoed on one line, not with `\n` escapes; and
/// a count of one is singular.
#[test]
fn first_run_messages_are_one_line_each_and_read_naturally() {
    let ws = Workspace::new("");
    let sub = ws.dir.path().join("conf");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(
        ws.dir.path().join("f.xml"),
        rss(&[("g1", "Leaders plan a summit", "https://x.example/1", "")]),
    )
    .unwrap();
    let config = sub.join("c.toml");
    std::fs::write(
        &config,
        "[storage]\npath = \"../db.sqlite\"\n[alerts]\nmax_age = \"off\"\n\n[[feeds]]\nname = \"f\"\nurl = \"../f.xml\"\n\n\
         [[topics]]\nname = \"t\"\nqueries = ['''summit\n   -everest''', 'gipfel']\n",
    )
    .unwrap();
    let r = run_bin(&["--config", config.to_str().unwrap(), "once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let created: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("database created at"))
        .collect();
    assert_eq!(created.len(), 1, "{}", r.stderr);
    let db = std::fs::canonicalize(ws.dir.path())
        .unwrap()
        .join("db.sqlite");
    assert!(
        created[0].contains(&format!("{} (schema v", db.display())),
        "{}",
        created[0]
    );
    assert!(!r.stderr.contains("migrated"), "{}", r.stderr);
    assert!(
        r.stdout.contains(": 1 new item, 1 alert, 0 failed"),
        "{}",
        r.stdout
    );
    let t = run_bin(&["--config", config.to_str().unwrap(), "topics", "test", "t"]);
    assert!(
        t.stdout.contains("query #1: summit -everest"),
        "{}",
        t.stdout
    );
    assert!(!t.stdout.contains("\\n"), "{}", t.stdout);
}
