//! Under journald, events go through the journal's native protocol with their fields, so
//! `journalctl NEWSHOUND_TOPIC=...` selects a topic's alerts. A fake journal (a datagram socket
//! named by `$NEWSHOUND_JOURNAL_SOCKET`) decodes what the real binary sends; stderr is a stream
//! socket named by `$JOURNAL_STREAM`, as systemd sets it up.

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use newshound::journal::decode;

use crate::common::*;

/// One journal entry: its fields in order.
type Entry = Vec<(String, Vec<u8>)>;

fn value<'a>(entry: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    entry
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Runs `once` on a feed whose one item matches the `summit-scheduling` topic, with stderr the
/// journal's stream and the fake journal listening (or not); returns the journal's entries and
/// what reached stderr.
fn once_under_journald(title: &str, journal_listens: bool) -> (Vec<Entry>, String) {
    let ws = Workspace::new(
        "[alerts]\nmax_age = \"off\"\n\n[[feeds]]\nname = \"wire <desk>\"\nurl = \"wire.xml\"\n\n\
         [[topics]]\nname = \"summit-scheduling\"\nlevel = \"warning\"\nquery = 'summit'\n",
    );
    std::fs::write(
        ws.dir.path().join("wire.xml"),
        rss(&[(
            "g1",
            title,
            "http://127.0.0.1/a",
            "The summit is set for March.",
        )]),
    )
    .unwrap();
    let socket = ws.dir.path().join("journal.socket");
    let journal = journal_listens.then(|| UnixDatagram::bind(&socket).unwrap());
    // Read while the child runs: a datagram queue is short, and the child never blocks on it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = journal.map(|j| {
        let done = done.clone();
        std::thread::spawn(move || {
            j.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut entries = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match j.recv(&mut buf) {
                    Ok(n) => entries.push(decode(&buf[..n]).expect("a well-formed datagram")),
                    // Nothing queued: finished once the child has exited.
                    Err(_) if done.load(std::sync::atomic::Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            entries
        })
    });
    let (stream, mut ours) = UnixStream::pair().unwrap();
    let meta = std::fs::File::from(OwnedFd::from(stream.try_clone().unwrap()))
        .metadata()
        .unwrap();
    let status = Command::new(bin())
        .args(["--config", ws.config.to_str().unwrap(), "once"])
        .env_remove("NEWSHOUND_LOG")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .env("NEWSHOUND_JOURNAL_SOCKET", &socket)
        .stdout(Stdio::null())
        .stderr(Stdio::from(OwnedFd::from(stream)))
        .status()
        .unwrap();
    assert!(status.success());
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    ours.set_nonblocking(true).unwrap();
    let mut stderr = Vec::new();
    let _ = std::io::Read::read_to_end(&mut ours, &mut stderr);
    let entries = reader.map(|r| r.join().unwrap()).unwrap_or_default();
    (entries, String::from_utf8_lossy(&stderr).into_owned())
}

#[test]
fn alerts_reach_the_journal_with_topic_feed_and_story_fields() {
    let (entries, stderr) = once_under_journald("Leaders plan a summit in Geneva", true);
    assert!(
        stderr.is_empty(),
        "everything went to the journal: {stderr}"
    );
    let alert = entries
        .iter()
        .find(|e| value(e, "TARGET") == Some("newshound::alert"))
        .unwrap_or_else(|| panic!("no alert among {} entries", entries.len()));
    assert_eq!(value(alert, "NEWSHOUND_TOPIC"), Some("summit-scheduling"));
    assert_eq!(value(alert, "NEWSHOUND_FEED"), Some("wire <desk>"));
    assert!(value(alert, "NEWSHOUND_STORY").is_some_and(|s| s.parse::<i64>().is_ok()));
    assert_eq!(value(alert, "PRIORITY"), Some("4"));
    assert_eq!(value(alert, "SYSLOG_IDENTIFIER"), Some("newshound"));
    assert!(value(alert, "MESSAGE").is_some_and(|m| m.starts_with("alert: summit-scheduling")));
    // Every entry has a priority and a message.
    for e in &entries {
        assert!(
            value(e, "PRIORITY").is_some() && value(e, "MESSAGE").is_some(),
            "{e:?}"
        );
    }
}

#[test]
fn hostile_feed_text_cannot_forge_journal_fields() {
    let title = "Summit\nNEWSHOUND_TOPIC=forged\nPRIORITY=0 \u{202e}\u{1b}[2J";
    let (entries, _) = once_under_journald(title, true);
    let alert = entries
        .iter()
        .find(|e| value(e, "TARGET") == Some("newshound::alert"))
        .expect("the alert");
    let topics: Vec<_> = alert
        .iter()
        .filter(|(n, _)| n == "NEWSHOUND_TOPIC")
        .collect();
    assert_eq!(topics.len(), 1);
    assert_eq!(value(alert, "NEWSHOUND_TOPIC"), Some("summit-scheduling"));
    assert_eq!(value(alert, "PRIORITY"), Some("4"));
    let title_field = value(alert, "NEWSHOUND_TITLE").expect("a title field");
    assert!(
        !title_field.contains(['\n', '\u{1b}', '\u{202e}']),
        "{title_field:?}"
    );
    let message = value(alert, "MESSAGE").expect("a MESSAGE field");
    assert!(!message.contains('\n'), "{message:?}");
}

#[test]
fn without_a_journal_socket_lines_go_to_the_stream_as_text() {
    let (entries, stderr) = once_under_journald("Leaders plan a summit in Geneva", false);
    assert!(entries.is_empty());
    let alert = stderr
        .lines()
        .find(|l| l.contains("alert: summit-scheduling"))
        .unwrap_or_else(|| panic!("no alert line in {stderr}"));
    assert!(alert.starts_with("<4>"), "{alert}");
}
