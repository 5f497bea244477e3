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
