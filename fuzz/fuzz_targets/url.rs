//! URL canonicalization and identity keys: never a panic, and canonicalizing is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = url::Url::parse("https://news.example/section/").ok();
    if let Some(u) = newshound::canon::resolve_article_url(text, base.as_ref()) {
        let c = newshound::canon::canonicalize(&u);
        assert_eq!(
            newshound::canon::canonicalize(&c),
            c,
            "canonicalize is idempotent"
        );
        let key = newshound::stories::url_key(&c);
        assert!(!key.contains('#'));
    }
    let _ = newshound::stories::guid_path_key(text);
});
