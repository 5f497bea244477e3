//! Lenient XML: the not-quite-well-formed documents common in the wild, read the way feedparser,
//! sfeed and browsers read them, and never silently: every recovery becomes a feed warning (like
//! feedparser's `bozo`).
//!
//! - HTML named entities (`&eacute;`, `&nbsp;`, all of HTML's) are not XML: they become character
//!   references, unless the document has a DOCTYPE (which may declare them).
//! - A bare `&` (`AT&T`, `?a=1&b=2`) is escaped as `&amp;`.
//! - Well-known namespace prefixes used without a declaration (`content:`, `dc:`, `media:` …) get
//!   their declaration on the root element, so their elements are read.
//!
//! One pass over the `&` bytes (CDATA sections and comments skipped whole); the document is copied
//! only when something changes.

use memchr::memmem;

/// Well-known prefixes and their namespaces, declared when a document uses them undeclared.
pub const KNOWN_PREFIXES: [(&str, &str); 8] = [
    ("content", "http://purl.org/rss/1.0/modules/content/"),
    ("dc", "http://purl.org/dc/elements/1.1/"),
    ("dcterms", "http://purl.org/dc/terms/"),
    ("media", "http://search.yahoo.com/mrss/"),
    ("atom", "http://www.w3.org/2005/Atom"),
    ("itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("slash", "http://purl.org/rss/1.0/modules/slash/"),
];

/// The document as it should be read, and what was recovered; `None` when nothing needed it.
/// `used_prefixes` is a bit set over [`KNOWN_PREFIXES`] of the prefixes the document's element
/// names use (from [`super::compat::scan`]).
pub fn repair(doc: &str, used_prefixes: u16) -> Option<(String, Vec<String>)> {
    let mut warnings = Vec::new();
    let missing: Vec<(&str, &str)> = KNOWN_PREFIXES
        .iter()
        .enumerate()
        .filter(|(i, _)| used_prefixes & (1 << i) != 0)
        .map(|(_, p)| *p)
        .filter(|(prefix, _)| {
            memmem::find(doc.as_bytes(), format!("xmlns:{prefix}").as_bytes()).is_none()
        })
        .collect();
    let references = fix_references(doc, &mut warnings);
    if missing.is_empty() && references.is_none() {
        return None;
    }
    let mut out = references.unwrap_or_else(|| doc.to_owned());
    if !missing.is_empty()
        && let Some(at) = root_name_end(&out)
    {
        let decls: String = missing
            .iter()
            .map(|(p, ns)| format!(" xmlns:{p}=\"{ns}\""))
            .collect();
        out.insert_str(at, &decls);
        let names: Vec<String> = missing.iter().map(|(p, _)| format!("{p}:")).collect();
        warnings.push(format!(
            "namespace prefix used without a declaration: {} (read as the usual namespace)",
            names.join(", ")
        ));
    }
    Some((out, warnings))
}

/// Where the root element's name ends (where attributes can be inserted).
fn root_name_end(doc: &str) -> Option<usize> {
    let bytes = doc.as_bytes();
    let mut from = 0;
    loop {
        let lt = from + memchr::memchr(b'<', &bytes[from..])?;
        match bytes.get(lt + 1) {
            Some(b'?' | b'!') => {
                // A declaration, comment or DOCTYPE (whose internal subset may hold `>`s inside
                // quotes, but not a `<` that starts an element before its `]>`).
                from = lt + 1;
            }
            Some(_) => {
                let name_len = bytes[lt + 1..]
                    .iter()
                    .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))?;
                return Some(lt + 1 + name_len);
            }
            None => return None,
        }
    }
}

/// Every `&` that does not start an XML reference fixed: HTML named entities as character
/// references, bare ampersands escaped. `None` when there was nothing to fix.
fn fix_references(doc: &str, warnings: &mut Vec<String>) -> Option<String> {
    let bytes = doc.as_bytes();
    // A DOCTYPE may declare entities (RSS 0.91's declares HTML's): named references stay.
    let has_doctype = memmem::find(&bytes[..bytes.len().min(4096)], b"<!DOCTYPE").is_some();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let (mut entities, mut bare, mut bad_refs) = (Vec::<String>::new(), 0usize, 0usize);
    let mut entity_count = 0usize;
    let mut skip = Skipper::new(bytes);
    let mut i = 0;
    while let Some(amp) = memchr::memchr(b'&', &bytes[i..]).map(|at| i + at) {
        i = amp + 1;
        let rest = &bytes[amp + 1..];
        // Most references in feeds are the predefined ones (escaped HTML): nothing to do, and no
        // need to know whether they sit in a CDATA section.
        if [&b"lt;"[..], b"gt;", b"amp;", b"quot;", b"apos;"]
            .iter()
            .any(|p| rest.starts_with(p))
        {
            continue;
        }
        let semi = rest.iter().take(40).position(|&b| b == b';');
        let name = semi.map(|s| &doc[amp + 1..amp + 1 + s]);
        enum Fix {
            Bare,
            BadRef,
            Entity(String, String),
        }
        let fix = match name {
            Some(n) if n.starts_with('#') => (!char_ref_ok(&n[1..])).then_some(Fix::BadRef),
            Some(n) if super::cdata::is_entity_name(n) => {
                if has_doctype {
                    None
                } else {
                    let reference = format!("&{n};");
                    let decoded = html_escape::decode_html_entities(&reference).into_owned();
                    // Not an HTML entity either: quick-xml keeps it as written.
                    (decoded != reference).then(|| {
                        let refs = decoded
                            .chars()
                            .map(|c| format!("&#{};", u32::from(c)))
                            .collect();
                        Fix::Entity(reference, refs)
                    })
                }
            }
            _ => Some(Fix::Bare),
        };
        let Some(fix) = fix else {
            continue;
        };
        if let Some(resume) = skip.inside(amp) {
            i = resume;
            continue;
        }
        let replacement = match fix {
            Fix::Bare => {
                bare += 1;
                "&amp;".to_owned()
            }
            Fix::BadRef => {
                bad_refs += 1;
                "&amp;".to_owned()
            }
            Fix::Entity(reference, refs) => {
                entity_count += 1;
                if entities.len() < 5 && !entities.contains(&reference) {
                    entities.push(reference);
                }
                refs
            }
        };
        let o = out.get_or_insert_with(|| String::with_capacity(doc.len() + 64));
        o.push_str(&doc[copied..amp]);
        o.push_str(&replacement);
        // A bare `&` is replaced alone; a named reference with its name and `;`.
        copied = if replacement == "&amp;" {
            amp + 1
        } else {
            amp + 2 + semi.unwrap_or(0)
        };
        i = copied;
    }
    if entity_count > 0 {
        warnings.push(format!(
            "{entity_count} HTML named entities, not defined in XML ({}), read as their characters",
            entities.join(" ")
        ));
    }
    if bare > 0 {
        warnings.push(format!("{bare} unescaped '&' read as a literal ampersand"));
    }
    if bad_refs > 0 {
        warnings.push(format!(
            "{bad_refs} invalid character references read as literal text"
        ));
    }
    let mut out = out?;
    out.push_str(&doc[copied..]);
    Some(out)
}

/// Skips CDATA sections and comments: the `&`s inside them are text. Asked about increasing
/// positions; each kind is searched for once over the document, so the whole is linear.
struct Skipper<'a> {
    bytes: &'a [u8],
    /// For CDATA sections and comments: the first one not yet behind the positions asked
    /// about, `(start, end)` with `end` just past its terminator; `None` when there is none.
    spans: [Option<(usize, usize)>; 2],
    searched: [bool; 2],
}

const SKIPPED: [(&[u8], &[u8]); 2] = [(b"<![CDATA[", b"]]>"), (b"<!--", b"-->")];

impl<'a> Skipper<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Skipper {
            bytes,
            spans: [None; 2],
            searched: [false; 2],
        }
    }

    /// `Some(end)` when `at` is inside a CDATA section or comment ending at `end`.
    fn inside(&mut self, at: usize) -> Option<usize> {
        for kind in 0..2 {
            if !self.searched[kind] {
                self.searched[kind] = true;
                self.spans[kind] = self.find(kind, 0);
            }
            while let Some((_, end)) = self.spans[kind]
                && end <= at
            {
                self.spans[kind] = self.find(kind, end);
            }
            if let Some((start, end)) = self.spans[kind]
                && start <= at
            {
                return Some(end);
            }
        }
        None
    }

    fn find(&self, kind: usize, from: usize) -> Option<(usize, usize)> {
        let (open, close) = SKIPPED[kind];
        let start = from + memmem::find(self.bytes.get(from..)?, open)?;
        let body = start + open.len();
        let end = memmem::find(&self.bytes[body..], close)
            .map_or(self.bytes.len(), |e| body + e + close.len());
        Some((start, end))
    }
}

/// A character reference's body (after `#`) naming a character.
fn char_ref_ok(body: &str) -> bool {
    let code = match body.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        None if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) => body.parse().ok(),
        _ => None,
    };
    // Control characters are left for quick-xml and the plain-text pass (which drops them).
    code.and_then(char::from_u32).is_some_and(|c| c != '\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_entities_and_bare_ampersands_are_fixed_and_reported() {
        let (out, warnings) = repair(
            "<a>caf&eacute; &amp; AT&T &nbsp;<![CDATA[a & b]]><!-- & --> &bogus; &#0; &#233;</a>",
            0,
        )
        .expect("changed");
        assert_eq!(
            out,
            "<a>caf&#233; &amp; AT&amp;T &#160;<![CDATA[a & b]]><!-- & --> &bogus; &amp;#0; &#233;</a>"
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(repair("<a>&lt;p&gt; &#x3C; plain</a>", 0).is_none());
    }

    #[test]
    fn ampersands_in_any_of_many_cdata_sections_and_comments_stay() {
        let doc = "<a><![CDATA[x]]><![CDATA[y & z]]><!-- c --><![CDATA[&]]><!-- & -->AT&T<![CDATA[&]]></a>";
        let (out, _) = repair(doc, 0).expect("changed");
        assert_eq!(
            out,
            "<a><![CDATA[x]]><![CDATA[y & z]]><!-- c --><![CDATA[&]]><!-- & -->AT&amp;T<![CDATA[&]]></a>"
        );
    }

    #[test]
    fn a_doctype_keeps_named_entities() {
        let doc = "<!DOCTYPE rss SYSTEM \"x.dtd\"><rss>&eacute;</rss>";
        assert!(repair(doc, 0).is_none());
    }

    #[test]
    fn undeclared_known_prefixes_are_declared_on_the_root() {
        let (out, warnings) = repair(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><dc:creator>x</dc:creator></rss>",
            0b10,
        )
        .expect("changed");
        assert!(
            out.starts_with(
                "<?xml version=\"1.0\"?><rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\" version"
            ),
            "{out}"
        );
        assert_eq!(warnings.len(), 1);
        let declared =
            "<rss xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>x</dc:creator></rss>";
        assert!(repair(declared, 0b10).is_none());
    }
}
