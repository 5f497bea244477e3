//! Feed bytes → normalized [`Item`]s.
//!
//! Owns everything between the HTTP body and the store: charset handling and the repairs around
//! feed-rs ([`compat`]), date parsing ([`dates`]), plain-text conversion, canonical URLs and the
//! item identity ([`ItemKey`]). It never touches the network or the database, and it never
//! panics on input: feed-rs runs inside `catch_unwind` as a last line of defence.

pub mod cdata;
pub mod compat;
pub mod dates;
pub mod truncate;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, Text};
use url::Url;

use crate::canon;
use crate::model::{
    Item, ItemKey, MAX_CONTENT_BYTES, MAX_ITEMS_PER_FEED, MAX_KEY_BYTES, MAX_SUMMARY_BYTES,
    MAX_TITLE_BYTES, stable_hash,
};
use crate::text::{clean_inline, html_to_text};

/// A parsed, normalized feed document.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub format: &'static str,
    pub items: Vec<Item>,
    /// RSS `<ttl>`, in minutes.
    pub ttl: Option<u32>,
    /// RSS `<skipHours>` (UTC hours) and `<skipDays>` (0 = Monday).
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    /// Entries beyond [`MAX_ITEMS_PER_FEED`] that were ignored.
    pub ignored: usize,
}

/// Why a document could not be read as a feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("invalid feed: {0}")]
    Invalid(String),
    #[error("the document has {entries} entries but none could be read as items")]
    NoItems { entries: usize },
    #[error("the feed parser crashed on this document (please report it with the feed)")]
    Panicked,
}

impl ParseError {
    /// A stable, machine-readable error class.
    pub fn class(&self) -> &'static str {
        match self {
            ParseError::NotAFeed(_) => "not_a_feed",
            ParseError::Invalid(_) => "invalid_feed",
            ParseError::NoItems { .. } => "no_items",
            ParseError::Panicked => "parser_panic",
        }
    }
}

/// Parses and normalizes a feed document.
///
/// `content_type` is the HTTP `Content-Type` (its charset is used when the document declares
/// none); `base` is the URL the document came from, used to resolve relative links when the
/// document gives no `xml:base`; `now` is when it was fetched (dates far in the future are
/// dropped relative to it).
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let charset = content_type.and_then(charset_of);
    let text = compat::to_utf8(bytes, charset.as_deref());
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let Some(first) = start.chars().next() else {
        return Err(ParseError::NotAFeed("the document is empty".into()));
    };
    let cut = truncate::first_entries(start, MAX_ITEMS_PER_FEED);
    match first {
        '<' => parse_xml(&cut.doc, base, now),
        '{' => parse_json(&cut.doc, base, now),
        _ => Err(ParseError::NotAFeed(
            "the document is neither XML nor JSON".into(),
        )),
    }
    .map(|p| ParsedFeed {
        ignored: p.ignored + cut.dropped,
        ..p
    })
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn parse_xml(doc: &str, base: Option<&Url>, now: DateTime<Utc>) -> Result<ParsedFeed, ParseError> {
    if let Some(html) = html_page(doc) {
        return Err(ParseError::NotAFeed(html));
    }
    let cleaned = compat::clean_declarations(doc);
    let doc = cleaned.as_deref().unwrap_or(doc);
    let scan = compat::scan(doc);
    let repaired = compat::repair_xml(doc, scan);
    let (xml, ids) = match &repaired {
        Some(r) => (r.xml.as_deref().unwrap_or(doc), r.item_ids.as_slice()),
        None => (doc, &[][..]),
    };
    // Escaped HTML as CDATA: the same text nodes for feed-rs, in a fraction of the events. A
    // document it then rejects is read as it came, for the error that document gets.
    let feed = match cdata::escaped_markup_as_cdata(xml) {
        Some(fast) => {
            run_feed_rs(fast.as_bytes(), base).or_else(|_| run_feed_rs(xml.as_bytes(), base))
        }
        None => run_feed_rs(xml.as_bytes(), base),
    }
    .map_err(|e| classify_xml_error(doc, e))?;
    let entries = scan.entries;
    let mut parsed = finish(feed, ids, base, now, entries)?;
    if scan.has_skip {
        (parsed.skip_hours, parsed.skip_days) = compat::skip_schedule(doc);
    }
    Ok(parsed)
}

fn parse_json(doc: &str, base: Option<&Url>, now: DateTime<Utc>) -> Result<ParsedFeed, ParseError> {
    // JSON that does not even claim to be a JSON Feed (an API error, say) is not a feed.
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(doc)
        && !o
            .get("version")
            .and_then(|v| v.as_str())
            .is_some_and(|v| v.contains("jsonfeed.org"))
    {
        return Err(ParseError::NotAFeed(
            "JSON, but not a JSON Feed (no jsonfeed.org version)".into(),
        ));
    }
    let feed = match run_feed_rs(doc.as_bytes(), base) {
        Ok(f) => f,
        Err(first) => match compat::repair_json(doc) {
            Some(fixed) => run_feed_rs(fixed.as_bytes(), base).map_err(|_| json_error(first))?,
            None => return Err(json_error(first)),
        },
    };
    let entries = serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .and_then(|v| v.get("items")?.as_array().map(Vec::len))
        .unwrap_or(0);
    finish(feed, &[], base, now, entries)
}

fn json_error(e: RunError) -> ParseError {
    match e {
        RunError::Panicked => ParseError::Panicked,
        RunError::Feed(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        )) => ParseError::NotAFeed("JSON, but not a JSON Feed".into()),
        RunError::Feed(e) => ParseError::Invalid(e.to_string()),
    }
}

enum RunError {
    Feed(feed_rs::parser::ParseFeedError),
    Panicked,
}

/// What feed-rs, configured as newshound runs it, reads from a document (`None`: an error).
#[cfg(test)]
pub(crate) fn feed_rs_reads(doc: &str) -> Option<Feed> {
    run_feed_rs(doc.as_bytes(), None).ok()
}

fn run_feed_rs(bytes: &[u8], base: Option<&Url>) -> Result<Feed, RunError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        .timestamp_parser(dates::parse)
        // An empty id marks "none": newshound derives its own stable key; feed-rs's fallback
        // is random for id-less entries.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    match catch_unwind(AssertUnwindSafe(|| parser.parse(bytes))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(RunError::Feed(e)),
        Err(_) => Err(RunError::Panicked),
    }
}

fn classify_xml_error(doc: &str, e: RunError) -> ParseError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    // A feed document cut off in transfer fails with whatever the XML reader met at the cut
    // ("tag not closed", "root element could not be read"); say what happened first.
    if let RunError::Feed(e) = &e
        && let Some(root) = root_name(doc).filter(|r| is_feed_root(r))
        && !doc.contains(&format!("</{root}>"))
    {
        return ParseError::Invalid(format!(
            "the document ends before its <{root}> element is closed (cut off in transfer?): {e}"
        ));
    }
    match e {
        RunError::Panicked => ParseError::Panicked,
        RunError::Feed(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) => {
            let root = root_name(doc).unwrap_or_else(|| "?".into());
            if is_feed_root(&root) {
                ParseError::Invalid(format!(
                    "a <{root}> feed whose root element could not be read (bad attribute, namespace or xml:base?)"
                ))
            } else {
                ParseError::NotAFeed(format!(
                    "XML with root element <{root}>, not RSS, Atom or RDF"
                ))
            }
        }
        RunError::Feed(e) => ParseError::Invalid(e.to_string()),
    }
}

/// Is this (possibly prefixed) element name an RSS, Atom or RDF root?
fn is_feed_root(name: &str) -> bool {
    matches!(name.rsplit(':').next(), Some("rss" | "feed" | "RDF"))
}

/// The first element name of an XML document.
fn root_name(doc: &str) -> Option<String> {
    let mut rest = doc;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        // At most 64 bytes, cut on a character boundary (found by the `feed` fuzzer).
        let mut cut = end.min(64);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        return Some(rest[..cut].to_owned());
    }
}

/// An HTML page instead of a feed; says where the page's feed is, if it advertises one.
fn html_page(doc: &str) -> Option<String> {
    let head: String = doc
        .chars()
        .take(2048)
        .collect::<String>()
        .to_ascii_lowercase();
    let is_html =
        head.starts_with("<!doctype html") || root_name(&head).is_some_and(|r| r == "html");
    if !is_html {
        return None;
    }
    let lower = doc.to_ascii_lowercase();
    let advertised = lower.match_indices("<link").find_map(|(at, _)| {
        let tag = &doc[at..at + lower[at..].find('>')?];
        let tl = tag.to_ascii_lowercase();
        if !(tl.contains("alternate")
            && (tl.contains("rss+xml") || tl.contains("atom+xml") || tl.contains("feed+json")))
        {
            return None;
        }
        let h = tl.find("href=")?;
        let v = &tag[h + 5..];
        let q = v.chars().next()?;
        let v = if q == '"' || q == '\'' { &v[1..] } else { v };
        let end = v.find(['"', '\'', ' ', '>']).unwrap_or(v.len());
        Some(clean_inline(&v[..end], 300))
    });
    Some(match advertised {
        Some(href) => format!("an HTML page; it advertises a feed at {href}"),
        None => "an HTML page".into(),
    })
}

fn finish(
    feed: Feed,
    ids: &[Option<String>],
    base: Option<&Url>,
    now: DateTime<Utc>,
    entries: usize,
) -> Result<ParsedFeed, ParseError> {
    let format = match feed.feed_type {
        feed_rs::model::FeedType::Atom => "atom",
        feed_rs::model::FeedType::JSON => "json",
        feed_rs::model::FeedType::RSS0 => "rss0.9x",
        feed_rs::model::FeedType::RSS1 => "rss1.0",
        feed_rs::model::FeedType::RSS2 => "rss2.0",
    };
    let total = feed.entries.len();
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(total.min(MAX_ITEMS_PER_FEED));
    let feed_base = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| Url::parse(&l.href).ok());
    for (i, entry) in feed
        .entries
        .into_iter()
        .take(MAX_ITEMS_PER_FEED)
        .enumerate()
    {
        let rdf_id = ids.get(i).cloned().flatten();
        if let Some(item) = normalize_entry(entry, rdf_id, base.or(feed_base.as_ref()), now)
            && seen.insert(item.key.clone())
        {
            items.push(item);
        }
    }
    if items.is_empty() && entries > 0 {
        return Err(ParseError::NoItems { entries });
    }
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| text_of(&t, MAX_TITLE_BYTES))
            .filter(|t| !t.is_empty()),
        format,
        items,
        ttl: feed.ttl,
        skip_hours: Vec::new(),
        skip_days: Vec::new(),
        ignored: total.saturating_sub(MAX_ITEMS_PER_FEED),
    })
}

/// Plain text of a feed text construct: markup stripped when it is (or looks like) HTML.
fn text_of(t: &Text, max: usize) -> String {
    let ty = t.content_type.subty().as_str();
    if ty == "html" || ty == "xhtml" || ty == "xhtml+xml" || t.content.contains('<') {
        html_to_text(&t.content, max)
    } else {
        clean_inline(&t.content, max)
    }
}

/// One entry → one [`Item`]; `None` for an entry with nothing to show.
pub fn normalize_entry(
    entry: Entry,
    rdf_id: Option<String>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Option<Item> {
    let title = entry
        .title
        .as_ref()
        .map(|t| text_of(t, MAX_TITLE_BYTES))
        .unwrap_or_default();
    let mut summary = entry
        .summary
        .as_ref()
        .map(|t| text_of(t, MAX_SUMMARY_BYTES))
        .unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(|b| html_to_text(b, MAX_CONTENT_BYTES))
        .filter(|c| !c.is_empty());
    if summary.is_empty()
        && let Some(c) = &content
    {
        summary = clean_inline(c, MAX_SUMMARY_BYTES);
    }
    let content = content.filter(|c| c.len() > summary.len());

    let entry_base = entry.base.as_deref().and_then(|b| Url::parse(b).ok());
    let link_base = entry_base.as_ref().or(base);
    let url = entry
        .links
        .iter()
        .filter(|l| l.href != compat::PLACEHOLDER_LINK)
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .find_map(|l| canon::resolve_article_url(&l.href, link_base))
        .filter(|u| u.as_str().len() <= MAX_KEY_BYTES);
    // Canonicalizing re-escapes the query (`:` becomes `%3A`), so the canonical form can be
    // longer than the link: one over the limit identifies nothing (the item is keyed by its
    // content instead), though the link is kept.
    let canonical = url
        .as_ref()
        .map(canon::canonicalize)
        .filter(|c| c.as_str().len() <= MAX_KEY_BYTES);

    if title.is_empty() && summary.is_empty() && url.is_none() {
        return None;
    }

    let guid = Some(entry.id.trim().to_owned())
        .filter(|g| !g.is_empty())
        .or(rdf_id)
        .map(|g| clean_inline(&g, usize::MAX));
    let content_hash = stable_hash(&[&title, &summary, content.as_deref().unwrap_or("")]);
    let key = match (guid, &canonical) {
        (Some(g), _) if g.len() <= MAX_KEY_BYTES => ItemKey::Guid(g),
        (Some(g), _) => ItemKey::Guid(format!("hash:{:016x}", stable_hash(&[&g]))),
        (None, Some(c)) => ItemKey::Url(c.to_string()),
        (None, None) => ItemKey::Hash(format!("{:016x}", stable_hash(&[&title, &summary]))),
    };

    let sane = |d: Option<DateTime<Utc>>| d.filter(|d| *d <= now + chrono::Duration::hours(24));
    let authors = entry
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(|n| clean_inline(n, 200))
        .filter(|n| !n.is_empty())
        .take(20)
        .collect();
    let categories = entry
        .categories
        .iter()
        .map(|c| clean_inline(c.label.as_deref().unwrap_or(&c.term), 200))
        .filter(|c| !c.is_empty())
        .take(50)
        .collect();
    Some(Item {
        key,
        url: url.map(String::from),
        url_key: canonical
            .as_ref()
            .map(crate::stories::url_key)
            .filter(|k| k.len() <= MAX_KEY_BYTES),
        canonical_url: canonical.map(String::from),
        title,
        summary,
        content,
        published: sane(entry.published),
        updated: sane(entry.updated),
        authors,
        categories,
        content_hash,
    })
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
