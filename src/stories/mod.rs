//! Story identity: when two items are the same item, and when different items are the same story.
//!
//! **Identity keys** go beyond the canonical URL: [`url_key`] ignores `http`/`https`, `www.`,
//! `m.`, `amp.` hosts, AMP paths and a trailing slash, so the desktop, mobile and AMP copies of
//! an article are one item; [`guid_path_key`] lets a GUID that is a URL survive its publisher
//! rotating the scheme or host.
//!
//! **Stories** group different items that report the same development of one event. Each item
//! gets [`Features`]: the stemmed, stop-word-free terms of its title (weight 3) and of the start
//! of its summary (weight 1), names marked, spelling variants and demonyms folded, section labels
//! ("Opinion |", "Briefing:") dropped, with CJK text as character bigrams. [`score()`] scores a
//! pair (text, time apart, same feed or not, with background term weights shipped in the
//! binary); the store's story index finds candidate pairs and clusters them (`src/store/story_index.rs`).
//! Pure functions: the store persists and indexes what they compute.

pub mod cluster;
pub mod score;

pub use score::{
    CONFIDENT_THRESHOLD, Context, DEFAULT_THRESHOLD, KeyTerms, Probe, Score, Tier, Weighed, idf,
    score, score_weighed,
};

use url::Url;

use crate::topics::tokenize::{Tokens, is_unspaced_script, tokenize_into};

/// How many of a story's terms go into the candidate index.
pub const KEY_TERMS: usize = 12;

/// Words that common (background IDF below this: in more than about 2% of items, as *minister*,
/// *president*, *market*) are never key terms. They tell no story apart, and their posting lists
/// are the longest: looking them up was most of the cost of finding candidates.
pub const KEY_MIN_IDF: f32 = 4.0;

/// A URL key that ignores what does not change the article: scheme, `www.`/`m.`/`amp.` host
/// prefixes, AMP paths (`/amp/…`, `…/amp`, `….amp.html`), AMP query flags and a trailing slash.
pub fn url_key(canonical: &Url) -> String {
    let host = canonical.host_str().unwrap_or_default();
    let mut host = host;
    for prefix in ["www.", "m.", "mobile.", "amp."] {
        if let Some(rest) = host.strip_prefix(prefix)
            && rest.contains('.')
        {
            host = rest;
            break;
        }
    }
    let mut path = canonical.path().to_owned();
    if let Some(rest) = path.strip_prefix("/amp/") {
        path = format!("/{rest}");
    }
    for suffix in ["/amp/", "/amp"] {
        if let Some(rest) = path.strip_suffix(suffix) {
            path = rest.to_owned();
        }
    }
    // (Each `replace` copies the path; most paths have nothing to replace.)
    if path.contains(".amp.htm") {
        path = path
            .replace(".amp.html", ".html")
            .replace(".amp.htm", ".htm");
    }
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    let query: Vec<(String, String)> = canonical
        .query_pairs()
        .filter(|(k, v)| !(k == "amp" || ((k == "outputType" || k == "output") && v == "amp")))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut key = format!("{host}{path}");
    if !query.is_empty() {
        // Decoded pairs, re-escaped where a character would change how the key splits: else
        // `?a=1%262=3` and `?a=1&2=3` would be one key (found by the `url` fuzzer).
        let escape = |s: &str, eq: bool| {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                match c {
                    '%' => out.push_str("%25"),
                    '&' => out.push_str("%26"),
                    '#' => out.push_str("%23"),
                    '=' if eq => out.push_str("%3D"),
                    c => out.push(c),
                }
            }
            out
        };
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    escape(k, true)
                } else {
                    format!("{}={}", escape(k, true), escape(v, false))
                }
            })
            .collect();
        key.push('?');
        key.push_str(&q.join("&"));
    }
    key
}

/// For a GUID that is an http(s) URL, a key without scheme and host, so `http://a.example/p/1`
/// and `https://www.a.example/p/1` are the same GUID. `None` for other GUIDs.
pub fn guid_path_key(guid: &str) -> Option<String> {
    let u = Url::parse(guid.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.path().len() <= 1 {
        return None;
    }
    let path = u.path().trim_end_matches('/');
    Some(match u.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

/// Weighted terms of an item, sorted by term: each term is a 24-bit hash packed above its
/// weight byte, 4 bytes a term, because the writer keeps every open story's headline in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    packed: Box<[u32]>,
}

const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "during",
    "each",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "more",
    "most",
    "new",
    "no",
    "not",
    "now",
    "of",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "said",
    "say",
    "says",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "will",
    "with",
    "would",
    "year",
    "years",
    "you",
    "according",
    "told",
    "news",
    "report",
    "reports",
    "reported",
    "sources",
    "source",
    "week",
    "day",
    "today",
    "yesterday",
    "tomorrow",
    "amid",
    "via",
    "per",
];

/// Newsroom abbreviations folded to one spelling before comparing.
const SYNONYMS: &[(&str, &str)] = &[
    ("boj", "bank_of_japan"),
    ("fed", "federal_reserve"),
    ("ecb", "european_central_bank"),
    ("us", "united_states"),
    ("u.s", "united_states"),
    ("usa", "united_states"),
    ("america", "united_states"),
    ("uk", "britain"),
    ("u.k", "britain"),
    ("pm", "prime_minister"),
    ("mln", "million"),
    ("bln", "billion"),
    ("quake", "earthquake"),
    ("tremor", "earthquake"),
    ("chip", "semiconductor"),
    ("chips", "semiconductor"),
    ("semiconductors", "semiconductor"),
    // Demonyms: "Russian strikes" and "Russia strikes" tell the same.
    ("russian", "russia"),
    ("ukrainian", "ukraine"),
    ("chinese", "china"),
    ("japanese", "japan"),
    ("american", "united_states"),
    ("british", "britain"),
    ("french", "france"),
    ("german", "germany"),
    ("israeli", "israel"),
    ("palestinian", "palestine"),
    ("iranian", "iran"),
    ("turkish", "turkey"),
    ("syrian", "syria"),
    ("indian", "india"),
    ("korean", "korea"),
    ("italian", "italy"),
    ("spanish", "spain"),
    ("polish", "poland"),
    ("mexican", "mexico"),
    ("brazilian", "brazil"),
    ("canadian", "canada"),
    ("australian", "australia"),
    ("pakistani", "pakistan"),
    ("afghan", "afghanistan"),
    ("iraqi", "iraq"),
    ("egyptian", "egypt"),
    ("nigerian", "nigeria"),
    ("taiwanese", "taiwan"),
    ("filipino", "philippines"),
    ("vietnamese", "vietnam"),
    ("indonesian", "indonesia"),
    ("dutch", "netherlands"),
    ("swedish", "sweden"),
    ("finnish", "finland"),
    ("greek", "greece"),
    ("hungarian", "hungary"),
    ("serbian", "serbia"),
    ("belarusian", "belarus"),
    ("georgian", "georgia"),
    ("armenian", "armenia"),
    ("azerbaijani", "azerbaijan"),
    ("libyan", "libya"),
    ("moroccan", "morocco"),
    ("sudanese", "sudan"),
    ("ethiopian", "ethiopia"),
    ("kenyan", "kenya"),
    ("venezuelan", "venezuela"),
    ("cuban", "cuba"),
    ("colombian", "colombia"),
    ("argentine", "argentina"),
    ("argentinian", "argentina"),
    ("chilean", "chile"),
    ("peruvian", "peru"),
    ("thai", "thailand"),
    ("lebanese", "lebanon"),
    ("jordanian", "jordan"),
    ("yemeni", "yemen"),
    ("qatari", "qatar"),
    ("emirati", "uae"),
    ("saudi", "saudi_arabia"),
    ("kuwaiti", "kuwait"),
    ("norwegian", "norway"),
    ("danish", "denmark"),
    ("irish", "ireland"),
    ("scottish", "scotland"),
    ("portuguese", "portugal"),
    ("austrian", "austria"),
    ("swiss", "switzerland"),
    ("czech", "czechia"),
    ("romanian", "romania"),
    ("bulgarian", "bulgaria"),
    ("croatian", "croatia"),
    ("slovak", "slovakia"),
    ("lithuanian", "lithuania"),
    ("latvian", "latvia"),
    ("estonian", "estonia"),
    ("moldovan", "moldova"),
    ("kazakh", "kazakhstan"),
    ("mongolian", "mongolia"),
    ("nepalese", "nepal"),
    ("bangladeshi", "bangladesh"),
    ("haitian", "haiti"),
    ("nicaraguan", "nicaragua"),
    ("ecuadorian", "ecuador"),
    ("bolivian", "bolivia"),
    ("somali", "somalia"),
    ("rwandan", "rwanda"),
    ("ugandan", "uganda"),
    ("ghanaian", "ghana"),
    ("senegalese", "senegal"),
    ("malian", "mali"),
    ("algerian", "algeria"),
    ("tunisian", "tunisia"),
    ("zimbabwean", "zimbabwe"),
    ("european", "europe"),
    ("african", "africa"),
    ("asian", "asia"),
    ("defence", "defense"),
    ("offence", "offense"),
    ("licence", "license"),
    ("pretence", "pretense"),
    ("labour", "labor"),
    ("favour", "favor"),
    ("honour", "honor"),
    ("colour", "color"),
    ("neighbour", "neighbor"),
    ("centre", "center"),
    ("theatre", "theater"),
    ("programme", "program"),
    ("organisation", "organization"),
    ("organisations", "organizations"),
    ("criticise", "criticize"),
    ("criticised", "criticized"),
    ("recognise", "recognize"),
    ("recognised", "recognized"),
    ("apologise", "apologize"),
    ("apologised", "apologized"),
    ("authorise", "authorize"),
    ("authorised", "authorized"),
    ("mobilise", "mobilize"),
    ("mobilisation", "mobilization"),
    ("stabilise", "stabilize"),
    ("jewellery", "jewelry"),
    ("kiev", "kyiv"),
    ("kyivs", "kyiv"),
    ("odesa", "odessa"),
    ("fulfil", "fulfill"),
    ("enrol", "enroll"),
    ("travelling", "traveling"),
    ("travelled", "traveled"),
    ("cancelled", "canceled"),
    ("cancelling", "canceling"),
    ("tyre", "tire"),
    ("grey", "gray"),
];

/// Words that label a section or a format, not an event ("Opinion |", "Analysis:", "live
/// updates", "In photos:"): never terms. Generic newsroom vocabulary, not any outlet's list.
const SECTION_LABELS: &[&str] = &[
    "opinion",
    "analysis",
    "explainer",
    "briefing",
    "newsletter",
    "live",
    "updates",
    "update",
    "watch",
    "video",
    "videos",
    "photos",
    "pictures",
    "podcast",
    "editorial",
    "factbox",
    "exclusive",
    "breaking",
];

/// How many summary tokens count: the lede, not the whole article.
const SUMMARY_TOKENS: usize = 60;

/// A term's 24-bit hash. (Collisions between the ~50 terms of two items are about one in
/// 7,000 comparisons, and only add a little similarity.)
fn term_hash(s: &str) -> u32 {
    (crate::model::stable_hash(&[s]) >> 40) as u32
}

/// Marks an entity term (a name: capitalized inside a sentence) in a term's weight byte.
pub const ENTITY: u8 = 0x80;

/// Extracts an item's terms, each with its field weight (3 in the title, 1 in the lede,
/// doubled for numbers) and whether it names someone or something ([`ENTITY`]).
pub fn features(title: &str, summary: &str) -> Features {
    let (mut t, mut s) = (Tokens::default(), Tokens::default());
    tokenize_into(title, &mut t);
    tokenize_into(summary, &mut s);
    features_of_tokens(title, &t, summary, &s)
}

/// As [`features`], from texts already tokenized (the matcher tokenizes them first).
pub fn features_of_tokens(
    title: &str,
    title_tokens: &Tokens,
    summary: &str,
    summary_tokens: &Tokens,
) -> Features {
    // Headlines in Title Case say nothing about names; their words count as names when the lede
    // (in sentence case) capitalizes them.
    let (mut long_words, mut capitalized_words) = (0usize, 0usize);
    for w in title.split_whitespace().filter(|w| w.chars().count() > 3) {
        long_words += 1;
        capitalized_words += usize::from(w.chars().next().is_some_and(char::is_uppercase));
    }
    let title_case = long_words > 0 && capitalized_words * 10 >= long_words * 7;
    // Packed as in `Features`: term << 8 | weight | ENTITY; merged below.
    let mut terms: Vec<u32> = Vec::with_capacity(title_tokens.len() + SUMMARY_TOKENS);
    let mut bigram = String::new();
    TERMS.with_borrow_mut(|cache| {
        for (text, tokens, base, limit) in [
            (summary, summary_tokens, 1u8, SUMMARY_TOKENS),
            (title, title_tokens, 3u8, usize::MAX),
        ] {
            let n = tokens.len().min(limit);
            for i in 0..n {
                let word = tokens.get(i);
                let first = first_char(word);
                if is_unspaced_script(first) {
                    // CJK and similar: character bigrams within a run.
                    if i + 1 < n && is_unspaced_script(first_char(tokens.get(i + 1))) {
                        bigram.clear();
                        bigram.push_str(word);
                        bigram.push_str(tokens.get(i + 1));
                        terms.push((term_hash(&bigram) << 8) | u32::from(base));
                    }
                    continue;
                }
                let Some(h) = cache.term(word) else {
                    continue;
                };
                // Numbers (rates, counts, magnitudes, years) tell events apart: they weigh double.
                let digit = first.is_ascii_digit();
                let weight = if digit { base * 2 } else { base };
                let (start, end) = tokens.tokens[i].src;
                let capital = first_char(&text[start as usize..end as usize]).is_uppercase();
                // In a Title Case headline a capital says nothing, unless the word is not an
                // English word at all (Bakhmut, Kinzhal): then it names something.
                let entity = !digit
                    && capital
                    && if base == 3 && title_case {
                        !score::listed(h)
                    } else {
                        !starts_sentence(&text[..start as usize])
                    };
                let weight = if entity { weight | ENTITY } else { weight };
                terms.push((h << 8) | u32::from(weight));
            }
        }
    });
    // One entry per term: the heaviest field weight, a name if it was a name anywhere.
    terms.sort_unstable();
    let mut merged: Vec<u32> = Vec::with_capacity(terms.len());
    for p in terms {
        match merged.last_mut() {
            Some(last) if *last >> 8 == p >> 8 => {
                let (lw, w) = (*last as u8, p as u8);
                let weight = (lw & !ENTITY).max(w & !ENTITY) | ((lw | w) & ENTITY);
                *last = (*last & !0xff) | u32::from(weight);
            }
            _ => merged.push(p),
        }
    }
    Features {
        packed: merged.into_boxed_slice(),
    }
}

/// The first character of `s` (a space for an empty one), ASCII without decoding.
fn first_char(s: &str) -> char {
    match s.as_bytes().first() {
        Some(&b) if b.is_ascii() => b as char,
        _ => s.chars().next().unwrap_or(' '),
    }
}

/// Does a word after `before` start a sentence (or a quote, or a heading's subtitle), so that
/// its capital says nothing?
fn starts_sentence(before: &str) -> bool {
    before
        .trim_end()
        .chars()
        .next_back()
        .is_none_or(|c| matches!(c, '.' | '!' | '?' | ':' | '"' | '-'))
}

thread_local! {
    /// Word → term (after synonyms and stemming), or `None` for words that are not terms.
    /// News vocabulary is heavily skewed, so a small cache answers most words.
    static TERMS: std::cell::RefCell<TermCache> = std::cell::RefCell::new(TermCache::default());
}

/// Most words remembered per thread (16 bytes each); the cache starts over when full. Large
/// enough to hold nearly every word occurrence of a news corpus: a smaller one made a cold run
/// stem again what fell out of it (docs/performance.md, "Why the constants are what they are").
const TERM_CACHE_WORDS: usize = 32_768;

/// Keyed by a 64-bit hash of the word, not the word: no string compare or copy per token, and
/// two words that collide (odds of about 1 in 3·10^10 for a full cache) would at worst share a
/// term, as terms already may (they are 24-bit hashes).
#[derive(Default)]
struct TermCache {
    words: rustc_hash::FxHashMap<u64, Option<u32>>,
}

impl TermCache {
    fn term(&mut self, word: &str) -> Option<u32> {
        let key = twox_hash::XxHash3_64::oneshot(word.as_bytes());
        if let Some(t) = self.words.get(&key) {
            return *t;
        }
        let t = term_of_word(word);
        if self.words.len() >= TERM_CACHE_WORDS {
            self.words.clear();
        }
        self.words.insert(key, t);
        t
    }
}

/// The term a (normalized, spaced-script) word stands for, or `None` for stop words and
/// single letters.
fn term_of_word(word: &str) -> Option<u32> {
    let first = word.chars().next()?;
    if (word.chars().count() < 2 && !first.is_ascii_digit()) || STOP_WORDS.contains(&word) {
        return None;
    }
    if SECTION_LABELS.contains(&word) {
        return None;
    }
    let canonical = SYNONYMS
        .iter()
        .find(|(from, _)| *from == word)
        .map_or(word, |(_, to)| *to);
    // Transliterations differ in the last letters of names: Zelenskyy, Zelenskiy, Zelensky.
    let folded;
    let canonical = match canonical
        .strip_suffix("yy")
        .or_else(|| canonical.strip_suffix("iy"))
    {
        Some(stem) if stem.len() >= 4 && canonical.is_ascii() => {
            folded = format!("{stem}y");
            folded.as_str()
        }
        _ => canonical,
    };
    if canonical.is_ascii() {
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
        Some(term_hash(&stemmer.stem(canonical)))
    } else {
        Some(term_hash(canonical))
    }
}

impl Features {
    /// From (term, weight) pairs sorted by term, one per term.
    fn from_terms(terms: Vec<(u32, u8)>) -> Features {
        Features {
            packed: terms
                .into_iter()
                .map(|(h, w)| (h << 8) | u32::from(w))
                .collect(),
        }
    }

    /// (term, weight) pairs, sorted by term.
    pub fn terms(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.packed.iter().map(|&p| (p >> 8, p as u8))
    }

    pub fn len(&self) -> usize {
        self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Storage: 5 bytes per term, the term (shifted into the high 24 bits) then its weight. Rows
    /// written when terms had 32-bit hashes read back as their high 24 bits, which is what
    /// `term_hash` computes now, so old rows still compare equal to new ones.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.packed.len() * 5);
        for (h, w) in self.terms() {
            out.extend_from_slice(&(h << 8).to_le_bytes());
            out.push(w);
        }
        out
    }

    pub fn from_bytes(b: &[u8]) -> Features {
        let mut terms: Vec<(u32, u8)> = b
            .chunks_exact(5)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) >> 8, c[4]))
            .collect();
        // Two old 32-bit hashes may share their high bits: keep one entry per term.
        terms.sort_unstable();
        terms.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.max(later.1);
            }
            same
        });
        Features::from_terms(terms)
    }
}

/// Deterministic unrelated headline/summary pairs from a small general-news vocabulary: the
/// history a running newshound has, for calibrating term statistics when the threshold is
/// measured (`examples/story_threshold.rs`) and in tests.
#[doc(hidden)]
pub fn background_text(n: usize) -> Vec<(String, String)> {
    const WORDS: &[&str] = &[
        "market",
        "storm",
        "festival",
        "court",
        "budget",
        "vaccine",
        "rocket",
        "harvest",
        "museum",
        "league",
        "strike",
        "police",
        "flood",
        "tariff",
        "energy",
        "school",
        "hospital",
        "election",
        "ruling",
        "bridge",
        "airline",
        "bank",
        "minister",
        "trade",
        "president",
        "talks",
        "city",
        "river",
        "football",
        "film",
        "music",
        "prime",
        "government",
        "japan",
        "china",
        "united",
        "states",
        "deal",
        "plan",
        "report",
        "week",
        "company",
        "profit",
        "shares",
        "prices",
        "rain",
        "fire",
        "train",
        "port",
        "union",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            let words: Vec<&str> = (0..33)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    WORDS[(x % WORDS.len() as u64) as usize]
                })
                .collect();
            (words[..8].join(" "), words[8..].join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_term_cache_answers_as_the_words_themselves_even_after_starting_over() {
        let mut cache = TermCache::default();
        let words: Vec<String> = (0..TERM_CACHE_WORDS + 100)
            .map(|i| format!("word{i}s"))
            .chain(["the", "x", "7", "meetings", "首脳"].map(String::from))
            .collect();
        for round in 0..2 {
            for w in &words {
                assert_eq!(cache.term(w), term_of_word(w), "{w} in round {round}");
            }
            assert!(cache.words.len() <= TERM_CACHE_WORDS);
        }
    }

    fn key(s: &str) -> String {
        url_key(&Url::parse(s).unwrap())
    }

    #[test]
    fn url_keys_ignore_scheme_www_mobile_amp_and_trailing_slash() {
        let k = key("https://www.news.example/politics/story-1/");
        for v in [
            "http://news.example/politics/story-1",
            "https://m.news.example/politics/story-1",
            "https://amp.news.example/politics/story-1",
            "https://news.example/amp/politics/story-1",
            "https://news.example/politics/story-1/amp/",
            "https://news.example/politics/story-1?amp=1",
            "https://news.example/politics/story-1?outputType=amp",
        ] {
            assert_eq!(key(v), k, "{v}");
        }
        assert_eq!(
            key("https://news.example/a.amp.html"),
            key("https://news.example/a.html")
        );
        assert_ne!(key("https://news.example/politics/story-2"), k);
    }

    #[test]
    fn url_keys_keep_different_queries_apart() {
        // Found by the `url` fuzzer: decoded values that contain `&`, `=`, `#` or `%`.
        assert_ne!(
            key("https://n.example/p?a=1%262=3"),
            key("https://n.example/p?a=1&2=3")
        );
        assert_ne!(
            key("https://n.example/p?a%3Db=c"),
            key("https://n.example/p?a=b%3Dc")
        );
        assert_ne!(
            key("https://n.example/p?a=%23x"),
            key("https://n.example/p?a=%2523x")
        );
        assert!(!key("https://n.example/p?q=%23x").contains('#'));
        // Ordinary queries read as they are.
        assert_eq!(
            key("https://n.example/p?id=42&page=2"),
            "n.example/p?id=42&page=2"
        );
    }

    #[test]
    fn a_bare_domain_keeps_its_only_label() {
        assert_eq!(key("https://m.example/x"), "m.example/x");
    }

    #[test]
    fn url_guids_survive_a_scheme_or_host_change() {
        assert_eq!(
            guid_path_key("http://a.example/p/1"),
            guid_path_key("https://www.a.example/p/1/")
        );
        assert_eq!(guid_path_key("tag:a.example,2024:1"), None);
        assert_eq!(guid_path_key("https://a.example/"), None);
    }

    #[test]
    fn cjk_text_compares_by_character_bigrams() {
        let a = features("石破首相 トランプ氏との首脳会談を調整", "");
        let b = features("トランプ氏との首脳会談 石破首相が調整", "");
        let c = features("東京株式市場 日経平均が最高値", "");
        let at = Context { at: 0, feed: 1 };
        let other = Context { at: 3600, feed: 2 };
        assert!(score(&a, at, &b, other, 86_400, DEFAULT_THRESHOLD).linked());
        assert!(!score(&a, at, &c, other, 86_400, DEFAULT_THRESHOLD).linked());
    }

    #[test]
    fn spelling_variants_demonyms_and_section_labels_fold_away() {
        let terms = |t: &str| features(t, "").terms().map(|(h, _)| h).collect::<Vec<_>>();
        assert_eq!(terms("Defence"), terms("defense"));
        assert_eq!(terms("Zelenskyy"), terms("Zelensky"));
        assert_eq!(terms("Zelenskiy"), terms("Zelensky"));
        assert_eq!(terms("Russian"), terms("Russia"));
        assert_eq!(terms("Opinion | Tariffs rise"), terms("Tariffs rise"));
        assert_eq!(terms("Briefing: tariffs rise"), terms("tariffs rise"));
        assert_ne!(terms("Tariffs rise"), terms("Tariffs fall"));
    }

    #[test]
    fn unknown_capitalized_words_in_title_case_headlines_are_names() {
        let f = features("Ukraine Downs Kinzhal Missiles Over Kyiv", "");
        let kinzhal = term_of_word("kinzhal").unwrap();
        let downs = term_of_word("downs").unwrap();
        let flag = |t: u32| f.terms().find(|(h, _)| *h == t).map(|(_, w)| w & ENTITY);
        assert_eq!(flag(kinzhal), Some(ENTITY));
        assert_eq!(flag(downs), Some(0));
    }

    #[test]
    fn features_round_trip_through_bytes() {
        let f = features("A title with Names", "and a summary");
        assert_eq!(Features::from_bytes(&f.to_bytes()), f);
    }
}
