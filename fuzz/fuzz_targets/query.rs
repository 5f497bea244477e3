//! Topic queries: parse, compile, and match against a fixed text; never a panic, and a query
//! that parses always compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newshound::topics::TopicSpec;
use newshound::topics::matcher::Matcher;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    match newshound::topics::syntax::parse_query(query) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(_) => {
            let m = Matcher::new(&[TopicSpec {
                name: "fuzz".into(),
                queries: vec![query.into()],
                feeds: None,
                stem: Some(newshound::topics::Stem::English),
            }])
            .expect("a query that parses compiles");
            m.match_item(
                "feed",
                "Japan PM Ishiba Eyes Meeting With Trump After Inauguration",
                "Prime Minister Shigeru Ishiba is making arrangements to meet with U.S. President-elect Donald Trump — 首脳会談 3.5% São Paulo.",
            );
        }
    }
});
