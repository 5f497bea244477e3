//! Feed bytes → normalized [`Item`]s.
//!
//! Owns everything between the HTTP body and the store: charset handling and the repairs around
//! feed-rs ([`compat`]), date parsing ([`dates`]), plain-text conversion, canonical URLs and the
//! item identity ([`ItemKey`]). It never touches the network or the database, and it never
//! panics on input: feed-rs runs inside `catch_unwind` as a last line of defence.

pub mod cdata;
pub mod compat;
pub mod dates;
pub mod isolate;
pub mod lenient;
pub mod rss_json;
pub mod text_constructs;
pub mod truncate;

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, Text};
use url::Url;

use crate::canon;
use crate::error_class::ErrorClass;
use crate::model::{
    Item, ItemKey, MAX_CONTENT_BYTES, MAX_ITEMS_PER_FEED, MAX_KEY_BYTES, MAX_SUMMARY_BYTES,
    MAX_TITLE_BYTES, stable_hash,
};
use crate::text::{clean_inline, html_to_text};

/// A parsed, normalized feed document.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The feed's own link (its web site), as published.
    pub link: Option<String>,
    /// When the feed says it last changed.
    pub updated: Option<DateTime<Utc>>,
    /// The document's format and version: `rss20`, `rss10`, `rss090`…`rss094`, `rss` (RSS without
    /// a version), `atom10`, `atom03`, `json10`, `json11`, `rssjson` (RSS 2.0 written as JSON).
    pub format: &'static str,
    pub items: Vec<Item>,
    /// What each item of `items` (same index) said about itself beyond the [`Item`].
    pub entries: Vec<EntryMeta>,
    /// What was recovered from or skipped in a document that was read anyway (like feedparser's
    /// `bozo`): not well-formed XML read leniently, a charset guessed, unreadable entries.
    pub warnings: Vec<String>,
    /// Entries that could not be read and were skipped (counted in `warnings` too).
    pub unreadable: usize,
    /// Entries read but skipped for having nothing in them: no id, link, title or text.
    pub empty: usize,
    /// RSS `<ttl>`, in minutes.
    pub ttl: Option<u32>,
    /// RSS `<skipHours>` (UTC hours) and `<skipDays>` (0 = Monday).
    pub skip_hours: Vec<u8>,
    pub skip_days: Vec<u8>,
    /// Entries beyond [`MAX_ITEMS_PER_FEED`] that were ignored.
    pub ignored: usize,
}

/// What an entry said about itself that the [`Item`] does not keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// The entry's id exactly as published (RSS `guid`, Atom `id`, RSS 1.0 `rdf:about`, JSON
    /// Feed `id`); `None` when it has none.
    pub id: Option<String>,
    /// Where the item's title came from: `"title"`, `"summary"` (the entry has no title) or
    /// `"none"` (neither).
    pub title_source: &'static str,
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
    /// What kind of failure this is (stored with the feed, logged as `class`).
    pub fn class(&self) -> ErrorClass {
        match self {
            ParseError::NotAFeed(_) => ErrorClass::NotAFeed,
            ParseError::Invalid(_) => ErrorClass::InvalidFeed,
            ParseError::NoItems { .. } => ErrorClass::NoItems,
            ParseError::Panicked => ErrorClass::ParserPanic,
        }
    }
}

/// Parses and normalizes a feed document.
///
/// `content_type` is the HTTP `Content-Type` (its charset wins over the document's declaration,
/// as RFC 7303 says; a byte-order mark wins over both); `base` is where the document came from
/// (its `Content-Location`, else the URL after redirects), used to resolve relative links when
/// the document gives no `xml:base`; `now` is when it was fetched (dates far in the future are
/// dropped relative to it). What was recovered or skipped on the way is in the result's
/// `warnings`.
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let charset = content_type.and_then(charset_of);
    let mut warnings = Vec::new();
    let mut text = compat::to_utf8(bytes, charset.as_deref(), &mut warnings);
    if let Some(nuls) = Some(bytecount_nul(&text)).filter(|n| *n > 0) {
        text = text.replace('\0', "").into();
        warnings.push(format!("{nuls} NUL bytes removed"));
    }
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let Some(first) = start.chars().next() else {
        return Err(ParseError::NotAFeed("the document is empty".into()));
    };
    if start.len() < text.len() && first == '<' && start.starts_with("<?xml") {
        warnings.push("whitespace or a byte-order mark before the XML declaration".into());
    }
    let cut = truncate::first_entries(start, MAX_ITEMS_PER_FEED);
    let mut parsed = match first {
        '<' => parse_xml(&cut.doc, base, now, &mut warnings),
        '{' => parse_json(&cut.doc, base, now, &mut warnings),
        _ => Err(ParseError::NotAFeed(
            "the document is neither XML nor JSON".into(),
        )),
    }?;
    parsed.ignored += cut.dropped;
    warnings.append(&mut parsed.warnings);
    parsed.warnings = warnings;
    Ok(parsed)
}

fn bytecount_nul(text: &str) -> usize {
    memchr::memchr_iter(0, text.as_bytes()).count()
}

fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn parse_xml(
    doc: &str,
    base: Option<&Url>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Result<ParsedFeed, ParseError> {
    if let Some(html) = html_page(doc) {
        return Err(ParseError::NotAFeed(html));
    }
    let format = xml_format(doc);
    let cleaned = compat::clean_declarations(doc);
    let doc = cleaned.as_deref().unwrap_or(doc);
    let mut scan = compat::scan(doc);
    let lenient = lenient::repair(doc, scan.prefixes);
    let doc = match &lenient {
        Some((fixed, recovered)) => {
            warnings.extend(recovered.iter().cloned());
            scan = compat::scan(fixed);
            fixed.as_str()
        }
        None => doc,
    };
    // Atom 0.3's modes (escaped, base64, inline XML) are misread by feed-rs without an error:
    // its text constructs are always rewritten; Atom 1.0's only when feed-rs rejects them.
    let atom03 = (format == "atom03")
        .then(|| text_constructs::rewrite(doc))
        .flatten();
    let doc = atom03.as_deref().unwrap_or(doc);
    let repaired = compat::repair_xml(doc, scan);
    let (xml, ids) = match &repaired {
        Some(r) => (r.xml.as_deref().unwrap_or(doc), r.item_ids.as_slice()),
        None => (doc, &[][..]),
    };
    // Escaped HTML as CDATA: the same text nodes for feed-rs, in a fraction of the events. A
    // document it then rejects is read as it came, for the error that document gets.
    let whole = match cdata::escaped_markup_as_cdata(xml) {
        Some(fast) => {
            run_feed_rs(fast.as_bytes(), base).or_else(|_| run_feed_rs(xml.as_bytes(), base))
        }
        None => run_feed_rs(xml.as_bytes(), base),
    };
    let (feed, ids, unreadable) = match whole {
        Ok(feed) => (feed, ids.to_vec(), Vec::new()),
        Err(e) => match read_entry_by_entry(xml, ids, base, format) {
            Some(read) => read,
            None => return Err(classify_xml_error(doc, e)),
        },
    };
    let entries = scan.entries;
    let mut parsed = finish(feed, &ids, base, now, entries, unreadable)?;
    parsed.format = format;
    if parsed.updated.is_none() && format.starts_with("rss") {
        parsed.updated = compat::channel_dc_date(doc);
    }
    if scan.has_skip {
        (parsed.skip_hours, parsed.skip_days) = compat::skip_schedule(doc);
    }
    Ok(parsed)
}

/// A document feed-rs rejected, read again entry by entry ([`isolate`]); Atom text constructs
/// feed-rs rejects are rewritten to ones it reads ([`text_constructs`]), in the whole document
/// or, when the whole cannot be rewritten, in the entry. `None` when even the feed without its
/// entries cannot be read, or no entry can: the document's own error stands.
fn read_entry_by_entry(
    xml: &str,
    ids: &[Option<String>],
    base: Option<&Url>,
    format: &str,
) -> Option<(Feed, Vec<Option<String>>, Vec<String>)> {
    let atom = format.starts_with("atom");
    let rewritten = atom.then(|| text_constructs::rewrite(xml)).flatten();
    if let Some(doc) = &rewritten
        && let Ok(feed) = run_feed_rs(doc.as_bytes(), base)
    {
        return Some((feed, ids.to_vec(), Vec::new()));
    }
    let read = |doc: &str| {
        run_feed_rs(doc.as_bytes(), base).or_else(|e| {
            match atom.then(|| text_constructs::rewrite(doc)).flatten() {
                Some(fixed) => run_feed_rs(fixed.as_bytes(), base),
                None => Err(e),
            }
        })
    };
    let xml = rewritten.as_deref().unwrap_or(xml);
    let pieces = isolate::split(xml)?;
    let mut feed = read(&pieces.feed_only()).ok()?;
    let mut kept_ids = Vec::new();
    let mut unreadable = Vec::new();
    for i in 0..pieces.entries.len() {
        let doc = pieces.with_entry(i)?;
        match read(&doc) {
            Ok(one) => {
                for entry in one.entries {
                    feed.entries.push(entry);
                    kept_ids.push(ids.get(i).cloned().flatten());
                }
            }
            Err(RunError::Feed(e)) => unreadable.push(e.to_string()),
            Err(RunError::Panicked) => unreadable.push("the feed parser crashed on it".into()),
        }
    }
    if feed.entries.is_empty() {
        return None;
    }
    Some((feed, kept_ids, unreadable))
}

/// The format and version an XML document declares, from its root element.
fn xml_format(doc: &str) -> &'static str {
    let mut head_end = doc.len().min(4096);
    while !doc.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let head = &doc[..head_end];
    let root = root_name(head).unwrap_or_default();
    let local = root.rsplit(':').next().unwrap_or_default();
    let tag_at = head.find(&format!("<{root}")).unwrap_or(0);
    let tag = &head[tag_at..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    match local {
        "feed"
            if tag.contains("purl.org/atom/ns#")
                || tag.contains("version=\"0.3\"")
                || tag.contains("version='0.3'") =>
        {
            "atom03"
        }
        "feed" => "atom10",
        "RDF" if head.contains("my.netscape.com/rdf/simple/0.9/") => "rss090",
        "RDF" => "rss10",
        "rss" => {
            let version = ["0.90", "0.91", "0.92", "0.93", "0.94", "2.0"]
                .into_iter()
                .find(|v| tag.contains(&format!("\"{v}")) || tag.contains(&format!("'{v}")));
            match version {
                Some("0.90") => "rss090",
                Some("0.91") => "rss091",
                Some("0.92") => "rss092",
                Some("0.93") => "rss093",
                Some("0.94") => "rss094",
                Some(_) => "rss20",
                None if tag.contains("version") => "rss20",
                None => "rss",
            }
        }
        _ => "xml",
    }
}

/// A JSON document's version, its other members skipped unread.
#[derive(serde::Deserialize)]
struct JsonVersion {
    version: Option<serde_json::Value>,
}

/// A JSON document's items, counted without being built.
#[derive(serde::Deserialize)]
struct JsonItems {
    items: Vec<serde::de::IgnoredAny>,
}

fn parse_json(
    doc: &str,
    base: Option<&Url>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Result<ParsedFeed, ParseError> {
    // Read without building the document (a `Value` of a 16 MB document is larger than it, and
    // was held beside feed-rs's own model): only the version, and the items counted.
    let version = serde_json::from_str::<JsonVersion>(doc)
        .ok()
        .map(|v| match v.version {
            Some(serde_json::Value::String(s)) => s,
            _ => String::new(),
        });
    if let Some(v) = &version
        && !v.contains("jsonfeed.org")
    {
        // RSS 2.0 written as JSON: read as the RSS it stands for. Only a document that is not
        // a JSON Feed is built as a value, and dropped before the XML is parsed.
        let xml = serde_json::from_str::<serde_json::Value>(doc)
            .ok()
            .filter(rss_json::is_rss_json)
            .and_then(|v| rss_json::to_xml(&v));
        if let Some(xml) = xml {
            let cut = truncate::first_entries(&xml, MAX_ITEMS_PER_FEED);
            let mut parsed = parse_xml(&cut.doc, base, now, warnings)?;
            parsed.ignored += cut.dropped;
            parsed.format = "rssjson";
            return Ok(parsed);
        }
        // JSON that does not even claim to be a JSON Feed (an API error, say) is not a feed.
        return Err(ParseError::NotAFeed(
            "JSON, but neither a JSON Feed (no jsonfeed.org version) nor RSS in JSON".into(),
        ));
    }
    let feed = match run_feed_rs(doc.as_bytes(), base) {
        Ok(f) => f,
        Err(first) => match compat::repair_json(doc) {
            Some(fixed) => run_feed_rs(fixed.as_bytes(), base).map_err(|_| json_error(first))?,
            None => return Err(json_error(first)),
        },
    };
    let entries = serde_json::from_str::<JsonItems>(doc).map_or(0, |d| d.items.len());
    let mut parsed = finish(feed, &[], base, now, entries, Vec::new())?;
    parsed.format = match version {
        Some(v) if v.contains("version/1.1") => "json11",
        _ => "json10",
    };
    Ok(parsed)
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
    unreadable: Vec<String>,
) -> Result<ParsedFeed, ParseError> {
    let format = match feed.feed_type {
        feed_rs::model::FeedType::Atom => "atom10",
        feed_rs::model::FeedType::JSON => "json10",
        feed_rs::model::FeedType::RSS0 => "rss091",
        feed_rs::model::FeedType::RSS1 => "rss10",
        feed_rs::model::FeedType::RSS2 => "rss20",
    };
    // feed-rs gives an RSS item's one date (`pubDate`, `dc:date`) as both published and
    // updated: the item said only when it was published.
    let one_date = matches!(
        feed.feed_type,
        feed_rs::model::FeedType::RSS0
            | feed_rs::model::FeedType::RSS1
            | feed_rs::model::FeedType::RSS2
    );
    let total = feed.entries.len();
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(total.min(MAX_ITEMS_PER_FEED));
    let mut metas = Vec::with_capacity(total.min(MAX_ITEMS_PER_FEED));
    let feed_link = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone());
    let feed_base = feed_link.as_deref().and_then(|l| Url::parse(l).ok());
    // A file's own location is no base for a web link: the feed's link is.
    let base = base.filter(|b| matches!(b.scheme(), "http" | "https"));
    let mut empty = 0usize;
    for (i, mut entry) in feed
        .entries
        .into_iter()
        .take(MAX_ITEMS_PER_FEED)
        .enumerate()
    {
        if one_date && entry.updated == entry.published {
            entry.updated = None;
        }
        let rdf_id = ids.get(i).cloned().flatten();
        match normalize_entry(entry, rdf_id, base.or(feed_base.as_ref()), now) {
            Some((item, meta)) => {
                if seen.insert(item.key.clone()) {
                    items.push(item);
                    metas.push(meta);
                }
            }
            None => empty += 1,
        }
    }
    let mut warnings = Vec::new();
    let read = total + unreadable.len();
    if let Some(reason) = unreadable.first() {
        warnings.push(format!(
            "{} of {read} entries unreadable: {}",
            unreadable.len(),
            clean_inline(reason, 300)
        ));
    }
    if empty > 0 {
        warnings.push(format!(
            "{empty} of {read} entries skipped: no id, link, title or text"
        ));
    }
    if items.is_empty() && entries > 0 {
        return Err(ParseError::NoItems { entries });
    }
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| text_of(&t, MAX_TITLE_BYTES))
            .filter(|t| !t.is_empty()),
        link: feed_link,
        updated: feed.updated,
        format,
        items,
        entries: metas,
        warnings,
        unreadable: unreadable.len(),
        empty,
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

/// A title made from the summary of an entry that has none (as microblog feeds publish): its
/// first sentence, or its first words, within a headline's length.
fn title_from_summary(summary: &str) -> String {
    const MAX: usize = 120;
    let sentence_end = summary
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | '!' | '?' | '。')
                && i >= 20
                && summary[i + c.len_utf8()..]
                    .chars()
                    .next()
                    .is_none_or(char::is_whitespace)
        })
        .map(|(i, c)| i + c.len_utf8());
    match sentence_end {
        Some(end) if end <= MAX => summary[..end].to_owned(),
        _ if summary.len() <= MAX => summary.to_owned(),
        _ => {
            let mut cut = MAX;
            while !summary.is_char_boundary(cut) {
                cut -= 1;
            }
            let words = summary[..cut]
                .rsplit_once(' ')
                .map_or(&summary[..cut], |(w, _)| w);
            format!("{words}…")
        }
    }
}

/// One entry → one [`Item`] and what else it said; `None` for an entry with nothing in it.
pub fn normalize_entry(
    entry: Entry,
    rdf_id: Option<String>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> Option<(Item, EntryMeta)> {
    let mut title = entry
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
    // An entry without a link whose id is an absolute web URL (an RSS `guid`, permalink by
    // default; an Atom `id`) is linked by its id, as feedparser reads it.
    let id_link = (entry.id.starts_with("http://") || entry.id.starts_with("https://"))
        .then(|| entry.id.trim());
    let url = entry
        .links
        .iter()
        .filter(|l| l.href != compat::PLACEHOLDER_LINK)
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .find_map(|l| canon::resolve_article_url(&l.href, link_base))
        .or_else(|| id_link.and_then(|id| canon::resolve_article_url(id, None)))
        .filter(|u| u.as_str().len() <= MAX_KEY_BYTES);
    // Canonicalizing re-escapes the query (`:` becomes `%3A`), so the canonical form can be
    // longer than the link: one over the limit identifies nothing (the item is keyed by its
    // content instead), though the link is kept.
    let canonical = url
        .as_ref()
        .map(canon::canonicalize)
        .filter(|c| c.as_str().len() <= MAX_KEY_BYTES);

    let published_id = Some(entry.id.trim().to_owned())
        .filter(|g| !g.is_empty())
        .or(rdf_id);
    let guid = published_id
        .as_deref()
        .map(|g| clean_inline(g, usize::MAX))
        .filter(|g| !g.is_empty());
    if title.is_empty() && summary.is_empty() && url.is_none() && guid.is_none() {
        return None;
    }
    // The key's hash is of what the entry said, before a title is made up for it.
    let content_hash = stable_hash(&[&title, &summary, content.as_deref().unwrap_or("")]);
    let key = match (guid, &canonical) {
        (Some(g), _) if g.len() <= MAX_KEY_BYTES => ItemKey::Guid(g),
        (Some(g), _) => ItemKey::Guid(format!("hash:{:016x}", stable_hash(&[&g]))),
        (None, Some(c)) => ItemKey::Url(c.to_string()),
        (None, None) => ItemKey::Hash(format!("{:016x}", stable_hash(&[&title, &summary]))),
    };
    let title_source = if !title.is_empty() {
        "title"
    } else if !summary.is_empty() {
        title = title_from_summary(&summary);
        "summary"
    } else {
        "none"
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
    let meta = EntryMeta {
        id: published_id.map(|id| clean_inline(&id, MAX_KEY_BYTES)),
        title_source,
    };
    let item = Item {
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
    };
    Some((item, meta))
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;
