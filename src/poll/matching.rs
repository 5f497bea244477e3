//! Topics over a parsed feed's items, on the parse pool: matches, their explanations and each
//! item's story features.

use crate::normalize::ParsedFeed;
use crate::store::{AlertCandidate, MatchedItem};
use crate::text::Untrusted;
use crate::topics::{Matcher, Scratch, snippet};

pub(crate) struct ParsedFeedWithMatches {
    /// The document's own fields (title, ttl, skips…): its items are moved into `items`.
    pub(super) feed: ParsedFeed,
    pub(super) items: Vec<MatchedItem>,
    /// The parser's warnings, joined ("3 of 50 entries unreadable: …"); logged once here.
    pub(super) warning: Option<String>,
}

/// Runs every topic over every item of a parsed feed.
pub(super) fn match_items(
    matcher: &Matcher,
    feed: &str,
    mut parsed: ParsedFeed,
) -> ParsedFeedWithMatches {
    let mut scratch = Scratch::default();
    parsed.entries = Vec::new();
    let items = std::mem::take(&mut parsed.items)
        .into_iter()
        .map(|item| {
            let matches = matcher
                .match_item_with(&mut scratch, feed, &item.title, &item.summary)
                .into_iter()
                .map(|m| alert_candidate(matcher, &item.title, &item.summary, m))
                .collect();
            let (title_tokens, summary_tokens) = scratch.tokens();
            let features = crate::stories::features_of_tokens(
                &item.title,
                title_tokens,
                &item.summary,
                summary_tokens,
            );
            MatchedItem {
                item,
                matches,
                features,
            }
        })
        .collect();
    let warning = (!parsed.warnings.is_empty()).then(|| parsed.warnings.join("; "));
    if let Some(w) = &warning {
        // Entries lost are worth a warning; a document read leniently (entities, a charset
        // guessed) is noted, and shown by `feeds`, without one on every poll.
        if parsed.unreadable + parsed.empty > 0 {
            tracing::warn!(warning = ?Untrusted(w), "feed read with problems");
        } else {
            tracing::info!(warning = ?Untrusted(w), "feed read with problems");
        }
    }
    ParsedFeedWithMatches {
        feed: parsed,
        items,
        warning,
    }
}

/// Describes a match for storage and logs: the words found, the fields, a snippet.
pub fn alert_candidate(
    matcher: &Matcher,
    title: &str,
    summary: &str,
    m: crate::topics::TopicMatch,
) -> AlertCandidate {
    let text_of = |f: crate::topics::Field| {
        if f == crate::topics::Field::Title {
            title
        } else {
            summary
        }
    };
    // The tense cue that made an UPCOMING/PAST clause true is named as such: it is the "why"
    // of an event-status match ("Eyes (upcoming cue)").
    let terms: Vec<String> = m
        .terms
        .iter()
        .map(|t| {
            let text = &text_of(t.field)[t.range.clone()];
            match t.cue {
                Some(status) => format!("{text} ({} cue)", status.as_str().to_lowercase()),
                None => text.to_owned(),
            }
        })
        .collect();
    let mut fields: Vec<&str> = m.terms.iter().map(|t| t.field.as_str()).collect();
    fields.dedup();
    fields.sort_unstable();
    fields.dedup();
    let snippet = match m.terms.first() {
        Some(t) => snippet(text_of(t.field), t.range.clone(), 60).0,
        None => String::new(),
    };
    AlertCandidate {
        topic: matcher.topic_name(m.topic).to_owned(),
        query_index: m.query,
        terms,
        field: fields.join(","),
        snippet,
    }
}
