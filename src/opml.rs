//! OPML 1.0/2.0 subscription lists: read them into feeds to configure, write the configured
//! feeds as OPML 2.0.
//!
//! An OPML file comes from another program and is untrusted like a feed: it is read with
//! quick-xml (which expands no DTD entity), at most [`MAX_OUTLINES`] outlines and
//! [`MAX_DEPTH`] levels deep, and every problem is reported with its line and column.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// More outlines than any subscription list has; past it a file is refused, not half-read.
pub const MAX_OUTLINES: usize = 10_000;
/// Folders nest a level or two; past this a file is refused.
pub const MAX_DEPTH: usize = 32;

/// One feed of an OPML file: an outline with an `xmlUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `title`, else `text`.
    pub title: Option<String>,
    /// `xmlUrl`, trimmed.
    pub url: String,
    /// The folders it sits in (outer first), then its own `category` paths, without repeats.
    pub tags: Vec<String>,
    /// Where the outline starts, for messages.
    pub line: usize,
    pub column: usize,
}

/// Why an OPML file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct OpmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads every feed outline of an OPML document, in document order.
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, OpmlError> {
    let at = |pos: usize, message: String| {
        let (line, column) = line_col(text, pos);
        OpmlError {
            line,
            column,
            message,
        }
    };
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut feeds = Vec::new();
    // The folder names around the current position; `None` for an outline that is a feed.
    let mut folders: Vec<Option<String>> = Vec::new();
    let (mut outlines, mut seen_root) = (0usize, false);
    loop {
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            at(
                reader.error_position() as usize,
                format!("not well-formed XML: {e}"),
            )
        })?;
        match event {
            Event::Start(e) | Event::Empty(e) if !seen_root => {
                if e.local_name().into_inner() != "opml" {
                    let name = e.name().into_inner().to_owned();
                    return Err(at(pos, format!("the root element is <{name}>, not <opml>")));
                }
                seen_root = true;
            }
            ref ev @ (Event::Start(ref e) | Event::Empty(ref e)) => {
                if e.local_name().into_inner() != "outline" {
                    continue;
                }
                outlines += 1;
                if outlines > MAX_OUTLINES {
                    return Err(at(
                        pos,
                        format!("more than {MAX_OUTLINES} outlines; split the file"),
                    ));
                }
                let attrs = Attrs::read(e).map_err(|m| at(pos, m))?;
                let is_start = matches!(ev, Event::Start(_));
                match attrs.xml_url {
                    Some(url) => {
                        let url = url.trim().to_owned();
                        let (line, column) = line_col(text, pos);
                        let mut tags: Vec<String> = folders.iter().flatten().cloned().collect();
                        for c in attrs.category.iter().flat_map(|c| c.split(',')) {
                            let c = c.trim().trim_matches('/');
                            if !c.is_empty() {
                                tags.extend(c.split('/').map(str::to_owned));
                            }
                        }
                        tags.retain(|t| !t.trim().is_empty());
                        let mut seen = std::collections::HashSet::new();
                        tags.retain(|t| seen.insert(t.clone()));
                        feeds.push(OpmlFeed {
                            title: attrs.title,
                            url,
                            tags,
                            line,
                            column,
                        });
                        if is_start {
                            folders.push(None);
                        }
                    }
                    None if is_start => folders.push(attrs.title),
                    None => {}
                }
                if folders.len() > MAX_DEPTH {
                    return Err(at(
                        pos,
                        format!("outlines nested more than {MAX_DEPTH} deep"),
                    ));
                }
            }
            Event::End(e) if e.local_name().into_inner() == "outline" => {
                folders.pop();
            }
            Event::DocType(_) => {
                return Err(at(
                    pos,
                    "a DOCTYPE is not accepted in OPML (entities are not expanded)".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(at(0, "not an OPML document: no <opml> element".into()));
    }
    Ok(feeds)
}

/// The attributes of an outline that matter here, unescaped.
struct Attrs {
    title: Option<String>,
    xml_url: Option<String>,
    category: Option<String>,
}

impl Attrs {
    fn read(e: &BytesStart<'_>) -> Result<Attrs, String> {
        let (mut title, mut text, mut xml_url, mut category) = (None, None, None, None);
        for a in e.attributes() {
            let a = a.map_err(|err| format!("bad attribute: {err}"))?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("bad attribute value: {err}"))?
                .trim()
                .to_owned();
            let slot = match a.key.local_name().into_inner() {
                "title" => &mut title,
                "text" => &mut text,
                "xmlUrl" | "xmlurl" => &mut xml_url,
                "category" => &mut category,
                _ => continue,
            };
            *slot = Some(value).filter(|v| !v.is_empty());
        }
        Ok(Attrs {
            title: title.or(text),
            xml_url,
            category,
        })
    }
}

/// One configured feed, as OPML writes it.
pub struct ExportFeed<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub tags: &'a [String],
}

/// An OPML 2.0 document listing `feeds` (`type="rss"` outlines; tags as `category`).
pub fn write(title: &str, feeds: &[ExportFeed<'_>]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    let _ = writeln!(
        out,
        "  <head>\n    <title>{}</title>\n  </head>\n  <body>",
        esc(title)
    );
    for f in feeds {
        let _ = write!(
            out,
            "    <outline type=\"rss\" text=\"{0}\" title=\"{0}\" xmlUrl=\"{1}\"",
            esc(f.name),
            esc(f.url)
        );
        if !f.tags.is_empty() {
            let tags: Vec<String> = f
                .tags
                .iter()
                .map(|t| format!("/{}", t.replace(',', " ")))
                .collect();
            let _ = write!(out, " category=\"{}\"", esc(&tags.join(",")));
        }
        out.push_str("/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 cannot carry other control characters at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let before = text.get(..pos).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="World">
    <outline type="rss" text="BBC &amp; more" xmlUrl=" https://feeds.example/bbc.xml " category="/news/uk,/radio"/>
    <outline text="Asia"><outline text="NHK" xmlUrl="https://nhk.example/rss"/></outline>
  </outline>
  <outline title="Solo" xmlUrl="https://solo.example/feed"></outline>
</body></opml>"#;

    #[test]
    fn feeds_come_with_their_folders_and_categories_as_tags() {
        let feeds = parse(SAMPLE).unwrap();
        assert_eq!(feeds.len(), 3);
        assert_eq!(feeds[0].title.as_deref(), Some("BBC & more"));
        assert_eq!(feeds[0].url, "https://feeds.example/bbc.xml");
        assert_eq!(feeds[0].tags, ["World", "news", "uk", "radio"]);
        assert_eq!(feeds[1].tags, ["World", "Asia"]);
        assert_eq!(
            (feeds[2].title.as_deref(), feeds[2].tags.len()),
            (Some("Solo"), 0)
        );
        assert_eq!((feeds[1].line, feeds[1].column), (5, 26));
    }

    #[test]
    fn written_opml_reads_back_the_same() {
        let tags = vec!["World".to_owned(), "a&b".to_owned()];
        let doc = write(
            "t",
            &[ExportFeed {
                name: "x \"quoted\" <feed>",
                url: "https://e.example/?a=1&b=2",
                tags: &tags,
            }],
        );
        let back = parse(&doc).unwrap();
        assert_eq!(back[0].title.as_deref(), Some("x \"quoted\" <feed>"));
        assert_eq!(back[0].url, "https://e.example/?a=1&b=2");
        assert_eq!(back[0].tags, tags);
    }

    #[test]
    fn hostile_documents_get_a_clear_error_with_a_position() {
        let lol = "<?xml version=\"1.0\"?><!DOCTYPE opml [<!ENTITY a \"aaaa\">]><opml><body><outline text=\"&a;\" xmlUrl=\"https://x/\"/></body></opml>";
        assert!(parse(lol).unwrap_err().message.contains("DOCTYPE"));
        let many = format!(
            "<opml><body>{}</body></opml>",
            "<outline xmlUrl=\"https://x.example/\"/>".repeat(MAX_OUTLINES + 1)
        );
        assert!(
            parse(&many)
                .unwrap_err()
                .message
                .contains("more than 10000 outlines")
        );
        let deep = format!(
            "<opml><body>{}</body></opml>",
            "<outline text=\"f\">".repeat(40)
        );
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
        let e = parse("<opml><body>\n  <outline xmlUrl=\"x\"></body></opml>").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(parse("<rss/>").unwrap_err().message.contains("not <opml>"));
        let e = parse("").unwrap_err();
        assert!(e.message.contains("no <opml> element"), "{e}");
    }
}
