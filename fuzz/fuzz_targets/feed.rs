//! Feed bytes → parse → normalize → match → story features: never a panic, and what comes out
//! obeys the limits stored items promise (bounded, valid text).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use newshound::model::{MAX_KEY_BYTES, MAX_SUMMARY_BYTES, MAX_TITLE_BYTES};
use newshound::topics::TopicSpec;
use newshound::topics::matcher::{Matcher, Scratch};

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let topic = |name: &str, q: &str| TopicSpec {
            name: name.into(),
            queries: vec![q.into()],
            feeds: None,
            stem: None,
        };
        Matcher::new(&[
            topic(
                "summit",
                "(summit OR meet* OR talks) NEAR/8 (schedul* OR arrang* OR plan*)",
            ),
            topic("japanese", "首脳会談 OR \"prime minister\""),
            topic("scoped", "title:trump -summary:rumor"),
        ])
        .expect("the fuzz topics parse")
    })
}

fuzz_target!(|data: &[u8]| {
    let now = chrono::Utc::now();
    let base = url::Url::parse("https://feed.example/rss").ok();
    let Ok(feed) = newshound::normalize::parse_feed(data, None, base.as_ref(), now) else {
        return;
    };
    let mut scratch = Scratch::default();
    for item in &feed.items {
        assert!(item.title.len() <= MAX_TITLE_BYTES);
        assert!(item.summary.len() <= MAX_SUMMARY_BYTES);
        assert!(item.key.as_stored().len() <= MAX_KEY_BYTES + 2);
        assert!(!item.title.contains(['\n', '\r', '\u{1b}']));
        matcher().match_item_with(&mut scratch, "fuzz", &item.title, &item.summary);
        let (t, s) = scratch.tokens();
        newshound::stories::features_of_tokens(&item.title, t, &item.summary, s);
    }
});
