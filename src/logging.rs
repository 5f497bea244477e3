//! Log output: text (default) or JSON, filtered by `--log-level` or `NEWSHOUND_LOG`
//! (EnvFilter syntax, e.g. `info,newshound::alert=warn`).
//!
//! Text mode formats every field value through an escaping writer, so even a value recorded
//! with `%` cannot put a raw newline, carriage return or escape sequence into the output: one
//! event is always one physical line. JSON mode escapes by construction. Under journald
//! (`$JOURNAL_STREAM` set) text lines carry no timestamp, since the journal adds its own.

use std::fmt::Write as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::Writer;

use crate::text::escape_line;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. Logs go to stderr; command output goes to stdout.
pub fn init(format: LogFormat, level: Option<&str>) {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l),
        None => EnvFilter::try_from_env("NEWSHOUND_LOG").or_else(|_| EnvFilter::try_new("info")),
    }
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    match format {
        LogFormat::Json => {
            tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .init();
        }
        LogFormat::Text => {
            let fields =
                tracing_subscriber::fmt::format::debug_fn(|w: &mut Writer<'_>, field, value| {
                    let mut s = String::new();
                    let _ = write!(s, "{value:?}");
                    let s = escape_line(&s);
                    if field.name() == "message" {
                        w.write_str(&s)
                    } else if s.starts_with('"') || !s.contains([' ', '"', '=']) {
                        write!(w, "{}={}", field.name(), s)
                    } else {
                        write!(w, "{}=\"{}\"", field.name(), s.replace('"', "\\\""))
                    }
                })
                .delimited(" ");
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .fmt_fields(fields);
            if under_journald {
                builder.without_time().init();
            } else {
                builder.init();
            }
        }
    }
}
