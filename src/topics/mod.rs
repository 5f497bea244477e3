//! Watched topics: a small query language and a fast matcher over item titles and summaries.
//!
//! This module depends on nothing else in the crate: a [`TopicSpec`] (name, queries, optional
//! feed filter and stemming language) compiles into a [`Matcher`], which reports for an item's
//! title and summary every topic that matched, the query that fired, and the terms found.
//!
//! # Query syntax
//!
//! | write            | matches                                                              |
//! |------------------|----------------------------------------------------------------------|
//! | `trump`          | the word, any case or accent ("Trump", "TRUMP", "Trump's")           |
//! | `schedul*`       | words starting with `schedul` ("scheduled", "scheduling")            |
//! | `"leaders meeting"` | the words in sequence                                             |
//! | `a b`, `a AND b` | both                                                                 |
//! | `a OR b`         | either                                                               |
//! | `NOT a`, `-a`    | not `a`                                                              |
//! | `a NEAR/5 b`     | `a` and `b` at most 5 words apart, either order, same field          |
//! | `title:a`, `summary:(a OR b)` | only in that field (default: both)                      |
//! | `首脳会談`        | the character sequence (scripts written without spaces)              |
//! | `@leaders`       | any entry of a lexicon (config `[lexicons]`, else shipped)           |
//! | `UPCOMING(a)`    | `a` where its nearest tense cue points ahead ("will", "to meet")     |
//! | `PAST(a)`        | `a` where its nearest tense cue points back ("met", "held talks")    |
//! | `US`, `"u.s."`   | the same token: country short forms fold (US, USA, UK, EU, UN, UAE)  |
//!
//! Precedence, tightest first: `NOT`/`-`, `NEAR/n`, `AND`/juxtaposition, `OR`. So `a OR b c`
//! means `a OR (b AND c)`. A NEAR's sides may overlap when they differ (the phrase "to meet"
//! satisfies both `meet*` and `"to meet"`); one word alone cannot stand for both.
//!
//! Event status is read from the item's own words: for each place the operand occurs, the
//! nearest cue of `@upcoming_cues` or `@past_cues` within the window, in the same field and
//! sentence, decides; a tie goes to upcoming; no cue decides nothing. The cue terms are indexed
//! like any other but never anchor a topic, so topics that do not use status pay nothing.

pub mod backtest;
pub mod lexicon;
pub mod matcher;
pub mod syntax;
pub mod tokenize;

pub use lexicon::Lexicons;
pub use matcher::{Explanation, Field, MatchedTerm, Matcher, Scratch, TopicMatch};
pub use syntax::{Expr, SyntaxError, Warning, lint, parse_query, parse_query_with};

/// A topic as configured: what to look for, where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    /// Alternative queries (e.g. English and Japanese); any one matching is a match.
    pub queries: Vec<String>,
    /// Only items from these feeds (by name); `None` for all feeds.
    pub feeds: Option<Vec<String>>,
    /// Fold inflections of query words and text words ("meeting" matches "meetings").
    pub stem: Option<Stem>,
    /// The lexicons `@name` resolves in, before the shipped ones.
    pub lexicons: Lexicons,
}

/// A stemming language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stem {
    English,
    French,
    German,
    Spanish,
    Italian,
    Portuguese,
    Dutch,
    Russian,
}

impl Stem {
    pub const NAMES: &'static [&'static str] = &[
        "english",
        "french",
        "german",
        "spanish",
        "italian",
        "portuguese",
        "dutch",
        "russian",
    ];

    pub fn from_name(name: &str) -> Option<Stem> {
        Some(match name {
            "english" | "en" => Stem::English,
            "french" | "fr" => Stem::French,
            "german" | "de" => Stem::German,
            "spanish" | "es" => Stem::Spanish,
            "italian" | "it" => Stem::Italian,
            "portuguese" | "pt" => Stem::Portuguese,
            "dutch" | "nl" => Stem::Dutch,
            "russian" | "ru" => Stem::Russian,
            _ => return None,
        })
    }

    pub(crate) fn algorithm(self) -> rust_stemmers::Algorithm {
        use rust_stemmers::Algorithm as A;
        match self {
            Stem::English => A::English,
            Stem::French => A::French,
            Stem::German => A::German,
            Stem::Spanish => A::Spanish,
            Stem::Italian => A::Italian,
            Stem::Portuguese => A::Portuguese,
            Stem::Dutch => A::Dutch,
            Stem::Russian => A::Russian,
        }
    }
}

/// A short excerpt of `text` around `range` (about `width` bytes each side), on character
/// boundaries, with `…` where it was cut.
pub fn snippet(
    text: &str,
    range: std::ops::Range<usize>,
    width: usize,
) -> (String, std::ops::Range<usize>) {
    let floor = |mut i: usize| {
        while i > 0 && !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        while i < text.len() && !text.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let start = floor(range.start.saturating_sub(width));
    let end = ceil((range.end + width).min(text.len()));
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let offset = out.len();
    out.push_str(&text[start..end]);
    if end < text.len() {
        out.push('…');
    }
    let hl = offset + (range.start - start)..offset + (range.end - start);
    (out, hl)
}

#[cfg(test)]
mod tests;
