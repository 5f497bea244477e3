//! Escaped markup as CDATA, before feed-rs reads a document.
//!
//! Most feeds carry their HTML escaped: `<description>&lt;p&gt;Text&lt;/p&gt;</description>`.
//! quick-xml reports every entity reference as an event of its own, and feed-rs coalesces them
//! with the text between them one event at a time, so such a description costs some forty
//! events; as `<![CDATA[<p>Text</p>]]>` it is one. feed-rs turns text, CDATA and references
//! alike into one text node, so the rewrite changes nothing it reads (property-tested against
//! feed-rs itself). feed-rs then runs markedly fewer instructions, and a cold run fewer net of
//! the rewrite (docs/performance.md).
//!
//! Only documents holding an escaped `<` are rewritten, and in them the text nodes holding
//! references. Anything unusual leaves the document as it is, for feed-rs to read or reject as
//! before: a DOCTYPE (it may declare entities), an unterminated comment, CDATA section,
//! processing instruction or tag. A node with a reference quick-xml may refuse (unterminated,
//! not a plausible name, a character that is not allowed) is left as it is.

use memchr::memmem;

/// The document with every text node that holds `&lt;` rewritten as a CDATA section, or
/// `None` if there is none or the document is left as it is.
pub fn escaped_markup_as_cdata(doc: &str) -> Option<String> {
    let bytes = doc.as_bytes();
    memmem::find(bytes, b"&lt;")?;
    if memmem::find(bytes, b"<!DOCTYPE").is_some() {
        return None;
    }
    let mut out = String::with_capacity(doc.len());
    let mut decoded = String::new();
    // `doc[copied..]` is not yet in `out`; `i` is where the next text node starts.
    let (mut copied, mut i) = (0, 0);
    while let Some(lt) = memchr::memchr(b'<', &bytes[i..]).map(|at| i + at) {
        let text = &doc[i..lt];
        // Any reference makes events; `&lt;` only makes them many.
        if memchr::memchr(b'&', text.as_bytes()).is_some() && decode(text, &mut decoded) {
            out.push_str(&doc[copied..i]);
            push_cdata(&decoded, &mut out);
            copied = lt;
        }
        i = markup_end(bytes, lt)? + 1;
    }
    out.push_str(&doc[copied..]);
    Some(out)
}

/// The index of the last byte of the markup starting at `bytes[lt] == b'<'`: a comment, a CDATA
/// section, a processing instruction or declaration, or a tag (whose quoted attribute values
/// may hold `>`). `None` when it is not terminated.
fn markup_end(bytes: &[u8], lt: usize) -> Option<usize> {
    let rest = &bytes[lt..];
    let until = |open: usize, close: &[u8]| {
        memmem::find(&rest[open..], close).map(|at| lt + open + at + close.len() - 1)
    };
    if rest.starts_with(b"<!--") {
        return until(4, b"-->");
    }
    if rest.starts_with(b"<![CDATA[") {
        return until(9, b"]]>");
    }
    if rest.starts_with(b"<?") {
        return until(2, b"?>");
    }
    let mut at = 1;
    loop {
        at += memchr::memchr3(b'>', b'"', b'\'', &rest[at..])?;
        match rest[at] {
            b'>' => return Some(lt + at),
            quote => at += 1 + memchr::memchr(quote, &rest[at + 1..])? + 1,
        }
    }
}

/// Decodes a text node's references into `out` (cleared first) as quick-xml and feed-rs do:
/// character references and the five predefined entities resolved, other entities kept as
/// written. `false` for anything else (a bare `&`, a malformed or disallowed character).
fn decode(text: &str, out: &mut String) -> bool {
    out.clear();
    let mut rest = text;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = memchr::memchr(b';', after.as_bytes()) else {
            return false;
        };
        let name = &after[..semi];
        if let Some(number) = name.strip_prefix('#') {
            // Digits only: `u32::from_str_radix` takes a sign, which quick-xml refuses.
            let code = match number.strip_prefix('x') {
                Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u32::from_str_radix(hex, 16).ok()
                }
                None if number.bytes().all(|b| b.is_ascii_digit()) => number.parse::<u32>().ok(),
                _ => None,
            };
            match code.and_then(char::from_u32) {
                Some(c) if !c.is_control() || matches!(c, '\t' | '\n' | '\r') => out.push(c),
                _ => return false,
            }
        } else {
            match name {
                "lt" => out.push('<'),
                "gt" => out.push('>'),
                "amp" => out.push('&'),
                "apos" => out.push('\''),
                "quot" => out.push('"'),
                _ if is_entity_name(name) => {
                    out.push('&');
                    out.push_str(name);
                    out.push(';');
                }
                _ => return false,
            }
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    true
}

/// A plausible entity name (ASCII letters, digits, `_`, `-`, `.`, not starting with a digit):
/// anything stranger is left for quick-xml to judge.
pub(crate) fn is_entity_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `text` as CDATA; a `]]>` inside it is split across two sections.
fn push_cdata(text: &str, out: &mut String) {
    out.push_str("<![CDATA[");
    let mut rest = text;
    while let Some(end) =
        memchr::memchr(b']', rest.as_bytes()).and_then(|_| memmem::find(rest.as_bytes(), b"]]>"))
    {
        out.push_str(&rest[..end]);
        out.push_str("]]]]><![CDATA[>");
        rest = &rest[end + 3..];
    }
    out.push_str(rest);
    out.push_str("]]>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_html_becomes_one_cdata_section() {
        let doc = "<rss><channel><item><description>&lt;p&gt;A &amp; B&lt;/p&gt;</description></item></channel></rss>";
        assert_eq!(
            escaped_markup_as_cdata(doc).as_deref(),
            Some(
                "<rss><channel><item><description><![CDATA[<p>A & B</p>]]></description></item></channel></rss>"
            )
        );
    }

    #[test]
    fn references_resolve_as_quick_xml_resolves_them() {
        let mut out = String::new();
        assert!(decode(
            "&lt;b&gt; &#60; &#x3C; &quot;&apos; &nbsp; x",
            &mut out
        ));
        assert_eq!(out, "<b> < < \"' &nbsp; x");
        for bad in [
            "a & b", "&#0;", "&#xD800;", "&#1;", "&;", "&a b;", "&#x;", "&#+60;", "&#X3C;",
        ] {
            assert!(!decode(bad, &mut out), "{bad}");
        }
    }

    #[test]
    fn a_cdata_end_inside_the_text_is_split() {
        let mut out = String::new();
        push_cdata("a]]>b", &mut out);
        assert_eq!(out, "<![CDATA[a]]]]><![CDATA[>b]]>");
    }

    #[test]
    fn markup_is_skipped_whole_and_unusual_documents_are_left_alone() {
        // A `>` in a quoted attribute, a comment and a CDATA section holding `&lt;`.
        let doc = r#"<a x="1>2"><!-- &lt; --><![CDATA[&lt;]]>&lt;i&gt;</a>"#;
        assert_eq!(
            escaped_markup_as_cdata(doc).as_deref(),
            Some(r#"<a x="1>2"><!-- &lt; --><![CDATA[&lt;]]><![CDATA[<i>]]></a>"#)
        );
        assert_eq!(escaped_markup_as_cdata("<a>plain</a>"), None);
        assert_eq!(
            escaped_markup_as_cdata("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&lt;&e;</a>"),
            None
        );
        assert_eq!(escaped_markup_as_cdata("<a>&lt;b&gt;</a><!-- open"), None);
        assert_eq!(escaped_markup_as_cdata("<a>&lt;b&gt;</a><b x=\"1>"), None);
        // A bare `&` keeps its node as it is, for quick-xml to judge; the others change.
        assert_eq!(
            escaped_markup_as_cdata("<a>&lt; & </a><b>&lt;</b>").as_deref(),
            Some("<a>&lt; & </a><b><![CDATA[<]]></b>")
        );
    }
}
