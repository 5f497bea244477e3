//! Matcher behaviour, one specification per test.

use super::*;

fn spec(name: &str, query: &str) -> TopicSpec {
    TopicSpec {
        name: name.into(),
        queries: vec![query.into()],
        feeds: None,
        stem: None,
        lexicons: Default::default(),
    }
}

fn matches(query: &str, title: &str, summary: &str) -> bool {
    let m = Matcher::new(&[spec("t", query)]).unwrap();
    !m.match_item("feed", title, summary).is_empty()
}

fn title(query: &str, title: &str) -> bool {
    matches(query, title, "")
}

#[test]
fn words_match_whole_words_ignoring_case_accents_and_possessives() {
    assert!(title("trump", "TRUMP wins"));
    assert!(title("trump", "Trump's inauguration"));
    assert!(title("trump", "Trump’s inauguration"));
    assert!(!title("trump", "Trumpet player"));
    assert!(title("\"sao paulo\"", "Floods in São Paulo"));
    assert!(title("São", "sao paulo"));
    assert!(title("trump", "ＴＲＵＭＰ"));
}

#[test]
fn prefixes_match_word_starts_only() {
    assert!(title(
        "schedul*",
        "Talks rescheduled? No: scheduling begins"
    ));
    assert!(!title("schedul*", "rescheduled"));
    assert!(title("meet*", "Meeting set"));
    // A prefix may be the whole word, may end inside no character, and may be very long.
    assert!(title("meet*", "They meet"));
    assert!(title("kø*", "København"));
    assert!(!title("kø*", "Kobenhavn"));
    let long = "a".repeat(70);
    assert!(title(&format!("{long}*"), &format!("{long}bc")));
    assert!(!title(&format!("{long}*"), &"a".repeat(69)));
}

#[test]
fn words_longer_than_eight_bytes_are_compared_in_full() {
    // The index compares the first 8 bytes cheaply; the rest must still count.
    assert!(title("inauguration", "After the inauguration"));
    assert!(!title("inauguration", "After the inaugurations"));
    assert!(!title("inauguratiom", "After the inauguration"));
    assert!(title("inaugurat*", "Inaugurated"));
    assert!(!title("inaugurax*", "Inaugurated"));
}

#[test]
fn matches_come_in_topic_order_whatever_order_their_words_appear_in() {
    let m = Matcher::new(&[spec("a", "zebra"), spec("b", "apple"), spec("c", "mango")]).unwrap();
    let got: Vec<usize> = m
        .match_item("f", "mango apple zebra", "")
        .iter()
        .map(|t| t.topic)
        .collect();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn phrases_need_consecutive_words() {
    assert!(title("\"leaders meeting\"", "G7 leaders meeting in June"));
    assert!(!title("\"leaders meeting\"", "leaders will hold a meeting"));
    assert!(title("\"prime minist*\"", "Prime ministerial talks"));
}

#[test]
fn near_matches_in_either_order_within_the_distance() {
    assert!(title("meet NEAR/3 trump", "Ishiba to meet Trump"));
    assert!(title("meet NEAR/4 trump", "Trump and Ishiba will meet"));
    assert!(!title("meet NEAR/3 trump", "Trump and Ishiba will meet"));
    // distance counts word steps: adjacent words are 1 apart
    assert!(title("a NEAR/1 b", "a b"));
    assert!(!title("a NEAR/1 b", "a x b"));
    assert!(title("a NEAR/2 b", "a x b"));
    assert!(title("a NEAR/3 b", "b x y a"));
    assert!(!title("a NEAR/2 b", "b x y a"));
}

#[test]
fn near_never_crosses_fields() {
    assert!(!matches("meeting NEAR/3 plans", "A meeting", "plans"));
}

#[test]
fn near_takes_or_groups_and_phrases() {
    assert!(title(
        "(summit OR talks) NEAR/4 \"next month\"",
        "Leaders eye talks for next month"
    ));
}

#[test]
fn one_word_cannot_satisfy_both_sides_of_near() {
    assert!(!title("meet* NEAR/3 meeting", "meeting"));
}

#[test]
fn not_excludes() {
    assert!(title("summit -mountain", "Summit planned"));
    assert!(!title("summit -mountain", "Mountain summit reached"));
    assert!(!title("summit NOT (everest OR mountain)", "Everest summit"));
}

#[test]
fn a_or_b_c_means_a_or_b_and_c() {
    assert!(title("a OR b c", "a"));
    assert!(title("a OR b c", "b c"));
    assert!(!title("a OR b c", "b"));
}

#[test]
fn field_scopes_restrict_where_terms_count() {
    assert!(matches("title:trump", "Trump visits", ""));
    assert!(!matches("title:trump", "A visit", "Trump"));
    assert!(matches("summary:(trump OR biden)", "A visit", "by Biden"));
    assert!(!matches("summary:trump", "Trump", "visit"));
}

#[test]
fn unspaced_scripts_match_by_character_sequence() {
    assert!(title("首脳会談", "石破首相、トランプ氏との首脳会談を調整"));
    assert!(!title("首脳会談", "首脳が会談"));
    assert!(title("会談 NEAR/6 調整", "首脳会談を調整"));
}

#[test]
fn dotted_and_percent_terms_match_as_written() {
    assert!(title("\"u.s.\"", "U.S. and Japan"));
    assert!(title("u.s.", "the U.S. president"));
    assert!(title("\"3.5%\"", "Inflation hits 3.5% in May"));
    assert!(!title("\"3.5%\"", "Inflation hits 3.5 in May"));
}

#[test]
fn stemming_folds_inflections_when_asked() {
    let plain = Matcher::new(&[spec("t", "meeting")]).unwrap();
    assert!(plain.match_item("f", "Meetings resume", "").is_empty());
    let stemmed = Matcher::new(&[TopicSpec {
        stem: Some(Stem::English),
        ..spec("t", "meeting")
    }])
    .unwrap();
    assert!(!stemmed.match_item("f", "Meetings resume", "").is_empty());
    let phrase = Matcher::new(&[TopicSpec {
        stem: Some(Stem::English),
        ..spec("t", "\"leaders meeting\"")
    }])
    .unwrap();
    assert!(!phrase.match_item("f", "The leader meetings", "").is_empty());
}

#[test]
fn feed_filter_limits_a_topic_to_named_feeds() {
    let m = Matcher::new(&[TopicSpec {
        feeds: Some(vec!["nhk".into()]),
        ..spec("t", "summit")
    }])
    .unwrap();
    assert_eq!(m.match_item("nhk", "Summit", "").len(), 1);
    assert!(m.match_item("other", "Summit", "").is_empty());
}

#[test]
fn alternative_queries_count_as_one_topic_and_name_the_one_that_fired() {
    let m = Matcher::new(&[TopicSpec {
        queries: vec!["summit".into(), "首脳会談".into()],
        ..spec("t", "")
    }])
    .unwrap();
    let hits = m.match_item("f", "首脳会談へ", "");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].query, 1);
    let both = m.match_item("f", "summit 首脳会談", "");
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].query, 0);
}

#[test]
fn matched_terms_say_which_word_where() {
    let m = Matcher::new(&[spec("t", "(meet* OR talks) NEAR/8 arrang* -board")]).unwrap();
    let summary = "Prime Minister Shigeru Ishiba is making arrangements to meet with Trump";
    let hits = m.match_item("f", "Ishiba eyes a visit", summary);
    assert_eq!(hits.len(), 1);
    let terms: Vec<_> = hits[0]
        .terms
        .iter()
        .map(|t| (t.term.as_str(), t.field, &summary[t.range.clone()]))
        .collect();
    assert_eq!(
        terms,
        [
            ("meet*", Field::Summary, "meet"),
            ("arrang*", Field::Summary, "arrangements")
        ]
    );
}

#[test]
fn topics_sharing_terms_are_all_reported() {
    let specs: Vec<_> = (0..50)
        .map(|i| spec(&format!("t{i}"), &format!("summit w{i}")))
        .collect();
    let m = Matcher::new(&specs).unwrap();
    let hits = m.match_item("f", "summit w7 w9", "");
    let names: Vec<_> = hits.iter().map(|h| m.topic_name(h.topic)).collect();
    assert_eq!(names, ["t7", "t9"]);
}

#[test]
fn snippet_marks_the_match() {
    let text = "a".repeat(100) + "MATCH" + &"b".repeat(100);
    let (s, hl) = snippet(&text, 100..105, 10);
    assert_eq!(&s[hl], "MATCH");
    assert!(s.starts_with('…') && s.ends_with('…'));
}

// Issue #14: topics that find what the user means on real news.

#[test]
fn issue_14_a_phrase_satisfies_a_near_side_that_contains_its_word() {
    let q = r#"(meet* OR talks) NEAR/8 ("to meet" OR "will meet" OR plan*)"#;
    assert!(title(q, "Canada's Carney to Meet Xi in Beijing"));
    assert!(title(q, "Erdogan, Putin to meet on Friday"));
    assert!(title(q, "Modi will meet Albanese"));
    // One word still cannot stand for both sides on its own.
    assert!(!title("meet* NEAR/3 meeting", "meeting"));
    assert!(!title(q, "Leaders meet"));
}

#[test]
fn issue_14_country_short_forms_fold_with_and_without_dots() {
    for (query, text) in [
        ("\"u.s.\"", "US and Japan agree"),
        ("US", "U.S. and Japan agree"),
        ("us", "U.S.A. and Japan agree"),
        ("USA", "US and Japan agree"),
        ("UK", "U.K. ministers"),
        ("\"u.k.\"", "UK ministers"),
        ("EU", "E.U. leaders"),
        ("\"e.u.\"", "EU leaders"),
        ("\"US tariffs\"", "U.S. tariffs rise"),
    ] {
        assert!(title(query, text), "{query} on {text}");
    }
    // The pronoun is not the country; capitals in a headline are.
    assert!(!title("US", "Tell us what you think"));
    assert!(!title("\"u.s.\"", "Join us"));
    assert!(title("us", "WHITE HOUSE: US TO RESPOND"));
}

#[test]
fn issue_14_lexicons_stand_for_their_entries_in_any_query() {
    assert!(title("@leaders summit", "Takaichi heads to summit"));
    assert!(title("@leaders summit", "Prime Minister heads to summit"));
    assert!(!title(
        "@leader_names summit",
        "Prime Minister heads to summit"
    ));
    let mut lexicons = Lexicons::default();
    lexicons.insert(
        "birds",
        vec![
            lexicon::Entry::parse("robin").unwrap(),
            lexicon::Entry::parse("eagle*").unwrap(),
        ],
    );
    let m = Matcher::new(&[TopicSpec {
        name: "t".into(),
        queries: vec!["title:@birds".into()],
        lexicons,
        ..TopicSpec::default()
    }])
    .unwrap();
    assert_eq!(m.match_item("f", "Eagles land", "").len(), 1);
    assert!(m.match_item("f", "x", "robin").is_empty());
    let e = parse_query("@nosuch summit").unwrap_err();
    assert!(
        e.message.starts_with("unknown lexicon @nosuch"),
        "{}",
        e.message
    );
}

#[test]
fn issue_14_leaders_of_2025_and_2026_are_in_the_shipped_lexicon() {
    for name in [
        "Starmer",
        "Merz",
        "Carney",
        "Takaichi",
        "Lee Jae-myung",
        "Sheinbaum",
        "Pope Leo",
    ] {
        assert!(title("@leader_names", name), "{name}");
    }
}

/// Does `UPCOMING(summit)` / `PAST(summit)` hold of `text` (as a title)?
fn upcoming(text: &str) -> bool {
    title(
        "UPCOMING(summit OR meeting OR talks OR visit OR 首脳会談)",
        text,
    )
}

fn past(text: &str) -> bool {
    title(
        "PAST(summit OR meeting OR talks OR visit OR 首脳会談)",
        text,
    )
}

#[test]
fn issue_14_event_status_cues_each_decide_with_a_positive_and_a_negative_sentence() {
    // (cue, a sentence it makes upcoming, a sentence with no forward cue near the event)
    for (cue, yes, no) in [
        (
            "will",
            "Leaders will hold a summit",
            "Leaders held a summit",
        ),
        (
            "to meet",
            "Starmer to meet Trump at the summit",
            "Starmer met Trump at the summit",
        ),
        (
            "plans to",
            "Modi plans to visit Japan",
            "Modi ended his visit to Japan",
        ),
        (
            "is expected to",
            "The summit is expected to open",
            "The summit opened",
        ),
        (
            "could be held",
            "Talks could be held in the UAE",
            "Talks were held in the UAE",
        ),
        (
            "ahead of",
            "Allies align ahead of summit",
            "Allies align after summit",
        ),
        (
            "next week",
            "A summit next week in Rome",
            "A summit last week in Rome",
        ),
        (
            "in February",
            "Meeting in February eyed by Tokyo",
            "Meeting yesterday in Tokyo",
        ),
        (
            "after the inauguration",
            "A visit after the inauguration",
            "A visit",
        ),
        (
            "postponed",
            "Summit postponed over storm",
            "Summit closed after storm",
        ),
        (
            "on hold",
            "Summit in Budapest is on hold",
            "Summit in Budapest is over",
        ),
        (
            "seeks",
            "Kishida seeks talks with Kim",
            "Kishida recalls talks with Kim",
        ),
        ("予定", "首脳会談を予定", "首脳会談"),
        ("調整", "首脳会談で調整", "首脳会談で合意"),
        ("方向で", "首脳会談を開く方向で", "首脳会談を開いた"),
        ("検討", "首脳会談を検討", "首脳会談"),
    ] {
        assert!(upcoming(yes), "{cue}: {yes}");
        assert!(!upcoming(no), "{cue}: {no}");
    }
    // (cue, a sentence it makes past, a sentence where the event is still ahead)
    for (cue, yes, no) in [
        (
            "met",
            "Biden met Xi for talks",
            "Biden will meet Xi for talks",
        ),
        (
            "held talks",
            "Leaders held talks in Bali",
            "Leaders plan talks in Bali",
        ),
        (
            "after meeting",
            "Deal signed after meeting",
            "Deal expected before meeting next week",
        ),
        (
            "wrapped up",
            "Leaders wrapped up the summit",
            "Leaders prepare for the summit",
        ),
        (
            "during",
            "Protests during the visit",
            "Protests expected ahead of the visit",
        ),
        ("した", "首脳会談を開催した", "首脳会談を予定"),
    ] {
        assert!(past(yes), "{cue}: {yes}");
        assert!(!past(no), "{cue}: {no}");
    }
}

#[test]
fn issue_14_every_shipped_cue_decides_next_to_the_event_and_not_across_a_sentence() {
    for (lexicon, status) in [
        (lexicon::UPCOMING_CUES, "UPCOMING"),
        (lexicon::PAST_CUES, "PAST"),
    ] {
        let entries = lexicon::shipped().get(lexicon).unwrap();
        for e in entries.iter() {
            let cue = if e.prefix {
                format!("{}xx", e.text.trim_end_matches('*'))
            } else {
                e.text.clone()
            };
            let q = format!("{status}(zebrafest)");
            assert!(title(&q, &format!("zebrafest {cue}")), "{lexicon}: {cue}");
            assert!(
                !title(&q, &format!("zebrafest. Then {cue}")),
                "{lexicon}: {cue} across a sentence"
            );
            let far = "one two three four five six seven eight nine";
            assert!(
                !title(&q, &format!("zebrafest {far} {cue}")),
                "{lexicon}: {cue} far away"
            );
        }
    }
}

#[test]
fn a_cue_inside_a_longer_cue_that_starts_earlier_is_governed_by_it() {
    // `hold talks` (past: the headline present) begins inside `to hold` (ahead).
    assert!(upcoming("Ishiba and Trump to hold talks in Washington"));
    assert!(!past("Ishiba and Trump to hold talks in Washington"));
    assert!(past("Ishiba and Trump hold talks in Washington"));
    assert!(!upcoming("Ishiba and Trump hold talks in Washington"));
    // `held` begins inside `to be held`.
    assert!(upcoming("Summit talks to be held in Rome"));
    assert!(!past("Summit talks to be held in Rome"));
}

#[test]
fn issue_14_the_nearest_cue_decides() {
    // "met" is nearer the first talks, "next month" the second: both statuses hold.
    let t = "Leaders met for talks and agreed on more talks next month";
    assert!(upcoming(t));
    assert!(past(t));
    assert!(!upcoming(
        "Biden met Xi at the summit; officials will report"
    ));
    // Abbreviation dots do not end a sentence.
    assert!(upcoming("U.S. summit will open"));
}

#[test]
fn issue_14_the_alert_names_the_status_cue() {
    let m = Matcher::new(&[spec("t", "UPCOMING(summit)")]).unwrap();
    let got = m.match_item("f", "Ishiba eyes summit with Trump", "");
    let terms: Vec<&str> = got[0].terms.iter().map(|t| t.term.as_str()).collect();
    assert!(terms.contains(&"eyes (@upcoming_cues)"), "{terms:?}");
}

#[test]
fn issue_14_lint_warns_about_operands_that_can_never_match() {
    let w = lint(&parse_query("title:summit NEAR/3 summary:talks").unwrap());
    assert!(w[0].message.contains("can never match"), "{w:?}");
    let w = lint(&parse_query("summit -summit*").unwrap());
    assert!(w[0].message.contains("can never match"), "{w:?}");
    assert!(lint(&parse_query("summit NEAR/3 talks -everest").unwrap()).is_empty());
}

#[test]
fn issue_14_explain_names_the_missing_clause() {
    let m = Matcher::new(&[spec("t", "UPCOMING(summit) @leaders -everest")]).unwrap();
    let e = m.explain(0, "Everest summit planned", "");
    assert_eq!(e.query, None);
    assert_eq!(e.missing[0], ["@leaders", "NOT everest"]);
    let e = m.explain(0, "Biden plans summit", "");
    assert_eq!(e.query, Some(0));
    assert!(
        e.tree.iter().any(|l| l.contains("cue \"plans\"")),
        "{:?}",
        e.tree
    );
}
