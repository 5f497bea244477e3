//! Everything newshound does around feed-rs to read real-world feeds it mishandles, in one place.
//!
//! | feed-rs 3.0 gap                                              | what happens here                      |
//! |--------------------------------------------------------------|----------------------------------------|
//! | can panic on some UTF-16 input; trusts only the XML prolog    | [`to_utf8`]: BOM, HTTP charset, prolog, then Windows-1252; always hands feed-rs UTF-8 |
//! | `<rss>` without version, or 0.90/0.93/0.94/2.01 → no feed root | version rewritten to 2.0              |
//! | RSS in the UserLand or Netscape namespaces → no items          | namespace mapped to RSS               |
//! | Atom 0.3 → an empty feed, no error                             | namespace mapped to Atom 1.0; `issued`/`modified` → `published`/`updated` |
//! | RSS 1.0 items without `<link>` dropped; `rdf:about` ignored    | `<link>` added from `rdf:about`, which also becomes the item id |
//! | `dc:title` ignored                                             | becomes the title when there is none  |
//! | `dcterms:modified`/`dcterms:created` ignored                   | becomes the date when there is none   |
//! | ISO-8601 dates without seconds missed                          | [`super::dates::parse`]               |
//! | a whole JSON Feed rejected over one numeric `id`, or an `http:` version URL | [`repair_json`] turns numeric ids into strings, `http:` into `https:` |
//!
//! The XML repairs are a streaming rewrite with quick-xml (the parser feed-rs itself uses), run
//! only when a cheap scan says the document needs one.

use std::borrow::Cow;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;

const ATOM03: &str = "http://purl.org/atom/ns#";
const ATOM10: &str = "http://www.w3.org/2005/Atom";
const RSS10: &str = "http://purl.org/rss/1.0/";
const USERLAND: &str = "http://backend.userland.com/rss";
const NETSCAPE: &str = "http://my.netscape.com/rdf/simple/0.9/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const DCTERMS: &str = "http://purl.org/dc/terms/";

/// Decodes a document to UTF-8. The encoding comes from, in order (RFC 7303 §3, as feedparser
/// reads it): a byte-order mark, the HTTP `Content-Type` charset, the XML prolog; a document that
/// claims (or defaults to) UTF-8 but is not valid UTF-8 is read as Windows-1252, the usual
/// culprit, and `warnings` says so. The prolog is rewritten to say UTF-8 whenever the bytes
/// change.
pub fn to_utf8<'a>(
    bytes: &'a [u8],
    http_charset: Option<&str>,
    warnings: &mut Vec<String>,
) -> Cow<'a, str> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        if enc == encoding_rs::UTF_8
            && let Ok(s) = std::str::from_utf8(&bytes[bom_len..])
        {
            return Cow::Borrowed(s);
        }
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Cow::Owned(rewrite_prolog_encoding(&text));
    }
    // No BOM, but the bytes of `<?xml` in UTF-16 (XML 1.0 appendix F): what a BOM would say.
    let utf16 = match bytes.get(..4) {
        Some([b'<', 0, b'?', 0]) => Some(encoding_rs::UTF_16LE),
        Some([0, b'<', 0, b'?']) => Some(encoding_rs::UTF_16BE),
        _ => None,
    };
    if let Some(enc) = utf16 {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return Cow::Owned(rewrite_prolog_encoding(&text));
    }
    // A label WHATWG maps to "replacement" (ISO-2022-KR, HZ-GB-2312…: encodings browsers refuse
    // to decode) or no known encoding at all is no instruction: the next source decides.
    let known = |label: &str, source: &str, warnings: &mut Vec<String>| {
        let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .filter(|e| *e != encoding_rs::REPLACEMENT);
        if enc.is_none() {
            warnings.push(format!(
                "the {source} names an encoding newshound cannot decode ({}); ignored",
                crate::text::clean_inline(label, 40)
            ));
        }
        enc
    };
    let declared =
        prolog_encoding(bytes).and_then(|label| known(&label, "XML declaration", warnings));
    let from_http = http_charset.and_then(|c| known(c, "HTTP charset", warnings));
    // A charset that says UTF-16 on bytes with no BOM is a lie we cannot act on (ASCII-compatible
    // bytes that begin `<?xml`): skip it.
    let ascii_compatible = |e: &&'static encoding_rs::Encoding| {
        *e != encoding_rs::UTF_16LE && *e != encoding_rs::UTF_16BE
    };
    let encoding = from_http
        .filter(ascii_compatible)
        .or(declared.filter(ascii_compatible))
        .unwrap_or(encoding_rs::UTF_8);
    if encoding == encoding_rs::UTF_8 {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Cow::Borrowed(s);
        }
        let fallback = declared
            .filter(|e| *e != encoding_rs::UTF_8)
            .filter(ascii_compatible)
            .unwrap_or(encoding_rs::WINDOWS_1252);
        warnings.push(format!(
            "the document is not valid UTF-8 as it says; read as {}",
            fallback.name()
        ));
        let (text, _, _) = fallback.decode(bytes);
        return Cow::Owned(rewrite_prolog_encoding(&text));
    }
    let (text, _, malformed) = encoding.decode(bytes);
    if malformed {
        warnings.push(format!(
            "the document has bytes that are not {}; replaced",
            encoding.name()
        ));
    }
    Cow::Owned(rewrite_prolog_encoding(&text))
}

/// The `encoding="..."` of an XML prolog at the start of `bytes`.
fn prolog_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = String::from_utf8_lossy(head);
    let head = head.trim_start();
    if !head.starts_with("<?xml") {
        return None;
    }
    let decl = &head[..head.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// Replaces the prolog's encoding declaration (the text is UTF-8 now).
fn rewrite_prolog_encoding(text: &str) -> String {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        return format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            &trimmed[end + 2..]
        );
    }
    text.to_owned()
}

/// Rewrites the document's XML declarations for a parser that reads UTF-8 text: the first
/// becomes a plain `<?xml version="1.0"?>`, later ones (`<?xml …?>` inside the document, as
/// concatenated or templated feeds have) are removed. quick-xml 0.42 panics when a declaration
/// names an encoding after its first buffer of input, as a second declaration or an overlong
/// first one can (both found by the `feed` fuzzer). `None` when nothing needed changing.
pub fn clean_declarations(doc: &str) -> Option<String> {
    let bytes = doc.as_bytes();
    let is_decl = |at: usize| {
        bytes.len() >= at + 6
            && bytes[at + 2..at + 5].eq_ignore_ascii_case(b"xml")
            && (bytes[at + 5].is_ascii_whitespace() || bytes[at + 5] == b'?')
    };
    let decls: Vec<usize> = memchr::memmem::find_iter(bytes, b"<?")
        .filter(|&at| is_decl(at))
        .collect();
    const PLAIN: &str = "<?xml version=\"1.0\"?>";
    let first_is_harmless = doc.starts_with(PLAIN) || short_utf8_declaration(doc);
    if decls.is_empty() || (decls == [0] && first_is_harmless) {
        return None;
    }
    let mut out = String::with_capacity(doc.len());
    let mut from = 0;
    for at in decls {
        if at < from {
            continue; // inside a declaration already removed
        }
        out.push_str(&doc[from..at]);
        if at == 0 {
            out.push_str(PLAIN);
        }
        from = doc[at..].find("?>").map_or(doc.len(), |end| at + end + 2);
    }
    out.push_str(&doc[from..]);
    Some(out)
}

/// Does the document open with a declaration of at most 64 bytes that names no encoding but
/// UTF-8 (as most feeds do: `<?xml version="1.0" encoding="UTF-8"?>`)? quick-xml reads it in its
/// first buffer and has nothing to switch to, so the document needs no copy without it.
fn short_utf8_declaration(doc: &str) -> bool {
    let head = &doc.as_bytes()[..doc.len().min(64)];
    let Some(end) = memchr::memmem::find(head, b"?>") else {
        return false;
    };
    let decl = &head[..end];
    let Some(at) = memchr::memmem::find(decl, b"encoding") else {
        return true;
    };
    let rest = decl[at + b"encoding".len()..].trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"=") else {
        return false;
    };
    let rest = rest.trim_ascii_start();
    match rest.first() {
        Some(&q @ (b'"' | b'\'')) => rest[1..]
            .split(|&b| b == q)
            .next()
            .is_some_and(|v| v.eq_ignore_ascii_case(b"utf-8") && rest[1..].contains(&q)),
        _ => false,
    }
}

/// What the XML repair pass produced.
#[derive(Debug, Default)]
pub struct Repaired {
    /// The rewritten document; `None` when it needed no change (only its item ids).
    pub xml: Option<String>,
    /// For RSS 1.0: each item's `rdf:about`, in document order (feed-rs keeps that order).
    pub item_ids: Vec<Option<String>>,
}

/// What one scan of a document found: whether it needs the repair pass, and how many entries
/// it plainly has (to catch "zero items" silent failures). One pass over the document answers
/// every question ([`scan`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scan {
    pub needs_repair: bool,
    pub entries: usize,
    /// The document has RSS `<skipHours>` or `<skipDays>`.
    pub has_skip: bool,
    /// Which of [`super::lenient::KNOWN_PREFIXES`] element names use (a bit each).
    pub prefixes: u16,
}

/// The namespaces whose presence anywhere means the document needs the repair pass.
const REPAIR_NAMESPACES: [&str; 4] = [ATOM03, USERLAND, NETSCAPE, DCTERMS];

/// One pass over the document. Every needle holds a `<` or a `:` (`<item`, `:entry`, `dc:title`,
/// the `http:` of a namespace), so only those bytes are visited (SIMD `memchr2`), and at each
/// only the needles that can sit there are compared: far fewer instructions than an
/// Aho-Corasick automaton stepping through every byte, with the same answers (property-tested
/// against one). No needle's end is another's start, so the
/// order in which matches are found cannot change them.
pub fn scan(doc: &str) -> Scan {
    let bytes = doc.as_bytes();
    let at = |i: usize, needle: &str| {
        bytes
            .get(i..)
            .is_some_and(|b| b.starts_with(needle.as_bytes()))
    };
    // An entry's name ends the tag name: `<item>`, `<item/>`, `<item rdf:about=…>`, not `<items>`.
    let ends_name = |i: usize| {
        matches!(
            bytes.get(i),
            Some(b'>' | b' ' | b'\n' | b'\r' | b'\t' | b'/')
        )
    };
    let entry_at = |i: usize, name: &str| at(i, name) && ends_name(i + name.len());
    let mut out = Scan::default();
    for i in memchr::memchr2_iter(b'<', b':', bytes) {
        if bytes[i] == b'<' {
            if entry_at(i, "<item") || entry_at(i, "<entry") {
                out.entries += 1;
            } else if at(i, "<skipHours") || at(i, "<skipDays") {
                out.has_skip = true;
            }
        } else if entry_at(i, ":item") || entry_at(i, ":entry") {
            out.entries += 1;
            out.prefixes |= prefix_before(bytes, i);
        } else if (i >= 2 && at(i - 2, "dc:title"))
            || (i >= 4
                && &bytes[i - 4..i] == b"http"
                && REPAIR_NAMESPACES.iter().any(|ns| at(i - 4, ns)))
        {
            out.needs_repair = true;
            out.prefixes |= prefix_before(bytes, i);
        } else {
            out.prefixes |= prefix_before(bytes, i);
        }
    }
    out.needs_repair |= head_needs_repair(doc);
    out
}

/// The bit of the well-known prefix naming the element whose `:` is at `colon`, if any.
fn prefix_before(bytes: &[u8], colon: usize) -> u16 {
    if !bytes
        .get(colon.wrapping_sub(1))
        .is_some_and(u8::is_ascii_lowercase)
    {
        return 0;
    }
    for (bit, (prefix, _)) in super::lenient::KNOWN_PREFIXES.iter().enumerate() {
        let len = prefix.len();
        if colon > len
            && bytes[colon - len - 1] == b'<'
            && &bytes[colon - len..colon] == prefix.as_bytes()
        {
            return 1 << bit;
        }
    }
    0
}

/// The scan as it was first written, an Aho-Corasick automaton over every byte: the oracle
/// [`scan`] is tested against.
#[cfg(test)]
pub fn scan_with_automaton(doc: &str) -> Scan {
    const NEEDLES: &[&str] = &[
        ATOM03,
        USERLAND,
        NETSCAPE,
        DCTERMS,
        "dc:title",
        "<item",
        "<entry",
        ":item",
        ":entry",
        "<skipHours",
        "<skipDays",
    ];
    let ac = aho_corasick::AhoCorasick::new(NEEDLES).expect("static patterns compile");
    let mut out = Scan::default();
    let bytes = doc.as_bytes();
    for m in ac.find_iter(doc) {
        if m.pattern().as_usize() < 5 {
            out.needs_repair = true;
        } else if m.pattern().as_usize() >= 9 {
            out.has_skip = true;
        } else if matches!(
            bytes.get(m.end()),
            Some(b'>' | b' ' | b'\n' | b'\r' | b'\t' | b'/')
        ) {
            out.entries += 1;
        }
    }
    out.needs_repair |= head_needs_repair(doc);
    for (bit, (prefix, _)) in super::lenient::KNOWN_PREFIXES.iter().enumerate() {
        if doc.contains(&format!("<{prefix}:")) {
            out.prefixes |= 1 << bit;
        }
    }
    out
}

/// What only the document's first 4 KB can tell: RSS 1.0, or an RSS version feed-rs rejects.
fn head_needs_repair(doc: &str) -> bool {
    let mut head_end = doc.len().min(4096);
    while !doc.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let head = &doc[..head_end];
    head.contains(":RDF") || rss_version_needs_fix(head)
}

fn rss_version_needs_fix(head: &str) -> bool {
    let Some(at) = head.find("<rss") else {
        return false;
    };
    let tag = &head[at..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    let ok = [
        "\"2.0\"", "'2.0'", "\"0.91\"", "'0.91'", "\"0.92\"", "'0.92'",
    ];
    !(tag.contains("version") && ok.iter().any(|v| tag.contains(v)))
}

#[derive(Default)]
struct ItemState {
    events: Vec<Event<'static>>,
    has_title: bool,
    has_link: bool,
    has_date: bool,
    about: Option<String>,
    dc_title: Option<String>,
    dc_date: Option<String>,
    /// Collecting the text of a dc:title / dcterms date child.
    capture: Option<(Capture, String)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Capture {
    Title,
    Date,
}

/// Rewrites an XML feed so feed-rs reads it fully. `None` when no repair is needed or the
/// document is not well-formed enough to rewrite (feed-rs then reports the error).
///
/// Most documents the scan sends here need no change: an RSS 1.0 feed whose items all have a
/// title and a link needs only their `rdf:about` ids. A reading pass finds that out, and only a
/// document with something to change is read again and rewritten (buffering each item's
/// events and writing every event back out cost several times the reading).
pub fn repair_xml(doc: &str, scan: Scan) -> Option<Repaired> {
    if !scan.needs_repair {
        return None;
    }
    match repair_pass(doc, false)? {
        Pass::Unchanged(item_ids) => Some(Repaired {
            xml: None,
            item_ids,
        }),
        Pass::NeedsRewrite => match repair_pass(doc, true)? {
            Pass::Rewritten(r) => Some(r),
            Pass::Unchanged(_) | Pass::NeedsRewrite => None,
        },
        Pass::Rewritten(r) => Some(r),
    }
}

/// The full rewrite, whether or not anything changes: what [`repair_xml`] must read like.
#[cfg(test)]
pub(crate) fn rewrite_always(doc: &str) -> Option<Repaired> {
    match repair_pass(doc, true)? {
        Pass::Rewritten(r) => Some(r),
        Pass::Unchanged(_) | Pass::NeedsRewrite => None,
    }
}

/// [`repair_xml`] on a document the scan sent to it.
#[cfg(test)]
pub(crate) fn repair_as_sent(doc: &str) -> Option<Repaired> {
    let scan = Scan {
        needs_repair: true,
        ..Scan::default()
    };
    repair_xml(doc, scan)
}

enum Pass {
    /// Reading only: nothing to change; the items' ids.
    Unchanged(Vec<Option<String>>),
    /// Reading only: something to change.
    NeedsRewrite,
    Rewritten(Repaired),
}

/// One pass of [`repair_xml`]: with `rewrite`, the rewritten document; without, whether there
/// is anything to rewrite (it stops at the first thing).
fn repair_pass(doc: &str, rewrite: bool) -> Option<Pass> {
    let mut reader = NsReader::from_str(doc);
    reader.config_mut().check_end_names = false;
    // Reading only, events outside items (the channel's) are dropped.
    let mut writer = rewrite.then(|| Writer::new(Vec::with_capacity(doc.len() + 256)));
    let mut out = Repaired::default();
    let mut depth = 0usize;
    let mut atom03 = false;
    let mut is_rdf = false;
    let mut item: Option<(usize, ItemState)> = None;
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(n.0.to_owned()),
            _ => None,
        };
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let local = e.local_name().as_ref().to_owned();
                if !rewrite {
                    if depth == 0 && root_needs_fix(&e, &local) {
                        return Some(Pass::NeedsRewrite);
                    }
                    is_rdf |= depth == 0 && local == "RDF";
                    depth += 1;
                    if item.is_none() && (local == "item" || local == "entry") {
                        let mut state = ItemState::default();
                        if is_rdf {
                            state.about = attr(&e, "about");
                            out.item_ids.push(state.about.clone());
                        }
                        item = Some((depth, state));
                    } else if let Some((item_depth, state)) = item.as_mut()
                        && depth == *item_depth + 1
                    {
                        observe_child(state, ns.as_deref(), &local, false);
                    }
                    continue;
                }
                let e = if depth == 0 {
                    atom03 = is_atom03(&e, &local);
                    is_rdf = local == "RDF";
                    fix_root(&e, &local)
                } else {
                    e.into_owned()
                };
                depth += 1;
                if item.is_none() && (local == "item" || local == "entry") {
                    let mut state = ItemState::default();
                    if is_rdf {
                        state.about = attr(&e, "about");
                    }
                    item = Some((depth, state));
                    if is_rdf {
                        out.item_ids
                            .push(item.as_ref().and_then(|(_, s)| s.about.clone()));
                    }
                    write(&mut writer, Event::Start(e))?;
                    continue;
                }
                if let Some((item_depth, state)) = item.as_mut() {
                    let mut e = e;
                    if depth == *item_depth + 1
                        && let Some(name) = observe_child(state, ns.as_deref(), &local, atom03)
                    {
                        e.set_name(name);
                    }
                    state.events.push(Event::Start(e));
                } else {
                    let mut e = e;
                    // Atom 0.3's feed-level `<modified>` is Atom 1.0's `<updated>`.
                    if atom03 && depth == 2 && local == "modified" {
                        e.set_name("updated");
                    }
                    write(&mut writer, Event::Start(e))?;
                }
            }
            Event::Empty(e) => {
                let local = e.local_name().as_ref().to_owned();
                if !rewrite {
                    if let Some((item_depth, state)) = item.as_mut()
                        && depth == *item_depth
                    {
                        observe_child(state, ns.as_deref(), &local, false);
                        state.capture = None;
                    }
                    continue;
                }
                let mut e = e.into_owned();
                if let Some((item_depth, state)) = item.as_mut() {
                    if depth == *item_depth {
                        if let Some(name) = observe_child(state, ns.as_deref(), &local, atom03) {
                            e.set_name(name);
                        }
                        state.capture = None;
                    }
                    state.events.push(Event::Empty(e));
                } else {
                    write(&mut writer, Event::Empty(e))?;
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                let local = e.local_name().as_ref().to_owned();
                let ends_item = item.as_ref().is_some_and(|(d, _)| *d == depth + 1);
                if ends_item {
                    let (_, state) = item.take()?;
                    if !rewrite {
                        if !missing_children(&state, &local).is_empty() {
                            return Some(Pass::NeedsRewrite);
                        }
                        continue;
                    }
                    for ev in finish_item(state, &local) {
                        write(&mut writer, ev)?;
                    }
                    write(&mut writer, Event::End(e))?;
                    continue;
                }
                if let Some((_, state)) = item.as_mut() {
                    if let Some((kind, text)) = state.capture.take() {
                        match kind {
                            Capture::Title => state.dc_title = Some(text),
                            Capture::Date => state.dc_date = Some(text),
                        }
                    }
                    if !rewrite {
                        continue;
                    }
                    let e = rename_end(e, atom03);
                    state.events.push(Event::End(e));
                } else if atom03 && depth == 1 && local == "modified" {
                    write(&mut writer, Event::End(BytesEnd::new("updated")))?;
                } else {
                    write(&mut writer, Event::End(e))?;
                }
            }
            Event::Text(t) => {
                if let Some((_, state)) = item.as_mut() {
                    if let Some((_, text)) = state.capture.as_mut() {
                        text.push_str(&t.xml10_content());
                    }
                    if !rewrite {
                        continue;
                    }
                    state.events.push(Event::Text(t.into_owned()));
                } else {
                    write(&mut writer, Event::Text(t))?;
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, state)) = item.as_mut() {
                    if let Some((_, text)) = state.capture.as_mut() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => text.push(c),
                            _ => text.push_str(&html_escape::decode_html_entities(&format!(
                                "&{};",
                                &*r
                            ))),
                        }
                    }
                    if !rewrite {
                        continue;
                    }
                    state.events.push(Event::GeneralRef(r.into_owned()));
                } else {
                    write(&mut writer, Event::GeneralRef(r))?;
                }
            }
            Event::CData(c) => {
                if let Some((_, state)) = item.as_mut() {
                    if let Some((_, text)) = state.capture.as_mut() {
                        text.push_str(&c.xml10_content());
                    }
                    if !rewrite {
                        continue;
                    }
                    state.events.push(Event::CData(c.into_owned()));
                } else {
                    write(&mut writer, Event::CData(c))?;
                }
            }
            _ if !rewrite => {}
            other => {
                if let Some((_, state)) = item.as_mut() {
                    state.events.push(other.into_owned());
                } else {
                    write(&mut writer, other)?;
                }
            }
        }
    }
    if !rewrite {
        return Some(Pass::Unchanged(out.item_ids));
    }
    out.xml = Some(String::from_utf8(writer?.into_inner()).ok()?);
    Some(Pass::Rewritten(out))
}

fn is_atom03(root: &BytesStart<'_>, local: &str) -> bool {
    root.attributes().flatten().any(|a| a.value == ATOM03)
        || (local == "feed" && has_attr(root, "version", "0.3"))
}

/// Would [`fix_root`] change the root element's meaning (Atom 0.3 also renames elements)?
fn root_needs_fix(root: &BytesStart<'_>, local: &str) -> bool {
    let maps_namespace = root.attributes().flatten().any(|a| {
        let value = a.value.as_ref();
        a.key.0.starts_with("xmlns")
            && (value == ATOM03 || value.starts_with(USERLAND) || value == NETSCAPE)
    });
    let fixes_version = local == "rss"
        && !matches!(
            attr(root, "version").as_deref(),
            Some("2.0" | "0.91" | "0.92")
        );
    maps_namespace || fixes_version || is_atom03(root, local)
}

fn write(w: &mut Option<Writer<Vec<u8>>>, e: Event<'_>) -> Option<()> {
    match w {
        Some(w) => w.write_event(e).ok(),
        None => Some(()),
    }
}

fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.0.rsplit(':').next() == Some(local))
        .map(|a| {
            html_escape::decode_html_entities(a.value.as_ref())
                .trim()
                .to_owned()
        })
        .filter(|v| !v.is_empty())
}

fn has_attr(e: &BytesStart<'_>, key: &str, value: &str) -> bool {
    e.attributes()
        .flatten()
        .any(|a| a.key.0 == key && a.value.trim() == value)
}

/// Root element: fix the RSS version and map foreign namespaces onto the ones feed-rs knows.
fn fix_root(e: &BytesStart<'_>, local: &str) -> BytesStart<'static> {
    let mut root = BytesStart::new(e.name().0.to_owned());
    for a in e.attributes().flatten() {
        let key = a.key.0;
        if local == "rss" && key == "version" {
            continue;
        }
        let value = a.value.as_ref();
        let mapped = if key.starts_with("xmlns") {
            if value == ATOM03 {
                ATOM10
            } else if value.starts_with(USERLAND) || value == NETSCAPE {
                RSS10
            } else {
                value
            }
        } else {
            value
        };
        root.push_attribute((key, mapped));
    }
    if local == "rss" {
        let version = attr(e, "version").unwrap_or_default();
        let keep = matches!(version.as_str(), "2.0" | "0.91" | "0.92");
        root.push_attribute(("version", if keep { version.as_str() } else { "2.0" }));
    }
    root
}

/// Notes what an item's child says about the item; returns the child's new name where Atom 0.3
/// names it differently.
fn observe_child(
    state: &mut ItemState,
    ns: Option<&str>,
    local: &str,
    atom03: bool,
) -> Option<&'static str> {
    match (ns, local) {
        (Some(DC), "title") => state.capture = Some((Capture::Title, String::new())),
        (Some(DCTERMS), "modified" | "created" | "issued" | "date") => {
            state.capture = Some((Capture::Date, String::new()))
        }
        (Some(DC), "date") => state.has_date = true,
        (_, "title") => state.has_title = true,
        (_, "link") => state.has_link = true,
        (_, "pubDate" | "published" | "updated") => state.has_date = true,
        (_, "issued") if atom03 => {
            state.has_date = true;
            return Some("published");
        }
        (_, "modified") if atom03 => {
            state.has_date = true;
            return Some("updated");
        }
        _ => {}
    }
    None
}

fn rename_end(e: BytesEnd<'_>, atom03: bool) -> BytesEnd<'static> {
    let name = e.name().0.to_owned();
    if atom03 {
        let local = name.rsplit(':').next().unwrap_or(&name);
        match local {
            "issued" => return BytesEnd::new("published"),
            "modified" => return BytesEnd::new("updated"),
            _ => {}
        }
    }
    BytesEnd::new(name)
}

/// An item's buffered events plus what it lacked: a title from `dc:title`, a link from
/// `rdf:about`, a date from `dcterms:*`.
fn finish_item(mut state: ItemState, item_local: &str) -> Vec<Event<'static>> {
    let mut events = std::mem::take(&mut state.events);
    let added = missing_children(&state, item_local);
    for (name, text) in added {
        let mut start = BytesStart::new(name);
        if name == "dc:date" {
            start.push_attribute(("xmlns:dc", DC));
        }
        events.push(Event::Start(start));
        events.push(Event::Text(BytesText::new(text).into_owned()));
        events.push(Event::End(BytesEnd::new(name)));
    }
    events
}

/// The children an item lacks that can be made from what it has: `(element, text)`.
fn missing_children<'s>(state: &'s ItemState, item_local: &str) -> Vec<(&'static str, &'s str)> {
    let mut added = Vec::new();
    if !state.has_title
        && let Some(t) = state.dc_title.as_deref().filter(|t| !t.trim().is_empty())
    {
        added.push(("title", t));
    }
    if !state.has_link {
        if let Some(about) = state
            .about
            .as_deref()
            .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
        {
            added.push(("link", about));
        } else if item_local == "item" {
            // feed-rs drops RSS 1.0 items without a link; give it an inert one it will keep,
            // which normalization recognises and discards.
            added.push(("link", PLACEHOLDER_LINK));
        }
    }
    if !state.has_date
        && let Some(d) = state.dc_date.as_deref().filter(|d| !d.trim().is_empty())
    {
        let name = if item_local == "entry" {
            "updated"
        } else {
            "dc:date"
        };
        added.push((name, d.trim()));
    }
    added
}

/// RSS `<skipHours>` (hours 0–23, GMT) and `<skipDays>` (0 = Monday … 6 = Sunday), which
/// feed-rs does not read. Tolerant: unknown or malformed values are ignored.
pub fn skip_schedule(doc: &str) -> (Vec<u8>, Vec<u8>) {
    fn values<'a>(doc: &'a str, outer: &str, inner: &str) -> Vec<&'a str> {
        let Some(start) = doc.find(&format!("<{outer}>")) else {
            return Vec::new();
        };
        let Some(len) = doc[start..].find(&format!("</{outer}>")) else {
            return Vec::new();
        };
        let block = &doc[start..start + len];
        let open = format!("<{inner}>");
        let close = format!("</{inner}>");
        block
            .match_indices(&open)
            .filter_map(|(i, _)| {
                let rest = &block[i + open.len()..];
                rest.find(&close).map(|end| rest[..end].trim())
            })
            .take(32)
            .collect()
    }
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let mut hours: Vec<u8> = values(doc, "skipHours", "hour")
        .into_iter()
        .filter_map(|h| h.parse::<u8>().ok())
        .map(|h| h % 24)
        .collect();
    let mut days: Vec<u8> = values(doc, "skipDays", "day")
        .into_iter()
        .filter_map(|d| {
            DAYS.iter()
                .position(|x| x.eq_ignore_ascii_case(d))
                .map(|p| p as u8)
        })
        .collect();
    hours.sort_unstable();
    hours.dedup();
    days.sort_unstable();
    days.dedup();
    // A feed that skips every hour or every day is broken; ignore it rather than never poll.
    if hours.len() >= 24 {
        hours.clear();
    }
    if days.len() >= 7 {
        days.clear();
    }
    (hours, days)
}

/// The channel's Dublin Core `<dc:date>` (before its first item), which feed-rs does not read:
/// when an RSS 1.0 or 2.0 channel says when it changed, it is how (as feedparser reads it).
pub fn channel_dc_date(doc: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let bytes = doc.as_bytes();
    // `<item>` or `<item rdf:about=…>`, not RSS 1.0's `<items>` (inside the channel).
    let head_end = memchr::memmem::find_iter(bytes, b"<item")
        .find(|&at| matches!(bytes.get(at + 5), Some(b'>' | b' ' | b'\n' | b'\r' | b'\t')))
        .unwrap_or(bytes.len());
    let head = &doc[..head_end];
    let start = head.find("<dc:date>")? + "<dc:date>".len();
    let len = head[start..].find("</dc:date>")?;
    super::dates::parse(&head[start..start + len])
}

/// A link added only so feed-rs keeps an RSS 1.0 item; never stored.
pub const PLACEHOLDER_LINK: &str = "urn:newshound:no-link";

/// JSON Feed with numeric `id`s (feed-rs rejects the whole feed): ids turned into strings; a
/// version URL with `http:` (as early JSON Feeds wrote it; feed-rs knows only `https:`) given
/// `https:`. `None` when nothing needed changing or the text is not JSON.
pub fn repair_json(doc: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(doc).ok()?;
    let mut changed = false;
    if let Some(version) = value.get_mut("version")
        && let Some(rest) = version
            .as_str()
            .and_then(|v| v.strip_prefix("http://jsonfeed.org/"))
    {
        *version = serde_json::Value::String(format!("https://jsonfeed.org/{rest}"));
        changed = true;
    }
    let items = value.get_mut("items")?.as_array_mut()?;
    for item in items {
        if let Some(id) = item.get_mut("id")
            && id.is_number()
        {
            *id = serde_json::Value::String(id.to_string());
            changed = true;
        }
    }
    changed.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_short_first_declaration_naming_utf8_or_nothing_is_left_alone() {
        let body = "<rss version=\"2.0\"><channel/></rss>";
        for (decl, left_alone) in [
            ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", true),
            ("<?xml version='1.0' encoding = 'utf-8'?>", true),
            ("<?xml version=\"1.0\"?>", true),
            ("<?xml version=\"1.0\" standalone=\"yes\"?>", true),
            ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>", false),
            ("<?xml version=\"1.0\" encoding=\"UTF-16\"?>", false),
            ("<?xml version=\"1.0\" encoding=\"UTF-8x\"?>", false),
            ("<?xml version=\"1.0\" encoding=UTF-8?>", false),
            ("<?xml version=\"1.0\" encoding=\"UTF-8?>", false),
        ] {
            let doc = format!("{decl}{body}");
            assert_eq!(clean_declarations(&doc).is_none(), left_alone, "{decl}");
        }
        // Longer than 64 bytes, or followed by a second declaration: rewritten.
        let long = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" {}?>{body}",
            " ".repeat(40)
        );
        assert_eq!(
            clean_declarations(&long).as_deref(),
            Some(format!("<?xml version=\"1.0\"?>{body}").as_str())
        );
        let twice =
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}<?xml version=\"1.0\"?>");
        assert_eq!(
            clean_declarations(&twice).as_deref(),
            Some(format!("<?xml version=\"1.0\"?>{body}").as_str())
        );
    }
}
