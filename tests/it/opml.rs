//! OPML: another reader's subscriptions in, the configured feeds out, and back again.

use crate::common::*;

const CONFIG: &str = "# feeds I read\n\
    [[feeds]]\nname = \"world\"\nurl = \"https://news.example/world.xml\"\ntags = [\"news\", \"world\"]\n\n\
    [[feeds]]\nname = \"tech & science\"\nurl = \"https://tech.example/feed?format=rss&x=1\"\n\n\
    [[feeds]]\nname = \"asia\"\nurl = \"https://asia.example/rss\"\ntags = [\"news\"]\n";

#[test]
fn export_then_import_into_an_empty_config_round_trips_feeds_and_tags() {
    let source = Workspace::new(CONFIG);
    let exported = source.run(&["feeds", "export"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    assert!(exported.stdout.contains("<opml version=\"2.0\">"));
    assert!(exported.stdout.contains("tech &amp; science"));

    let target = Workspace::new("# mine: comments stay\n");
    let opml = target.dir.path().join("subs.opml");
    std::fs::write(&opml, &exported.stdout).unwrap();
    let r = target.run(&["feeds", "import", "--write", opml.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("added 3 feed(s)"), "{}", r.stderr);
    let written = std::fs::read_to_string(&target.config).unwrap();
    assert!(
        written.starts_with("[storage]") && written.contains("# mine: comments stay"),
        "{written}"
    );
    assert_eq!(target.run(&["check"]).code, 0);
    let again = target.run(&["feeds", "export"]);
    assert_eq!(
        again.stdout, exported.stdout,
        "the round trip changed the feeds"
    );

    // Importing the same list again adds nothing.
    let r = target.run(&["feeds", "import", "--write", opml.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("3 feed(s) of"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&target.config).unwrap(), written);
}

#[test]
fn a_bad_url_is_reported_with_its_position_and_nothing_is_written() {
    let ws = Workspace::new(CONFIG);
    let before = std::fs::read_to_string(&ws.config).unwrap();
    let opml = ws.dir.path().join("bad.opml");
    std::fs::write(
        &opml,
        "<opml version=\"2.0\"><body>\n<outline text=\"ok\" xmlUrl=\"https://ok.example/rss\"/>\n  <outline text=\"bad\" xmlUrl=\"javascript:alert(1)\"/>\n</body></opml>",
    )
    .unwrap();
    let r = ws.run(&["feeds", "import", "--write", opml.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("bad.opml:3:3: xmlUrl \"javascript:alert(1)\" is not an http(s) URL"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&ws.config).unwrap(), before);
}

#[test]
fn hostile_opml_gets_a_clear_error() {
    let ws = Workspace::new(CONFIG);
    let cases = [
        (
            format!(
                "<opml><body>{}</body></opml>",
                "<outline xmlUrl=\"https://x.example/\"/>".repeat(100_000)
            ),
            "more than 10000 outlines",
        ),
        (
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><opml><body/></opml>"
                .into(),
            "DOCTYPE",
        ),
        (
            "<opml><body><outline text=\"x\"></opml>".into(),
            "not well-formed",
        ),
        ("<html><body/></html>".into(), "not <opml>"),
    ];
    for (doc, expected) in cases {
        let opml = ws.dir.path().join("hostile.opml");
        std::fs::write(&opml, doc).unwrap();
        let r = ws.run(&["feeds", "import", opml.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{expected}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{expected}: {}", r.stderr);
    }
}
