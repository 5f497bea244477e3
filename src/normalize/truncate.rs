//! Entries beyond the per-feed limit are cut from the document before feed-rs reads it.
//!
//! feed-rs builds every entry of a document before newshound keeps the first
//! [`MAX_ITEMS_PER_FEED`](crate::model::MAX_ITEMS_PER_FEED): a document under the body cap with
//! a hundred times that many small entries became an order of magnitude more memory than its
//! size (docs/testing.md, "Peak memory per worst-case document"). Here the entries after the first `max`
//! are removed from the text itself (RSS 2.0 and 1.0 `<item>`, Atom `<entry>`, JSON Feed
//! `items`), and what follows them (closing tags, the rest of the channel) is kept, so the
//! document stays well formed. Documents that cannot have more than `max` entries are returned
//! untouched after a byte count; the XML or JSON is scanned only when they might. A document is
//! copied only when the entries cut are over a quarter of it: parsing a few entries too many
//! costs less than a copy of the rest.

use std::borrow::Cow;

use quick_xml::events::Event;

/// A document with at most `max` entries, and how many were cut.
#[derive(Debug)]
pub struct Truncated<'a> {
    pub doc: Cow<'a, str>,
    pub dropped: usize,
}

/// The document with only its first `max` entries. `doc` starts at its first `<` or `{`;
/// anything that cannot be scanned (malformed XML or JSON) is returned as it is, for the parser
/// to judge.
pub fn first_entries(doc: &str, max: usize) -> Truncated<'_> {
    let cut = if doc.starts_with('{') {
        json_cut(doc, max)
    } else {
        xml_cut(doc, max)
    };
    match cut {
        // The cut document is a copy of what is kept; feed-rs builds each entry in about three
        // times its bytes. Cutting pays only when the entries cut are over a quarter of the
        // document (a few entries too many, each large, are cheaper left to the parser).
        Some(Cut { from, to, dropped }) if (to - from) * 4 > doc.len() => {
            let mut out = String::with_capacity(from + (doc.len() - to));
            out.push_str(&doc[..from]);
            out.push_str(&doc[to..]);
            tracing::debug!(
                dropped,
                kept = max,
                "entries beyond the per-feed limit cut before parsing"
            );
            Truncated {
                doc: Cow::Owned(out),
                dropped,
            }
        }
        _ => Truncated {
            doc: Cow::Borrowed(doc),
            dropped: 0,
        },
    }
}

/// The byte range to remove, and the number of entries in it.
struct Cut {
    from: usize,
    to: usize,
    dropped: usize,
}

fn is_entry(local: &str) -> bool {
    local == "item" || local == "entry"
}

/// The entries are the `item` or `entry` elements at the depth of the first one (children of
/// `channel`, `rdf:RDF` or `feed`), not nested in another entry.
fn xml_cut(doc: &str, max: usize) -> Option<Cut> {
    // Each entry's start tag is `<item`, `<entry` or a prefixed `…:item`, `…:entry`: fewer of
    // those than `max + 1` (end tags of prefixed names count too), fewer entries. A document of
    // exactly `max` entries is then not scanned.
    let b = doc.as_bytes();
    let count = |pattern: &[u8]| memchr::memmem::find_iter(b, pattern).count();
    let names = count(b"<item") + count(b"<entry") + count(b":item") + count(b":entry");
    if names <= max {
        return None;
    }
    let mut reader = quick_xml::Reader::from_str(doc);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    let mut depth = 0usize;
    let mut entry_depth: Option<usize> = None;
    let mut inside: Option<usize> = None;
    let mut count = 0usize;
    let mut from = None;
    let mut last_end = 0usize;
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let after = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Start(e) => {
                if inside.is_none()
                    && is_entry(e.local_name().into_inner())
                    && entry_depth.is_none_or(|d| d == depth)
                {
                    entry_depth = Some(depth);
                    inside = Some(depth);
                    count += 1;
                    if count == max + 1 {
                        from = Some(before);
                    }
                }
                depth += 1;
            }
            Event::Empty(e)
                if inside.is_none()
                    && is_entry(e.local_name().into_inner())
                    && entry_depth.is_none_or(|d| d == depth) =>
            {
                entry_depth = Some(depth);
                count += 1;
                if count == max + 1 {
                    from = Some(before);
                }
                last_end = after;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if inside == Some(depth) {
                    inside = None;
                    last_end = after;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let from = from?;
    // An entry cut off by the end of the document: remove it all the same.
    let to = if inside.is_some() {
        doc.len()
    } else {
        last_end
    };
    (to > from).then_some(Cut {
        from,
        to,
        dropped: count - max,
    })
}

/// The JSON Feed's top-level `items` array: elements after the first `max` are removed with the
/// comma before them.
fn json_cut(doc: &str, max: usize) -> Option<Cut> {
    let b = doc.as_bytes();
    // Items are objects: fewer braces than `max + 1`, fewer items.
    if memchr::memchr_iter(b'{', b).count() <= max {
        return None;
    }
    let mut stack: Vec<u8> = Vec::new();
    let mut last_string = 0..0;
    let mut key = 0..0;
    let mut items_depth: Option<usize> = None;
    let mut expect_element = false;
    let mut count = 0usize;
    let mut from = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let in_items = items_depth == Some(stack.len());
        if in_items && expect_element && !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b',' | b']') {
            count += 1;
            expect_element = false;
        }
        match c {
            b'"' => {
                let start = i + 1;
                i = string_end(b, start)?;
                last_string = start..i;
            }
            b':' if stack.len() == 1 => key = last_string.clone(),
            b'[' if stack.len() == 1 && &b[key.clone()] == b"items" && items_depth.is_none() => {
                stack.push(c);
                items_depth = Some(stack.len());
                expect_element = true;
            }
            b'{' | b'[' => stack.push(c),
            b']' if in_items => {
                let from = from?;
                return Some(Cut {
                    from,
                    to: i,
                    dropped: count - max,
                });
            }
            b'}' | b']' => {
                stack.pop()?;
            }
            b',' if in_items => {
                expect_element = true;
                if count == max && from.is_none() {
                    from = Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the quote closing the JSON string that starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let at = i + memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[at] == b'"' {
            return Some(at);
        }
        i = at + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss(n: usize, tail: &str) -> String {
        let items: String = (0..n)
            .map(|i| format!("<item><guid>g{i}</guid><title>t{i}</title></item>\n"))
            .collect();
        format!("<rss version=\"2.0\"><channel><title>T</title>\n{items}{tail}</channel></rss>")
    }

    #[test]
    fn rss_keeps_the_first_entries_and_what_follows_them() {
        let doc = rss(10, "<ttl>30</ttl>");
        let t = first_entries(&doc, 3);
        assert_eq!(t.dropped, 7);
        assert_eq!(
            t.doc,
            "<rss version=\"2.0\"><channel><title>T</title>\n<item><guid>g0</guid><title>t0</title></item>\n<item><guid>g1</guid><title>t1</title></item>\n<item><guid>g2</guid><title>t2</title></item>\n\n<ttl>30</ttl></channel></rss>"
        );
        let parsed = crate::normalize::feed_rs_reads(&t.doc).expect("still a feed");
        assert_eq!(parsed.entries.len(), 3);
        assert_eq!(parsed.ttl, Some(30));
    }

    #[test]
    fn documents_within_the_limit_are_not_copied() {
        let doc = rss(10, "");
        assert!(matches!(first_entries(&doc, 10).doc, Cow::Borrowed(_)));
        assert!(matches!(first_entries(&doc, 11).doc, Cow::Borrowed(_)));
        // One entry of ten too many: not worth a copy of the other nine.
        assert_eq!(first_entries(&doc, 9).dropped, 0);
        assert_eq!(first_entries(&doc, 7).dropped, 3);
    }

    #[test]
    fn nested_items_comments_and_cdata_are_not_entries() {
        let doc = "<rss><channel><!-- <item> --><item><title><![CDATA[<item>x</item>]]></title><media:group><item/></media:group></item><item><title>b</title></item><item><title>c</title></item></channel></rss>";
        let t = first_entries(doc, 1);
        assert_eq!(t.dropped, 2);
        assert_eq!(
            t.doc,
            "<rss><channel><!-- <item> --><item><title><![CDATA[<item>x</item>]]></title><media:group><item/></media:group></item></channel></rss>"
        );
    }

    #[test]
    fn rdf_items_after_the_channel_are_cut() {
        let items: String = (0..5)
            .map(|i| format!("<item rdf:about=\"https://r.example/{i}\"><title>t{i}</title><link>https://r.example/{i}</link></item>"))
            .collect();
        let doc = format!(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel rdf:about=\"x\"><title>R</title><link>https://r.example/</link><description>d</description></channel>{items}<textinput rdf:about=\"t\"/></rdf:RDF>"
        );
        let t = first_entries(&doc, 2);
        assert_eq!(t.dropped, 3);
        assert!(
            t.doc
                .ends_with("/1</link></item><textinput rdf:about=\"t\"/></rdf:RDF>")
        );
        let parsed = crate::normalize::feed_rs_reads(&t.doc).expect("still a feed");
        assert_eq!(parsed.entries.len(), 2);
    }

    #[test]
    fn atom_entries_are_cut_and_prefixed_names_count() {
        let entries: String = (0..4)
            .map(|i| format!("<a:entry><a:id>urn:{i}</a:id><a:title>t{i}</a:title></a:entry>"))
            .collect();
        let doc = format!(
            "<a:feed xmlns:a=\"http://www.w3.org/2005/Atom\"><a:title>A</a:title>{entries}</a:feed>"
        );
        let t = first_entries(&doc, 1);
        assert_eq!(t.dropped, 3);
        let parsed = crate::normalize::feed_rs_reads(&t.doc).expect("still a feed");
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].id, "urn:0");
    }

    #[test]
    fn json_feed_items_are_cut_with_their_commas() {
        let items: Vec<String> = (0..6)
            .map(|i| format!("{{\"id\": \"{i}\", \"title\": \"t{i} \\\"q\\\" ] }} [\", \"tags\": [\"a\", {{\"x\": 1}}]}}"))
            .collect();
        let doc = format!(
            "{{\"version\": \"https://jsonfeed.org/version/1.1\", \"title\": \"J\", \"tags\": [1, 2, 3], \"items\": [ {} ], \"after\": {{\"items\": [1]}}}}",
            items.join(" ,\n ")
        );
        let t = first_entries(&doc, 2);
        assert_eq!(t.dropped, 4);
        let v: serde_json::Value = serde_json::from_str(&t.doc).expect("still JSON");
        let kept = v["items"].as_array().expect("items");
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1]["id"], "1");
        assert_eq!(v["after"]["items"][0], 1);
        assert_eq!(first_entries(&doc, 6).dropped, 0);
    }

    #[test]
    fn malformed_documents_are_left_to_the_parser() {
        let doc = format!(
            "<rss><channel>{}",
            "<item><title>t</title></item>".repeat(5)
        );
        // Unclosed: the entries after the first still go; the parser reports the cut-off root.
        assert_eq!(first_entries(&doc, 1).dropped, 4);
        let json = format!("{{\"items\": [{}", "{\"id\": \"1\"},".repeat(5));
        assert_eq!(first_entries(&json, 1).dropped, 0);
        let bad = format!("<rss><channel>{}<<<", "<item/>".repeat(5));
        assert_eq!(first_entries(&bad, 1).dropped, 0);
    }
}
