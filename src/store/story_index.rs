//! The story index: which stored items are the same story, kept so that the answer depends only
//! on the items, never on the order they came in.
//!
//! The writer keeps every item of the covered time span in memory: its [`Features`], its own
//! date (published, else first seen: the *items'* clock, never the wall clock), its feed, and its
//! links — the pairs whose [`score`](crate::stories::score) links them. Stories are then defined
//! on the set of items alone:
//!
//! 1. two items are *linked* when their pair score reaches its threshold; the links form a
//!    graph, and its connected components only ever grow as items arrive;
//! 2. within a component, stories are average-link clusters: starting from single items in
//!    date order, the two clusters with the highest mean pair score are merged while that mean
//!    reaches [`AVERAGE_LINK`] and some pair between them is linked;
//! 3. a story's headline is its earliest item (ties by a hash of its URL).
//!
//! A new item is scored against the candidates that share key terms with it within the window
//! of *its* date; if it links to anything, its component is clustered again from scratch, so a
//! late arrival can split, merge or re-head stories near its date. Story ids are reused where a
//! cluster keeps most of a story (and does not start later than it did), else a new id is taken.
//!
//! What memory covers: every item dated at or after `covered_from`. An item older than that
//! (a backfill, a late feed) first reads the span it needs back from the database, with the
//! links among it; the span before `clock − KEEP` (clock: the newest item date seen) is
//! dropped from memory now and then. A restart reads the last `KEEP` before the newest date.

use rusqlite::{Connection, params};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::stories::{
    CONFIDENT_THRESHOLD, Context, Features, KEY_TERMS, Score, Tier, key_terms, score_weighed,
    weights,
};

/// The mean pair score at which two clusters of one component merge into one story.
pub const AVERAGE_LINK: f64 = 0.15;
/// Most items in a component clustered again from scratch (the clustering is cubic). A bigger
/// one (a feed posting one template over and over) is joined greedily instead: the new item goes
/// to the story of its best link, and order independence no longer holds for it.
const MAX_COMPONENT: usize = 64;
/// Most postings read per key term (the nearest in time first).
const PER_TERM: usize = 64;
/// Most candidates scored per new item.
const CANDIDATES: usize = 48;
/// Items between two looks at what memory can drop.
const PRUNE_EVERY: u32 = 4096;
/// How far back memory extends when an older item needs the database.
const EXTEND_SECS: i64 = 7 * 86_400;

/// One item in memory.
struct Member {
    at: i64,
    feed: i64,
    /// Breaks ties between items of one date: a hash of the URL key (else the content hash),
    /// the same whichever feed or order brought the item.
    order: u64,
    features: Features,
    /// The features' weights ([`weights`]), so a comparison looks nothing up.
    weights: Box<[f32]>,
    story: i64,
    /// (other item, pair score) for every linked pair.
    links: Vec<(u32, f32)>,
    /// Read back from the database, links not yet found: they are looked for when a walk over
    /// links first reaches the item, so a restart reads features without scoring every pair.
    unlinked: bool,
}

#[derive(Default)]
pub(crate) struct StoryIndex {
    members: FxHashMap<u32, Member>,
    /// Key term → (date, item), sorted by date.
    postings: FxHashMap<u32, Vec<(i64, u32)>>,
    /// Every item dated from here on is in memory; `None` until loaded.
    covered_from: Option<i64>,
    /// The newest item date seen.
    clock: i64,
    since_prune: u32,
    /// Scratch for counting shared key terms per candidate, kept between items (growing a fresh
    /// map for every item was 5% of a cold run's CPU).
    tally: FxHashMap<u32, u8>,
    window: i64,
    threshold: f64,
    pub(super) next_ids: super::NextIds,
}

/// A new item, as the index needs it.
pub(crate) struct NewItem<'a> {
    pub id: i64,
    pub at: i64,
    pub feed: i64,
    pub order: u64,
    pub features: &'a Features,
}

/// The story a new item goes to, and the reason shown by `stories --explain`.
pub(crate) struct Placed {
    pub story: i64,
    pub reason: String,
}

impl StoryIndex {
    /// Forgets everything (after a rolled-back write): the next use reloads from the database.
    pub(super) fn invalidate(&mut self) {
        *self = StoryIndex {
            next_ids: self.next_ids,
            ..StoryIndex::default()
        };
    }

    /// Every item dated from here on is in memory (`None`: nothing loaded yet).
    pub(super) fn covered_from(&self) -> Option<i64> {
        self.covered_from
    }

    fn keep(&self) -> i64 {
        self.window + 86_400
    }

    /// Makes sure memory covers `[at − window, ∞)`, reading from the database what it lacks.
    fn ensure(
        &mut self,
        tx: &Connection,
        at: i64,
        window: i64,
        threshold: f64,
    ) -> rusqlite::Result<()> {
        if self.window != window || self.threshold.to_bits() != threshold.to_bits() {
            self.invalidate();
            self.window = window;
            self.threshold = threshold;
        }
        let from = match self.covered_from {
            Some(from) if at - window >= from => return Ok(()),
            Some(from) => {
                let lo = (at - window).min(from - EXTEND_SECS);
                self.load(tx, lo, Some(from))?;
                lo
            }
            None => {
                let newest: Option<i64> =
                    tx.query_row("SELECT max(last_at) FROM stories", [], |r| r.get(0))?;
                let newest = newest.unwrap_or(at).max(at);
                let lo = (newest - self.keep()).min(at - window);
                self.load(tx, lo, None)?;
                self.clock = self.clock.max(newest);
                lo
            }
        };
        self.covered_from = Some(from);
        Ok(())
    }

    /// Reads the items dated in `[lo, hi)` (`hi` open-ended when `None`) with their stories,
    /// and links them as they were linked when stored.
    fn load(&mut self, tx: &Connection, lo: i64, hi: Option<i64>) -> rusqlite::Result<()> {
        let hi = hi.unwrap_or(i64::MAX);
        let mut stmt = tx.prepare(
            "SELECT i.id, min(coalesce(i.published_at, i.updated_at, i.first_seen_at), i.first_seen_at) AS at, i.first_feed_id,
                    i.url_key, i.content_hash, i.story_id, f.features
             FROM stories st JOIN items i ON i.story_id = st.id JOIN item_features f ON f.item_id = i.id
             WHERE st.last_at >= ?1 AND st.started_at < ?2",
        )?;
        let mut loaded: Vec<(u32, Member)> = Vec::new();
        let mut rows = stmt.query(params![lo, hi])?;
        while let Some(r) = rows.next()? {
            let at: i64 = r.get(1)?;
            let Ok(id) = u32::try_from(r.get::<_, i64>(0)?) else {
                continue;
            };
            if at < lo || at >= hi || self.members.contains_key(&id) {
                continue;
            }
            let url_key: Option<String> = r.get(3)?;
            let features = Features::from_bytes(r.get_ref(6)?.as_blob().unwrap_or_default());
            loaded.push((
                id,
                Member {
                    at,
                    feed: r.get(2)?,
                    order: order_key(url_key.as_deref(), r.get(4)?),
                    features: features.clone(),
                    weights: weights(&features),
                    story: r.get(5)?,
                    links: Vec::new(),
                    unlinked: true,
                },
            ));
        }
        loaded.sort_by_key(|(id, m)| (m.at, m.order, *id));
        for (id, m) in loaded {
            self.insert(id, m, Vec::new());
        }
        Ok(())
    }

    /// The items already in memory that a new one links to, with their scores.
    fn links_of(&mut self, features: &Features, w: &[f32], at: i64, feed: i64) -> Vec<(u32, f32)> {
        let mut tally = std::mem::take(&mut self.tally);
        let links = self.links_counted(features, w, at, feed, &mut tally);
        tally.clear();
        self.tally = tally;
        links
    }

    fn links_counted(
        &self,
        features: &Features,
        w: &[f32],
        at: i64,
        feed: i64,
        tally: &mut FxHashMap<u32, u8>,
    ) -> Vec<(u32, f32)> {
        let keys = key_terms(features);
        let (from, to) = (at - self.window, at + self.window);
        for k in &keys {
            let Some(list) = self.postings.get(k) else {
                continue;
            };
            // The nearest in time first, both ways from the item's date.
            let mid = list.partition_point(|p| p.0 < at);
            let lo = list[..mid].partition_point(|p| p.0 < from);
            let hi = mid + list[mid..].partition_point(|p| p.0 <= to);
            let (mut before, mut after) = (list[lo..mid].iter().rev(), list[mid..hi].iter());
            let (mut b, mut a) = (before.next(), after.next());
            for _ in 0..PER_TERM {
                let take_before = match (b, a) {
                    (Some(x), Some(y)) => at - x.0 <= y.0 - at,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                let p = if take_before {
                    let p = b;
                    b = before.next();
                    p
                } else {
                    let p = a;
                    a = after.next();
                    p
                };
                if let Some(&(_, item)) = p {
                    *tally.entry(item).or_default() += 1;
                }
            }
        }
        // More than one shared key term for items with several.
        let need = if keys.len() >= 4 { 2 } else { 1 };
        let mut candidates: Vec<(u8, i64, u64, u32)> = tally
            .iter()
            .map(|(&item, &n)| (item, n))
            .filter(|&(_, n)| n >= need)
            .filter_map(|(item, n)| {
                let m = self.members.get(&item)?;
                Some((n, (m.at - at).abs(), m.order, item))
            })
            .collect();
        candidates.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        candidates.truncate(CANDIDATES);
        let me = Context { at, feed };
        candidates
            .into_iter()
            .filter_map(|(_, _, _, item)| {
                let m = self.members.get(&item)?;
                let s = score_weighed(
                    (features, w),
                    me,
                    (&m.features, &m.weights),
                    Context {
                        at: m.at,
                        feed: m.feed,
                    },
                    self.window,
                    self.threshold,
                );
                s.linked().then_some((item, s.total as f32))
            })
            .collect()
    }

    fn insert(&mut self, id: u32, m: Member, links: Vec<(u32, f32)>) {
        for &(other, s) in &links {
            if let Some(o) = self.members.get_mut(&other) {
                o.links.push((id, s));
            }
        }
        for k in key_terms(&m.features).into_iter().take(KEY_TERMS) {
            let list = self.postings.entry(k).or_default();
            let i = list.partition_point(|p| (p.0, p.1) <= (m.at, id));
            list.insert(i, (m.at, id));
        }
        self.clock = self.clock.max(m.at);
        self.members.insert(id, Member { links, ..m });
    }

    /// Is item `a` certainly the same news as item `b`: the same article, or a pair score of at
    /// least [`CONFIDENT_THRESHOLD`]? (False when either is not in memory.)
    pub(super) fn confidently_same(&self, a: i64, b: i64) -> bool {
        let pair = || {
            let a = self.members.get(&u32::try_from(a).ok()?)?;
            let b = self.members.get(&u32::try_from(b).ok()?)?;
            Some(self.score_members(a, b))
        };
        pair().is_some_and(|s| {
            s.tier == Tier::SameArticle || (s.linked() && s.total >= CONFIDENT_THRESHOLD)
        })
    }

    fn score_members(&self, a: &Member, b: &Member) -> Score {
        score_weighed(
            (&a.features, &a.weights),
            Context {
                at: a.at,
                feed: a.feed,
            },
            (&b.features, &b.weights),
            Context {
                at: b.at,
                feed: b.feed,
            },
            self.window,
            self.threshold,
        )
    }

    /// Places a new item: links it, clusters its component again, and writes every story
    /// change (items moved, stories started, re-headed or emptied). Returns the item's story;
    /// the caller inserts the item row with it.
    pub(super) fn place(
        &mut self,
        tx: &Connection,
        item: NewItem<'_>,
        window: i64,
        threshold: f64,
    ) -> rusqlite::Result<Placed> {
        self.ensure(tx, item.at, window, threshold)?;
        let Ok(id) = u32::try_from(item.id) else {
            let story = self.next_story();
            write_story(tx, story, item.id, item.at, item.at, 1)?;
            return Ok(Placed {
                story,
                reason: "first item".into(),
            });
        };
        let w = weights(item.features);
        let links = self.links_of(item.features, &w, item.at, item.feed);
        let alone = links.is_empty();
        let m = Member {
            at: item.at,
            feed: item.feed,
            order: item.order,
            features: item.features.clone(),
            weights: w,
            story: 0,
            links: Vec::new(),
            unlinked: false,
        };
        self.insert(id, m, links);
        let placed = if alone {
            let story = self.next_story();
            write_story(tx, story, item.id, item.at, item.at, 1)?;
            if let Some(me) = self.members.get_mut(&id) {
                me.story = story;
            }
            Placed {
                story,
                reason: "first item".into(),
            }
        } else {
            self.recluster(tx, id)?
        };
        self.since_prune += 1;
        if self.since_prune >= PRUNE_EVERY {
            self.since_prune = 0;
            self.prune();
        }
        Ok(placed)
    }

    /// Finds the links of an item read back from the database, on both sides.
    fn find_links(&mut self, x: u32) {
        let Some(m) = self.members.get(&x).filter(|m| m.unlinked) else {
            return;
        };
        let mut tally = std::mem::take(&mut self.tally);
        let found = self.links_counted(&m.features, &m.weights, m.at, m.feed, &mut tally);
        tally.clear();
        self.tally = tally;
        let found: Vec<(u32, f32)> = found.into_iter().filter(|l| l.0 != x).collect();
        for &(y, s) in &found {
            if let Some(o) = self.members.get_mut(&y)
                && !o.links.iter().any(|l| l.0 == x)
            {
                o.links.push((x, s));
            }
        }
        if let Some(m) = self.members.get_mut(&x) {
            for l in found {
                if !m.links.iter().any(|k| k.0 == l.0) {
                    m.links.push(l);
                }
            }
            m.unlinked = false;
        }
    }

    fn next_story(&mut self) -> i64 {
        let s = self.next_ids.story;
        self.next_ids.story += 1;
        s
    }

    /// Clusters the component of item `id` again and writes what changed.
    fn recluster(&mut self, tx: &Connection, id: u32) -> rusqlite::Result<Placed> {
        // The component: every item reachable over links.
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        let mut stack = vec![id];
        seen.insert(id);
        while let Some(x) = stack.pop() {
            if seen.len() > MAX_COMPONENT {
                break;
            }
            self.find_links(x);
            if let Some(m) = self.members.get(&x) {
                for &(y, _) in &m.links {
                    if self.members.contains_key(&y) && seen.insert(y) {
                        stack.push(y);
                    }
                }
            }
        }
        if seen.len() > MAX_COMPONENT {
            return self.join_best_link(tx, id);
        }
        let mut items: Vec<u32> = seen.into_iter().collect();
        items.sort_by_key(|x| {
            let m = &self.members[x];
            (m.at, m.order, *x)
        });
        let clusters = self.average_link(&items);
        // Old stories: their first date among these items (a story lies within one component).
        let mut old_start: FxHashMap<i64, i64> = FxHashMap::default();
        for x in &items {
            let m = &self.members[x];
            if *x != id {
                let e = old_start.entry(m.story).or_insert(m.at);
                *e = (*e).min(m.at);
            }
        }
        let mut taken: FxHashSet<i64> = FxHashSet::default();
        let mut placed = None;
        for cluster in clusters {
            let head = cluster[0];
            let start = self.members[&head].at;
            let last = cluster
                .iter()
                .map(|x| self.members[x].at)
                .max()
                .unwrap_or(start);
            // The old story most of the cluster was in, if free and not starting earlier.
            let mut votes: Vec<(usize, i64)> = Vec::new();
            for x in &cluster {
                if *x == id {
                    continue;
                }
                let s = self.members[x].story;
                match votes.iter_mut().find(|v| v.1 == s) {
                    Some(v) => v.0 += 1,
                    None => votes.push((1, s)),
                }
            }
            votes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let reuse = votes
                .iter()
                .map(|v| v.1)
                .find(|s| !taken.contains(s) && old_start.get(s).is_some_and(|&old| start <= old));
            let story = match reuse {
                Some(s) => s,
                None => self.next_story(),
            };
            taken.insert(story);
            write_story(
                tx,
                story,
                i64::from(head),
                start,
                last,
                cluster.len() as i64,
            )?;
            let head_changed = reuse.is_none()
                || self.members[&head].story != story
                || old_start.get(&story).is_some_and(|&old| old != start);
            for &x in &cluster {
                let moved = self.members[&x].story != story;
                if x != id && !moved && !head_changed {
                    continue;
                }
                let reason = self.reason(x, &cluster);
                if let Some(m) = self.members.get_mut(&x) {
                    m.story = story;
                }
                if x == id {
                    placed = Some(Placed {
                        story,
                        reason: reason.clone(),
                    });
                } else {
                    tx.prepare_cached(
                        "UPDATE items SET story_id = ?2, join_reason = ?3 WHERE id = ?1",
                    )?
                    .execute(params![i64::from(x), story, reason])?;
                }
            }
        }
        for s in old_start.keys() {
            if !taken.contains(s) {
                tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                    .execute(params![s])?;
            }
        }
        Ok(placed.unwrap_or_else(|| Placed {
            story: self.next_story(),
            reason: "first item".into(),
        }))
    }

    /// Puts item `id` in the story of its best-scoring link, as one more member.
    fn join_best_link(&mut self, tx: &Connection, id: u32) -> rusqlite::Result<Placed> {
        let best = self.members[&id]
            .links
            .iter()
            .filter_map(|&(y, s)| Some((s, self.members.get(&y)?.order, y)))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, _, other)) = best else {
            let story = self.next_story();
            let at = self.members[&id].at;
            write_story(tx, story, i64::from(id), at, at, 1)?;
            return Ok(Placed {
                story,
                reason: "first item".into(),
            });
        };
        let story = self.members[&other].story;
        if let Some(m) = self.members.get_mut(&id) {
            m.story = story;
        }
        // The story grows by one: read its row rather than walk a component this big.
        let (head, start, last, items): (i64, i64, i64, i64) = tx
            .prepare_cached(
                "SELECT headline_item_id, started_at, last_at, items FROM stories WHERE id = ?1",
            )?
            .query_row(params![story], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
        let me = &self.members[&id];
        let head_order = u32::try_from(head)
            .ok()
            .and_then(|h| self.members.get(&h))
            .map_or(u64::MAX, |m| m.order);
        let (head, start) = if (me.at, me.order) < (start, head_order) {
            (i64::from(id), me.at)
        } else {
            (head, start)
        };
        write_story(tx, story, head, start, last.max(me.at), items + 1)?;
        Ok(Placed {
            story,
            reason: format!(
                "{} (joined its best link: the story's links are too many to cluster again)",
                self.reason(id, &[other, id])
            ),
        })
    }

    /// Why item `x` is in `cluster` (its first element is the headline).
    fn reason(&self, x: u32, cluster: &[u32]) -> String {
        if cluster.first() == Some(&x) {
            return if cluster.len() == 1 {
                "first item".into()
            } else {
                "headline: the earliest item".into()
            };
        }
        let me = &self.members[&x];
        let best = cluster
            .iter()
            .filter(|&&y| y != x)
            .map(|y| (y, self.score_members(me, &self.members[y])))
            .max_by(|a, b| a.1.total.total_cmp(&b.1.total));
        let mean = mean_to(self, x, cluster);
        match best {
            Some((y, s)) => format!(
                "{} with item {y}; mean score to the story {mean:.2} (average link ≥ {AVERAGE_LINK:.2})",
                s.explain()
            ),
            None => "first item".into(),
        }
    }

    /// Average-link clusters of `items` (sorted by date), each sorted by date.
    fn average_link(&self, items: &[u32]) -> Vec<Vec<u32>> {
        let n = items.len();
        let index: FxHashMap<u32, usize> = items.iter().enumerate().map(|(i, x)| (*x, i)).collect();
        // Pair scores: the links' scores, and every other pair scored (below its bar, it still
        // counts in a mean).
        let mut sim = vec![0.0f64; n * n];
        let mut linked = vec![false; n * n];
        for (i, x) in items.iter().enumerate() {
            let m = &self.members[x];
            for &(y, s) in &m.links {
                if let Some(&j) = index.get(&y) {
                    sim[i * n + j] = f64::from(s);
                    linked[i * n + j] = true;
                }
            }
        }
        for i in 0..n {
            for j in (i + 1)..n {
                if !linked[i * n + j] {
                    let s = self
                        .score_members(&self.members[&items[i]], &self.members[&items[j]])
                        .total;
                    sim[i * n + j] = s;
                    sim[j * n + i] = s;
                }
            }
        }
        let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
        loop {
            let mut best: Option<(f64, usize, usize)> = None;
            for a in 0..clusters.len() {
                for b in (a + 1)..clusters.len() {
                    let (mut total, mut any_link) = (0.0, false);
                    for &i in &clusters[a] {
                        for &j in &clusters[b] {
                            total += sim[i * n + j];
                            any_link |= linked[i * n + j] || linked[j * n + i];
                        }
                    }
                    let mean = total / (clusters[a].len() * clusters[b].len()) as f64;
                    if any_link && mean >= AVERAGE_LINK && best.is_none_or(|(m, _, _)| mean > m) {
                        best = Some((mean, a, b));
                    }
                }
            }
            let Some((_, a, b)) = best else {
                break;
            };
            let merged = clusters.remove(b);
            clusters[a].extend(merged);
            clusters[a].sort_unstable();
        }
        clusters.sort_by_key(|c| c[0]);
        clusters
            .into_iter()
            .map(|c| c.into_iter().map(|i| items[i]).collect())
            .collect()
    }

    /// Drops what is older than `clock − KEEP` from memory.
    fn prune(&mut self) {
        let horizon = self.clock - self.keep();
        if self.covered_from.is_none_or(|from| from >= horizon) {
            return;
        }
        self.members.retain(|_, m| m.at >= horizon);
        let alive: FxHashSet<u32> = self.members.keys().copied().collect();
        for m in self.members.values_mut() {
            m.links.retain(|l| alive.contains(&l.0));
        }
        self.postings.retain(|_, list| {
            list.retain(|p| p.0 >= horizon);
            !list.is_empty()
        });
        self.covered_from = Some(horizon);
    }
}

fn mean_to(index: &StoryIndex, x: u32, cluster: &[u32]) -> f64 {
    let me = &index.members[&x];
    let others: Vec<f64> = cluster
        .iter()
        .filter(|&&y| y != x)
        .map(|y| index.score_members(me, &index.members[y]).total)
        .collect();
    if others.is_empty() {
        0.0
    } else {
        others.iter().sum::<f64>() / others.len() as f64
    }
}

/// The tie-break between items of one date: the same whichever feed or order brought them.
pub(crate) fn order_key(url_key: Option<&str>, content_hash: i64) -> u64 {
    match url_key {
        Some(k) => crate::model::stable_hash(&[k]),
        None => content_hash as u64,
    }
}

fn write_story(
    tx: &Connection,
    story: i64,
    headline: i64,
    started_at: i64,
    last_at: i64,
    items: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO stories (id, headline_item_id, started_at, last_at, items) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET headline_item_id = ?2, started_at = ?3, last_at = ?4, items = ?5",
    )?
    .execute(params![story, headline, started_at, last_at, items])?;
    Ok(())
}
