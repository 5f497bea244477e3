//! Log output: text (default) or JSON, filtered by `--log-level` or `NEWSHOUND_LOG`
//! (EnvFilter syntax, e.g. `info,newshound::alert=warn`).
//!
//! Alerts are log events, so a filter that hides them loses them. [`LogFilter::parse`] therefore
//! accepts only levels it knows (a bare word that is not a level, such as `verbose`, is refused
//! instead of being read as a target name that matches nothing), and tells which alert levels the
//! filter lets through, so the commands that raise alerts can refuse or warn before they start.
//!
//! Text mode formats every field value through an escaping writer, so even a value recorded
//! with `%` cannot put a raw newline, carriage return or escape sequence into the output: one
//! event is always one physical line. JSON mode escapes by construction. When stderr is the
//! journal's stream (`$JOURNAL_STREAM` names its device and inode), text lines start with their
//! syslog priority (`<4>` for warn, sd-daemon(3)) so `journalctl -p warning` selects by level,
//! and carry no timestamp, since the journal adds its own. When the journal's socket answers too,
//! events go through its native protocol instead ([`crate::journal`]), each field a journal field.

use std::fmt::{self, Write as _};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::text::escape_line;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The filter used when neither `--log-level` nor `NEWSHOUND_LOG` gives one.
pub const DEFAULT_FILTER: &str = "info";

/// The levels a filter directive may name (`warning` is read as `warn`, as topics accept it).
pub const ACCEPTED: &str = "trace, debug, info, warn (or warning), error, off";

/// A validated log filter: EnvFilter directives whose every level is a known one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// The directives, `warning` spelled `warn`, ready for EnvFilter.
    directives: String,
    /// The most verbose level shown for the alert target; `None` when it is off.
    alerts: Option<Level>,
    /// True when a directive names the alert target (or a prefix of it) itself.
    alerts_explicit: bool,
}

/// Why a log filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reason} in log filter \"{spec}\"; use a level ({ACCEPTED}) or directives such as \
     \"info,newshound::alert=warn\""
)]
pub struct FilterError {
    pub spec: String,
    pub reason: String,
}

impl LogFilter {
    /// Parses `--log-level` / `NEWSHOUND_LOG`: comma-separated directives, each a level or
    /// `target=level` (a target may carry EnvFilter's `[span{field}]` part).
    pub fn parse(spec: &str) -> Result<Self, FilterError> {
        let fail = |reason: String| FilterError {
            spec: spec.to_owned(),
            reason,
        };
        let mut directives = Vec::new();
        let mut default = Verbosity::Off;
        // (target length, level) of the most specific directive covering the alert target.
        let mut alert_rule: Option<(usize, Option<Level>)> = None;
        for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let (target, level) = match d.rsplit_once('=') {
                Some((t, l)) => (Some(t.trim()), l.trim()),
                None => (None, d),
            };
            let parsed = parse_level(level).ok_or_else(|| match target {
                Some(_) => fail(format!("unknown level \"{level}\"")),
                None => fail(format!("\"{level}\" is not a level")),
            })?;
            let name = parsed.name();
            match target {
                None => {
                    default = parsed;
                    directives.push(name.to_owned());
                }
                Some("") => return Err(fail(format!("empty target before \"={level}\""))),
                Some(t) => {
                    let plain = !t.contains('[');
                    if plain && covers(t, crate::alert::TARGET) {
                        let more_specific = alert_rule.is_none_or(|(len, _)| t.len() >= len);
                        if more_specific {
                            alert_rule = Some((t.len(), parsed.max()));
                        }
                    }
                    directives.push(format!("{t}={name}"));
                }
            }
        }
        let alerts_explicit = alert_rule.is_some();
        let alerts = match alert_rule {
            Some((_, l)) => l,
            // EnvFilter shows nothing a directive does not enable.
            None => default.max(),
        };
        Ok(LogFilter {
            directives: directives.join(","),
            alerts,
            alerts_explicit,
        })
    }

    /// The filter from `--log-level`, else `$NEWSHOUND_LOG`, else [`DEFAULT_FILTER`].
    pub fn from_cli_or_env(cli: Option<&str>) -> Result<Self, FilterError> {
        match cli {
            Some(s) => Self::parse(s),
            None => match std::env::var("NEWSHOUND_LOG") {
                Ok(s) if !s.trim().is_empty() => Self::parse(&s).map_err(|mut e| {
                    e.reason = format!("$NEWSHOUND_LOG: {}", e.reason);
                    e
                }),
                _ => Self::parse(DEFAULT_FILTER),
            },
        }
    }

    /// Whether an alert logged at `level` gets through.
    pub fn shows_alert(&self, level: Level) -> bool {
        self.alerts.is_some_and(|max| level <= max)
    }

    /// True when the filter hides every alert without saying so (a global `off`, or only other
    /// targets enabled); `newshound::alert=off` written out is taken as meant.
    pub fn hides_alerts_implicitly(&self) -> bool {
        self.alerts.is_none() && !self.alerts_explicit
    }

    /// The directives as given to EnvFilter.
    pub fn directives(&self) -> &str {
        &self.directives
    }
}

/// What one directive lets through: nothing, or events up to a level.
#[derive(Clone, Copy)]
enum Verbosity {
    Off,
    UpTo(Level),
}

impl Verbosity {
    fn max(self) -> Option<Level> {
        match self {
            Verbosity::Off => None,
            Verbosity::UpTo(l) => Some(l),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Verbosity::Off => "off",
            Verbosity::UpTo(Level::TRACE) => "trace",
            Verbosity::UpTo(Level::DEBUG) => "debug",
            Verbosity::UpTo(Level::INFO) => "info",
            Verbosity::UpTo(Level::WARN) => "warn",
            Verbosity::UpTo(Level::ERROR) => "error",
        }
    }
}

/// A level's name, any case; `None` when it is not one.
fn parse_level(s: &str) -> Option<Verbosity> {
    Some(Verbosity::UpTo(match s.to_ascii_lowercase().as_str() {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "info" => Level::INFO,
        "warn" | "warning" => Level::WARN,
        "error" => Level::ERROR,
        "off" => return Some(Verbosity::Off),
        _ => return None,
    }))
}

/// EnvFilter's target match: a directive's target covers every path it is a `::` prefix of.
fn covers(directive: &str, target: &str) -> bool {
    target == directive
        || target
            .strip_prefix(directive)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// True when stderr is the journal's stream: `$JOURNAL_STREAM` is `DEVICE:INODE` of the socket
/// systemd connected stdout/stderr to, and stderr still is that socket (not redirected).
pub fn stderr_is_journal() -> bool {
    let Some(v) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    stderr_identity().is_some_and(|(d, i)| d == dev && i == ino)
}

fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The sd-daemon(3) priority prefix of a level: what journald files the line under.
pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Writes `<N>` before each event, then the inner format.
struct PriorityPrefix<F>(F);

impl<S, N, F> FormatEvent<S, N> for PriorityPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", syslog_priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Installs the global subscriber. Logs go to stderr; command output goes to stdout.
pub fn init(format: LogFormat, filter: &LogFilter) {
    let env_filter =
        EnvFilter::try_new(filter.directives()).unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Json => {
            tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_env_filter(env_filter)
                .with_writer(crate::progress::StderrWriter)
                .init();
        }
        LogFormat::Text => {
            if stderr_is_journal()
                && let Some(journal) =
                    crate::journal::JournalLayer::connect(&crate::journal::socket_path())
            {
                use tracing_subscriber::layer::SubscriberExt;
                use tracing_subscriber::util::SubscriberInitExt;
                tracing_subscriber::registry()
                    .with(env_filter)
                    .with(journal)
                    .init();
                return;
            }
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
                .with_env_filter(env_filter)
                .with_writer(crate::progress::StderrWriter)
                .with_ansi(false)
                .fmt_fields(fields);
            if stderr_is_journal() {
                let format = tracing_subscriber::fmt::format().without_time();
                builder
                    .without_time()
                    .event_format(PriorityPrefix(format))
                    .init();
            } else {
                builder.init();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_or_directives_are_accepted_and_warning_means_warn() {
        let f = LogFilter::parse("warning").unwrap();
        assert_eq!(f.directives(), "warn");
        assert!(f.shows_alert(Level::WARN) && !f.shows_alert(Level::INFO));
        let f = LogFilter::parse("info, newshound::alert=WARNING").unwrap();
        assert_eq!(f.directives(), "info,newshound::alert=warn");
        assert!(f.shows_alert(Level::WARN) && !f.shows_alert(Level::INFO));
    }

    #[test]
    fn a_word_that_is_not_a_level_is_refused_not_read_as_a_target() {
        for bad in [
            "verbose",
            "warnings",
            "info,debugg",
            "newshound=loud",
            "=warn",
        ] {
            let e = LogFilter::parse(bad).unwrap_err();
            assert!(e.to_string().contains(ACCEPTED), "{bad}: {e}");
        }
    }

    #[test]
    fn the_most_specific_directive_decides_what_alerts_show() {
        let f = LogFilter::parse("error,newshound=debug").unwrap();
        assert!(f.shows_alert(Level::DEBUG));
        let f = LogFilter::parse("newshound=debug,newshound::alert=error").unwrap();
        assert!(f.shows_alert(Level::ERROR) && !f.shows_alert(Level::WARN));
        // `newshound::alerts` is another target, not a parent of the alert target.
        let f = LogFilter::parse("off,newshound::alerts=info").unwrap();
        assert!(f.hides_alerts_implicitly());
    }

    #[test]
    fn hiding_alerts_by_accident_is_told_apart_from_hiding_them_on_purpose() {
        assert!(LogFilter::parse("off").unwrap().hides_alerts_implicitly());
        assert!(
            LogFilter::parse("reqwest=debug")
                .unwrap()
                .hides_alerts_implicitly()
        );
        assert!(
            !LogFilter::parse("info,newshound::alert=off")
                .unwrap()
                .hides_alerts_implicitly()
        );
        assert!(!LogFilter::parse("info").unwrap().hides_alerts_implicitly());
    }

    #[test]
    fn journal_priorities_follow_sd_daemon() {
        assert_eq!(syslog_priority(&Level::ERROR), 3);
        assert_eq!(syslog_priority(&Level::WARN), 4);
        assert_eq!(syslog_priority(&Level::INFO), 6);
        assert_eq!(syslog_priority(&Level::DEBUG), 7);
    }
}
