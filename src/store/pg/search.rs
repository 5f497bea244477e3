//! The search index on PostgreSQL (`items_search`, migration 0002): a `tsvector` per item with a
//! GIN index, kept by the writer in the item's transaction, and read by `newshound search`.
//!
//! The words are cut here, in Rust, as SQLite's FTS5 `unicode61 remove_diacritics 2` tokenizer
//! cuts them (a run of letters and digits is a word; case and accents are folded away), from the
//! same text ([`crate::search::index_text`]: CJK runs as overlapping character pairs). The
//! document is written as a `tsvector` literal and the query as a `tsquery` literal, so neither
//! PostgreSQL's text-search parser nor its configurations (dictionaries, stemming, stop words,
//! the database's locale) ever see the text: a word matches on PostgreSQL exactly where it
//! matches on SQLite, and no extension is needed. Only the ranking differs (`ts_rank`, not BM25:
//! docs/search.md).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use super::{PgStore, STORE_LOCK, Tx};
use crate::search::{Query, Term, index_text};
use crate::store::{IndexHit, Result, SearchRanking, from_ts, ts};

/// `tsvector` limits (PostgreSQL's `MAXSTRLEN`, `MAXENTRYPOS`, `MAXNUMPOS`, `MAXSTRPOS`): a longer
/// word is left out (no one searches for it), later positions are not recorded, and a document
/// stops growing before the whole vector's limit.
const MAX_WORD_BYTES: usize = 2046;
const MAX_POSITION: u32 = 16_383;
const MAX_POSITIONS_PER_WORD: usize = 255;
const MAX_DOCUMENT_BYTES: usize = 1_000_000;

/// Items indexed per transaction when the index catches up with what was stored without it.
const CATCH_UP_BATCH: i64 = 2_000;

/// The words of `s` as FTS5's `unicode61 remove_diacritics 2` finds them: runs of letters and
/// digits, lowercased, with combining accents removed (`Café` → `cafe`).
pub fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if is_diacritic(c) {
            continue;
        }
        if c.is_alphanumeric() {
            word.extend(without_accents(c).to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A Latin letter without its accents (`é` → `e`, `ệ` → `e`) when its canonical decomposition is
/// a base letter and combining diacritics only; any other letter as it is. As FTS5: Greek keeps
/// its tonos, kana their dakuten, Hangul its syllables, and `ø` or `ł` (no decomposition) stay.
fn without_accents(c: char) -> char {
    let latin = |b: char| b <= '\u{024F}' || ('\u{1E00}'..='\u{1EFF}').contains(&b);
    if c.is_ascii() || !latin(c) {
        return c;
    }
    let mut parts = Vec::with_capacity(3);
    unicode_normalization::char::decompose_canonical(c, |p| parts.push(p));
    match parts.split_first() {
        Some((&base, rest)) if !rest.is_empty() && rest.iter().all(|&m| is_diacritic(m)) => base,
        _ => c,
    }
}

/// The combining diacritical marks `remove_diacritics` drops (FTS5 removes these from a word;
/// other combining marks separate words, as they do there).
fn is_diacritic(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// A lexeme quoted for a `tsvector` or `tsquery` literal.
fn quoted(out: &mut String, w: &str) {
    out.push('\'');
    for c in w.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
}

/// The `tsvector` literal of an item: the title's words weighted `A`, the summary's `B`, the
/// summary's positions after a gap so that no phrase runs from the title into the summary (FTS5
/// keeps them in two columns).
pub fn document(title: &str, summary: &str) -> String {
    // Each word's positions, in the order words are first met.
    let mut order: Vec<String> = Vec::new();
    let mut at: FxHashMap<String, (usize, Vec<(u32, char)>)> = FxHashMap::default();
    let mut bytes = 0;
    let mut pos = 0u32;
    for (text, weight) in [(title, 'A'), (summary, 'B')] {
        pos += 1;
        for w in words(&index_text(text)) {
            pos = (pos + 1).min(MAX_POSITION);
            if w.len() > MAX_WORD_BYTES {
                continue;
            }
            if let Some((_, ps)) = at.get_mut(&w) {
                if ps.len() < MAX_POSITIONS_PER_WORD {
                    ps.push((pos, weight));
                }
                continue;
            }
            if bytes + w.len() > MAX_DOCUMENT_BYTES {
                continue;
            }
            bytes += w.len();
            at.insert(w.clone(), (order.len(), vec![(pos, weight)]));
            order.push(w);
        }
    }
    let mut out = String::with_capacity(bytes * 2);
    for w in &order {
        if !out.is_empty() {
            out.push(' ');
        }
        quoted(&mut out, w);
        for (i, (p, weight)) in at[w].1.iter().enumerate() {
            out.push(if i == 0 { ':' } else { ',' });
            let _ = write!(out, "{p}{weight}");
        }
    }
    out
}

/// A term as a `tsquery`: one word, or the phrase of its words (`<->`), the last one a prefix
/// for `word*` or a lone CJK character; `None` when it holds no word at all.
fn term_query(t: &Term) -> Option<String> {
    let ws = words(&index_text(&t.text));
    if ws.is_empty() {
        return None;
    }
    let mut out = String::new();
    if ws.len() > 1 {
        out.push('(');
    }
    for (i, w) in ws.iter().enumerate() {
        if i > 0 {
            out.push_str(" <-> ");
        }
        quoted(&mut out, w);
    }
    if t.finds_prefix() {
        out.push_str(":*");
    }
    if ws.len() > 1 {
        out.push(')');
    }
    Some(out)
}

/// The `tsquery` literal of a parsed query: its groups ANDed, each group's terms ORed, each
/// excluded term `& !`; `None` when a group has no term with a word in it (nothing can match).
pub fn tsquery(q: &Query) -> Option<String> {
    let mut out = String::new();
    for group in &q.groups {
        let terms: Vec<String> = group.iter().filter_map(term_query).collect();
        if terms.is_empty() {
            return None;
        }
        if !out.is_empty() {
            out.push_str(" & ");
        }
        if terms.len() == 1 {
            out.push_str(&terms[0]);
        } else {
            let _ = write!(out, "({})", terms.join(" | "));
        }
    }
    for t in q.excluded.iter().filter_map(term_query) {
        let _ = write!(out, " & !{t}");
    }
    Some(out)
}

/// Indexes (or indexes again) an item, inside the caller's transaction.
pub(super) fn index_item(
    tx: &mut Tx<'_>,
    id: i64,
    title: &str,
    summary: &str,
) -> std::result::Result<(), postgres::Error> {
    tx.exec(
        "INSERT INTO items_search (item_id, doc) VALUES ($1, $2::text::tsvector)
         ON CONFLICT (item_id) DO UPDATE SET doc = EXCLUDED.doc",
        &[&id, &document(title, summary)],
    )?;
    Ok(())
}

impl PgStore {
    /// Indexes the items above the highest one indexed, as SQLite's writer does at its start
    /// with `[storage] search` on: a few thousand per transaction, each under the store lock (so
    /// a daemon ingesting meanwhile is never raced). Returns how many.
    pub fn catch_up_search_index(&mut self) -> Result<u64> {
        let mut n = 0;
        loop {
            let mut tx = self.begin()?;
            tx.exec("SELECT pg_advisory_xact_lock($1)", &[&STORE_LOCK])?;
            let rows = tx.all(
                "SELECT id, title, summary FROM items
                 WHERE id > (SELECT coalesce(max(item_id), 0) FROM items_search) ORDER BY id LIMIT $1",
                &[&CATCH_UP_BATCH],
            )?;
            for r in &rows {
                index_item(&mut tx, r.get(0), r.get(1), r.get(2))?;
            }
            tx.commit()?;
            n += rows.len() as u64;
            if (rows.len() as i64) < CATCH_UP_BATCH {
                return Ok(n);
            }
        }
    }

    /// False for a database not migrated to v2 yet (opened read-only).
    pub fn has_search_index(&mut self) -> Result<bool> {
        Ok(self
            .auto()
            .one("SELECT to_regclass('items_search') IS NOT NULL", &[])?
            .get(0))
    }

    /// Items matching `query`, best first: `ts_rank` with a title word weighing
    /// `ranking.title_weight` summary words (normalised by the document's length, as BM25 is),
    /// divided by `1 + age / recency` as on SQLite.
    pub fn search_index(
        &mut self,
        query: &Query,
        since: Option<DateTime<Utc>>,
        limit: usize,
        now: DateTime<Utc>,
        ranking: SearchRanking,
    ) -> Result<Vec<IndexHit>> {
        let Some(tsquery) = tsquery(query) else {
            return Ok(Vec::new());
        };
        let mut auto = self.auto();
        let first: i64 = match since {
            Some(t) => auto
                .opt(
                    "SELECT item_id FROM id_marks WHERE hour <= $1 ORDER BY hour DESC LIMIT 1",
                    &[&ts(t).div_euclid(3600)],
                )?
                .map_or(0, |r| r.get::<_, i64>(0)),
            None => 0,
        };
        // ts_rank's weights are {D, C, B, A}: the summary is B, the title A.
        let rows = auto.all(
            "SELECT i.id, i.title, i.summary, i.url, i.published_at, i.first_seen_at, f.name, i.story_id,
                    ts_rank(ARRAY[0.0, 0.0, 1.0 / $5::float8, 1.0]::float4[], s.doc, q, 1)::float8
                      / (1.0 + greatest(0, $4::bigint - coalesce(i.published_at, i.first_seen_at))::float8 / $6::float8) AS score
             FROM items_search s JOIN items i ON i.id = s.item_id JOIN feeds f ON f.id = i.first_feed_id,
                  CAST($1::text AS tsquery) q
             WHERE s.doc @@ q AND i.id >= $2 AND ($3::bigint IS NULL OR i.first_seen_at >= $3)
             ORDER BY score DESC, i.id DESC LIMIT $7",
            &[
                &tsquery,
                &first,
                &since.map(ts),
                &ts(now),
                &ranking.title_weight,
                &ranking.recency_secs.max(1.0),
                &(limit as i64),
            ],
        )?;
        Ok(rows
            .iter()
            .map(|r| IndexHit {
                item_id: r.get(0),
                title: r.get(1),
                summary: r.get(2),
                url: r.get(3),
                published: from_ts(r.get(4)),
                first_seen: from_ts(r.get(5)).unwrap_or_default(),
                feed: r.get(6),
                story_id: r.get(7),
                score: r.get(8),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_cut_and_folded_as_fts5_unicode61_does() {
        assert_eq!(
            words("Café au LAIT, naïve-ly 2024!"),
            ["cafe", "au", "lait", "naive", "ly", "2024"]
        );
        assert_eq!(words(&index_text("東京都で")), ["東京", "京都", "都で"]);
        // What SQLite's FTS5 made of these (fts5vocab over `unicode61 remove_diacritics 2`).
        assert_eq!(
            words("Café Søren Łódź naïve ů Straße ǅ ﬁ がか e\u{301}x"),
            [
                "cafe", "søren", "łodz", "naive", "u", "straße", "ǆ", "ﬁ", "がか", "ex"
            ]
        );
        assert_eq!(
            words("Việt άλφα Ωμέγα 한국어 Ångström Çà Œuvre İstanbul x\u{20d7}y"),
            [
                "viet",
                "άλφα",
                "ωμέγα",
                "한국어",
                "angstrom",
                "ca",
                "œuvre",
                "istanbul",
                "x",
                "y"
            ]
        );
        assert!(words(" --- ").is_empty());
    }

    #[test]
    fn a_document_weighs_the_title_and_keeps_a_gap_before_the_summary() {
        assert_eq!(
            document("Trade talks", "talks resumed, it's said"),
            "'trade':2A 'talks':3A,5B 'resumed':6B 'it':7B 's':8B 'said':9B"
        );
        // Repeats beyond PostgreSQL's 256 positions per word are dropped, not an error.
        let doc = document("", &"a ".repeat(400));
        assert_eq!(doc.matches(',').count(), MAX_POSITIONS_PER_WORD - 1);
    }

    #[test]
    fn queries_are_the_same_language_as_on_sqlite() {
        let q = |s: &str| tsquery(&Query::parse(s).unwrap()).unwrap();
        assert_eq!(q("summit  Scheduling"), "'summit' & 'scheduling'");
        assert_eq!(
            q("\"trade talks\" tarif* -rumour china OR japan"),
            "('trade' <-> 'talks') & 'tarif':* & ('china' | 'japan') & !'rumour'"
        );
        // Operators typed by the user are words; quotes inside a word cannot escape.
        assert_eq!(q("NEAR(a b) !x 'y"), "('near' <-> 'a') & 'b' & 'x' & 'y'");
        assert_eq!(q("東京都"), "('東京' <-> '京都')");
        assert_eq!(q("中"), "'中':*");
        assert_eq!(q("2月"), "('2' <-> '月':*)");
    }
}
