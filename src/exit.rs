//! How a command ends: the exit statuses, decided here once, and the error a command returns.
//!
//! Every command returns [`Result<Exit>`]; only `main` prints an [`Error`] and turns the outcome
//! into a process status (ripgrep's shape). Diagnostics that are a command's output (warnings,
//! "3 more items") are printed by the command; a failure is returned, never printed and exited
//! on the spot.

use std::fmt;

/// The process's exit status. `--help` lists them (a test holds the list to this enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// A runtime error.
    Failure,
    /// A bad command line: unknown flag or value, an invalid log filter (clap uses 2 too).
    Usage,
    /// `once` completed, but at least one feed failed (the others were stored).
    SomeFeedsFailed,
    /// EX_CANTCREAT: the database cannot be created or opened.
    CantOpenDb,
    /// EX_CONFIG: the config is invalid.
    Config,
    /// 128 + SIGINT: a second SIGTERM/SIGINT during shutdown stopped `run` at once.
    Interrupted,
}

impl Exit {
    pub const ALL: [Exit; 7] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Usage,
        Exit::SomeFeedsFailed,
        Exit::CantOpenDb,
        Exit::Config,
        Exit::Interrupted,
    ];

    pub const fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::SomeFeedsFailed => 10,
            Exit::CantOpenDb => 73,
            Exit::Config => 78,
            Exit::Interrupted => 130,
        }
    }
}

// `ALL` lists every variant, in declaration order.
const _: () = assert!(Exit::ALL.len() == Exit::Interrupted as usize + 1);

/// A command that failed: what to tell the user on stderr, and the status to exit with.
#[derive(Debug)]
pub struct Error {
    exit: Exit,
    text: String,
}

impl Error {
    /// Printed as `error: {message}`.
    pub fn new(exit: Exit, message: impl fmt::Display) -> Error {
        Error {
            exit,
            text: format!("error: {message}"),
        }
    }

    /// A runtime error ([`Exit::Failure`]).
    pub fn failure(message: impl fmt::Display) -> Error {
        Error::new(Exit::Failure, message)
    }

    /// Text that is already diagnostics (`FILE:LINE:COLUMN: error: …` lines), printed as is.
    pub fn diagnostics(exit: Exit, text: impl Into<String>) -> Error {
        Error {
            exit,
            text: text.into(),
        }
    }

    pub fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Error {}

pub type Result<T = Exit> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_exit_status_and_no_other() {
        let help = crate::cli::AFTER_HELP;
        let section = help
            .split("Exit status:\n")
            .nth(1)
            .and_then(|s| s.split("\n\n").next())
            .expect("the help has an exit status section");
        let listed: Vec<i32> = section
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        let codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(listed, codes);
    }

    #[test]
    fn an_error_is_printed_with_its_prefix_and_diagnostics_as_they_are() {
        let e = Error::failure("the disk is full");
        assert_eq!(e.to_string(), "error: the disk is full");
        assert_eq!(e.exit(), Exit::Failure);
        let d = Error::diagnostics(Exit::Config, "a.toml:3:7: error: expected a string");
        assert_eq!(d.to_string(), "a.toml:3:7: error: expected a string");
        assert_eq!(d.exit().code(), 78);
    }
}
