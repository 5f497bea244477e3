//! Parsing and normalization, one real-world case per test.

use super::*;
use crate::error_class::ErrorClass;
use crate::model::ItemKey;

fn now() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn parse(doc: &str) -> Result<ParsedFeed, ParseError> {
    parse_feed(
        doc.as_bytes(),
        None,
        Url::parse("https://news.example/feed.xml").ok().as_ref(),
        now(),
    )
}

fn items(doc: &str) -> Vec<Item> {
    parse(doc).unwrap_or_else(|e| panic!("{e}")).items
}

const RSS2: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>T</title><link>https://news.example/</link><ttl>30</ttl>
<item><title>Japan PM Ishiba &amp; Trump</title><link>/world/1?utm_source=rss&amp;id=3#c</link>
<guid isPermaLink="false">story-1</guid><pubDate>Tue, 31 Dec 2024 02:53:00 GMT</pubDate>
<description>&lt;p&gt;Prime Minister &lt;b&gt;Shigeru&lt;/b&gt; Ishiba&amp;nbsp;is making arrangements&lt;/p&gt;</description>
<category>Politics</category><author>desk@news.example (Desk)</author></item>
</channel></rss>"#;

#[test]
fn rss2_item_is_normalized() {
    let feed = parse(RSS2).unwrap();
    assert_eq!(feed.format, "rss20");
    assert_eq!(feed.ttl, Some(30));
    let it = &feed.items[0];
    assert_eq!(it.key, ItemKey::Guid("story-1".into()));
    assert_eq!(it.title, "Japan PM Ishiba & Trump");
    assert_eq!(
        it.summary,
        "Prime Minister Shigeru Ishiba is making arrangements"
    );
    assert_eq!(
        it.url.as_deref(),
        Some("https://news.example/world/1?utm_source=rss&id=3#c")
    );
    assert_eq!(
        it.canonical_url.as_deref(),
        Some("https://news.example/world/1?id=3")
    );
    assert_eq!(
        it.published.unwrap().to_rfc3339(),
        "2024-12-31T02:53:00+00:00"
    );
    assert_eq!(it.categories, ["Politics"]);
}

#[test]
fn atom_with_xml_base_and_html_title() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://atom.example/blog/">
<title>A</title><id>urn:a</id><updated>2024-12-30T00:00:00Z</updated>
<entry><id>urn:e1</id><title type="html">&lt;em&gt;Summit&lt;/em&gt; planned</title>
<link href="posts/1"/><updated>2024-12-30T10:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Leaders <b>meet</b>.</p></div></content></entry></feed>"#;
    let it = &items(doc)[0];
    assert_eq!(it.title, "Summit planned");
    assert_eq!(it.url.as_deref(), Some("https://atom.example/blog/posts/1"));
    assert_eq!(it.summary, "Leaders meet.");
    // ISO-8601 without seconds
    assert_eq!(
        it.updated.unwrap().to_rfc3339(),
        "2024-12-30T10:00:00+00:00"
    );
}

#[test]
fn json_feed_1_1() {
    let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
        {"id":"j1","url":"https://j.example/1","title":"Hello","content_html":"<p>World</p>","date_published":"2024-12-31T00:00:00Z","tags":["a"]}]}"#;
    let it = &items(doc)[0];
    assert_eq!((it.title.as_str(), it.summary.as_str()), ("Hello", "World"));
    assert_eq!(it.categories, ["a"]);
}

#[test]
fn json_feed_with_numeric_ids_is_read() {
    let doc = r#"{"version":"https://jsonfeed.org/version/1","title":"J","items":[{"id":42,"url":"https://j.example/42","title":"Num"}]}"#;
    assert_eq!(items(doc)[0].key, ItemKey::Guid("42".into()));
}

#[test]
fn atom_0_3_is_read() {
    let doc = r#"<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">
<title>Old</title><modified>2004-01-01T00:00:00Z</modified>
<entry><title>Old entry</title><link rel="alternate" type="text/html" href="https://old.example/1"/>
<id>tag:old,2004:1</id><issued>2004-01-01T10:00:00Z</issued><modified>2004-01-02T10:00:00Z</modified>
<content type="text/html" mode="escaped">&lt;p&gt;Body&lt;/p&gt;</content></entry></feed>"#;
    let its = items(doc);
    assert_eq!(its.len(), 1);
    assert_eq!(its[0].title, "Old entry");
    assert_eq!(
        its[0].published.unwrap().to_rfc3339(),
        "2004-01-01T10:00:00+00:00"
    );
    assert_eq!(
        its[0].updated.unwrap().to_rfc3339(),
        "2004-01-02T10:00:00+00:00"
    );
}

#[test]
fn rss_without_version_or_with_odd_versions_is_read() {
    for version in [
        "",
        " version=\"0.90\"",
        " version=\"0.93\"",
        " version=\"0.94\"",
        " version=\"2.01\"",
    ] {
        let doc = format!(
            "<rss{version}><channel><title>T</title><item><title>X</title><link>https://v.example/1</link></item></channel></rss>"
        );
        assert_eq!(items(&doc).len(), 1, "version {version:?}");
    }
}

#[test]
fn rss_in_the_userland_namespace_is_read() {
    let doc = r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>U</title>
<item><title>Userland item</title><link>https://u.example/1</link></item></channel></rss>"#;
    assert_eq!(items(doc)[0].title, "Userland item");
}

#[test]
fn rss_0_90_in_the_netscape_namespace_is_read() {
    let doc = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>N</title><link>https://n.example/</link><description>d</description></channel>
<item><title>Netscape item</title><link>https://n.example/1</link></item></rdf:RDF>"#;
    assert_eq!(items(doc)[0].title, "Netscape item");
}

const RDF: &str = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">
<channel rdf:about="https://r.example/"><title>R</title><link>https://r.example/</link><description>d</description></channel>
<item rdf:about="https://r.example/a"><title>With link</title><link>https://r.example/a?x=1</link><dc:date>2024-12-31T00:00:00Z</dc:date></item>
<item rdf:about="https://r.example/b"><dc:title>Dublin Core title</dc:title><dcterms:modified>2024-12-30T08:00+09:00</dcterms:modified></item>
</rdf:RDF>"#;

#[test]
fn rss_1_0_items_without_link_are_kept_and_rdf_about_is_their_id() {
    let its = items(RDF);
    assert_eq!(its.len(), 2);
    assert_eq!(its[0].key, ItemKey::Guid("https://r.example/a".into()));
    assert_eq!(its[1].key, ItemKey::Guid("https://r.example/b".into()));
    assert_eq!(its[1].url.as_deref(), Some("https://r.example/b"));
}

#[test]
fn dc_title_and_dcterms_modified_are_used_when_nothing_else_is_there() {
    let it = &items(RDF)[1];
    assert_eq!(it.title, "Dublin Core title");
    assert_eq!(it.date().unwrap().to_rfc3339(), "2024-12-29T23:00:00+00:00");
}

#[test]
fn items_without_guid_get_a_stable_key_from_the_link_then_the_content() {
    let doc = r#"<rss version="2.0"><channel><title>T</title>
<item><title>Linked</title><link>https://k.example/1?utm_medium=x</link></item>
<item><title>Bare</title><description>No link, no guid</description></item></channel></rss>"#;
    let first = items(doc);
    let second = items(doc);
    assert_eq!(first[0].key, ItemKey::Url("https://k.example/1".into()));
    assert!(matches!(first[1].key, ItemKey::Hash(_)));
    assert_eq!(
        first[1].key, second[1].key,
        "hash keys are stable across parses"
    );
}

#[test]
fn missing_dates_stay_missing_and_future_dates_are_dropped() {
    let doc = r#"<rss version="2.0"><channel><title>T</title>
<item><guid>a</guid><title>No date</title></item>
<item><guid>b</guid><title>Future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>"#;
    let its = items(doc);
    assert!(its[0].published.is_none() && its[0].updated.is_none());
    assert!(its[1].published.is_none());
}

#[test]
fn latin1_declared_in_the_prolog_is_decoded_once() {
    let mut doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>caf".to_vec();
    doc.push(0xe9);
    doc.extend_from_slice(b"</title></item></channel></rss>");
    let feed = parse_feed(&doc, None, None, now()).unwrap();
    assert_eq!(feed.items[0].title, "café");
}

#[test]
fn http_charset_applies_when_the_document_declares_none() {
    let mut doc =
        b"<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>".to_vec();
    doc.extend_from_slice(&[0xea, 0xb0, 0x80]); // not valid UTF-8 on its own here? it is: U+AC00
    doc.clear();
    doc.extend_from_slice(
        b"<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>",
    );
    doc.extend_from_slice(&[0xc6, 0xfc, 0xcb, 0xdc]); // "日本" in EUC-JP
    doc.extend_from_slice(b"</title></item></channel></rss>");
    let feed = parse_feed(
        &doc,
        Some("application/rss+xml; charset=EUC-JP"),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(feed.items[0].title, "日本");
}

#[test]
fn utf16_with_bom_is_read() {
    let doc = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>UTF-16 ü</title></item></channel></rss>";
    let mut bytes = vec![0xff, 0xfe];
    for u in doc.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(
        parse_feed(&bytes, None, None, now()).unwrap().items[0].title,
        "UTF-16 ü"
    );
}

#[test]
fn html_instead_of_a_feed_is_not_a_feed_and_points_at_the_advertised_feed() {
    let err = parse("<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"https://h.example/rss\"></head></html>").unwrap_err();
    assert_eq!(err.class(), ErrorClass::NotAFeed);
    assert!(err.to_string().contains("https://h.example/rss"), "{err}");
}

#[test]
fn garbage_empty_and_truncated_documents_are_errors() {
    assert_eq!(parse("").unwrap_err().class(), ErrorClass::NotAFeed);
    assert_eq!(
        parse("\u{0}\u{1}garbage").unwrap_err().class(),
        ErrorClass::NotAFeed
    );
    assert_eq!(
        parse("<svg></svg>").unwrap_err().class(),
        ErrorClass::NotAFeed
    );
    assert_eq!(
        parse("<rss version=\"2.0\"><channel><title>T</title><item><title>cut")
            .unwrap_err()
            .class(),
        ErrorClass::InvalidFeed
    );
}

#[test]
fn a_document_cut_off_in_transfer_says_so() {
    let whole = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>A</title><link>https://e.example/1</link></item><item><title>B</title></item></channel></rss>"#;
    // Cut after a closed item, inside a title, inside a tag: each names the cut.
    for cut in ["</item>", "<title>B", "</ti"] {
        let end = whole.rfind(cut).unwrap() + cut.len();
        let err = parse(&whole[..end]).unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidFeed);
        assert!(
            err.to_string()
                .contains("ends before its <rss> element is closed"),
            "{cut}: {err}"
        );
    }
    // A whole document broken inside one entry is not called truncated, even with a comment
    // after its root: that entry is skipped and reported, the others are read (issue #15).
    let broken = whole.replace("<title>A</title>", "<title>A</oops>") + "<!-- cached -->";
    let feed = parse(&broken).unwrap();
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "B");
    assert_eq!(feed.unreadable, 1);
    assert!(
        feed.warnings[0].starts_with("1 of 2 entries unreadable: "),
        "{:?}",
        feed.warnings
    );
    let both_broken = broken.replace("<title>B</title>", "<title>B</oops>");
    let err = parse(&both_broken).unwrap_err();
    assert!(!err.to_string().contains("ends before"), "{err}");
}

#[test]
fn entries_that_all_fail_to_normalize_are_an_error_not_an_empty_success() {
    let doc =
        r#"<rss version="2.0"><channel><title>T</title><item></item><item></item></channel></rss>"#;
    assert_eq!(parse(doc).unwrap_err(), ParseError::NoItems { entries: 2 });
}

#[test]
fn duplicate_guids_in_one_document_yield_one_item() {
    let doc = r#"<rss version="2.0"><channel><title>T</title><item><guid>same</guid><title>A</title></item><item><guid>same</guid><title>B</title></item></channel></rss>"#;
    assert_eq!(items(doc).len(), 1);
}

#[test]
fn control_characters_never_reach_stored_text() {
    let doc = "<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>Bell\u{7} &#x1b;]0;x&#7;title</title></item></channel></rss>";
    assert_eq!(items(doc)[0].title, "Bell ]0;xtitle");
}

#[test]
fn billion_laughs_is_not_expanded() {
    let doc = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>&lol2;</title></item></channel></rss>"#;
    // Entities a DOCTYPE declares are never expanded: the reference is kept as written.
    let feed = parse(doc).expect("the feed is read, its DOCTYPE ignored");
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "&lol2;");
}

#[test]
fn skip_hours_and_skip_days_are_read() {
    let doc = r#"<rss version="2.0"><channel><title>T</title><skipHours><hour>0</hour><hour>1</hour><hour>x</hour></skipHours>
<skipDays><day>Saturday</day><day>Sunday</day></skipDays><item><guid>1</guid><title>A</title></item></channel></rss>"#;
    let feed = parse(doc).unwrap();
    assert_eq!(feed.skip_hours, [0, 1]);
    assert_eq!(feed.skip_days, [5, 6]);
}

// Issue #15: every entry of every real-world feed. One test per symptom.

const ATOM03_HEAD: &str = r#"<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old</title>"#;

fn atom03_entry(id: &str, construct: &str) -> String {
    format!(
        "<entry><id>{id}</id><link rel=\"alternate\" type=\"text/html\" href=\"https://old.example/{id}\"/>{construct}</entry>"
    )
}

#[test]
fn issue_15_atom_03_text_constructs_of_every_type_and_mode_are_plain_text() {
    let cases = [
        (
            r#"<title type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">An <b>xhtml</b> title</div></title>"#,
            "An xhtml title",
        ),
        (
            r#"<title type="text/html" mode="escaped">&lt;em&gt;Escaped&lt;/em&gt; title</title>"#,
            "Escaped title",
        ),
        (
            r#"<title type="text/plain">Plain title</title>"#,
            "Plain title",
        ),
        (
            r#"<title mode="base64" type="text/plain">QmFzZTY0IHRpdGxl</title>"#,
            "Base64 title",
        ),
        (
            r#"<title type="text/x-unknown">Unknown type</title>"#,
            "Unknown type",
        ),
    ];
    let entries: String = cases
        .iter()
        .enumerate()
        .map(|(i, (c, _))| atom03_entry(&format!("e{i}"), c))
        .collect();
    let feed = parse(&format!("{ATOM03_HEAD}{entries}</feed>")).unwrap();
    assert_eq!(feed.format, "atom03");
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    let expected: Vec<&str> = cases.iter().map(|(_, t)| *t).collect();
    assert_eq!(titles, expected);
}

#[test]
fn issue_15_atom_03_content_modes_are_plain_text() {
    let entries = [
        atom03_entry(
            "x",
            r#"<title>X</title><content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Inline body</p></div></content>"#,
        ),
        atom03_entry(
            "b",
            r#"<title>B</title><content type="text/html" mode="base64">PHA+QmFzZTY0IGJvZHk8L3A+</content>"#,
        ),
        atom03_entry(
            "i",
            r#"<title>I</title><content type="image/png" mode="base64">iVBORw0KGgo=</content>"#,
        ),
    ]
    .concat();
    let feed = parse(&format!("{ATOM03_HEAD}{entries}</feed>")).unwrap();
    let summaries: Vec<&str> = feed.items.iter().map(|i| i.summary.as_str()).collect();
    assert_eq!(summaries, ["Inline body", "Base64 body", ""]);
}

#[test]
fn issue_15_one_unreadable_entry_does_not_take_down_the_feed() {
    // An Atom 1.0 entry with a type feed-rs rejects is rewritten and read; one whose markup is
    // broken is skipped, counted and reported, and the others are read.
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
<entry><id>1</id><title>First</title></entry>
<entry><id>2</id><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">Second</div></title></entry>
<entry><id>3</id><title>Third</title><summary>a <b>bold</i> move</summary></entry>
<entry><id>4</id><title>Fourth</title></entry></feed>"#;
    let feed = parse(doc).unwrap();
    let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["First", "Second", "Fourth"]);
    assert_eq!(feed.unreadable, 1);
    assert!(
        feed.warnings
            .iter()
            .any(|w| w.starts_with("1 of 4 entries unreadable: ")),
        "{:?}",
        feed.warnings
    );
}

#[test]
fn issue_15_entries_with_only_an_id_a_link_or_a_description_are_items() {
    let doc = r#"<rss version="2.0"><channel><title>T</title>
<item><guid>only-a-guid</guid></item>
<item><link>https://m.example/only-a-link</link></item>
<item><description>&lt;p&gt;Just posted a toot about the summit. Nothing else to it, really.&lt;/p&gt;</description></item>
</channel></rss>"#;
    let feed = parse(doc).unwrap();
    assert_eq!(feed.items.len(), 3);
    assert_eq!(feed.items[0].key, ItemKey::Guid("only-a-guid".into()));
    assert_eq!(feed.entries[0].id.as_deref(), Some("only-a-guid"));
    assert_eq!(feed.entries[0].title_source, "none");
    assert_eq!(
        feed.items[1].key,
        ItemKey::Url("https://m.example/only-a-link".into())
    );
    assert!(matches!(feed.items[2].key, ItemKey::Hash(_)));
    assert_eq!(feed.items[2].title, "Just posted a toot about the summit.");
    assert_eq!(feed.entries[2].title_source, "summary");
    // Atom: an entry with only an id.
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>urn:x:1</id></entry></feed>"#;
    assert_eq!(items(atom)[0].key, ItemKey::Guid("urn:x:1".into()));
}

#[test]
fn issue_15_the_feeds_own_id_and_format_are_kept() {
    let feed = parse(RSS2).unwrap();
    assert_eq!(feed.entries[0].id.as_deref(), Some("story-1"));
    assert_eq!(feed.link.as_deref(), Some("https://news.example/"));
    let rdf = parse(RDF).unwrap();
    assert_eq!(rdf.format, "rss10");
    assert_eq!(rdf.entries[1].id.as_deref(), Some("https://r.example/b"));
    let no_guid = r#"<rss version="0.91"><channel><title>T</title><item><title>x</title><link>https://a.example/1</link></item></channel></rss>"#;
    let feed = parse(no_guid).unwrap();
    assert_eq!(feed.format, "rss091");
    assert_eq!(feed.entries[0].id, None);
}

#[test]
fn issue_15_html_entities_and_bare_ampersands_are_read_with_a_warning() {
    let doc = "<rss version=\"2.0\"><channel><title>Caf&eacute;</title><item><guid>1</guid><title>AT&T &ndash; na&iuml;ve&hellip;&nbsp;ok</title><link>https://e.example/?a=1&b=2</link></item></channel></rss>";
    let feed = parse(doc).unwrap();
    assert_eq!(feed.title.as_deref(), Some("Café"));
    assert_eq!(feed.items[0].title, "AT&T – naïve… ok");
    assert_eq!(
        feed.items[0].url.as_deref(),
        Some("https://e.example/?a=1&b=2")
    );
    assert_eq!(feed.warnings.len(), 2, "{:?}", feed.warnings);
}

#[test]
fn issue_15_leading_whitespace_and_undeclared_prefixes_are_read_with_a_warning() {
    let doc = "\n  \n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>t</title><content:encoded>&lt;p&gt;Full text&lt;/p&gt;</content:encoded><dc:creator>Desk</dc:creator></item></channel></rss>";
    let feed = parse(doc).unwrap();
    assert_eq!(feed.items[0].summary, "Full text");
    assert_eq!(feed.items[0].authors, ["Desk"]);
    assert!(
        feed.warnings.iter().any(|w| w.contains("whitespace")),
        "{:?}",
        feed.warnings
    );
    assert!(
        feed.warnings.iter().any(|w| w.contains("content:, dc:")),
        "{:?}",
        feed.warnings
    );
}

#[test]
fn issue_15_the_http_charset_wins_over_the_prolog_as_rfc_7303_says() {
    let mut doc = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>".to_vec();
    doc.extend_from_slice(&[0xcf, 0xf0, 0xe8]); // "При" in windows-1251
    doc.extend_from_slice(b"</title></item></channel></rss>");
    let feed = parse_feed(
        &doc,
        Some("application/rss+xml; charset=windows-1251"),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(feed.items[0].title, "При");
}

#[test]
fn issue_22_nul_bytes_and_invalid_utf8_are_reported() {
    let mut doc =
        b"<rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>caf".to_vec();
    doc.push(0xe9);
    doc.extend_from_slice(b"\0!</title></item><item></item></channel></rss>");
    let feed = parse_feed(&doc, None, None, now()).unwrap();
    assert_eq!(feed.items[0].title, "café!");
    let all = feed.warnings.join("\n");
    for expected in [
        "not valid UTF-8 as it says; read as windows-1252",
        "1 NUL bytes removed",
        "1 of 2 entries skipped: no id, link, title or text",
    ] {
        assert!(all.contains(expected), "{expected:?} not in {all}");
    }
}

#[test]
fn issue_15_an_id_that_is_a_web_url_links_an_entry_without_a_link() {
    let doc = r#"<rss version="2.0"><channel><title>T</title><item><title>P</title><guid>https://p.example/1</guid></item></channel></rss>"#;
    assert_eq!(items(doc)[0].url.as_deref(), Some("https://p.example/1"));
}

#[test]
fn issue_15_an_rss_item_has_no_updated_date_unless_it_gives_one() {
    let it = &items(RSS2)[0];
    assert!(it.published.is_some());
    assert_eq!(it.updated, None);
}

#[test]
fn issue_15_atom_03_feed_modified_is_the_feed_updated_date() {
    let doc = format!(
        "{ATOM03_HEAD}<modified>2004-01-01T10:00:00Z</modified>{}</feed>",
        atom03_entry(
            "m",
            "<title>M</title><modified>2004-01-02T10:00:00Z</modified>"
        )
    );
    let feed = parse(&doc).unwrap();
    assert_eq!(
        feed.updated.map(|d| d.to_rfc3339()).as_deref(),
        Some("2004-01-01T10:00:00+00:00")
    );
    assert_eq!(
        feed.items[0].updated.map(|d| d.to_rfc3339()).as_deref(),
        Some("2004-01-02T10:00:00+00:00")
    );
}

#[test]
fn issue_15_a_portuguese_pub_date_is_read() {
    // rss-parser's fixture of UOL Notícias (shared corpus): `Set` is September.
    let doc = r#"<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>t</title>
<pubDate>Seg, 24 Set 2018 19:42:40 -0300</pubDate></item></channel></rss>"#;
    assert_eq!(
        items(doc)[0].published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2018-09-24T22:42:40+00:00")
    );
}

#[test]
fn issue_15_rss_in_json_is_read_as_the_rss_it_stands_for() {
    // The shape of Scripting News' feed.json (shared corpus: netnewswire__ScriptingNews.json).
    let doc = r##"{"rss": {"version": "2.0", "xmlns:source": "http://source.scripting.com/",
        "channel": {"title": "Scripting News", "link": "http://scripting.com/",
            "item": [
                {"link": "http://scripting.com/2017/06/26.html#a080605",
                 "description": "Good morning students and teachers! ",
                 "pubDate": "Mon, 26 Jun 2017 12:20:05 GMT",
                 "guid": "http://scripting.com/2017/06/26.html#a080605",
                 "source:outline": {"text": "Good morning", "type": "outline"}},
                {"title": "A titled post", "link": "http://scripting.com/2017/06/25/x.html",
                 "guid": {"isPermaLink": "false", "#value": "post-2"},
                 "enclosure": {"url": "http://scripting.com/a.mp3", "type": "audio/mpeg", "length": 10}}
            ]}}}"##;
    let feed = parse(doc).unwrap();
    assert_eq!(feed.format, "rssjson");
    assert_eq!(feed.title.as_deref(), Some("Scripting News"));
    assert_eq!(feed.items.len(), 2);
    assert_eq!(
        feed.entries[0].id.as_deref(),
        Some("http://scripting.com/2017/06/26.html#a080605")
    );
    assert_eq!(feed.entries[0].title_source, "summary");
    assert_eq!(
        feed.items[0].published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2017-06-26T12:20:05+00:00")
    );
    assert_eq!(feed.items[1].title, "A titled post");
    assert_eq!(feed.entries[1].id.as_deref(), Some("post-2"));
    assert_eq!(
        feed.items[1].url.as_deref(),
        Some("http://scripting.com/2017/06/25/x.html")
    );
    // JSON that is neither still says so.
    assert!(matches!(
        parse(r#"{"error": "rate limited"}"#),
        Err(ParseError::NotAFeed(_))
    ));
}

#[test]
fn issue_15_a_channel_dc_date_is_the_feed_updated_date() {
    // Golem.de's RSS 1.0 feed and the Guardian's RSS 2.0 feed (shared corpus) say when the
    // channel changed only in `dc:date`; an item's own dc:date is not the channel's.
    for doc in [
        r#"<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://x.example/"><title>T</title><link>https://x.example/</link><dc:date>2023-01-25T21:21:01+01:00</dc:date></channel><item rdf:about="https://x.example/1"><title>t</title><link>https://x.example/1</link><dc:date>2023-01-20T00:00:00Z</dc:date></item></rdf:RDF>"#,
        r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title><dc:date>2023-01-25T20:21:01Z</dc:date><item><guid>1</guid><title>t</title></item></channel></rss>"#,
    ] {
        assert_eq!(
            parse(doc)
                .unwrap()
                .updated
                .map(|d| d.to_rfc3339())
                .as_deref(),
            Some("2023-01-25T20:21:01+00:00"),
            "{doc}"
        );
    }
    let no_channel_date = r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title><item><guid>1</guid><title>t</title><dc:date>2023-01-20T00:00:00Z</dc:date></item></channel></rss>"#;
    assert_eq!(parse(no_channel_date).unwrap().updated, None);
}

#[test]
fn issue_15_utf_16_without_a_byte_order_mark_is_read_from_its_declaration_bytes() {
    let doc = r#"<?xml version="1.0" encoding="UTF-16"?><rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>ü 日本</title></item></channel></rss>"#;
    let le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for bytes in [le, be] {
        let feed = parse_feed(&bytes, None, None, now()).unwrap();
        assert_eq!(feed.items[0].title, "ü 日本");
    }
}

#[test]
fn issue_15_an_encoding_label_that_cannot_be_decoded_is_ignored_with_a_warning() {
    // WHATWG maps ISO-2022-KR to "replacement" (the whole document would be one U+FFFD).
    let doc = r#"<?xml version="1.0" encoding="iso-2022-kr"?><rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>ASCII</title></item></channel></rss>"#;
    let feed = parse(doc).unwrap();
    assert_eq!(feed.items[0].title, "ASCII");
    assert!(
        feed.warnings.iter().any(|w| w.contains("iso-2022-kr")),
        "{:?}",
        feed.warnings
    );
    // An HTTP charset nobody knows: the declaration decides, and the feed says so.
    let cp1251 = [
        &b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>T</title><item><guid>1</guid><title>"[..],
        &[0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2],
        b"</title></item></channel></rss>",
    ]
    .concat();
    let feed = parse_feed(
        &cp1251,
        Some("application/xml; charset=x-no-such"),
        None,
        now(),
    )
    .unwrap();
    assert_eq!(feed.items[0].title, "Привет");
    assert!(
        feed.warnings.iter().any(|w| w.contains("HTTP charset")),
        "{:?}",
        feed.warnings
    );
}
