//! `max_per_hour`: how many alerts each sink (and each topic on it, `per_topic`) has sent one by
//! one in the last hour. An alert over a budget is held for the next digest instead of sent.
//!
//! The windows live in the delivery worker, by sink name, so a reload keeps them; at a start
//! each is read back from the outbox's sent rows of the last hour (`Store::outbox_sent_since`),
//! so a restart does not begin a fresh hour. A send takes from the budgets when it starts (so
//! sends in flight count) and gives back what it took when it fails: the window holds the
//! alerts sent or being sent, as the sent rows will after a restart. Pure: times are arguments.
//!
//! This is SQLite's, where one worker sends a sink's deliveries. On PostgreSQL, where several
//! daemons send from one outbox, the store's claim decides the same budgets instead, strictly
//! across daemons (`Budget::split` under a per-sink lock; docs/postgres.md), and these windows
//! are not used.

use std::collections::{HashMap, VecDeque};

use crate::config::SinkConfig;

const HOUR_MS: i64 = 3_600_000;

pub use crate::store::Over;

/// Every sink's window.
#[derive(Debug, Default)]
pub struct Budgets {
    sinks: HashMap<String, Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// Send start times (ms) of the last hour, oldest first: all the sink's, and by topic.
    all: VecDeque<i64>,
    by_topic: HashMap<String, VecDeque<i64>>,
}

fn expire(q: &mut VecDeque<i64>, now_ms: i64) {
    while q.front().is_some_and(|&t| t <= now_ms - HOUR_MS) {
        q.pop_front();
    }
}

impl Budgets {
    /// Has this sink's window not been read back from the store yet (in this process)?
    pub fn needs_seed(&self, sink: &str) -> bool {
        !self.sinks.contains_key(sink)
    }

    /// The window read back from the store: (topic, sent at) of the last hour.
    pub fn seed(&mut self, sink: &str, sent: &[(String, i64)]) {
        let mut w = Window::default();
        let mut sent = sent.to_vec();
        sent.sort_by_key(|s| s.1);
        for (topic, at) in sent {
            w.all.push_back(at);
            w.by_topic.entry(topic).or_default().push_back(at);
        }
        self.sinks.insert(sink.to_owned(), w);
    }

    /// Takes one send of `topic` from the sink's budgets at `now_ms`, or says which is spent
    /// (and then takes nothing).
    pub fn take(&mut self, cfg: &SinkConfig, topic: &str, now_ms: i64) -> Result<(), Over> {
        let topic_max = cfg.topic_budget(topic);
        if cfg.max_per_hour.is_none() && topic_max.is_none() {
            // Still counted where the sink has a window (it had a budget), so that a reload
            // setting one again finds the hour as it was.
            if let Some(w) = self.sinks.get_mut(&cfg.name) {
                expire(&mut w.all, now_ms);
                w.all.push_back(now_ms);
                let q = w.by_topic.entry(topic.to_owned()).or_default();
                expire(q, now_ms);
                q.push_back(now_ms);
            }
            return Ok(());
        }
        let w = self.sinks.entry(cfg.name.clone()).or_default();
        expire(&mut w.all, now_ms);
        if let Some(max) = cfg.max_per_hour
            && w.all.len() >= max as usize
        {
            return Err(Over::Sink(max));
        }
        let q = w.by_topic.entry(topic.to_owned()).or_default();
        expire(q, now_ms);
        if let Some(max) = topic_max
            && q.len() >= max as usize
        {
            return Err(Over::Topic(max));
        }
        q.push_back(now_ms);
        w.all.push_back(now_ms);
        Ok(())
    }

    /// A send taken at `at_ms` failed: it did not spend the budget.
    pub fn give_back(&mut self, sink: &str, topic: &str, at_ms: i64) {
        let Some(w) = self.sinks.get_mut(sink) else {
            return;
        };
        let remove = |q: &mut VecDeque<i64>| {
            if let Some(i) = q.iter().rposition(|&t| t == at_ms) {
                q.remove(i);
            }
        };
        remove(&mut w.all);
        if let Some(q) = w.by_topic.get_mut(topic) {
            remove(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TopicDelivery, TopicMode};

    fn sink(max: Option<u32>, per_topic: &[(&str, u32)]) -> SinkConfig {
        let mut s = crate::config::test_sink("s");
        s.max_per_hour = max;
        s.per_topic = per_topic
            .iter()
            .map(|(t, n)| {
                (
                    t.to_string(),
                    TopicDelivery {
                        mode: TopicMode::AsSink,
                        max_per_hour: Some(*n),
                    },
                )
            })
            .collect();
        s
    }

    #[test]
    fn the_sink_and_each_topic_have_their_own_hour() {
        let cfg = sink(Some(3), &[("noisy", 1)]);
        let mut b = Budgets::default();
        assert_eq!(b.take(&cfg, "noisy", 0), Ok(()));
        assert_eq!(b.take(&cfg, "noisy", 10), Err(Over::Topic(1)));
        assert_eq!(b.take(&cfg, "calm", 20), Ok(()));
        assert_eq!(b.take(&cfg, "calm", 30), Ok(()));
        assert_eq!(b.take(&cfg, "calm", 40), Err(Over::Sink(3)));
        // An hour after the first send, one slot is free again; the topic's too.
        assert_eq!(b.take(&cfg, "noisy", HOUR_MS), Ok(()));
        assert_eq!(b.take(&cfg, "calm", HOUR_MS + 1), Err(Over::Sink(3)));
    }

    #[test]
    fn a_failed_send_gives_its_budget_back() {
        let cfg = sink(Some(1), &[]);
        let mut b = Budgets::default();
        assert_eq!(b.take(&cfg, "t", 5), Ok(()));
        assert_eq!(b.take(&cfg, "t", 6), Err(Over::Sink(1)));
        b.give_back("s", "t", 5);
        assert_eq!(b.take(&cfg, "t", 7), Ok(()));
    }

    #[test]
    fn a_window_read_back_at_a_start_is_spent_already() {
        let cfg = sink(Some(2), &[("noisy", 1)]);
        let mut b = Budgets::default();
        assert!(b.needs_seed("s"));
        b.seed("s", &[("noisy".into(), 1_000), ("calm".into(), 500)]);
        assert!(!b.needs_seed("s"));
        assert_eq!(b.take(&cfg, "calm", 2_000), Err(Over::Sink(2)));
        // The older send leaves the window first.
        assert_eq!(b.take(&cfg, "calm", 500 + HOUR_MS), Ok(()));
        assert_eq!(b.take(&cfg, "noisy", 600 + HOUR_MS), Err(Over::Sink(2)));
        assert_eq!(b.take(&cfg, "noisy", 1_000 + HOUR_MS), Ok(()));
    }

    #[test]
    fn sends_without_a_budget_still_count_once_the_sink_had_one() {
        let mut b = Budgets::default();
        b.seed("s", &[]);
        // A reload took the budget away, then set it again.
        assert_eq!(b.take(&sink(None, &[]), "t", 1), Ok(()));
        assert_eq!(b.take(&sink(Some(1), &[]), "t", 2), Err(Over::Sink(1)));
    }

    #[test]
    fn a_sink_without_budgets_always_sends() {
        let cfg = sink(None, &[]);
        let mut b = Budgets::default();
        for t in 0..1000 {
            assert_eq!(b.take(&cfg, "t", t), Ok(()));
        }
    }
}
