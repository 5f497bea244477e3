//! How the story similarity threshold was chosen: clusters the labelled set in
//! `tests/fixtures/stories.json` the way the store scores (items in order; each joins the story
//! with the highest score, half its similarity to the headline and half the mean over the latest
//! three members, if at or above the threshold; every story is a candidate here, while the store
//! only scores stories sharing key terms) and prints pairwise precision and recall for a range of
//! thresholds.
//!
//! ```text
//! cargo run --release --example story_threshold               # cold: no term statistics yet
//! cargo run --release --example story_threshold -- --background   # after 300 unrelated items
//! ```

use newshound::stories::{Features, TermStats, features, similarity};

fn main() {
    let background = std::env::args().any(|a| a == "--background");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stories.json");
    let set: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let items: Vec<(String, Features)> = set["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["group"].as_str().unwrap_or("").to_owned(),
                features(
                    i["title"].as_str().unwrap_or(""),
                    i["summary"].as_str().unwrap_or(""),
                ),
            )
        })
        .collect();
    println!("threshold  precision  recall  (true/false positive pairs, missed pairs)");
    for step in 0..=10 {
        let threshold = 0.14 + 0.02 * f64::from(step);
        let mut stats = TermStats::default();
        if background {
            background_stats(&mut stats);
        }
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut story_of = Vec::new();
        for (i, (_, f)) in items.iter().enumerate() {
            stats.add(f);
            let mut best: Option<(usize, f64)> = None;
            for (s, m) in members.iter().enumerate() {
                // As the store scores: the headline counts half, the latest three members half.
                let headline = similarity(f, &items[m[0]].1, &stats);
                let latest: Vec<f64> = m[1..]
                    .iter()
                    .rev()
                    .take(3)
                    .map(|&j| similarity(f, &items[j].1, &stats))
                    .collect();
                let mean = if latest.is_empty() {
                    headline
                } else {
                    0.5 * headline + 0.5 * latest.iter().sum::<f64>() / latest.len() as f64
                };
                if mean >= threshold && best.is_none_or(|(_, b)| mean > b) {
                    best = Some((s, mean));
                }
            }
            match best {
                Some((s, _)) => {
                    members[s].push(i);
                    story_of.push(s);
                }
                None => {
                    members.push(vec![i]);
                    story_of.push(members.len() - 1);
                }
            }
        }
        let (mut tp, mut fp, mut missed) = (0, 0, 0);
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                match (items[i].0 == items[j].0, story_of[i] == story_of[j]) {
                    (true, true) => tp += 1,
                    (false, true) => fp += 1,
                    (true, false) => missed += 1,
                    _ => {}
                }
            }
        }
        let precision = f64::from(tp) / f64::from((tp + fp).max(1));
        let recall = f64::from(tp) / f64::from((tp + missed).max(1));
        println!("{threshold:9.2}  {precision:9.3}  {recall:6.3}  ({tp}/{fp}, {missed})");
    }
}

/// The same 300 background items the store's quality test ingests first.
fn background_stats(stats: &mut TermStats) {
    for (title, summary) in newshound::stories::background_text(300) {
        stats.add(&features(&title, &summary));
    }
}
