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
