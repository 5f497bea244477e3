//! Micro-benchmarks of the pipeline stages: `cargo bench` (or `cargo bench -- match` for one).
//!
//! Each stage runs several times; the median is reported. Inputs are generated deterministically,
//! so runs compare. Stages: topic matching with 10, 100 and 1,000 topics over 10,000 items;
//! parse+normalize of a generated RSS document (MB/s and µs per item); storing items in
//! per-feed transactions (items/s); and the dedup lookup of already-stored items.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::Utc;
use newshound::config::Synchronous;
use newshound::model::{Item, ItemKey, stable_hash};
use newshound::normalize::parse_feed;
use newshound::store::{FeedFacts, IngestPolicy, MatchedItem, PollOutcome, PollRecord, Store};
use newshound::topics::{Matcher, Scratch, TopicSpec};

const WORDS: &[&str] = &[
    "minister",
    "president",
    "summit",
    "talks",
    "election",
    "market",
    "shares",
    "bank",
    "rates",
    "inflation",
    "energy",
    "climate",
    "storm",
    "quake",
    "trade",
    "tariff",
    "export",
    "chip",
    "defense",
    "alliance",
    "court",
    "ruling",
    "parliament",
    "budget",
    "tax",
    "reform",
    "vaccine",
    "hospital",
    "company",
    "earnings",
    "merger",
    "rocket",
    "launch",
    "satellite",
    "police",
    "flood",
    "festival",
    "film",
    "sport",
    "visit",
    "plan",
    "schedule",
    "meeting",
    "treaty",
    "sanction",
    "protest",
    "strike",
    "city",
    "port",
];
/// Function words: frequent in text, never in topics.
const STOP: &[&str] = &[
    "the", "a", "of", "to", "in", "and", "for", "on", "with", "after", "before", "is", "was", "by",
];
const NAMES: &[&str] = &[
    "Ishiba",
    "Trump",
    "Xi",
    "Modi",
    "Macron",
    "Scholz",
    "Meloni",
    "Lula",
    "Albanese",
    "Putin",
    "Zelenskyy",
];

/// A tiny deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// A news-like vocabulary: the listed words plus 5,000 generated ones, drawn with a skew so a
/// few words are common and most are rare (as in real text).
struct Vocab {
    words: Vec<String>,
}

impl Vocab {
    fn new() -> Vocab {
        const SYL: &[&str] = &[
            "ka", "to", "ri", "men", "sa", "lo", "vi", "der", "an", "po", "gu", "ne", "sh", "ira",
            "tal", "mo", "ber", "zu",
        ];
        let mut r = Rng(0xdead_beef);
        let mut words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
        while words.len() < 50_000 {
            let n = 2 + r.below(4);
            words.push((0..n).map(|_| r.pick(SYL)).collect());
        }
        Vocab { words }
    }
    fn word(&self, r: &mut Rng) -> &str {
        // Square a uniform variable: index density falls off like a (mild) Zipf law.
        let u = (r.next() % 1_000_000) as f64 / 1_000_000.0;
        &self.words[((u * u) * self.words.len() as f64) as usize]
    }
    fn sentence(&self, r: &mut Rng, n: usize) -> String {
        let mut s: Vec<&str> = (0..n)
            .map(|i| {
                if i % 3 == 1 {
                    r.pick(STOP)
                } else {
                    self.word(r)
                }
            })
            .collect();
        let at = r.below(n);
        s[at] = r.pick(NAMES);
        s.join(" ")
    }
}

fn items(n: usize) -> Vec<(String, String)> {
    let v = Vocab::new();
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| (v.sentence(&mut r, 10), v.sentence(&mut r, 60)))
        .collect()
}

/// Watch-list topics over the same vocabulary: mostly two-word combinations, NEAR clauses,
/// prefixes and phrases, each matching a small share of items.
fn topics(n: usize) -> Vec<TopicSpec> {
    let v = Vocab::new();
    let mut r = Rng(42);
    (0..n)
        .map(|i| {
            let a = v.word(&mut r).to_owned();
            let b = v.word(&mut r).to_owned();
            let name = r.pick(NAMES);
            let query = match i % 4 {
                0 => format!("\"{a} {b}\" NEAR/6 ({name} OR \"prime minister\") -zzz{i}"),
                1 => format!("{a}* NEAR/5 {b}"),
                2 => format!("title:({a} OR {b}) {name} -summit"),
                _ => format!("({a} {b}) OR \"{b} {a}\""),
            };
            TopicSpec {
                name: format!("t{i}"),
                queries: vec![query],
                feeds: None,
                stem: None,
                lexicons: Default::default(),
            }
        })
        .collect()
}

/// As [`topics`], with the issue #14 features in every topic: half name the shipped lexicons
/// (`@leaders`, `@meeting_words`), and half of those ask for an event status
/// (`UPCOMING(...)`, which adds the two cue lexicons).
fn topics_with_lexicons(n: usize) -> Vec<TopicSpec> {
    let mut out = topics(n);
    for (i, t) in out.iter_mut().enumerate() {
        let q = &t.queries[0];
        t.queries[0] = match i % 4 {
            0 => format!("UPCOMING(@meeting_words) ({q})"),
            1 => format!("({q}) @leaders"),
            2 => format!("UPCOMING(@meeting_words NEAR/6 @leaders) ({q})"),
            _ => format!("({q}) -@officials"),
        };
    }
    out
}

/// Runs `f` `runs` times and returns the median duration.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn bench_match(filter: &str) {
    if !"match".contains(filter) && !filter.is_empty() {
        return;
    }
    let items = items(10_000);
    let sizes = [10, 100, 1_000];
    let mut matchers: Vec<Matcher> = sizes
        .iter()
        .map(|&n| Matcher::new(&topics(n)).expect("topics compile"))
        .collect();
    // The last: 100 topics using lexicons and event status.
    matchers.push(Matcher::new(&topics_with_lexicons(100)).expect("topics compile"));
    let mut scratch = Scratch::default();
    let mut hits = [0usize; 4];
    // The sizes take turns, round after round, so that a slow spell of a shared machine
    // weighs on all of them alike; each size's median over the rounds is reported.
    let mut times: [Vec<Duration>; 4] = Default::default();
    for _ in 0..15 {
        for (k, m) in matchers.iter().enumerate() {
            let t = Instant::now();
            hits[k] = 0;
            for (title, summary) in &items {
                hits[k] += black_box(m.match_item_with(&mut scratch, "feed", title, summary)).len();
            }
            times[k].push(t.elapsed());
        }
    }
    let medians: Vec<Duration> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect();
    for (k, n) in sizes.iter().chain([&100]).enumerate() {
        let d = medians[k];
        let with = if k == sizes.len() {
            " (lexicons, status)"
        } else {
            ""
        };
        println!(
            "match     {n:>5} topics{with} × {} items: {:>8.1} ms  {:>9.0} items/s  {:>5.2} µs/item  {:.2}× the 10-topic time  ({} matches)",
            items.len(),
            d.as_secs_f64() * 1e3,
            items.len() as f64 / d.as_secs_f64(),
            d.as_secs_f64() * 1e6 / items.len() as f64,
            d.as_secs_f64() / medians[0].as_secs_f64(),
            hits[k],
        );
    }
}

fn rss_doc(n: usize) -> String {
    let v = Vocab::new();
    let mut r = Rng(7);
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>b</title><link>https://b.example/</link>",
    );
    for i in 0..n {
        let body: String = (0..4)
            .map(|_| format!("&lt;p&gt;{}.&lt;/p&gt;", v.sentence(&mut r, 25)))
            .collect();
        s.push_str(&format!(
            "<item><title>{}</title><link>https://b.example/{i}?utm_source=x</link><guid>g{i}</guid><pubDate>Fri, 27 Nov 2026 00:00:00 +0000</pubDate><description>{body}</description></item>",
            v.sentence(&mut r, 10)
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn bench_parse(filter: &str) {
    if !"parse".contains(filter) && !filter.is_empty() {
        return;
    }
    let doc = rss_doc(50);
    let d = median(21, || {
        black_box(parse_feed(doc.as_bytes(), None, None, Utc::now()).expect("parses"));
    });
    println!(
        "parse     rss 2.0, 50 items, {} KB: {:>7.3} ms  {:>6.1} MB/s  {:>5.1} µs/item",
        doc.len() / 1024,
        d.as_secs_f64() * 1e3,
        doc.len() as f64 / d.as_secs_f64() / 1e6,
        d.as_secs_f64() * 1e6 / 50.0
    );
}

fn record(feed: usize, items: Vec<Item>) -> PollRecord {
    PollRecord {
        feed: format!("feed{feed}"),
        url: format!("https://f{feed}.example/rss"),
        at: Utc::now(),
        facts: FeedFacts {
            etag: Some("\"e\"".into()),
            ..FeedFacts::default()
        },
        outcome: PollOutcome::Fetched {
            status: 200,
            permanent_redirect: None,
            title: None,
            warning: None,
            items: items
                .into_iter()
                .map(|item| MatchedItem {
                    features: newshound::stories::features(&item.title, &item.summary),
                    item,
                    matches: vec![],
                })
                .collect(),
        },
    }
}

fn feed_items(feed: usize, n: usize, r: &mut Rng) -> Vec<Item> {
    let v = Vocab::new();
    (0..n)
        .map(|i| {
            let title = v.sentence(r, 10);
            let summary = v.sentence(r, 80);
            Item {
                key: ItemKey::Guid(format!("f{feed}-{i}")),
                url: Some(format!("https://n{feed}.example/{i}")),
                canonical_url: Some(format!("https://n{feed}.example/{i}")),
                url_key: url::Url::parse(&format!("https://n{feed}.example/{i}"))
                    .ok()
                    .map(|u| newshound::stories::url_key(&u)),
                content_hash: stable_hash(&[&title, &summary]),
                title,
                summary,
                content: None,
                published: Some(Utc::now()),
                updated: None,
                authors: vec![],
                categories: vec![],
            }
        })
        .collect()
}

fn bench_store(filter: &str) {
    if !"store".contains(filter) && !filter.is_empty() {
        return;
    }
    let policy = IngestPolicy {
        max_age: None,
        ..IngestPolicy::default()
    };
    let mut r = Rng(99);
    // Records (items, features) are built before the clock starts: this times the store alone.
    let records: Vec<PollRecord> = (0..200)
        .map(|f| record(f, feed_items(f, 50, &mut r)))
        .collect();
    let dir = std::env::temp_dir().join(format!("newshound-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir.join("b.db"), Synchronous::Normal).expect("store opens");
    let t = Instant::now();
    for rec in &records {
        store.record_poll(rec, policy).expect("stores");
    }
    let d = t.elapsed();
    println!(
        "store     200 feeds × 50 new items, one transaction per feed: {:>7.1} ms  {:>8.0} items/s",
        d.as_secs_f64() * 1e3,
        10_000.0 / d.as_secs_f64()
    );
    let t = Instant::now();
    for rec in &records {
        store.record_poll(rec, policy).expect("stores");
    }
    let d = t.elapsed();
    println!(
        "dedup     200 feeds × 50 known items (lookup, no writes but feed state): {:>7.1} ms  {:>5.1} µs/item",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e6 / 10_000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Story assignment as the database grows: the cost of storing 1,000 new items (dedup, story
/// candidates from the term index, similarity, insert) with 10k, 100k and 1M items already stored,
/// spread over the last 7 days. Flat figures mean the index, not a scan, finds candidates.
fn bench_stories(filter: &str) {
    if !"stories".contains(filter) && !filter.is_empty() {
        return;
    }
    let policy = IngestPolicy {
        max_age: None,
        ..IngestPolicy::default()
    };
    let mut r = Rng(1234);
    let dir = std::env::temp_dir().join(format!("newshound-bench-stories-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = Store::open(&dir.join("s.db"), Synchronous::Normal).expect("store opens");
    let mut stored = 0usize;
    let sizes: &[usize] = if std::env::var_os("NEWSHOUND_BENCH_QUICK").is_some() {
        &[10_000, 100_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    let mut feed = 0usize;
    for &target in sizes {
        let build = Instant::now();
        while stored < target {
            let mut items = feed_items(feed, 500, &mut r);
            // A steady 10,000 items a day, oldest first: a bigger database is a longer history,
            // not a busier window (the 48 h window holds about 20,000 items at every size).
            for (i, it) in items.iter_mut().enumerate() {
                let age_secs = ((target - stored - i) as i64) * 86_400 / 10_000;
                it.published = Some(Utc::now() - chrono::Duration::seconds(age_secs));
            }
            store
                .record_poll(&record(feed, items), policy)
                .expect("stores");
            stored += 500;
            feed += 1;
        }
        let built = build.elapsed();
        // Generating items and their features happens before the clock starts.
        let batches: Vec<_> = (0..2)
            .map(|i| record(feed + i, feed_items(feed + i, 500, &mut r)))
            .collect();
        feed += 2;
        let t = Instant::now();
        for b in &batches {
            store.record_poll(b, policy).expect("stores");
        }
        let d = t.elapsed();
        stored += 1000;
        println!(
            "stories   {:>8} items stored: {:>6.1} µs per new item (dedup + story + insert)   [built in {:.1}s]",
            target,
            d.as_secs_f64() * 1e6 / 1000.0,
            built.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench -- NAME` runs the stages whose name contains NAME.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    bench_match(&filter);
    bench_parse(&filter);
    bench_store(&filter);
    bench_stories(&filter);
    bench_outbox(&filter);
}

/// The outbox's cost on the writer: storing 1,000 new items that each alert, with no sink, with
/// one and with three (each alert queues a row per sink: its JSON body, its key, the story's
/// sources); then recording each delivery's outcome (what the worker asks of the writer per
/// send). Fresh databases, interleaved, medians of 5.
fn bench_outbox(filter: &str) {
    if !"outbox".contains(filter) && !filter.is_empty() {
        return;
    }
    use newshound::config::{SinkConfig, SinkKind};
    use newshound::store::{AlertCandidate, DeliveryUpdate, OutboxRoutes};
    let policy = IngestPolicy {
        max_age: None,
        ..IngestPolicy::default()
    };
    let mut r = Rng(16);
    let records: Vec<PollRecord> = (0..20)
        .map(|f| {
            let mut rec = record(f, feed_items(f, 50, &mut r));
            if let PollOutcome::Fetched { items, .. } = &mut rec.outcome {
                for mi in items {
                    mi.matches = vec![AlertCandidate {
                        topic: "watched".into(),
                        query_index: 0,
                        terms: vec!["summit".into()],
                        field: "title".into(),
                        snippet: mi.item.title.chars().take(120).collect(),
                    }];
                }
            }
            rec
        })
        .collect();
    let sink = |name: &str| SinkConfig {
        name: name.into(),
        kind: SinkKind::Exec {
            argv: vec!["true".into()],
        },
        topics: None,
        timeout: Duration::from_secs(10),
        concurrency: 4,
        retry_min: Duration::from_secs(30),
        retry_max: Duration::from_secs(3600),
        give_up_after: Duration::from_secs(86400),
        digest: None,
        time_zone: newshound::config::Zone::Local,
        max_per_hour: None,
        per_topic: Default::default(),
    };
    let configs = [
        vec![],
        vec![sink("a")],
        vec![sink("a"), sink("b"), sink("c")],
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); 4];
    let dir = std::env::temp_dir().join(format!("newshound-bench-outbox-{}", std::process::id()));
    for run in 0..5 {
        for (i, sinks) in configs.iter().enumerate() {
            let _ = std::fs::remove_dir_all(&dir);
            let mut store = Store::open(&dir.join(format!("o{run}{i}.db")), Synchronous::Normal)
                .expect("opens");
            store.set_outbox_routes(OutboxRoutes::new(sinks));
            let t = Instant::now();
            let mut alerts = 0;
            for rec in &records {
                alerts += store.record_poll(rec, policy).expect("stores").alerts.len();
            }
            times[i].push(t.elapsed().as_secs_f64() * 1e6 / alerts as f64);
            if i == 1 {
                let (due, _) = store
                    .outbox_due("a", i64::MAX, 100_000, &[])
                    .expect("reads");
                let t = Instant::now();
                for d in &due {
                    store
                        .outbox_update(&DeliveryUpdate::Sent { id: d.id, at: 1 })
                        .expect("updates");
                }
                times[3].push(t.elapsed().as_secs_f64() * 1e6 / due.len().max(1) as f64);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (none, one, three, done) = (
        med(&mut times[0]),
        med(&mut times[1]),
        med(&mut times[2]),
        med(&mut times[3]),
    );
    println!(
        "outbox    1,000 alerting items: {none:.1} µs/alert without sinks, {one:.1} with one (+{:.1}), {three:.1} with three (+{:.1}); an outcome recorded: {done:.1} µs",
        one - none,
        three - none
    );
}
