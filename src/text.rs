//! Plain text from untrusted feed markup, and safe display of that text.
//!
//! Everything a feed says is untrusted. This module turns it into bounded, printable plain text
//! ([`html_to_text`], [`clean_inline`]) before it is stored or matched, and wraps it for logs and
//! terminals ([`Untrusted`]) so that no newline, control character, ANSI escape or bidi override can
//! forge a log line or repaint a terminal. It depends on nothing else in the crate.

use std::fmt;

/// How many characters of feed text a log field or terminal line shows.
pub const LOG_TEXT_CHARS: usize = 200;

/// Elements whose content is never text a reader sees.
const SKIPPED_ELEMENTS: &[&str] = &[
    "script", "style", "head", "template", "noscript", "svg", "math",
];

/// Elements that separate words: their tags become a space, so "a<br>b" reads "a b".
const BLOCK_ELEMENTS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "pre",
    "hr",
    "dd",
    "dt",
    "figcaption",
    "table",
    "img",
];

/// Converts an HTML fragment to plain text: tags removed (and the content of `script`/`style`),
/// entities decoded, control characters dropped, whitespace collapsed, length capped at
/// `max_bytes` on a character boundary.
pub fn html_to_text(html: &str, max_bytes: usize) -> String {
    if !html.contains('<') {
        return clean_inline(html, max_bytes);
    }
    let mut raw = String::with_capacity(html.len().min(max_bytes * 2));
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut skip_until: Option<&str> = None;
    while i < bytes.len() {
        // Enough collected: decoding and collapsing only shrink it.
        if raw.len() > max_bytes.saturating_mul(4) {
            break;
        }
        let rest = &html[i..];
        let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) else {
            if skip_until.is_none() {
                raw.push_str(rest);
            }
            break;
        };
        if skip_until.is_none() {
            raw.push_str(&rest[..lt]);
        }
        i += lt;
        let tag = &html[i..];
        if tag.starts_with("<!--") {
            i += tag.find("-->").map_or(tag.len(), |end| end + 3);
            continue;
        }
        let after = tag.as_bytes().get(1).copied();
        let is_tag = matches!(after, Some(b'/' | b'!' | b'?'))
            || after.is_some_and(|b| b.is_ascii_alphabetic());
        if !is_tag {
            // A lone "<" as in "a < b" is text.
            if skip_until.is_none() {
                raw.push('<');
            }
            i += 1;
            continue;
        }
        let end = tag_end(tag.as_bytes());
        let name = tag_name(&tag[1..end.min(tag.len())]);
        let closing = after == Some(b'/');
        if let Some(skipped) = skip_until {
            if closing && name.eq_ignore_ascii_case(skipped) {
                skip_until = None;
            }
        } else if !closing
            && !tag[..end].ends_with("/>")
            && let Some(s) = SKIPPED_ELEMENTS
                .iter()
                .find(|s| name.eq_ignore_ascii_case(s))
        {
            skip_until = Some(s);
        }
        if skip_until.is_none() && BLOCK_ELEMENTS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            raw.push(' ');
        }
        i += end + 1;
    }
    clean_inline(&raw, max_bytes)
}

/// Index of the `>` that closes the tag starting at `tag[0] == b'<'`, skipping quoted attribute
/// values; the end of input when unterminated.
fn tag_end(tag: &[u8]) -> usize {
    let mut quote = None;
    for (i, &b) in tag.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return i,
            _ => {}
        }
    }
    tag.len()
}

fn tag_name(inner: &str) -> &str {
    let inner = inner.trim_start_matches('/');
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(inner.len());
    &inner[..end]
}

/// Cleans text that is already plain (or only entity-escaped): decodes HTML entities, drops
/// control characters, collapses whitespace to single spaces, trims, and caps the length.
pub fn clean_inline(text: &str, max_bytes: usize) -> String {
    let decoded = if memchr::memchr(b'&', text.as_bytes()).is_some() {
        html_escape::decode_html_entities(text)
    } else {
        text.into()
    };
    let mut out = String::with_capacity(decoded.len().min(max_bytes.saturating_add(4)));
    let mut pending_space = false;
    let mut rest: &str = &decoded;
    while !rest.is_empty() {
        // Runs of printable ASCII words with single spaces between them (most of most feeds)
        // are copied whole; anything else goes through one character at a time.
        let run = ascii_run(rest.as_bytes());
        if run > 0 {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            let fits = max_bytes.saturating_sub(out.len());
            if run > fits {
                out.push_str(&rest[..fits]);
                truncate_with_ellipsis(&mut out, max_bytes);
                return out;
            }
            out.push_str(&rest[..run]);
            rest = &rest[run..];
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() || c == '\u{feff}' {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_format_hazard(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if out.len() + c.len_utf8() > max_bytes {
            truncate_with_ellipsis(&mut out, max_bytes);
            return out;
        }
        out.push(c);
    }
    out
}

/// The length of the printable ASCII at the start of `b`, single spaces between printable
/// characters included: text that collapsing whitespace leaves as it is.
fn ascii_run(b: &[u8]) -> usize {
    let mut i = 0;
    loop {
        // Eight bytes at a time while they are plainly such text (in prose, most chunks), one
        // printable byte or space-and-printable-byte at a time otherwise. The byte before `i`
        // is always printable: neither step stops just after a space.
        if b[i..]
            .first_chunk::<8>()
            .is_some_and(|c| plain_chunk(u64::from_le_bytes(*c)))
        {
            i += 8;
            continue;
        }
        match b.get(i) {
            Some(c) if c.is_ascii_graphic() => i += 1,
            Some(b' ') if i > 0 && b.get(i + 1).is_some_and(u8::is_ascii_graphic) => i += 2,
            _ => return i,
        }
    }
}

/// Are these eight bytes (in memory order) all printable ASCII or spaces, with no space first,
/// last or next to another? Then each space sits between printable characters.
fn plain_chunk(x: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const SEVENS: u64 = ONES * 0x7f;
    const HIGHS: u64 = ONES * 0x80;
    // The high bit of a byte below ' ' is set in `below`, of DEL in `del`, of a non-ASCII byte
    // in `x`; none is set for ' '..='~'. (As booleans these are exact; which bit is set past the
    // first such byte is not, and does not matter.)
    let below = x.wrapping_sub(ONES * 0x20) & !x;
    let del = (x ^ SEVENS).wrapping_sub(ONES) & !(x ^ SEVENS);
    if (below | del | x) & HIGHS != 0 {
        return false;
    }
    // Exactly the spaces, one high bit each (no carry crosses a byte).
    let t = x ^ (ONES * 0x20);
    let spaces = !(((t & SEVENS).wrapping_add(SEVENS)) | t) & HIGHS;
    spaces & ((spaces >> 8) | 0x80 | (0x80 << 56)) == 0
}

pub(crate) fn truncate_with_ellipsis(out: &mut String, max_bytes: usize) {
    let budget = max_bytes.saturating_sub('…'.len_utf8());
    let mut cut = budget.min(out.len());
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.truncate(out.trim_end().len());
    out.push('…');
}

/// Characters that are not controls but can reorder or hide text on a terminal or in a log
/// viewer: bidi overrides and isolates, line/paragraph separators.
pub(crate) fn is_format_hazard(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text on its way to a log or a terminal.
///
/// `Display` writes the text with every control character, line separator and bidi control
/// escaped as `\u{..}` (newline as `\n`), truncated to [`LOG_TEXT_CHARS`] characters. `Debug`
/// writes the same, quoted. Either way the output is one physical line of printable text.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl Untrusted<'_> {
    fn write_escaped(&self, f: &mut fmt::Formatter<'_>, quote: bool) -> fmt::Result {
        for (chars, c) in self.0.chars().enumerate() {
            if chars == LOG_TEXT_CHARS {
                f.write_str("…")?;
                break;
            }
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' if quote => f.write_str("\\\\")?,
                '"' if quote => f.write_str("\\\"")?,
                c if c.is_control() || is_format_hazard(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_escaped(f, false)
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        self.write_escaped(f, true)?;
        f.write_str("\"")
    }
}

/// Escapes a whole string for one terminal line (no truncation); used by the log formatter.
pub fn escape_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_format_hazard(c)) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_format_hazard(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_decodes_entities() {
        assert_eq!(
            html_to_text(
                "<p>Caf&eacute; &amp; <b>bar</b></p><p>next&nbsp;line</p>",
                1000
            ),
            "Café & bar next line"
        );
    }

    #[test]
    fn drops_script_and_style_content() {
        assert_eq!(
            html_to_text("a<script>var x = '<p>';</script>b<style>p{}</style>c", 100),
            "abc"
        );
    }

    #[test]
    fn keeps_a_lone_less_than_sign() {
        assert_eq!(
            html_to_text("1 < 2 and <i>3</i> > 2", 100),
            "1 < 2 and 3 > 2"
        );
    }

    #[test]
    fn block_tags_separate_words() {
        assert_eq!(
            html_to_text("one<br/>two<div>three</div>", 100),
            "one two three"
        );
    }

    #[test]
    fn quoted_gt_inside_attribute_does_not_end_the_tag() {
        assert_eq!(html_to_text(r#"<a title="x > y">link</a>"#, 100), "link");
    }

    #[test]
    fn length_is_capped_on_a_char_boundary() {
        let s = clean_inline(&"é".repeat(100), 11);
        assert!(s.len() <= 11, "{s}");
        assert!(s.ends_with('…'));
    }

    #[test]
    fn control_characters_are_removed_from_stored_text() {
        assert_eq!(
            clean_inline("a\u{7}b\u{1b}[2Jc\nd\u{202e}e", 100),
            "ab[2Jc de"
        );
    }

    #[test]
    fn untrusted_display_is_one_escaped_line() {
        let s = format!("{}", Untrusted("a\nERROR forged\r\u{1b}[2J\u{2028}x"));
        assert_eq!(s, "a\\nERROR forged\\r\\u{1b}[2J\\u{2028}x");
        assert!(!s.chars().any(char::is_control));
    }

    #[test]
    fn untrusted_truncates_long_text() {
        let long = "x".repeat(10_000);
        let s = format!("{}", Untrusted(&long));
        assert_eq!(s.chars().count(), LOG_TEXT_CHARS + 1);
    }
}
