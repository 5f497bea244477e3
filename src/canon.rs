//! Canonical URLs: one spelling per article, so the same story linked with tracking parameters,
//! a fragment or a different host case is recognised as the same item.
//!
//! The `url` crate already lower-cases scheme and host, drops the default port and resolves
//! `..`; this module adds what a news reader needs on top: no fragment, no tracking parameters,
//! a sorted query. The result is idempotent: `canonicalize(canonicalize(u)) == canonicalize(u)`.

use url::Url;

/// Query parameters that identify a campaign or a click, never the article.
const TRACKING_EXACT: &[&str] = &[
    "fbclid",
    "gclid",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wt_mc",
    "cmpid",
    "ocid",
    "sr_share",
    "ref_src",
    "ref_url",
    "s_cid",
    "at_medium",
    "at_campaign",
    "spm",
];

/// Parameter-name prefixes used only for tracking.
const TRACKING_PREFIXES: &[&str] = &["utm_", "at_custom", "pk_", "mtm_", "hsa_"];

/// Is this query parameter a tracking parameter (case-insensitive)?
pub fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    TRACKING_EXACT.contains(&lower.as_str())
        || TRACKING_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// The canonical form of an article URL: fragment and tracking parameters removed, remaining
/// parameters sorted (stable for equal names), an empty query dropped. Non-http(s) URLs are
/// returned with only the fragment removed.
pub fn canonicalize(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    if !matches!(url.scheme(), "http" | "https") {
        return url;
    }
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    url
}

/// Resolves `href` against `base` (when relative) and canonicalizes it. `None` when it is not a
/// usable http(s) URL.
pub fn resolve_article_url(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let parsed = match Url::parse(href) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok()?,
        Err(_) => return None,
    };
    matches!(parsed.scheme(), "http" | "https").then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        canonicalize(&Url::parse(s).unwrap()).to_string()
    }

    #[test]
    fn removes_tracking_parameters_and_fragment() {
        assert_eq!(
            canon(
                "HTTPS://Example.COM:443/a/b?utm_source=x&id=7&fbclid=abc&UTM_Medium=y&gclid=1&mc_cid=2&mc_eid=3#top"
            ),
            "https://example.com/a/b?id=7"
        );
    }

    #[test]
    fn sorts_remaining_parameters() {
        assert_eq!(canon("http://e.com/?b=2&a=1"), "http://e.com/?a=1&b=2");
    }

    #[test]
    fn drops_an_empty_query() {
        assert_eq!(canon("http://e.com/x?utm_campaign=z"), "http://e.com/x");
    }

    #[test]
    fn keeps_the_trailing_slash_as_given() {
        assert_eq!(canon("http://e.com/x/"), "http://e.com/x/");
        assert_eq!(canon("http://e.com/x"), "http://e.com/x");
    }

    #[test]
    fn is_idempotent() {
        for s in [
            "http://e.com/?b=2&a=1&a=0#f",
            "https://E.com:8443/%7Efoo?q=a+b",
            "http://e.com/?x=%26",
        ] {
            let once = canon(s);
            assert_eq!(canon(&once), once, "{s}");
        }
    }

    #[test]
    fn resolves_relative_links_against_the_base() {
        let base = Url::parse("https://news.example/feeds/world.xml").unwrap();
        assert_eq!(
            resolve_article_url("../2024/story", Some(&base))
                .unwrap()
                .as_str(),
            "https://news.example/2024/story"
        );
        assert!(resolve_article_url("javascript:alert(1)", Some(&base)).is_none());
        assert!(resolve_article_url("/x", None).is_none());
    }
}
