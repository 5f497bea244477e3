//! Scores item pairs of a labelled corpus with the story score, one JSON line per pair, for
//! choosing the score's parts and thresholds (see docs/quality.md):
//!
//! ```text
//! cargo run --example story_pairs -- ../shared/corpus > pairs.jsonl
//! ```
//!
//! Reads `items.jsonl` (id, title, summary, source, published) and `pairs.jsonl` (a, b, same)
//! and prints every judged pair with `same`, and every other pair of items within two days
//! (`same: null`), with the score's parts; with `--terms` after the directory, each item's
//! weighted terms instead.

use std::collections::HashMap;
use std::io::Write;

use newshound::stories::{Context, DEFAULT_THRESHOLD, features, score};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/corpus".into());
    let mut items = Vec::new();
    let mut words: HashMap<String, HashMap<u32, String>> = HashMap::new();
    let mut feeds: HashMap<String, i64> = HashMap::new();
    for line in std::fs::read_to_string(format!("{dir}/items.jsonl"))?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let n = feeds.len() as i64;
        let feed = *feeds.entry(s("source")).or_insert(n);
        let at = chrono::DateTime::parse_from_rfc3339(&s("published"))?.timestamp();
        let mut seen = HashMap::new();
        for w in format!("{} {}", s("title"), s("summary")).split(|c: char| !c.is_alphanumeric()) {
            if let Some((h, _)) = features(w, "").terms().next() {
                seen.entry(h).or_insert_with(|| w.to_lowercase());
            }
        }
        words.insert(s("id"), seen);
        items.push((
            s("id"),
            features(&s("title"), &s("summary")),
            Context { at, feed },
        ));
    }
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.0.as_str(), i))
        .collect();
    let mut judged: HashMap<(usize, usize), serde_json::Value> = HashMap::new();
    for line in std::fs::read_to_string(format!("{dir}/pairs.jsonl"))?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let (Some(&a), Some(&b)) = (
            index.get(v["a"].as_str().unwrap_or_default()),
            index.get(v["b"].as_str().unwrap_or_default()),
        ) {
            judged.insert((a.min(b), a.max(b)), v["same"].clone());
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if std::env::args().any(|a| a == "--terms") {
        // Each item's terms instead: [term, field weight, name?, background IDF], and a word
        // each term came from (term → word), for reading what two items share.
        for (id, f, c) in &items {
            let terms: Vec<serde_json::Value> = f
                .terms()
                .map(|(h, w)| {
                    serde_json::json!([h, w & 0x7f, w & 0x80 != 0, newshound::stories::idf(h)])
                })
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"id": id, "at": c.at, "feed": c.feed, "terms": terms,
                    "words": words.get(id)})
            )?;
        }
        return Ok(());
    }
    let window = 2 * 86_400;
    for a in 0..items.len() {
        for b in (a + 1)..items.len() {
            let same = judged
                .get(&(a, b))
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            if same.is_null() && (items[a].2.at - items[b].2.at).abs() > window {
                continue;
            }
            let s = score(
                &items[a].1,
                items[a].2,
                &items[b].1,
                items[b].2,
                window,
                DEFAULT_THRESHOLD,
            );
            writeln!(
                out,
                "{}",
                serde_json::json!({"a": items[a].0, "b": items[b].0, "same": same, "tier": s.tier.as_str(),
                    "total": s.total, "names": s.names, "content": s.content, "shared": s.shared_content,
                    "jaccard": s.jaccard, "hours": s.hours_apart, "same_feed": s.same_feed})
            )?;
        }
    }
    Ok(())
}
