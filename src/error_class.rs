//! One vocabulary for what went wrong with a feed, shared by every stage's error type.
//!
//! Each error type says which class it belongs to (`FetchError::class`, `ParseError::class`,
//! `StoreError::class`); the class, not the message, is what is stored in the feed's row, shown
//! by `feeds`, logged as the `class` field and matched on by code. Its string form is stable:
//! scripts read it from `feeds --json` and the logs, and databases keep it across upgrades.

use serde::{Serialize, Serializer};

/// Why a poll failed (or, for [`ErrorClass::Warning`], what a successful poll recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The server did not answer (or finish answering) in time.
    Timeout,
    /// No connection: refused, unreachable, DNS failure.
    Connect,
    /// An HTTP status that is not success, not-modified or a followed redirect.
    HttpStatus,
    /// The body is over `max_body_size`.
    BodyTooLarge,
    /// The bytes held by all polls in flight would exceed the global body budget.
    BodyBudget,
    /// The poll never started or was cut short because the daemon is stopping.
    Cancelled,
    /// A redirect loop, too many redirects, or a redirect to a refused scheme.
    Redirect,
    /// A `file://` feed could not be read.
    File,
    /// The transfer failed mid-way (reset, TLS, a broken body encoding).
    Transport,
    /// The address guard refused the host's address.
    BlockedAddress,
    /// The document is not a feed (HTML, an image, empty).
    NotAFeed,
    /// The document looks like a feed but cannot be read as one.
    InvalidFeed,
    /// Entries exist but none could be read.
    NoItems,
    /// The feed parser panicked on the document.
    ParserPanic,
    /// The database could not commit the poll (disk full, I/O error, busy).
    Storage,
    /// A bug: a poll task panicked.
    Internal,
    /// The poll succeeded but something was recovered or skipped (stored in the feed's row).
    Warning,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 17] = [
        ErrorClass::Timeout,
        ErrorClass::Connect,
        ErrorClass::HttpStatus,
        ErrorClass::BodyTooLarge,
        ErrorClass::BodyBudget,
        ErrorClass::Cancelled,
        ErrorClass::Redirect,
        ErrorClass::File,
        ErrorClass::Transport,
        ErrorClass::BlockedAddress,
        ErrorClass::NotAFeed,
        ErrorClass::InvalidFeed,
        ErrorClass::NoItems,
        ErrorClass::ParserPanic,
        ErrorClass::Storage,
        ErrorClass::Internal,
        ErrorClass::Warning,
    ];

    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::BodyTooLarge => "body_too_large",
            ErrorClass::BodyBudget => "body_budget",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Redirect => "redirect",
            ErrorClass::File => "file",
            ErrorClass::Transport => "transport",
            ErrorClass::BlockedAddress => "blocked_address",
            ErrorClass::NotAFeed => "not_a_feed",
            ErrorClass::InvalidFeed => "invalid_feed",
            ErrorClass::NoItems => "no_items",
            ErrorClass::ParserPanic => "parser_panic",
            ErrorClass::Storage => "storage",
            ErrorClass::Internal => "internal",
            ErrorClass::Warning => "warning",
        }
    }

    /// The class a stored string names; `None` for one this version does not know (written by
    /// a newer newshound).
    pub fn parse(s: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

// `ALL` lists every variant, in declaration order.
const _: () = assert!(ErrorClass::ALL.len() == ErrorClass::Warning as usize + 1);

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_reads_back_from_its_stored_string() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(ErrorClass::parse("from_a_newer_version"), None);
    }

    #[test]
    fn stored_strings_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorClass::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }
}
