//! Atom text constructs of every type and mode, rewritten to the two feed-rs reads.
//!
//! feed-rs 3.0 reads a `<title>`, `<summary>` or `<content>` of type `text`, `html` or `xhtml`
//! and rejects the whole document on anything else (`type="application/xhtml+xml"`,
//! `type="text/plain"`, Atom 0.3's `mode="xml"`, `mode="escaped"`, `mode="base64"`, any other
//! MIME type) or on an empty one. This pass rewrites every text construct of an Atom 0.3 or 1.0
//! document as `type="text"` or `type="html"` (inline XML serialized as HTML, base64 decoded),
//! and drops the empty ones. It runs on every Atom 0.3 document (whose modes feed-rs would
//! misread without an error) and on an Atom 1.0 document feed-rs rejected; documents feed-rs
//! reads are never copied.

use base64::Engine as _;
use quick_xml::events::{BytesCData, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;

const ATOM03: &str = "http://purl.org/atom/ns#";
const ATOM10: &str = "http://www.w3.org/2005/Atom";

/// Text constructs (and `content`) of Atom 1.0 and 0.3.
const CONSTRUCTS: [&str; 8] = [
    "title",
    "subtitle",
    "tagline",
    "summary",
    "content",
    "rights",
    "copyright",
    "info",
];

/// How a construct's content is to be read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Html,
    /// Inline markup, serialized and read as HTML.
    Xml,
    /// Base64 of a document of this kind (`None`: binary, not text).
    Base64(Option<bool>),
}

fn kind_of(e: &BytesStart<'_>) -> Kind {
    let value = |key: &str| {
        e.attributes()
            .flatten()
            .find(|a| a.key.local_name().as_ref() == key && a.key.prefix().is_none())
            .map(|a| a.value.trim().to_ascii_lowercase())
    };
    let ty = value("type").unwrap_or_default();
    let html = ty == "html" || ty.contains("html");
    let textual = ty.is_empty()
        || ty == "text"
        || ty == "html"
        || ty == "xhtml"
        || ty.starts_with("text/")
        || ty.ends_with("+xml")
        || ty.ends_with("/xml");
    match value("mode").as_deref() {
        Some("base64") => return Kind::Base64(textual.then_some(html)),
        Some("escaped") => {
            return if ty == "text/plain" {
                Kind::Text
            } else {
                Kind::Html
            };
        }
        Some("xml") => return Kind::Xml,
        _ => {}
    }
    match ty.as_str() {
        "" | "text" | "text/plain" => Kind::Text,
        "html" | "text/html" => Kind::Html,
        "xhtml" => Kind::Xml,
        t if t.ends_with("+xml") || t.ends_with("/xml") => Kind::Xml,
        t if t.starts_with("text/") => Kind::Text,
        // Atom 1.0: any other MIME type is base64.
        _ => Kind::Base64(None),
    }
}

/// The rewritten document, or `None` when it is not an Atom document quick-xml can read whole.
pub fn rewrite(doc: &str) -> Option<String> {
    let mut reader = NsReader::from_str(doc);
    let mut writer = Writer::new(Vec::with_capacity(doc.len() + 256));
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let atom =
            matches!(ns, ResolveResult::Bound(n) if n.as_ref() == ATOM10 || n.as_ref() == ATOM03);
        match event {
            Event::Eof => break,
            Event::Start(e) if atom && is_construct(&e) && !has_src(&e) => {
                let kind = kind_of(&e);
                let name = e.name().as_ref().to_owned();
                let inner = read_inner(&mut reader, doc, &e, kind)?;
                write_construct(&mut writer, &e, kind, inner)?;
                let _ = name;
            }
            Event::Empty(e) if atom && is_construct(&e) && !has_src(&e) => {
                // Empty: nothing to read; feed-rs would reject it.
            }
            other => writer.write_event(other).ok()?,
        }
    }
    String::from_utf8(writer.into_inner()).ok()
}

fn is_construct(e: &BytesStart<'_>) -> bool {
    CONSTRUCTS.contains(&e.local_name().as_ref())
}

fn has_src(e: &BytesStart<'_>) -> bool {
    e.attributes().flatten().any(|a| a.key.as_ref() == "src")
}

/// The element's content up to its end tag: as text (references resolved) for text kinds, as
/// the markup written in the document for inline XML.
fn read_inner(
    reader: &mut NsReader<&[u8]>,
    doc: &str,
    start: &BytesStart<'_>,
    kind: Kind,
) -> Option<String> {
    if kind == Kind::Xml {
        let span = reader.read_to_end(start.name()).ok()?;
        let raw = doc.get(span.start as usize..span.end as usize)?;
        return Some(raw.to_owned());
    }
    let mut text = String::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(c) => text.push_str(&c.xml10_content()),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => match r.as_ref() {
                    "lt" => text.push('<'),
                    "gt" => text.push('>'),
                    "amp" => text.push('&'),
                    "apos" => text.push('\''),
                    "quot" => text.push('"'),
                    other => {
                        text.push('&');
                        text.push_str(other);
                        text.push(';');
                    }
                },
            },
            // Markup inside a text construct that says it holds none: kept as markup, read
            // as HTML below.
            Event::Start(e) => {
                depth += 1;
                text.push('<');
                text.push_str(&e);
                text.push('>');
            }
            Event::Empty(e) => {
                text.push('<');
                text.push_str(&e);
                text.push_str("/>");
            }
            Event::End(e) => {
                if depth == 0 {
                    return Some(text);
                }
                depth -= 1;
                text.push_str("</");
                text.push_str(e.name().as_ref());
                text.push('>');
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn write_construct(
    writer: &mut Writer<Vec<u8>>,
    start: &BytesStart<'_>,
    kind: Kind,
    inner: String,
) -> Option<()> {
    let (html, body) = match kind {
        Kind::Text => (inner.contains('<'), inner),
        Kind::Html | Kind::Xml => (true, inner),
        Kind::Base64(None) => return Some(()),
        Kind::Base64(Some(html)) => {
            let compact: String = inner.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .ok();
            match bytes.and_then(|b| String::from_utf8(b).ok()) {
                Some(s) => (html || s.contains('<'), s),
                None => return Some(()),
            }
        }
    };
    if body.trim().is_empty() {
        return Some(());
    }
    let name = start.name().as_ref().to_owned();
    let mut out = BytesStart::new(name.clone());
    for a in start.attributes().flatten() {
        let key = a.key.as_ref();
        if key == "type" || key == "mode" {
            continue;
        }
        out.push_attribute(a);
    }
    out.push_attribute(("type", if html { "html" } else { "text" }));
    writer.write_event(Event::Start(out)).ok()?;
    if html {
        // `]]>` cannot sit inside one CDATA section: split it across two.
        for (i, part) in body.split("]]>").enumerate() {
            if i > 0 {
                writer
                    .write_event(Event::CData(BytesCData::new("]]")))
                    .ok()?;
                writer.write_event(Event::Text(BytesText::new(">"))).ok()?;
            }
            writer
                .write_event(Event::CData(BytesCData::new(part)))
                .ok()?;
        }
    } else {
        writer
            .write_event(Event::Text(BytesText::new(&body)))
            .ok()?;
    }
    writer
        .write_event(Event::End(quick_xml::events::BytesEnd::new(name)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(construct: &str) -> String {
        let doc = format!(
            "<feed xmlns=\"http://purl.org/atom/ns#\" version=\"0.3\"><entry>{construct}</entry></feed>"
        );
        let out = rewrite(&doc).expect("rewritten");
        out.trim_start_matches("<feed xmlns=\"http://purl.org/atom/ns#\" version=\"0.3\"><entry>")
            .trim_end_matches("</entry></feed>")
            .to_owned()
    }

    #[test]
    fn every_type_and_mode_becomes_text_or_html() {
        for (given, expected) in [
            ("<title>Plain</title>", "<title type=\"text\">Plain</title>"),
            (
                "<title type=\"text/plain\" mode=\"escaped\">A &amp;lt; B</title>",
                "<title type=\"text\">A &amp;lt; B</title>",
            ),
            (
                "<content type=\"text/html\" mode=\"escaped\">&lt;p&gt;Hi&lt;/p&gt;</content>",
                "<content type=\"html\"><![CDATA[<p>Hi</p>]]></content>",
            ),
            (
                "<content type=\"application/xhtml+xml\" mode=\"xml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>X</p></div></content>",
                "<content type=\"html\"><![CDATA[<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>X</p></div>]]></content>",
            ),
            (
                "<content type=\"text/html\" mode=\"base64\">PHA+SGk8L3A+</content>",
                "<content type=\"html\"><![CDATA[<p>Hi</p>]]></content>",
            ),
            (
                "<content type=\"image/png\" mode=\"base64\">iVBORw0KGgo=</content>",
                "",
            ),
            ("<title></title><summary/>", ""),
        ] {
            assert_eq!(one(given), expected, "{given}");
        }
    }
}
