//! `once` shows a progress bar of feeds done and failed on a terminal, and nothing extra
//! anywhere else.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::common::*;

/// Two feeds: one served, one that fails (nothing listens at its port).
fn workspace(server: &Server) -> Workspace {
    server.route(
        "/ok",
        Reply::feed(
            &rss(&[("a", "Title", "https://e.example/a", "Text")]),
            "\"1\"",
        ),
    );
    Workspace::new(&format!(
        "[[feeds]]\nname = \"ok\"\nurl = \"{}\"\n[[feeds]]\nname = \"down\"\nurl = \"http://127.0.0.1:9/feed\"\n",
        server.url("/ok")
    ))
}

#[test]
fn without_a_terminal_once_prints_only_its_summary() {
    let server = Server::start();
    let ws = workspace(&server);
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 10, "{}", run.stderr);
    for out in [&run.stdout, &run.stderr] {
        assert!(!out.contains('\r') && !out.contains('\u{1b}'), "{out:?}");
        assert!(!out.contains("feeds, "), "{out}");
    }
    assert!(run.stdout.contains("2 feeds in"), "{}", run.stdout);
}

#[test]
fn on_a_terminal_once_shows_feeds_done_and_failed_above_its_summary() {
    let server = Server::start();
    let ws = workspace(&server);
    // A pseudo-terminal of 100 columns for stdout and stderr.
    let (mut master, slave) = unsafe {
        let (mut m, mut s) = (0, 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let rc = libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        );
        if rc != 0 {
            skip("no pseudo-terminal (openpty failed)");
            return;
        }
        (
            std::fs::File::from(OwnedFd::from_raw_fd(m)),
            OwnedFd::from_raw_fd(s),
        )
    };
    let mut child = Command::new(bin())
        .args(["--config", ws.config.to_str().unwrap(), "once"])
        .env_remove("NEWSHOUND_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    // Read until the child has exited and closed its end (EIO then).
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(child.wait().unwrap().code(), Some(10));
    let text = String::from_utf8_lossy(&out);
    // The final count is drawn whatever the timing, then the summary.
    let bar = text
        .rfind("2/2 feeds, 1 failed")
        .unwrap_or_else(|| panic!("no bar in {text:?}"));
    let summary = text.find("2 feeds in").expect("the summary");
    assert!(bar < summary, "{text:?}");
}
