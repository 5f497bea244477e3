//! Lexicons: named word lists a query uses as `@name`, each entry a word, a `prefix*` or a
//! phrase, folded like query words.
//!
//! newshound ships some (`config/lexicons/*.toml`, compiled into the binary: heads of state and
//! government, meeting words, officials, and the cues `UPCOMING(...)`/`PAST(...)` read); a
//! config's `[lexicons]` table adds more or replaces a shipped one of the same name. This module
//! parses entries and files; `config` reports file errors with their positions.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use super::tokenize::{fold_query_word, tokenize};

/// The shipped lexicon files: (path in the repository, text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "config/lexicons/leaders.toml",
        include_str!("../../config/lexicons/leaders.toml"),
    ),
    (
        "config/lexicons/meetings.toml",
        include_str!("../../config/lexicons/meetings.toml"),
    ),
    (
        "config/lexicons/officials.toml",
        include_str!("../../config/lexicons/officials.toml"),
    ),
    (
        "config/lexicons/status.toml",
        include_str!("../../config/lexicons/status.toml"),
    ),
    (
        "config/lexicons/places.toml",
        include_str!("../../config/lexicons/places.toml"),
    ),
];

/// The lexicons `UPCOMING(...)` and `PAST(...)` read their cues from.
pub const UPCOMING_CUES: &str = "upcoming_cues";
pub const PAST_CUES: &str = "past_cues";

/// One entry: normalized tokens, and whether the last one is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub tokens: Vec<String>,
    pub prefix: bool,
    /// As written in the lexicon.
    pub text: String,
}

impl Entry {
    /// Parses `"word"`, `"prefix*"` or `"a phrase"`; the error says why not.
    pub fn parse(text: &str) -> Result<Entry, String> {
        let trimmed = text.trim();
        let (body, prefix) = match trimmed.strip_suffix('*') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        if body.contains('*') {
            return Err(format!(
                "\"{text}\": \"*\" is only allowed at the end (prefix match)"
            ));
        }
        if body.contains(['"', '(', ')', '@']) {
            return Err(format!(
                "\"{text}\": an entry is plain words; quotes, parentheses and @ are not allowed"
            ));
        }
        let tokens: Vec<String> = tokenize(body)
            .words()
            .into_iter()
            .map(|w| fold_query_word(&w).to_owned())
            .collect();
        if tokens.is_empty() {
            return Err(format!("\"{text}\" has no letters or digits to match"));
        }
        if prefix && tokens.len() == 1 && tokens[0].chars().count() < 3 {
            return Err(format!(
                "prefix \"{text}\" is too short: use at least 3 characters before \"*\""
            ));
        }
        Ok(Entry {
            tokens,
            prefix,
            text: trimmed.to_owned(),
        })
    }
}

/// Named lists. Names not defined here resolve to the shipped lexicons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicons {
    lists: BTreeMap<String, Arc<Vec<Entry>>>,
}

/// A problem in a lexicon file: the byte range it concerns, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconError {
    pub span: Range<usize>,
    pub message: String,
}

/// Is `name` usable after `@`: ASCII letters, digits and `_`, starting with a letter?
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Lexicons {
    /// Adds (or replaces) a list.
    pub fn insert(&mut self, name: &str, entries: Vec<Entry>) {
        self.lists.insert(name.to_owned(), Arc::new(entries));
    }

    /// The list `name`: this set's own, else the shipped one.
    pub fn get(&self, name: &str) -> Option<Arc<Vec<Entry>>> {
        self.lists
            .get(name)
            .cloned()
            .or_else(|| shipped().lists.get(name).cloned())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    /// Parses the lexicons of a file's text (a `[lexicons]` table of string arrays) into `self`,
    /// collecting every problem with its byte range.
    pub fn parse_file(&mut self, text: &str) -> Vec<LexiconError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            lexicons: BTreeMap<toml::Spanned<String>, Vec<toml::Spanned<String>>>,
        }
        let file: File = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                return vec![LexiconError {
                    span: e.span().unwrap_or(0..0),
                    message: e.message().trim_end().to_owned(),
                }];
            }
        };
        let mut errors = Vec::new();
        self.add_table(&file.lexicons, &mut errors);
        errors
    }

    /// Adds parsed `name = [entries]` pairs, collecting every problem.
    pub fn add_table(
        &mut self,
        table: &BTreeMap<toml::Spanned<String>, Vec<toml::Spanned<String>>>,
        errors: &mut Vec<LexiconError>,
    ) {
        for (name, raw) in table {
            if !valid_name(name.get_ref()) {
                errors.push(LexiconError {
                    span: name.span(),
                    message: format!(
                        "lexicon name \"{}\" must be letters, digits and _, starting with a letter",
                        name.get_ref()
                    ),
                });
                continue;
            }
            if raw.is_empty() {
                errors.push(LexiconError {
                    span: name.span(),
                    message: format!("lexicon \"{}\" is empty", name.get_ref()),
                });
                continue;
            }
            let mut entries = Vec::with_capacity(raw.len());
            for e in raw {
                match Entry::parse(e.get_ref()) {
                    Ok(entry) => entries.push(entry),
                    Err(message) => errors.push(LexiconError {
                        span: e.span(),
                        message: format!("lexicon \"{}\": {message}", name.get_ref()),
                    }),
                }
            }
            self.insert(name.get_ref(), entries);
        }
    }
}

/// The shipped lexicons, parsed once. A bad entry in a shipped file is skipped here (a unit test
/// and `newshound check` report it with its position).
pub fn shipped() -> &'static Lexicons {
    static SHIPPED_LEXICONS: OnceLock<Lexicons> = OnceLock::new();
    SHIPPED_LEXICONS.get_or_init(|| {
        let mut all = Lexicons::default();
        for (_, text) in SHIPPED {
            let _ = all.parse_file(text);
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_lexicon_file_parses_cleanly() {
        for (path, text) in SHIPPED {
            let errors = Lexicons::default().parse_file(text);
            assert!(errors.is_empty(), "{path}: {errors:?}");
        }
        for name in [
            "leaders",
            "meeting_words",
            "officials",
            UPCOMING_CUES,
            PAST_CUES,
        ] {
            assert!(shipped().get(name).is_some(), "{name}");
        }
    }

    #[test]
    fn entries_are_words_prefixes_or_phrases_folded_like_queries() {
        let e = Entry::parse("Prime Minister").unwrap();
        assert_eq!(e.tokens, ["prime", "minister"]);
        assert!(!e.prefix);
        assert!(Entry::parse("summit*").unwrap().prefix);
        assert_eq!(Entry::parse("U.S.").unwrap().tokens, ["u.s"]);
        assert_eq!(Entry::parse("Lula da Silva").unwrap().tokens.len(), 3);
        for (bad, says) in [
            ("a*b", "only allowed at the end"),
            ("!!", "no letters or digits"),
            ("ab*", "too short"),
            ("(x)", "quotes, parentheses and @ are not allowed"),
        ] {
            let e = Entry::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn file_errors_carry_the_span_of_the_bad_entry() {
        let text = "[lexicons]\nok = [\"a\"]\nbad = [\"fine\", \"x*y\"]\n";
        let errors = Lexicons::default().parse_file(text);
        assert_eq!(errors.len(), 1);
        assert_eq!(&text[errors[0].span.clone()], "\"x*y\"");
    }

    #[test]
    fn a_configured_list_replaces_the_shipped_one_of_that_name() {
        let mut l = Lexicons::default();
        l.insert("leaders", vec![Entry::parse("somebody").unwrap()]);
        assert_eq!(l.get("leaders").unwrap().len(), 1);
        assert!(l.get("meeting_words").is_some());
        assert!(l.get("nope").is_none());
    }
}
