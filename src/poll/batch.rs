//! `once`'s batch: every feed polled once, a window of them started at a time, hosts in turn.

use std::collections::HashMap;
use std::sync::Arc;

use super::{FeedReport, PollResult, Poller, Stored, Waits};
use crate::config::{FeedConfig, FeedSource};
use crate::error_class::ErrorClass;
use crate::store::{FeedFacts, FeedState};

/// Polls every feed once, concurrently within the configured limits.
pub async fn poll_all(poller: Arc<Poller>, feeds: &[FeedConfig]) -> Vec<FeedReport> {
    poll_all_observed(poller, feeds, |_| {}).await
}

/// [`poll_all`], calling `observe` with each report as its poll finishes (`once`'s progress).
pub async fn poll_all_observed(
    poller: Arc<Poller>,
    feeds: &[FeedConfig],
    mut observe: impl FnMut(&FeedReport),
) -> Vec<FeedReport> {
    // A poll's future is several KB; with 10,000 feeds, one task each from the start would hold
    // them all while they wait for a permit. A window of every slot and the fetch slots again
    // keeps every slot busy.
    let window = poller.window();
    // Hosts taken in turn, so that the window does not fill with one host's polls waiting for
    // its slots while other hosts' feeds are not even started.
    let order = by_host_in_turn(feeds);
    let mut out: Vec<Option<FeedReport>> = vec![None; feeds.len()];
    let mut set = tokio::task::JoinSet::new();
    // Feed states are read a window of feeds at a time, in one query each: a poll that asked
    // for its own would queue behind the commits of the polls before it, and reading them all
    // at once would hold every feed's state through the run (megabytes for 10,000 feeds).
    let mut states: HashMap<String, FeedState> = HashMap::new();
    let mut read_to = 0;
    let mut chunk_read = false;
    let mut next = 0;
    while next < order.len() {
        if set.len() >= window {
            let Some(r) = set.join_next().await else {
                break;
            };
            if let Ok((i, report)) = r {
                observe(&report);
                out[i] = Some(report);
            }
            continue;
        }
        if next >= read_to {
            read_to = (next + window).min(order.len());
            let names = order[next..read_to]
                .iter()
                .map(|&i| feeds[i].name.clone())
                .collect();
            states.clear();
            chunk_read = match poller.store.feed_states_named(names).await {
                Ok(found) => {
                    states.extend(found.into_iter().map(|s| (s.name.clone(), s)));
                    true
                }
                Err(_) => false, // each poll then asks for its own
            };
        }
        let i = order[next];
        let f = feeds[i].clone();
        let state = if chunk_read {
            Stored::Read(states.remove(&f.name))
        } else {
            Stored::Unread
        };
        let p = poller.clone();
        set.spawn(async move { (i, p.poll_known(&f, state).await) });
        next += 1;
    }
    while let Some(r) = set.join_next().await {
        if let Ok((i, report)) = r {
            observe(&report);
            out[i] = Some(report);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| FeedReport {
                feed: feeds[i].name.clone(),
                elapsed_ms: 0,
                result: PollResult::Failed {
                    class: ErrorClass::Internal,
                    http_status: None,
                    error: "the poll task panicked".into(),
                },
                facts: FeedFacts {
                    consecutive_failures: 1,
                    ..FeedFacts::default()
                },
                waits: Waits::default(),
            })
        })
        .collect()
}

/// The feeds' indices, one host's at a time in turn (each host's in their configured order;
/// files count as one host).
fn by_host_in_turn(feeds: &[FeedConfig]) -> Vec<usize> {
    let mut hosts: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<Option<&str>, usize> = HashMap::new();
    for (i, f) in feeds.iter().enumerate() {
        let host = match &f.source {
            FeedSource::Http(url) => url.host_str(),
            FeedSource::File(_) => None,
        };
        let h = *index.entry(host).or_insert_with(|| {
            hosts.push(Vec::new());
            hosts.len() - 1
        });
        hosts[h].push(i);
    }
    let mut order = Vec::with_capacity(feeds.len());
    let mut queues: Vec<_> = hosts.into_iter().map(Vec::into_iter).collect();
    while !queues.is_empty() {
        queues.retain_mut(|q| q.next().map(|i| order.push(i)).is_some());
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_take_turns_in_the_window() {
        let mut text = String::new();
        for (name, url) in [
            ("a1", "https://a.example/1"),
            ("a2", "https://a.example/2"),
            ("a3", "https://a.example/3"),
            ("b1", "https://b.example/1"),
            ("f1", "/tmp/feed.xml"),
            ("c1", "https://c.example/1"),
            ("b2", "https://b.example/2"),
        ] {
            text.push_str(&format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
        }
        let cfg = crate::config::load_str(&text, std::path::Path::new("t.toml")).unwrap();
        let names: Vec<&str> = by_host_in_turn(&cfg.feeds)
            .into_iter()
            .map(|i| cfg.feeds[i].name.as_str())
            .collect();
        assert_eq!(names, ["a1", "b1", "f1", "c1", "a2", "b2", "a3"]);
    }
}
