//! Alerts are log lines: a log filter must never drop them silently, and under journald each
//! line carries the priority `journalctl -p` selects by.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::common::*;

/// A workspace polling one local feed with one item that the `summit` topic (level warn) matches.
fn alerting_workspace() -> Workspace {
    let ws = Workspace::new(
        "[alerts]\nmax_age = \"off\"\n\n[[feeds]]\nname = \"wire\"\nurl = \"wire.xml\"\n\n\
         [[topics]]\nname = \"summit\"\nlevel = \"warning\"\nquery = 'summit'\n",
    );
    std::fs::write(
        ws.dir.path().join("wire.xml"),
        rss(&[(
            "g1",
            "Leaders plan a summit in Geneva",
            "http://127.0.0.1/a",
            "The summit is set for March.",
        )]),
    )
    .unwrap();
    ws
}

#[test]
fn a_mistyped_log_level_is_a_usage_error_naming_the_accepted_levels() {
    let ws = alerting_workspace();
    for bad in ["verbose", "warnings", "info,newshound::alert=loud"] {
        let r = ws.run(&["--log-level", bad, "once"]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(
            r.stderr.contains("warn (or warning)") && r.stderr.contains(bad),
            "{bad}: {}",
            r.stderr
        );
    }
    assert!(!ws.db().exists(), "nothing ran");
}

#[test]
fn a_mistyped_newshound_log_is_refused_too() {
    let ws = alerting_workspace();
    let out = Command::new(bin())
        .args(["--config", ws.config.to_str().unwrap(), "once"])
        .env("NEWSHOUND_LOG", "verbose")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("$NEWSHOUND_LOG"));
}

#[test]
fn warning_is_accepted_as_warn_and_alerts_still_show() {
    let ws = alerting_workspace();
    let r = ws.run(&["--log-level", "warning", "once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alerts: Vec<_> = r
        .stderr
        .lines()
        .filter(|l| l.contains("alert: summit"))
        .collect();
    assert_eq!(alerts.len(), 1, "{}", r.stderr);
    assert!(alerts[0].contains(" WARN "), "{}", alerts[0]);
}

#[test]
fn a_filter_that_hides_every_alert_is_refused_unless_written_out() {
    let ws = alerting_workspace();
    for hiding in ["off", "reqwest=debug"] {
        let r = ws.run(&["--log-level", hiding, "once"]);
        assert_eq!(r.code, 2, "{hiding}: {}", r.stderr);
        assert!(r.stderr.contains("hides every alert"), "{}", r.stderr);
    }
    let r = ws.run(&["--log-level", "info,newshound::alert=off", "once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("alert: summit"), "{}", r.stderr);
}

#[test]
fn a_filter_that_hides_some_topics_says_which() {
    let ws = alerting_workspace();
    let r = ws.run(&["--log-level", "error", "once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("hides the alerts of summit"),
        "{}",
        r.stderr
    );
}

/// Runs `once` with stderr written to a file, and `JOURNAL_STREAM` set by `journal(file)`.
fn once_with_stderr_file(journal: impl Fn(&std::fs::Metadata) -> String) -> String {
    let ws = alerting_workspace();
    let log = ws.dir.path().join("stderr.log");
    let file = std::fs::File::create(&log).unwrap();
    let stream = journal(&file.metadata().unwrap());
    let status = Command::new(bin())
        .args(["--config", ws.config.to_str().unwrap(), "once"])
        .env_remove("NEWSHOUND_LOG")
        .env("JOURNAL_STREAM", stream)
        // No journal socket: the text fallback (tests/it/journal.rs has the native protocol).
        .env("NEWSHOUND_JOURNAL_SOCKET", ws.dir.path().join("no-journal"))
        .stdout(Stdio::null())
        .stderr(file)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn under_journald_each_line_carries_its_syslog_priority_and_no_timestamp() {
    let out = once_with_stderr_file(|m| format!("{}:{}", m.dev(), m.ino()));
    let lines: Vec<_> = out.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            l.starts_with("<3>") || l.starts_with("<4>") || l.starts_with("<6>"),
            "no priority prefix: {l}"
        );
        assert!(!l[3..].starts_with("20"), "a timestamp under journald: {l}");
    }
    let alert = lines
        .iter()
        .find(|l| l.contains("alert: summit"))
        .expect("the alert is logged");
    assert!(alert.starts_with("<4> WARN"), "{alert}");
}

#[test]
fn stderr_redirected_away_from_the_journal_keeps_plain_timestamped_lines() {
    // JOURNAL_STREAM names another file: stderr was redirected after systemd set it up.
    let out = once_with_stderr_file(|m| format!("{}:{}", m.dev(), m.ino() + 1));
    for l in out.lines() {
        assert!(!l.starts_with('<'), "{l}");
        assert!(l.starts_with("20"), "no timestamp: {l}");
    }
}
