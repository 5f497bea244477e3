//! Log events to journald through its native protocol, so each event's fields become journal
//! fields: an alert carries `NEWSHOUND_TOPIC=`, `NEWSHOUND_FEED=` and `NEWSHOUND_STORY=`, and
//! `journalctl -u newshound NEWSHOUND_TOPIC=summit-scheduling` selects a topic's alerts.
//!
//! Used when stderr is the journal's stream ([`crate::logging::stderr_is_journal`]) and the
//! journal's socket answers; otherwise the text format (with `<N>` priority prefixes) stays.
//! The socket is `/run/systemd/journal/socket`, or `$NEWSHOUND_JOURNAL_SOCKET` (tests point it
//! at a socket of their own). A datagram the journal refuses (too large, or its queue still full
//! after [`SEND_TIMEOUT`]) is written to stderr as a text line instead, which journald stores too: nothing is lost.
//!
//! The protocol (systemd's `JOURNAL_NATIVE_PROTOCOL`): one datagram per entry, each field
//! `NAME=value\n`, or, for a value holding a newline, `NAME\n`, its length as 64-bit little
//! endian, the bytes, `\n`. Field names are fixed by the code ([`field_name`]); feed text only
//! ever appears in values, where the length form keeps a newline from starting a field.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::logging::syslog_priority;
use crate::text::escape_line;

/// Where journald listens for native-protocol datagrams.
pub const DEFAULT_SOCKET: &str = "/run/systemd/journal/socket";
/// Overrides [`DEFAULT_SOCKET`] (tests).
pub const SOCKET_ENV: &str = "NEWSHOUND_JOURNAL_SOCKET";
/// The prefix of every field newshound adds.
pub const PREFIX: &str = "NEWSHOUND_";

/// The journal socket to use.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

/// The longest an event waits for room in the journal's queue before going to stderr.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A tracing layer sending each event to the journal.
pub struct JournalLayer {
    socket: UnixDatagram,
}

impl JournalLayer {
    /// Connects to the journal socket at `path`; `None` when nothing listens there.
    pub fn connect(path: &Path) -> Option<JournalLayer> {
        let socket = UnixDatagram::unbound().ok()?;
        socket.connect(path).ok()?;
        // The journal's queue is short (`net.unix.max_dgram_qlen`): a burst waits for it, as a
        // write to the stream would, but never longer than SEND_TIMEOUT; then stderr takes it.
        socket.set_write_timeout(Some(SEND_TIMEOUT)).ok()?;
        Some(JournalLayer { socket })
    }
}

/// The journal field for a tracing field: `NEWSHOUND_` and the name in capitals, anything but
/// letters and digits as `_` (`http.status` → `NEWSHOUND_HTTP_STATUS`); `story_id` is
/// `NEWSHOUND_STORY`. At most 64 bytes, as journald requires.
pub fn field_name(name: &str) -> String {
    let name = match name {
        "story_id" => "story",
        n => n,
    };
    let mut out = String::from(PREFIX);
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    out.truncate(64);
    out
}

/// Appends one field in the native protocol's form.
pub fn put_field(buf: &mut Vec<u8>, name: &str, value: &[u8]) {
    buf.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
        buf.extend_from_slice(value);
    } else {
        buf.push(b'=');
        buf.extend_from_slice(value);
    }
    buf.push(b'\n');
}

/// Fields as recorded: (name, value), values as given (a `%` or `?` field as formatted).
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else if let Some(slot) = self.fields.iter_mut().find(|(n, _)| *n == field.name()) {
            slot.1 = value;
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

/// A span's fields, kept in its extensions for the events inside it.
struct SpanFields(Fields);

impl<S> Layer<S> for JournalLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(f) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut f.0);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut own = Fields::default();
        event.record(&mut own);
        // The spans' fields first (outermost first), then the event's own, which win.
        let mut all: Vec<(&'static str, String)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    all.extend(f.0.fields.iter().cloned());
                }
            }
        }
        all.extend(own.fields);
        let meta = event.metadata();
        let priority = syslog_priority(meta.level());
        let line = text_line(own.message.as_deref().unwrap_or(""), &all);
        let mut buf = Vec::with_capacity(256 + line.len());
        put_field(&mut buf, "PRIORITY", priority.to_string().as_bytes());
        put_field(&mut buf, "SYSLOG_IDENTIFIER", b"newshound");
        put_field(&mut buf, "MESSAGE", line.as_bytes());
        put_field(&mut buf, "TARGET", meta.target().as_bytes());
        if let Some(file) = meta.file() {
            put_field(&mut buf, "CODE_FILE", file.as_bytes());
        }
        if let Some(l) = meta.line() {
            put_field(&mut buf, "CODE_LINE", l.to_string().as_bytes());
        }
        for (name, value) in &all {
            put_field(&mut buf, &field_name(name), value.as_bytes());
        }
        if self.socket.send(&buf).is_err() {
            // Refused (too large, queue full, journal gone): the stream keeps the line.
            let _ = writeln!(
                std::io::stderr().lock(),
                "<{priority}>{} {line}",
                meta.level()
            );
        }
    }
}

/// The event as one line of text: the message, then `name=value` pairs, escaped so that the
/// line stays one line whatever the values hold.
fn text_line(message: &str, fields: &[(&'static str, String)]) -> String {
    let mut line = escape_line(message).into_owned();
    for (name, value) in fields {
        let v = escape_line(value);
        if v.starts_with('"') || !v.contains([' ', '"', '=']) {
            let _ = write!(line, " {name}={v}");
        } else {
            let _ = write!(line, " {name}=\"{}\"", v.replace('"', "\\\""));
        }
    }
    line
}

/// Decodes a native-protocol datagram into its fields, in order (for tests and the fake
/// journal in the test suite). `None` when it is malformed.
pub fn decode(mut data: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let end = data.iter().position(|&b| b == b'\n' || b == b'=')?;
        let name = std::str::from_utf8(&data[..end]).ok()?.to_owned();
        if data[end] == b'=' {
            let rest = &data[end + 1..];
            let nl = rest.iter().position(|&b| b == b'\n')?;
            out.push((name, rest[..nl].to_vec()));
            data = &rest[nl + 1..];
        } else {
            let rest = &data[end + 1..];
            let len = usize::try_from(u64::from_le_bytes(rest.get(..8)?.try_into().ok()?)).ok()?;
            let end = len.checked_add(8)?;
            let value = rest.get(8..end)?;
            if rest.get(end) != Some(&b'\n') {
                return None;
            }
            out.push((name, value.to_vec()));
            data = &rest[end + 1..];
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn value<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// A fake journal: a datagram socket in a temp dir, and a layer connected to it.
    fn fake_journal() -> (tempfile::TempDir, UnixDatagram, JournalLayer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("socket");
        let journal = UnixDatagram::bind(&path).unwrap();
        let layer = JournalLayer::connect(&path).expect("connects to the fake journal");
        (dir, journal, layer)
    }

    fn receive(journal: &UnixDatagram) -> Vec<(String, Vec<u8>)> {
        let mut buf = vec![0; 65536];
        let n = journal.recv(&mut buf).unwrap();
        decode(&buf[..n]).expect("a well-formed datagram")
    }

    #[test]
    fn an_event_becomes_one_entry_with_its_fields_and_its_spans_fields() {
        let (_dir, journal, layer) = fake_journal();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span =
                tracing::info_span!("poll", feed = "wire", http.status = tracing::field::Empty);
            let _in = span.enter();
            span.record("http.status", 200);
            tracing::warn!(target: "newshound::alert", topic = "summit-scheduling", story_id = 42, "alert: summit");
        });
        let f = receive(&journal);
        assert_eq!(value(&f, "PRIORITY"), Some("4"));
        assert_eq!(value(&f, "SYSLOG_IDENTIFIER"), Some("newshound"));
        assert_eq!(value(&f, "TARGET"), Some("newshound::alert"));
        assert_eq!(value(&f, "NEWSHOUND_TOPIC"), Some("summit-scheduling"));
        assert_eq!(value(&f, "NEWSHOUND_STORY"), Some("42"));
        assert_eq!(value(&f, "NEWSHOUND_FEED"), Some("wire"));
        assert_eq!(value(&f, "NEWSHOUND_HTTP_STATUS"), Some("200"));
        let message = value(&f, "MESSAGE").unwrap();
        assert!(message.starts_with("alert: summit "), "{message}");
        assert!(message.contains("topic=summit-scheduling") && message.contains("feed=wire"));
    }

    #[test]
    fn a_multi_line_or_hostile_value_stays_inside_its_field() {
        let (_dir, journal, layer) = fake_journal();
        let subscriber = tracing_subscriber::registry().with(layer);
        let hostile = "Title\nNEWSHOUND_TOPIC=forged\nMESSAGE=forged\u{202e}\u{1b}[31m";
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(title = hostile, "poll failed");
        });
        let f = receive(&journal);
        // The length form carries the value byte for byte; no field was forged.
        assert_eq!(value(&f, "NEWSHOUND_TITLE"), Some(hostile));
        assert_eq!(f.iter().filter(|(n, _)| n == "MESSAGE").count(), 1);
        assert!(f.iter().all(|(n, _)| n != "NEWSHOUND_TOPIC"));
        // The message is one escaped line.
        let message = value(&f, "MESSAGE").unwrap();
        assert!(
            !message.contains(['\n', '\u{1b}', '\u{202e}']),
            "{message:?}"
        );
        assert_eq!(value(&f, "PRIORITY"), Some("3"));
    }

    #[test]
    fn the_length_form_round_trips_and_malformed_datagrams_are_refused() {
        let mut buf = Vec::new();
        put_field(&mut buf, "A", b"one line");
        put_field(&mut buf, "B", b"two\nlines");
        put_field(&mut buf, "C", b"");
        assert_eq!(&buf[..11], b"A=one line\n");
        assert_eq!(&buf[11..13], b"B\n");
        assert_eq!(&buf[13..21], &9u64.to_le_bytes());
        let f = decode(&buf).unwrap();
        assert_eq!(value(&f, "B"), Some("two\nlines"));
        assert_eq!(value(&f, "C"), Some(""));
        assert!(decode(b"B\n\xff\xff\xff\xff\xff\xff\xff\xffx\n").is_none());
        assert!(decode(b"A=no newline").is_none());
    }

    #[test]
    fn field_names_are_what_journald_accepts() {
        assert_eq!(field_name("topic"), "NEWSHOUND_TOPIC");
        assert_eq!(field_name("story_id"), "NEWSHOUND_STORY");
        assert_eq!(field_name("items.new"), "NEWSHOUND_ITEMS_NEW");
        assert_eq!(field_name(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn no_journal_listening_means_no_layer() {
        let dir = tempfile::tempdir().unwrap();
        assert!(JournalLayer::connect(&dir.path().join("missing")).is_none());
    }
}
