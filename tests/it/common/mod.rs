//! Shared test helpers: a loopback feed server, a temporary workspace with a config, and a way
//! to run the real binary with a time bound.

pub mod receiver;
pub mod server;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use server::{Reply, Server};

/// A temporary directory holding a config (with its database beside it).
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Workspace {
    /// `body` is the config without `[storage]`; the database goes in the temp dir.
    pub fn new(body: &str) -> Workspace {
        Workspace::with_top_level("", body)
    }

    /// As `new`, with top-level keys (such as `include`) that TOML wants before any table.
    pub fn with_top_level(top: &str, body: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!("{top}\n[storage]\npath = \"db.sqlite\"\n\n{body}").trim_start(),
        )
        .unwrap();
        Workspace { dir, config }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("db.sqlite")
    }

    /// Runs `newshound --config <config> args...`, killing it after 60 s.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut full = vec!["--config", self.config.to_str().unwrap()];
        full.extend_from_slice(args);
        run_bin(&full)
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_newshound")
}

pub fn run_bin(args: &[&str]) -> Run {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("NEWSHOUND_LOG")
        .env_remove("NEWSHOUND_CONFIG")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newshound");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("newshound {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// An RSS 2.0 document. Items: (guid, title, link, description), dated `age` ago.
pub fn rss(items: &[(&str, &str, &str, &str)]) -> String {
    let date = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc2822();
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>http://127.0.0.1/</link>",
    );
    for (guid, title, link, desc) in items {
        s.push_str(&format!(
            "<item><guid>{}</guid><title>{}</title><link>{}</link><description>{}</description><pubDate>{date}</pubDate></item>",
            esc(guid),
            esc(title),
            esc(link),
            esc(desc)
        ));
    }
    s.push_str("</channel></rss>");
    s
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Skips a test that cannot run here (it needs root, a tool, a mount), saying why; with
/// `NEWSHOUND_REQUIRE_ROOT=1` (set by .ci/run, which runs as root) it fails instead, so CI losing
/// root or a tool turns red rather than silently passing.
pub fn skip(reason: &str) {
    if std::env::var_os("NEWSHOUND_REQUIRE_ROOT").is_some_and(|v| v == "1") {
        panic!("cannot run: {reason} (NEWSHOUND_REQUIRE_ROOT=1 forbids skipping)");
    }
    eprintln!("skipped: {reason}");
}

/// Lines of JSON output, parsed.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}
