//! Property tests: invariants that must hold for any input, not only the examples.

use proptest::prelude::*;
use url::Url;

use crate::canon::canonicalize;
use crate::stories::url_key;
use crate::text::{clean_inline, html_to_text, is_format_hazard, truncate_with_ellipsis};
use crate::topics::{Matcher, TopicSpec};

/// Path-ish segments, query parameters (some tracking), fragments, hosts in any case.
fn article_url() -> impl Strategy<Value = String> {
    let seg = "[a-z0-9-]{1,8}";
    (
        prop::sample::select(vec!["http", "https", "HTTP", "Https"]),
        prop::sample::select(vec![
            "news.example",
            "NEWS.example",
            "www.news.example",
            "m.news.example",
        ]),
        prop::collection::vec(seg, 0..4),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "id",
                    "page",
                    "utm_source",
                    "fbclid",
                    "gclid",
                    "q",
                    "mc_cid",
                ]),
                "[a-z0-9]{0,5}",
            ),
            0..4,
        ),
        prop::option::of("[a-z]{1,6}"),
        any::<bool>(),
    )
        .prop_map(|(scheme, host, segs, params, frag, slash)| {
            let mut u = format!("{scheme}://{host}/{}", segs.join("/"));
            if slash && !segs.is_empty() {
                u.push('/');
            }
            if !params.is_empty() {
                u.push('?');
                u.push_str(
                    &params
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join("&"),
                );
            }
            if let Some(f) = frag {
                u.push('#');
                u.push_str(&f);
            }
            u
        })
}

fn strip_tracking(u: &str) -> String {
    let mut url = Url::parse(u).expect("generated URLs parse");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !crate::canon::is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.set_fragment(None);
    url.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn canonicalization_is_idempotent(u in article_url()) {
        let once = canonicalize(&Url::parse(&u).unwrap());
        let twice = canonicalize(&once);
        prop_assert_eq!(twice.as_str(), once.as_str());
    }

    #[test]
    fn the_url_key_survives_case_tracking_fragments_www_and_trailing_slashes(u in article_url()) {
        let a = Url::parse(&u).unwrap();
        let b = Url::parse(&strip_tracking(&u)).unwrap();
        prop_assert_eq!(url_key(&canonicalize(&a)), url_key(&canonicalize(&b)));
        let slashed = if a.path().ends_with('/') { a.to_string() } else { format!("{}{}", a.as_str().split(['?', '#']).next().unwrap_or(""), "/") };
        let with_slash = Url::parse(&slashed).unwrap();
        prop_assert_eq!(url_key(&canonicalize(&with_slash)).split('?').next().map(str::to_owned), url_key(&canonicalize(&a)).split('?').next().map(str::to_owned));
    }

    #[test]
    fn text_cleaning_is_bounded_and_idempotent_on_plain_text(s in any::<String>(), max in 8usize..300) {
        let once = clean_inline(&s, max);
        prop_assert!(once.len() <= max);
        prop_assert!(!once.chars().any(char::is_control));
        let html = html_to_text(&s, max);
        prop_assert!(html.len() <= max);
        prop_assert!(!html.chars().any(char::is_control));
        // Markup and entities are decoded once, as a feed sends them ("&amp;lt;b&amp;gt;" is text
        // about "<b>", and "<<A>A" leaves the text "<A"), so a second pass may change text that
        // has them. Without either, a second pass changes nothing.
        if !s.contains(['&', '<']) {
            prop_assert_eq!(clean_inline(&once, max), once.clone());
            prop_assert_eq!(html, once);
        }
    }

    #[test]
    fn a_topic_word_present_in_the_text_always_matches(
        before in "[a-z ]{0,20}",
        word in "[a-z]{3,10}",
        after in "[a-z ]{0,20}",
        variant in 0usize..4,
    ) {
        let shown = match variant {
            0 => word.clone(),
            1 => word.to_uppercase(),
            // full-width letters: NFKC folds them
            2 => word.chars().map(|c| char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap_or(c)).collect(),
            _ => format!("{word}'s"),
        };
        let text = format!("{before} {shown} {after}");
        let m = Matcher::new(&[TopicSpec { name: "t".into(), queries: vec![word.clone()], feeds: None, stem: None, lexicons: Default::default() }]).unwrap();
        prop_assert_eq!(m.match_item("f", &text, "").len(), 1, "{:?} in {:?}", word, text);
    }

    #[test]
    fn many_topics_match_exactly_the_words_and_prefixes_they_name(
        // Two-byte letters too, and words longer than 8 bytes: the index reads words 8 bytes
        // at a time and must stop prefixes on character boundaries.
        terms in prop::collection::vec(("[abcøłж]{1,12}", any::<bool>()), 1..60),
        words in prop::collection::vec("[abcøłж]{1,14}", 0..30),
    ) {
        // Queries allow prefixes of two characters or more.
        let terms: Vec<(String, bool)> = terms
            .into_iter()
            .map(|(w, prefix)| { let prefix = prefix && w.chars().count() >= 2; (w, prefix) })
            .collect();
        let specs: Vec<TopicSpec> = terms
            .iter()
            .enumerate()
            .map(|(i, (w, prefix))| TopicSpec {
                name: format!("t{i}"),
                queries: vec![if *prefix { format!("{w}*") } else { w.clone() }],
                feeds: None,
                stem: None,
                lexicons: Default::default(),
            })
            .collect();
        let m = Matcher::new(&specs).unwrap();
        let got: Vec<usize> = m.match_item("f", &words.join(" "), "").iter().map(|t| t.topic).collect();
        let want: Vec<usize> = terms
            .iter()
            .enumerate()
            .filter(|(_, (w, prefix))| words.iter().any(|t| if *prefix { t.starts_with(w.as_str()) } else { t == w }))
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn text_cleaning_copies_ascii_runs_exactly_as_it_cleans_characters(
        s in "([ -~]{0,12}|[\\t\\n\\r\\u{0}-\\u{1f}\\u{7f}\\u{a0}\\u{200e}\\u{2028}\\u{feff}é漢😀 ]{0,3}){0,12}",
        max in 0usize..120,
    ) {
        prop_assert_eq!(clean_inline(&s, max), clean_inline_by_char(&s, max));
    }
}

/// `clean_inline` one character at a time, as it was before ASCII runs were copied whole: the
/// oracle for the fast path (truncation and the hazard list are shared, not under test here).
fn clean_inline_by_char(text: &str, max_bytes: usize) -> String {
    let decoded = if text.contains('&') {
        html_escape::decode_html_entities(text)
    } else {
        text.into()
    };
    let mut out = String::new();
    let mut pending_space = false;
    for c in decoded.chars() {
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

/// Documents stitched from the scan's needles, their near misses and the bytes around them.
fn needle_soup() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "<item",
        "<item>",
        "<items>",
        "<item/>",
        "<item rdf:about=\"x\">",
        "<entry",
        "<entry>",
        "<rss:item>",
        "<atom:entry ",
        ":item",
        ":entry\t",
        ":itemx",
        "<entryx",
        "dc:title",
        "<dc:title>",
        "dc:titl",
        "c:title",
        "http://purl.org/atom/ns#",
        "http://purl.org/atom/ns",
        "http://backend.userland.com/rss2",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://purl.org/dc/terms/",
        "http://purl.org/dc/",
        "https://purl.org/dc/terms/",
        "<skipHours>",
        "<skipDays",
        "<skip",
        "<",
        ":",
        "::",
        "<:",
        ":<",
        "h",
        "http",
        "http:",
        " ",
        "\n",
        "/",
        ">",
        "x",
        "é",
        "<rdf:RDF",
        "<rss version=\"0.91\">",
        "<rss>",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The byte-pair scan finds what the Aho-Corasick automaton found, on any document.
    #[test]
    fn scan_agrees_with_aho_corasick(doc in needle_soup()) {
        prop_assert_eq!(
            crate::normalize::compat::scan(&doc),
            crate::normalize::compat::scan_with_automaton(&doc)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The ASCII fast path of the tokenizer gives the general path's words and offsets.
    #[test]
    fn the_ascii_tokenizer_agrees_with_the_general_one(
        text in "[a-zA-Z0-9 .,%'sS!?:;()\"-]{0,60}"
    ) {
        let (fast, general) = crate::topics::tokenize::tokenize_both_ways(&text);
        // The same words from the same source ranges (the fast path's normalized text is the
        // whole lower-cased source, the general path's only the words).
        prop_assert_eq!(fast.words(), general.words());
        let src = |t: &crate::topics::tokenize::Tokens| t.tokens.iter().map(|t| t.src).collect::<Vec<_>>();
        prop_assert_eq!(src(&fast), src(&general));
    }
}

/// Text as feeds write it: words, references of every kind (some malformed), markup, CDATA
/// sections, comments, line ends, and the `]]>` a CDATA section cannot hold.
fn feed_text() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "&lt;p&gt;",
        "&lt;/p&gt;",
        "&lt;",
        "&gt;",
        "&amp;",
        "&quot;&apos;",
        "&#60;",
        "&#x3C;",
        "&#233;",
        "&nbsp;",
        "]]&gt;",
        "]]",
        ">",
        "\r\n",
        "é漢",
        "<![CDATA[x &lt; ]]]]>",
        "<!-- &lt; > -->",
        "<b>bold &lt;i&gt;</b>",
        "<?pi &lt; ?>",
        "[a-zA-Z0-9 ,.]{0,8}",
    ];
    // Each makes quick-xml refuse the document: rare, so that most documents are read.
    const BAD: &[&str] = &["&", "&#0;", "&#+60;", "&x y;"];
    let piece = prop_oneof![
        8 => "[a-zA-Z0-9 ,.]{0,8}",
        12 => proptest::sample::select(PIECES).prop_map(String::from),
        1 => proptest::sample::select(BAD).prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Escaped markup rewritten as CDATA reads, to feed-rs, exactly as it was written: the same
    /// feed (titles, summaries, content, links) or the same refusal.
    #[test]
    fn escaped_markup_as_cdata_reads_the_same_to_feed_rs(
        texts in proptest::collection::vec(feed_text(), 6),
        atom in any::<bool>(),
    ) {
        let doc = if atom {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{}</title><entry><id>e1</id><title type="html">{}</title><link href="https://e.example/1" x="a>&lt;b"/><summary type="html">{}</summary><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{}</div></content></entry><entry><id>e2</id><title>{}</title><content type="html">{}</content></entry></feed>"#,
                texts[0], texts[1], texts[2], texts[3], texts[4], texts[5]
            )
        } else {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>{}</title><link>https://e.example/</link>
<item><title>{}</title><link>https://e.example/1</link><guid isPermaLink="false" x='a>&lt;b'>g1</guid><description>{}</description></item>
<item><title>{}</title><description>{}</description><content:encoded>{}</content:encoded></item>
</channel></rss>"#,
                texts[0], texts[1], texts[2], texts[3], texts[4], texts[5]
            )
        };
        let rewritten = crate::normalize::cdata::escaped_markup_as_cdata(&doc);
        let read = crate::normalize::feed_rs_reads(&doc);
        let reread = crate::normalize::feed_rs_reads(rewritten.as_deref().unwrap_or(&doc));
        prop_assert_eq!(read, reread, "rewritten: {:?}", rewritten);
    }
}

/// Documents of the kinds the XML repair pass is for: RSS 1.0, RSS in odd versions and old
/// namespaces, Atom 0.3, and items with or without a title, link, date, `dc:title`,
/// `dcterms:modified` and `rdf:about`.
fn repairable_doc() -> impl Strategy<Value = String> {
    const ROOTS: &[(&str, &str)] = &[
        (
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><channel rdf:about="https://e.example/"><title>F</title><link>https://e.example/</link></channel>"#,
            "</rdf:RDF>",
        ),
        (
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><channel><title>F</title><link>https://e.example/</link></channel>"#,
            "</rdf:RDF>",
        ),
        (
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel><title>F</title>"#,
            "</channel></rss>",
        ),
        (
            r#"<rss version="0.93" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel><title>F</title>"#,
            "</channel></rss>",
        ),
        (
            r#"<rss xmlns="http://backend.userland.com/rss2" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><channel><title>F</title>"#,
            "</channel></rss>",
        ),
        (
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><title>F</title>"#,
            "</feed>",
        ),
        (
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><title>F</title>"#,
            "</feed>",
        ),
        (
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><title>F</title>"#,
            "</feed>",
        ),
    ];
    const CHILDREN: &[&str] = &[
        "<title>T &amp; t</title>",
        "<link>https://e.example/l</link>",
        r#"<link href="https://e.example/h"/>"#,
        "<dc:date>2024-12-31T11:53:00Z</dc:date>",
        "<pubDate>Tue, 31 Dec 2024 11:53:00 GMT</pubDate>",
        "<issued>2024-12-30T10:00:00Z</issued>",
        "<modified>2024-12-30T11:00:00Z</modified>",
        "<updated>2024-12-29T11:00:00Z</updated>",
        "<dc:title>D &lt;title&gt;</dc:title>",
        "<dc:title> </dc:title>",
        "<dcterms:modified>2024-12-28T11:00:00Z</dcterms:modified>",
        "<description>&lt;p&gt;S&lt;/p&gt;</description>",
        "<summary>S</summary>",
        "<id>urn:e:1</id>",
        "<guid>g1</guid>",
        "<!-- c -->",
        "<x:y xmlns:x=\"urn:x\"><title>nested</title></x:y>",
    ];
    const ABOUT: &[&str] = &[
        "",
        r#" rdf:about="https://e.example/a""#,
        r#" rdf:about="urn:a""#,
    ];
    let item = (
        any::<bool>(),
        proptest::sample::select(ABOUT),
        proptest::collection::vec(proptest::sample::select(CHILDREN), 0..6),
    )
        .prop_map(|(entry, about, children)| {
            let name = if entry { "entry" } else { "item" };
            format!("<{name}{about}>{}</{name}>", children.concat())
        });
    (
        proptest::sample::select(ROOTS),
        proptest::collection::vec(item, 0..4),
    )
        .prop_map(|((open, close), items)| {
            format!("<?xml version=\"1.0\"?>{open}{}{close}", items.concat())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The repair pass leaves a document as it is only where rewriting it would read the same
    /// to feed-rs, with the same item ids.
    #[test]
    fn a_document_the_repair_leaves_alone_reads_as_its_rewrite(doc in repairable_doc()) {
        use crate::normalize::compat::{repair_as_sent, rewrite_always};
        let repaired = repair_as_sent(&doc);
        let rewritten = rewrite_always(&doc);
        prop_assert_eq!(repaired.is_some(), rewritten.is_some());
        if let (Some(repaired), Some(rewritten)) = (repaired, rewritten) {
            prop_assert_eq!(&repaired.item_ids, &rewritten.item_ids);
            let left_alone = repaired.xml.is_none();
            let read = crate::normalize::feed_rs_reads(repaired.xml.as_deref().unwrap_or(&doc));
            let reread = crate::normalize::feed_rs_reads(rewritten.xml.as_deref().unwrap_or(""));
            prop_assert_eq!(read, reread, "left alone: {}", left_alone);
        }
    }
}
