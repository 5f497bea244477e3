//! Full-text search over stored items: the query language users type, the text the index holds,
//! and [`search`], which the CLI (`newshound search`) and the status page call.
//!
//! The index (SQLite FTS5, `items_fts`, see `store/fts.rs`) holds each item's title and summary
//! through [`index_text`]: text in Chinese, Japanese or Korean script is cut into overlapping
//! pairs of characters (bigrams), since those languages do not separate words with spaces, and
//! FTS5's `unicode61` tokenizer then splits everything else into words as usual. A query word
//! goes through the same function, so `東京都` finds every text holding those three characters
//! in a row, and `summit` finds the word "summit" (any case, accents ignored), not "summits".
//! docs/search.md has the measurements behind this choice (against FTS5's trigram tokenizer).
//!
//! The query comes from a user (or a web form) and is never handed to FTS5 as written: it is
//! parsed here ([`Query::parse`]) and each word or phrase is written out as a quoted FTS5
//! string, so FTS5's own operators (`NEAR`, `col:`, `^`, parentheses) are plain words and a
//! mistake is reported with its position, never as an SQL error.
//!
//! On PostgreSQL (`store/pg/search.rs`) the same text is cut into the same words in Rust and
//! stored as a `tsvector`, and a query is written as a `tsquery` of those words: the same
//! language and the same matches; the ranking is PostgreSQL's `ts_rank` (docs/search.md).
//!
//! Ranking: FTS5's BM25 (a title word weighs [`TITLE_WEIGHT`] times a summary word), divided by
//! `1 + age / RECENCY_DAYS` days of the item's date, so among equally good matches the newer
//! wins, and a much better match still beats a slightly newer one.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Backend, Store, StoreError};

/// How much more a match in the title counts than one in the summary (BM25 column weight).
pub const TITLE_WEIGHT: f64 = 3.0;
/// The age, in days, at which a match's score is halved.
pub const RECENCY_DAYS: f64 = 7.0;
/// The most hits a search returns, whatever the limit asked.
pub const MAX_LIMIT: usize = 1000;
/// Queries longer than this (bytes) are refused: no one types them, and each word is a lookup.
pub const MAX_QUERY_BYTES: usize = 1000;
/// Most words and phrases in one query.
pub const MAX_TERMS: usize = 32;

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub item_id: i64,
    pub title: String,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    /// The feed the item was first seen in.
    pub feed: String,
    pub story_id: Option<i64>,
    /// A short excerpt of the summary around the first query word found there (else its start).
    pub snippet: String,
    /// BM25 relevance after the recency discount: higher is better; comparable within one search.
    pub score: f64,
}

/// A query the user got wrong: what, and where (byte offset into the query).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", .column + 1)]
pub struct QueryError {
    pub offset: usize,
    /// Characters before the offset (for a caret under it).
    pub column: usize,
    pub message: String,
}

impl QueryError {
    fn at(query: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(query.len());
        QueryError {
            offset,
            column: query[..offset].chars().count(),
            message: message.into(),
        }
    }

    /// The query and a caret line under the error, for a terminal.
    pub fn caret(&self) -> String {
        format!("{}^", " ".repeat(self.column))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search query: {0}")]
    Query(#[from] QueryError),
    #[error(
        "the database has no search index yet; run `newshound once` (or restart the daemon) to upgrade it"
    )]
    NoIndex,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One word or phrase of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed (without quotes, `-` or `*`).
    pub text: String,
    /// `word*`: any word starting with it.
    pub prefix: bool,
}

impl Term {
    /// Whether the term's last word is looked up as a prefix: `word*`, or a term ending in a
    /// lone CJK character (`中`, `2月`): in the text that character is mostly inside a pair
    /// (`2月以降` holds `月以`), so the pairs it starts are found.
    pub fn finds_prefix(&self) -> bool {
        let mut cs = self.text.chars().rev().skip_while(|c| !c.is_alphanumeric());
        let lone_cjk =
            matches!((cs.next(), cs.next()), (Some(a), b) if is_cjk(a) && !b.is_some_and(is_cjk));
        self.prefix || lone_cjk
    }
}

/// A parsed query: every group must match (each group: any of its terms), no excluded term may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// ANDed groups of ORed terms.
    pub groups: Vec<Vec<Term>>,
    pub excluded: Vec<Term>,
}

impl Query {
    /// Parses the search language: `word`, `"a phrase"`, `word*` (prefix), `-word` or
    /// `-"phrase"` (exclude), `a OR b` (either). Words are ANDed.
    pub fn parse(query: &str) -> Result<Query, QueryError> {
        if query.len() > MAX_QUERY_BYTES {
            return Err(QueryError::at(
                query,
                MAX_QUERY_BYTES,
                format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
            ));
        }
        if query.trim().is_empty() {
            return Err(QueryError::at(
                query,
                0,
                "the query is empty; give one or more words",
            ));
        }
        let mut groups: Vec<Vec<Term>> = Vec::new();
        let mut excluded = Vec::new();
        // An `OR` seen: the next term joins the last group. (offset of the OR)
        let mut pending_or: Option<usize> = None;
        let mut count = 0;
        let bytes = query.as_bytes();
        let mut i = 0;
        while i < query.len() {
            let c = query[i..].chars().next().unwrap_or(' ');
            if c.is_whitespace() {
                i += c.len_utf8();
                continue;
            }
            let start = i;
            let negative = c == '-';
            if negative {
                i += 1;
            }
            let (text, prefix, end) = if bytes.get(i) == Some(&b'"') {
                let open = i;
                let Some(close) = query[open + 1..].find('"') else {
                    return Err(QueryError::at(
                        query,
                        open,
                        "this quote is never closed; end the phrase with \"",
                    ));
                };
                let close = open + 1 + close;
                let prefix = bytes.get(close + 1) == Some(&b'*');
                let end = close + 1 + usize::from(prefix);
                (&query[open + 1..close], prefix, end)
            } else {
                let end = query[i..]
                    .find(|ch: char| ch.is_whitespace() || ch == '"')
                    .map_or(query.len(), |n| i + n);
                let word = &query[i..end];
                match word.strip_suffix('*') {
                    Some(w) => (w, true, end),
                    None => (word, false, end),
                }
            };
            i = end;
            if !negative && !prefix && text == "OR" && bytes.get(start) != Some(&b'"') {
                if groups.is_empty() || pending_or.is_some() {
                    return Err(QueryError::at(
                        query,
                        start,
                        "OR needs a word on each side (write \"OR\" in quotes to find the word)",
                    ));
                }
                pending_or = Some(start);
                continue;
            }
            if !text.chars().any(char::is_alphanumeric) {
                return Err(QueryError::at(
                    query,
                    start,
                    format!(
                        "\"{}\" has no letters or digits to search for",
                        &query[start..end]
                    ),
                ));
            }
            count += 1;
            if count > MAX_TERMS {
                return Err(QueryError::at(
                    query,
                    start,
                    format!("more than {MAX_TERMS} words or phrases"),
                ));
            }
            let term = Term {
                text: text.to_owned(),
                prefix,
            };
            if negative {
                if let Some(at) = pending_or {
                    return Err(QueryError::at(query, at, "OR cannot join an excluded word"));
                }
                excluded.push(term);
            } else if pending_or.take().is_some() {
                if let Some(last) = groups.last_mut() {
                    last.push(term);
                }
            } else {
                groups.push(vec![term]);
            }
        }
        if let Some(at) = pending_or {
            return Err(QueryError::at(
                query,
                at,
                "OR needs a word on each side (write \"OR\" in quotes to find the word)",
            ));
        }
        if groups.is_empty() {
            return Err(QueryError::at(
                query,
                0,
                "a query needs at least one word to find; -word only excludes",
            ));
        }
        Ok(Query { groups, excluded })
    }

    /// The FTS5 query: every term a quoted string (inner quotes doubled), so nothing the user
    /// typed is read as an FTS5 operator.
    pub fn to_fts(&self) -> String {
        let term = |t: &Term| {
            let text = index_text(&t.text);
            let quoted = format!("\"{}\"", text.replace('"', "\"\""));
            if t.finds_prefix() {
                format!("{quoted} *")
            } else {
                quoted
            }
        };
        let mut out = self
            .groups
            .iter()
            .map(|g| {
                let parts: Vec<String> = g.iter().map(term).collect();
                if parts.len() == 1 {
                    parts.concat()
                } else {
                    format!("({})", parts.join(" OR "))
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        for t in &self.excluded {
            out.push_str(" NOT ");
            out.push_str(&term(t));
        }
        out
    }

    fn positive_terms(&self) -> impl Iterator<Item = &Term> {
        self.groups.iter().flatten()
    }
}

/// Chinese, Japanese and Korean scripts: written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
        | '\u{31F0}'..='\u{31FF}'   // Katakana phonetic extensions
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}'   // half-width Katakana
        | '\u{20000}'..='\u{3134F}' // CJK extensions B–G
    )
}

/// The text the index holds for `s`: unchanged unless it has CJK characters, each run of which
/// becomes its overlapping character pairs, separated by spaces (`東京都で` → ` 東京 京都 都で `);
/// a run of one character stays itself.
pub fn index_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_cjk) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() * 2);
    let mut run: Vec<char> = Vec::new();
    let flush = |run: &mut Vec<char>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        out.push(' ');
        if run.len() == 1 {
            out.push(run[0]);
        } else {
            for pair in run.windows(2) {
                out.push(pair[0]);
                out.push(pair[1]);
                out.push(' ');
            }
        }
        out.push(' ');
        run.clear();
    };
    for c in s.chars() {
        if is_cjk(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    Cow::Owned(out)
}

/// How searches rank on either store: a title word weighs [`TITLE_WEIGHT`] summary words, and
/// the score is halved at [`RECENCY_DAYS`] of age.
const RANKING: crate::store::SearchRanking = crate::store::SearchRanking {
    title_weight: TITLE_WEIGHT,
    recency_secs: RECENCY_DAYS * 86_400.0,
};

/// Searches the stored items' titles and summaries; `since` keeps items first seen since then.
/// At most `limit` hits (capped at [`MAX_LIMIT`]), best first.
pub fn search(
    store: &Store,
    query: &str,
    since: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    let parsed = Query::parse(query)?;
    if !store.has_search_index()? {
        return Err(SearchError::NoIndex);
    }
    let rows = store.search_index(
        &parsed.to_fts(),
        since,
        limit.min(MAX_LIMIT),
        Utc::now(),
        RANKING,
    )?;
    Ok(hits(&parsed, rows))
}

/// [`search`] on either store. On PostgreSQL the query is written as a `tsquery` of the same
/// words (`store/pg/search.rs`); call it off the async runtime ([`crate::store::pg::off_runtime`]).
pub fn search_backend(
    store: &mut Backend,
    query: &str,
    since: Option<DateTime<Utc>>,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    let pg = match store {
        Backend::Sqlite(s) => return search(s, query, since, limit),
        Backend::Postgres(p) => p,
    };
    let parsed = Query::parse(query)?;
    if !pg.has_search_index()? {
        return Err(SearchError::NoIndex);
    }
    let rows = pg.search_index(&parsed, since, limit.min(MAX_LIMIT), Utc::now(), RANKING)?;
    Ok(hits(&parsed, rows))
}

/// The rows as hits, each with its snippet.
fn hits(parsed: &Query, rows: Vec<crate::store::IndexHit>) -> Vec<Hit> {
    rows.into_iter()
        .map(|r| {
            let snippet = snippet_for(parsed, &r.summary);
            Hit {
                item_id: r.item_id,
                title: r.title,
                url: r.url,
                published: r.published,
                first_seen: r.first_seen,
                feed: r.feed,
                story_id: r.story_id,
                snippet,
                score: r.score,
            }
        })
        .collect()
}

/// Characters of summary shown each side of the first match.
const SNIPPET_BYTES: usize = 80;

/// The summary around the first query word it contains (compared without case), else its start.
fn snippet_for(query: &Query, summary: &str) -> String {
    let lower = summary.to_lowercase();
    // Byte offsets line up only when lowercasing kept every length (nearly always).
    let haystack = if lower.len() == summary.len() {
        lower.as_str()
    } else {
        summary
    };
    let found = query
        .positive_terms()
        .filter_map(|t| {
            let needle = t.text.to_lowercase();
            haystack
                .find(needle.as_str())
                .filter(|&at| {
                    summary.is_char_boundary(at) && summary.is_char_boundary(at + needle.len())
                })
                .map(|at| at..at + needle.len())
        })
        .min_by_key(|r| r.start);
    let range = found.unwrap_or(0..0);
    crate::topics::snippet(summary, range, SNIPPET_BYTES).0
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_fts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_anded_and_every_term_is_quoted() {
        let q = Query::parse("summit  scheduling").unwrap();
        assert_eq!(q.to_fts(), "\"summit\" AND \"scheduling\"");
    }

    #[test]
    fn fts5_operators_typed_by_the_user_are_plain_words() {
        for (input, fts) in [
            ("NEAR(a b)", "\"NEAR(a\" AND \"b)\""),
            ("title:x", "\"title:x\""),
            ("^start", "\"^start\""),
            ("a AND b", "\"a\" AND \"AND\" AND \"b\""),
            ("NOT x", "\"NOT\" AND \"x\""),
        ] {
            match Query::parse(input) {
                Ok(q) => assert_eq!(q.to_fts(), fts, "{input}"),
                Err(e) => panic!("{input}: {e}"),
            }
        }
    }

    #[test]
    fn phrases_prefixes_exclusions_and_or() {
        let q = Query::parse("\"trade talks\" tarif* -rumour china OR japan").unwrap();
        assert_eq!(
            q.to_fts(),
            "\"trade talks\" AND \"tarif\" * AND (\"china\" OR \"japan\") NOT \"rumour\""
        );
    }

    #[test]
    fn mistakes_are_reported_with_their_position() {
        let cases = [
            ("", 0, "empty"),
            ("   ", 0, "empty"),
            ("\"open phrase", 0, "never closed"),
            ("a \"b", 2, "never closed"),
            ("OR a", 0, "each side"),
            ("a OR", 2, "each side"),
            ("a OR OR b", 5, "each side"),
            ("-a", 0, "at least one word"),
            ("a !!!", 2, "no letters or digits"),
            ("a *", 2, "no letters or digits"),
            ("a OR -b", 2, "excluded"),
        ];
        for (input, offset, says) in cases {
            let e = Query::parse(input).unwrap_err();
            assert_eq!(e.offset, offset, "{input:?}: {e}");
            assert!(e.message.contains(says), "{input:?}: {e}");
        }
        let long = "a ".repeat(600);
        let e = Query::parse(&long).unwrap_err();
        assert!(e.message.contains("longer than 1000 bytes"), "{e}");
        let many = "w ".repeat(MAX_TERMS + 1);
        assert!(
            Query::parse(&many)
                .unwrap_err()
                .message
                .contains("more than")
        );
    }

    #[test]
    fn cjk_runs_become_overlapping_pairs() {
        assert_eq!(index_text("plain text"), "plain text");
        assert_eq!(index_text("東京都で"), " 東京 京都 都で  ");
        assert_eq!(index_text("iPhone発売"), "iPhone 発売  ");
        assert_eq!(index_text("米中"), " 米中  ");
        assert_eq!(index_text("a 中 b"), "a  中  b");
        let q = Query::parse("東京都").unwrap();
        assert_eq!(q.to_fts(), "\" 東京 京都  \"");
        // One character is found at the start of the pairs it begins.
        assert_eq!(Query::parse("中").unwrap().to_fts(), "\" 中 \" *");
        assert_eq!(Query::parse("2月").unwrap().to_fts(), "\"2 月 \" *");
    }

    #[test]
    fn a_snippet_shows_the_summary_around_the_first_word_found() {
        let q = Query::parse("talks").unwrap();
        let summary = format!("{} the TALKS resumed {}", "x".repeat(200), "y".repeat(200));
        let s = snippet_for(&q, &summary);
        assert!(s.contains("TALKS resumed"), "{s}");
        assert!(s.starts_with('…') && s.ends_with('…'));
        assert_eq!(snippet_for(&q, "nothing here"), "nothing here");
    }
}
