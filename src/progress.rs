//! `once`'s progress bar: feeds done and failed, drawn on stderr only when both stdout and
//! stderr are terminals (a person is watching); anywhere else nothing is drawn, and output
//! stays byte for byte what it was.
//!
//! Log lines go to stderr too: while a bar is shown they are written through
//! [`StderrWriter`], which lifts the bar, writes the line and draws the bar again, so a
//! warning never lands in the middle of it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar being shown, if any (log lines lift it).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Feeds done / failed, for a run of `total` feeds; hidden unless a person watches.
pub struct FeedProgress {
    bar: Option<ProgressBar>,
    failed: u64,
}

impl FeedProgress {
    /// A bar on stderr when stdout and stderr are terminals (and not the journal's stream).
    pub fn new(total: usize) -> FeedProgress {
        let watched = std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal()
            && !crate::logging::stderr_is_journal();
        FeedProgress::shown_if(watched, total)
    }

    fn shown_if(shown: bool, total: usize) -> FeedProgress {
        if !shown || total == 0 {
            return FeedProgress {
                bar: None,
                failed: 0,
            };
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} feeds, {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            )
            .with_message("0 failed");
        // Redrawn while slow feeds hold the count still, so the clock shows it is alive.
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some(bar.clone());
        }
        FeedProgress {
            bar: Some(bar),
            failed: 0,
        }
    }

    /// One feed finished.
    pub fn feed_done(&mut self, failed: bool) {
        let Some(bar) = &self.bar else { return };
        if failed {
            self.failed += 1;
            bar.set_message(format!("{} failed", self.failed));
        }
        bar.inc(1);
    }

    /// Draws the final count, which stays above the summary.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
            if let Ok(mut active) = ACTIVE.lock() {
                *active = None;
            }
        }
    }
}

/// Stderr for log lines: lifts the progress bar, if one is shown, around each write.
#[derive(Clone, Copy, Default)]
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let active = ACTIVE.lock().ok().and_then(|a| a.clone());
        match active {
            Some(bar) => {
                bar.suspend(|| std::io::stderr().lock().write_all(buf).map(|()| buf.len()))
            }
            None => std::io::stderr().lock().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> Self::Writer {
        StderrWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_bar_counts_nothing_and_draws_nothing() {
        let mut p = FeedProgress::shown_if(false, 10);
        p.feed_done(true);
        assert!(p.bar.is_none() && p.failed == 0);
        p.finish();
        assert!(ACTIVE.lock().unwrap().is_none());
    }
}
