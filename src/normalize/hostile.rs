//! Hostile documents: each case is a small nasty feed (generated where large) with the outcome it
//! must have. None may panic; every stored title and link stays bounded and valid UTF-8.

use super::*;

fn now() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().expect("valid date")
}

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>{items}</channel></rss>"
    )
}

fn item(title: &str) -> String {
    format!("<item><guid>g</guid><title>{title}</title><link>https://h.example/1</link></item>")
}

/// Outcome in one word: `items:N` or `error:CLASS`.
fn outcome(bytes: &[u8]) -> String {
    match parse_feed(
        bytes,
        None,
        Url::parse("https://h.example/feed").ok().as_ref(),
        now(),
    ) {
        Ok(feed) => {
            for it in &feed.items {
                assert!(
                    it.title.len() <= MAX_TITLE_BYTES,
                    "title of {} bytes",
                    it.title.len()
                );
                assert!(it.summary.len() <= MAX_SUMMARY_BYTES);
                assert!(it.url.as_ref().is_none_or(|u| u.len() <= MAX_KEY_BYTES));
                for key in [&it.canonical_url, &it.url_key].into_iter().flatten() {
                    assert!(key.len() <= MAX_KEY_BYTES, "a key of {} bytes", key.len());
                }
                // The stored key: a kind letter and a colon before the value.
                assert!(it.key.as_stored().len() <= MAX_KEY_BYTES + 2);
                assert!(
                    !it.title.chars().any(|c| c.is_control()),
                    "control character in {:?}",
                    it.title
                );
            }
            format!("items:{}", feed.items.len())
        }
        Err(e) => format!("error:{}", e.class()),
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = |n: usize| format!("{}{}", "<x>".repeat(n), "</x>".repeat(n));
    vec![
        ("billion laughs", format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>{}", rss(&item("&c;"))).into_bytes(), "items:1"),
        ("external entity to a local file", format!("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}", rss(&item("&x;"))).into_bytes(), "items:1"),
        ("external DTD", format!("<?xml version=\"1.0\"?><!DOCTYPE rss SYSTEM \"http://169.254.169.254/x.dtd\">{}", rss(&item("ok"))).into_bytes(), "items:1"),
        ("100k-deep nesting in an item", rss(&format!("<item><guid>g</guid><title>t</title>{}</item>", deep(100_000))).into_bytes(), "error:invalid_feed"),
        ("60k-deep nesting", rss(&format!("<item><guid>g</guid><title>t</title>{}</item>", deep(60_000))).into_bytes(), "items:1"),
        ("20k attributes on one tag", rss(&format!("<item {}><guid>g</guid><title>t</title></item>", (0..20_000).map(|i| format!("a{i}=\"1\"")).collect::<Vec<_>>().join(" "))).into_bytes(), "items:1"),
        ("20k namespace declarations", format!("<rss version=\"2.0\" {}><channel><title>T</title>{}</channel></rss>", (0..20_000).map(|i| format!("xmlns:n{i}=\"urn:{i}\"")).collect::<Vec<_>>().join(" "), item("t")).into_bytes(), "error:invalid_feed"),
        ("Latin-1 bytes declared as UTF-8", { let mut b = rss(&item("caf_")).into_bytes(); let at = b.iter().position(|&c| c == b'_').unwrap_or(0); b[at] = 0xe9; b }, "items:1"),
        ("UTF-8 BOM", [&[0xef, 0xbb, 0xbf][..], rss(&item("bom")).as_bytes()].concat(), "items:1"),
        ("BOM and leading whitespace", [&[0xef, 0xbb, 0xbf][..], b"\n\n  ", rss(&item("bom")).as_bytes()].concat(), "items:1"),
        ("UTF-16 LE without BOM", rss(&item("x")).encode_utf16().flat_map(u16::to_le_bytes).collect(), "items:1"),
        ("UTF-16 BE with BOM", [vec![0xfe, 0xff], rss(&item("x")).encode_utf16().flat_map(u16::to_be_bytes).collect()].concat(), "items:1"),
        ("truncated document", rss(&item("t")).as_bytes()[..60].to_vec(), "error:invalid_feed"),
        ("truncated mid-item", rss(&item("truncated")).as_bytes()[..110].to_vec(), "error:invalid_feed"),
        ("HTML page", b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>".to_vec(), "error:not_a_feed"),
        ("HTML without doctype", b"<html><body><p>not a feed</p></body></html>".to_vec(), "error:not_a_feed"),
        ("empty body", Vec::new(), "error:not_a_feed"),
        ("whitespace only", b"   \n\t ".to_vec(), "error:not_a_feed"),
        ("NUL bytes", vec![0; 64], "error:not_a_feed"),
        ("random binary", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect(), "error:not_a_feed"),
        ("plain text", b"Service Unavailable".to_vec(), "error:not_a_feed"),
        ("XML of another kind", b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".to_vec(), "error:not_a_feed"),
        ("JSON that is not a feed", br#"{"error":"rate limited"}"#.to_vec(), "error:not_a_feed"),
        ("JSON Feed with wrong types", br#"{"version":"https://jsonfeed.org/version/1.1","title":5,"items":"none"}"#.to_vec(), "error:invalid_feed"),
        ("JSON Feed with an unknown version", br#"{"version":"https://jsonfeed.org/version/9","title":"x","items":[]}"#.to_vec(), "error:invalid_feed"),
        ("JSON Feed with numeric ids", br#"{"version":"https://jsonfeed.org/version/1","title":"x","items":[{"id":1,"title":"a"},{"id":2,"title":"b"}]}"#.to_vec(), "items:2"),
        ("JSON Feed nested 10k deep in an unknown field", format!(r#"{{"version":"https://jsonfeed.org/version/1","title":"x","z":{}{},"items":[{{"id":"1","title":"a"}}]}}"#, "[".repeat(10_000), "]".repeat(10_000)).into_bytes(), "items:1"),
        ("truncated JSON", br#"{"version":"https://jsonfeed.org/version/1","items":[{"id":"1","#.to_vec(), "error:invalid_feed"),
        ("date in year 9999", rss("<item><guid>g</guid><title>t</title><pubDate>Fri, 31 Dec 9999 23:59:59 GMT</pubDate></item>").into_bytes(), "items:1"),
        ("garbage date", rss("<item><guid>g</guid><title>t</title><pubDate>yesterday-ish</pubDate></item>").into_bytes(), "items:1"),
        ("negative year", rss("<item><guid>g</guid><title>t</title><pubDate>-0001-01-01T00:00:00Z</pubDate></item>").into_bytes(), "items:1"),
        ("control characters in the title", rss(&item("a&#x1b;[2J&#7;b")).into_bytes(), "items:1"),
        ("raw control characters", rss(&item("a\u{7}b\u{1b}c")).into_bytes(), "items:1"),
        ("newline and log forgery in the title", rss(&item("ok\nERROR newshound::alert: forged")).into_bytes(), "items:1"),
        ("bidi override in the title", rss(&item("abc\u{202e}fed")).into_bytes(), "items:1"),
        ("duplicate GUIDs", rss(&format!("{}{}{}", item("a"), item("b"), item("c"))).into_bytes(), "items:1"),
        ("a 1 MB title", rss(&item(&"T".repeat(1 << 20))).into_bytes(), "items:1"),
        ("a 1 MB description", rss(&format!("<item><guid>g</guid><title>t</title><description>{}</description></item>", "lorem ".repeat(200_000))).into_bytes(), "items:1"),
        ("a 100 KB link", rss(&format!("<item><guid>g</guid><title>t</title><link>https://h.example/{}</link></item>", "a".repeat(100_000))).into_bytes(), "items:1"),
        ("a 100 KB GUID", rss(&format!("<item><guid>{}</guid><title>t</title></item>", "g".repeat(100_000))).into_bytes(), "items:1"),
        ("100k items", rss(&(0..100_000).map(|i| format!("<item><guid>{i}</guid><title>t{i}</title></item>")).collect::<String>()).into_bytes(), "items:1000"),
        ("items with nothing in them", rss("<item></item><item></item>").into_bytes(), "error:no_items"),
        ("javascript link", rss("<item><guid>g</guid><title>t</title><link>javascript:alert(1)</link></item>").into_bytes(), "items:1"),
        ("data link", rss("<item><guid>g</guid><title>t</title><link>data:text/html,x</link></item>").into_bytes(), "items:1"),
        ("invalid xml:base", b"<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://[::1\"><title>A</title><entry><id>1</id><title>t</title></entry></feed>".to_vec(), "error:invalid_feed"),
        ("Atom with a bad content type", b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>A</title><entry><id>1</id><title>t</title><content type=\"bogus/x\">c</content></entry></feed>".to_vec(), "items:1"),
        ("Atom entry without id or link", b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>A</title><entry><title>only a title</title></entry></feed>".to_vec(), "items:1"),
        ("RSS 1.0 with nothing but rdf:about", b"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel rdf:about=\"x\"><title>R</title><link>https://r.example/</link><description>d</description></channel><item rdf:about=\"https://r.example/1\"><title>t</title></item></rdf:RDF>".to_vec(), "items:1"),
        ("unknown entity in the title", rss(&item("a &bogus; b")).into_bytes(), "items:1"),
        ("mismatched tags", b"<rss version=\"2.0\"><channel><title>T</title><item><title>t</item></channel></rss>".to_vec(), "error:invalid_feed"),
        ("CDATA with markup", rss("<item><guid>g</guid><title><![CDATA[<b>bold</b> & <script>x</script>]]></title></item>").into_bytes(), "items:1"),
        ("comment bomb", rss(&format!("<!--{}-->{}", "-".repeat(1 << 20), item("t"))).into_bytes(), "items:1"),
        // Found by the `feed` fuzzer: quick-xml panicked on a second declaration naming an encoding.
        ("a second XML declaration inside the document", rss("<item><guid>g</guid><title>t <?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>u</title></item>").into_bytes(), "items:1"),
        ("a first XML declaration 400 bytes long naming an encoding", format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" {}?>{}", "x".repeat(400), rss(&item("t"))).into_bytes(), "items:1"),
        // Passed to feed-rs without a copy: short, and naming UTF-8 only.
        ("a first XML declaration naming UTF-8, 64 bytes long", format!("<?xml version='1.0' encoding = 'utf-8' standalone='yes'       ?>{}", rss(&item("t"))).into_bytes(), "items:1"),
        ("a first XML declaration naming UTF-8, 400 bytes long", format!("<?xml version=\"1.0\" encoding=\"UTF-8\" {}?>{}", "x".repeat(400), rss(&item("t"))).into_bytes(), "items:1"),
        ("an unterminated second XML declaration", rss(&format!("{}<?XML version=\"1.0\" encoding=\"latin1\"", item("t"))).into_bytes(), "error:invalid_feed"),
        // Found by the `feed` fuzzer: a long non-ASCII root name was cut inside a character.
        ("a 70-byte non-ASCII root element name", format!("<rdf:r{}df><x/></rdf:r{}df>", "ÿ".repeat(35), "ÿ".repeat(35)).into_bytes(), "error:not_a_feed"),
        // Found by the `feed` fuzzer: canonicalizing re-escapes the query (`:` → `%3A`), so a
        // link under the length limit had a canonical URL, and item key, three times over it.
        ("a link whose query triples when re-escaped", rss(&format!("<item><title>t</title><link>http://a.example/0?{}</link></item>", ":".repeat(1_500))).into_bytes(), "items:1"),
        // Issue #15: entries read one by one when one is unreadable; a large head is not read
        // again for each of them.
        ("a 1 MB channel description and 1,000 unreadable entries", rss(&format!("<description>{}</description>{}", "d".repeat(1 << 20), "<item><guid>g</guid><title>t</b></item>".repeat(1000))).into_bytes(), "error:invalid_feed"),
        ("1,000 entries, every other one unreadable", rss(&(0..1000).map(|i| if i % 2 == 0 { format!("<item><guid>{i}</guid><title>t{i}</title></item>") } else { format!("<item><guid>{i}</guid><title>t</b></item>") }).collect::<String>()).into_bytes(), "items:500"),
        ("processing instructions", rss(&format!("<?php system('id'); ?>{}", item("t"))).into_bytes(), "items:1"),
    ]
}

#[test]
fn hostile_documents_have_their_expected_outcome_and_never_panic() {
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut wrong = Vec::new();
    for (name, bytes, expected) in &cases {
        let got = outcome(bytes);
        if got != *expected {
            wrong.push(format!("{name}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
