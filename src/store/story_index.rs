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
//!    reaches [`AVERAGE_LINK`](crate::stories::cluster::AVERAGE_LINK) and some pair between them is linked;
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

use rustc_hash::{FxHashMap, FxHashSet};

use super::story_db::StoryDb;
use crate::stories::cluster::{self, AVERAGE_LINK, Pairs};
use crate::stories::{
    CONFIDENT_THRESHOLD, Context, Features, KEY_TERMS, Probe, Score, Tier, Weighed, score_weighed,
};

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
    id: u32,
    at: i64,
    feed: i64,
    /// Breaks ties between items of one date: a hash of the URL key (else the content hash),
    /// the same whichever feed or order brought the item.
    order: u64,
    /// The item's terms with their weights, so a comparison looks nothing up.
    weighed: Weighed,
    story: i64,
    /// (other item's slot, pair score) for every linked pair.
    links: Vec<(u32, f32)>,
    /// Read back from the database, links not yet found: they are looked for when a walk over
    /// links first reaches the item, so a restart reads features without scoring every pair.
    unlinked: bool,
}

impl Member {
    fn context(&self) -> Context {
        Context {
            at: self.at,
            feed: self.feed,
        }
    }
}

/// A key term's posting: an item (by slot) and its date, in seconds clamped to `u32` (8 bytes
/// a posting; a clamped date only widens the window, and the score checks the real dates).
#[derive(Clone, Copy)]
struct Posting {
    at: u32,
    slot: u32,
}

fn clamped(at: i64) -> u32 {
    at.clamp(0, i64::from(u32::MAX)) as u32
}

#[derive(Default)]
pub(crate) struct StoryIndex {
    /// Items in memory by slot: links and postings name items by slot, so counting shared key
    /// terms is an array walk, not hash lookups.
    members: Vec<Option<Member>>,
    /// Item id → slot.
    slot_of: FxHashMap<u32, u32>,
    /// Slots freed by pruning, to reuse.
    free: Vec<u32>,
    /// How many key terms the item in each slot is indexed under: read for every item a walk
    /// over postings reaches, so kept apart from the items themselves.
    key_counts: Vec<u8>,
    /// Key term → postings, sorted by (date, slot).
    postings: FxHashMap<u32, Vec<Posting>>,
    /// Every item dated from here on is in memory; `None` until loaded.
    covered_from: Option<i64>,
    /// The newest item date seen.
    clock: i64,
    since_prune: u32,
    /// Shared key terms counted per slot, kept between items: each count is stamped with the
    /// item it counts for (`generation`, the high 24 bits; the count is the low 8), so a new
    /// item starts from zero without resetting what the last one counted.
    tally: Vec<u32>,
    generation: u32,
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

    fn member(&self, slot: u32) -> &Member {
        match self.members.get(slot as usize) {
            Some(Some(m)) => m,
            // Links and postings are dropped with their item: a dangling slot is a bug.
            _ => unreachable!("story index: no item in slot {slot}"),
        }
    }

    fn member_mut(&mut self, slot: u32) -> Option<&mut Member> {
        self.members.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Makes sure memory covers `[at − window, ∞)`, reading from the database what it lacks.
    fn ensure<D: StoryDb>(
        &mut self,
        tx: &mut D,
        at: i64,
        window: i64,
        threshold: f64,
    ) -> Result<(), D::Error> {
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
                let newest = tx.newest_story()?;
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

    /// Reads the items dated in `[lo, hi)` (`hi` open-ended when `None`) with their stories;
    /// their links are found when first reached.
    fn load<D: StoryDb>(&mut self, tx: &mut D, lo: i64, hi: Option<i64>) -> Result<(), D::Error> {
        let hi = hi.unwrap_or(i64::MAX);
        let mut loaded: Vec<Member> = Vec::new();
        tx.story_members(lo, hi, &mut |r| {
            let at = r.at;
            let Ok(id) = u32::try_from(r.id) else {
                return;
            };
            if at < lo || at >= hi || self.slot_of.contains_key(&id) {
                return;
            }
            let features = Features::from_bytes(r.features);
            loaded.push(Member {
                id,
                at,
                feed: r.first_feed,
                order: order_key(r.url_key.as_deref(), r.content_hash),
                weighed: Weighed::new(&features),
                story: r.story,
                links: Vec::new(),
                unlinked: true,
            });
        })?;
        loaded.sort_by_key(|m| (m.at, m.order, m.id));
        for m in loaded {
            let keys = m.weighed.key_terms();
            self.insert(m, &keys, Vec::new());
        }
        Ok(())
    }

    /// The items already in memory that an item (`weighed`, with its `keys`) links to, with
    /// their scores; `me` is its own slot when it is in memory already.
    fn links_of(
        &mut self,
        weighed: &Weighed,
        keys: &[u32],
        at: i64,
        feed: i64,
        me: Option<u32>,
    ) -> Vec<(u32, f32)> {
        let mut tally = std::mem::take(&mut self.tally);
        tally.resize(self.members.len(), 0);
        self.generation = (self.generation + 1) & 0x00ff_ffff;
        if self.generation == 0 {
            tally.fill(0);
            self.generation = 1;
        }
        let links = self.links_counted(weighed, keys, at, feed, me, &mut tally);
        self.tally = tally;
        links
    }

    #[allow(clippy::too_many_arguments)]
    fn links_counted(
        &self,
        weighed: &Weighed,
        keys: &[u32],
        at: i64,
        feed: i64,
        me: Option<u32>,
        tally: &mut [u32],
    ) -> Vec<(u32, f32)> {
        let candidates = self.candidates(keys, at, me, tally, self.generation);
        if candidates.is_empty() {
            return Vec::new();
        }
        let probe = Probe::new(weighed);
        let here = Context { at, feed };
        candidates
            .into_iter()
            .filter_map(|slot| {
                let m = self.member(slot);
                let s = probe.score(here, &m.weighed, m.context(), self.window, self.threshold);
                s.linked().then_some((slot, s.total as f32))
            })
            .collect()
    }

    /// The items an item dated `at` with `keys` is scored against: those among the
    /// [`PER_TERM`] postings nearest in time of each key term, within the window, that share
    /// enough key terms with it ([`shared_keys_needed`]); most shared first, then the nearest
    /// in time, at most [`CANDIDATES`]. Counts shared key terms in `tally` (by slot), stamped
    /// with `generation`: a count with another stamp is zero.
    fn candidates(
        &self,
        keys: &[u32],
        at: i64,
        me: Option<u32>,
        tally: &mut [u32],
        generation: u32,
    ) -> Vec<u32> {
        let (from, mid_at, to) = (
            clamped(at - self.window),
            clamped(at),
            clamped(at + self.window),
        );
        // Look every list up before walking any: their first cache misses overlap.
        let mut lists: [&[Posting]; KEY_TERMS] = [&[]; KEY_TERMS];
        let mut n_lists = 0;
        for k in keys {
            if let (Some(list), Some(slot)) = (self.postings.get(k), lists.get_mut(n_lists)) {
                *slot = list.as_slice();
                n_lists += 1;
            }
        }
        // More than one shared key term when both items have several: decided by the pair,
        // not by which of the two came first, so that either finds the other. An item
        // qualifies when its count reaches what it needs; only then is it read (counts and
        // key-term counts are dense arrays).
        let mine = keys.len();
        let key_counts = &self.key_counts;
        let mut qualified: Vec<u32> = Vec::new();
        let mut count = |postings: &[Posting]| {
            for p in postings {
                let Some(t) = tally.get_mut(p.slot as usize) else {
                    continue;
                };
                if *t >> 8 != generation {
                    *t = generation << 8;
                }
                *t += 1;
                let n = *t & 0xff;
                let needed = || {
                    let theirs = key_counts.get(p.slot as usize).copied().unwrap_or(0);
                    shared_keys_needed(mine, theirs)
                };
                if n <= 2 && u32::from(needed()) == n {
                    qualified.push(p.slot);
                }
            }
        };
        for &list in &lists[..n_lists] {
            // The nearest in time, both ways from the item's date, within the window: one
            // search for the item's date (none when it is the newest, as in live news), and
            // the window's ends searched only among the cap's worth of postings either side.
            let mid = match list.last() {
                Some(last) if last.at < mid_at => list.len(),
                _ => list.partition_point(|p| p.at < mid_at),
            };
            let before = &list[mid.saturating_sub(PER_TERM)..mid];
            let before = &before[before.partition_point(|p| p.at < from)..];
            let after = &list[mid..(mid + PER_TERM).min(list.len())];
            let after = &after[..after.partition_point(|p| p.at <= to)];
            let (b, a) = nearest_split(before, after, mid_at);
            count(&before[before.len() - b..]);
            count(&after[..a]);
        }
        let mut candidates: Vec<(u8, i64, u64, u32)> = qualified
            .into_iter()
            .filter(|&slot| Some(slot) != me)
            .map(|slot| {
                let m = self.member(slot);
                let n = tally.get(slot as usize).map_or(0, |t| (t & 0xff) as u8);
                (n, (m.at - at).abs(), m.order, slot)
            })
            .collect();
        candidates.sort_unstable_by(|x, y| {
            y.0.cmp(&x.0)
                .then(x.1.cmp(&y.1))
                .then(x.2.cmp(&y.2))
                .then(self.member(x.3).id.cmp(&self.member(y.3).id))
        });
        candidates.truncate(CANDIDATES);
        candidates.into_iter().map(|c| c.3).collect()
    }

    /// Puts a member in memory with its links (and each linked item's link back) and its key
    /// terms' postings; returns its slot.
    fn insert(&mut self, m: Member, keys: &[u32], links: Vec<(u32, f32)>) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.members.push(None);
                (self.members.len() - 1) as u32
            }
        };
        for &(other, s) in &links {
            if let Some(o) = self.member_mut(other) {
                o.links.push((slot, s));
            }
        }
        let at = clamped(m.at);
        for &k in keys {
            let list = self.postings.entry(k).or_default();
            match list.last() {
                // Live news: the newest item goes last.
                Some(last) if (last.at, last.slot) > (at, slot) => {
                    let i = list.partition_point(|p| (p.at, p.slot) <= (at, slot));
                    list.insert(i, Posting { at, slot });
                }
                _ => list.push(Posting { at, slot }),
            }
        }
        self.clock = self.clock.max(m.at);
        self.slot_of.insert(m.id, slot);
        self.members[slot as usize] = Some(Member { links, ..m });
        if self.key_counts.len() < self.members.len() {
            self.key_counts.resize(self.members.len(), 0);
        }
        self.key_counts[slot as usize] = keys.len() as u8;
        slot
    }

    /// Is item `a` certainly the same news as item `b`: the same article, or a pair score of at
    /// least [`CONFIDENT_THRESHOLD`]? (False when either is not in memory.)
    pub(super) fn confidently_same(&self, a: i64, b: i64) -> bool {
        let pair = || {
            let a = *self.slot_of.get(&u32::try_from(a).ok()?)?;
            let b = *self.slot_of.get(&u32::try_from(b).ok()?)?;
            Some(self.score_members(self.member(a), self.member(b)))
        };
        pair().is_some_and(|s| {
            s.tier == Tier::SameArticle || (s.linked() && s.total >= CONFIDENT_THRESHOLD)
        })
    }

    fn score_members(&self, a: &Member, b: &Member) -> Score {
        score_weighed(
            &a.weighed,
            a.context(),
            &b.weighed,
            b.context(),
            self.window,
            self.threshold,
        )
    }

    /// Places a new item: links it, clusters its component again, and writes every story
    /// change (items moved, stories started, re-headed or emptied). Returns the item's story;
    /// the caller inserts the item row with it.
    pub(super) fn place<D: StoryDb>(
        &mut self,
        tx: &mut D,
        item: NewItem<'_>,
        window: i64,
        threshold: f64,
    ) -> Result<Placed, D::Error> {
        self.ensure(tx, item.at, window, threshold)?;
        let Ok(id) = u32::try_from(item.id) else {
            let story = self.next_story();
            write_story(tx, story, item.id, item.at, item.at, 1)?;
            return Ok(Placed {
                story,
                reason: "first item".into(),
            });
        };
        let weighed = Weighed::new(item.features);
        let keys = weighed.key_terms();
        let links = self.links_of(&weighed, &keys, item.at, item.feed, None);
        let alone = links.is_empty();
        let m = Member {
            id,
            at: item.at,
            feed: item.feed,
            order: item.order,
            weighed,
            story: 0,
            links: Vec::new(),
            unlinked: false,
        };
        let slot = self.insert(m, &keys, links);
        let placed = if alone {
            let story = self.next_story();
            write_story(tx, story, item.id, item.at, item.at, 1)?;
            if let Some(me) = self.member_mut(slot) {
                me.story = story;
            }
            Placed {
                story,
                reason: "first item".into(),
            }
        } else {
            self.recluster(tx, slot)?
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
        let m = self.member(x);
        if !m.unlinked {
            return;
        }
        let (weighed, at, feed) = (m.weighed.clone(), m.at, m.feed);
        let keys = weighed.key_terms();
        let found = self.links_of(&weighed, &keys, at, feed, Some(x));
        for &(y, s) in &found {
            if let Some(o) = self.member_mut(y)
                && !o.links.iter().any(|l| l.0 == x)
            {
                o.links.push((x, s));
            }
        }
        if let Some(m) = self.member_mut(x) {
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

    /// Clusters the component of the item in slot `me` again and writes what changed.
    fn recluster<D: StoryDb>(&mut self, tx: &mut D, me: u32) -> Result<Placed, D::Error> {
        // The component: every item reachable over links.
        let mut seen: FxHashSet<u32> = FxHashSet::default();
        let mut stack = vec![me];
        seen.insert(me);
        while let Some(x) = stack.pop() {
            if seen.len() > MAX_COMPONENT {
                break;
            }
            self.find_links(x);
            for &(y, _) in &self.member(x).links {
                if seen.insert(y) {
                    stack.push(y);
                }
            }
        }
        if seen.len() > MAX_COMPONENT {
            return self.join_best_link(tx, me);
        }
        let mut items: Vec<u32> = seen.into_iter().collect();
        items.sort_by_key(|&x| {
            let m = self.member(x);
            (m.at, m.order, m.id)
        });
        let clusters = self.average_link(&items);
        // Old stories: their first date among these items (a story lies within one component).
        let mut old_start: FxHashMap<i64, i64> = FxHashMap::default();
        for &x in &items {
            let m = self.member(x);
            if x != me {
                let e = old_start.entry(m.story).or_insert(m.at);
                *e = (*e).min(m.at);
            }
        }
        let mut taken: FxHashSet<i64> = FxHashSet::default();
        let mut placed = None;
        for cluster in clusters {
            let head = cluster[0];
            let start = self.member(head).at;
            let last = cluster
                .iter()
                .map(|&x| self.member(x).at)
                .max()
                .unwrap_or(start);
            // The old story most of the cluster was in, if free and not starting earlier.
            let mut votes: Vec<(usize, i64)> = Vec::new();
            for &x in &cluster {
                if x == me {
                    continue;
                }
                let s = self.member(x).story;
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
            let head_id = self.member(head).id;
            write_story(
                tx,
                story,
                i64::from(head_id),
                start,
                last,
                cluster.len() as i64,
            )?;
            let head_changed = reuse.is_none()
                || self.member(head).story != story
                || old_start.get(&story).is_some_and(|&old| old != start);
            for &x in &cluster {
                let moved = self.member(x).story != story;
                if x != me && !moved && !head_changed {
                    continue;
                }
                let reason = self.reason(x, &cluster);
                let id = self.member(x).id;
                if let Some(m) = self.member_mut(x) {
                    m.story = story;
                }
                if x == me {
                    placed = Some(Placed {
                        story,
                        reason: reason.clone(),
                    });
                } else {
                    tx.move_item(i64::from(id), story, &reason)?;
                }
            }
        }
        for s in old_start.keys() {
            if !taken.contains(s) {
                tx.delete_story(*s)?;
            }
        }
        Ok(placed.unwrap_or_else(|| Placed {
            story: self.next_story(),
            reason: "first item".into(),
        }))
    }

    /// Puts the item in slot `me` in the story of its best-scoring link, as one more member.
    fn join_best_link<D: StoryDb>(&mut self, tx: &mut D, me: u32) -> Result<Placed, D::Error> {
        let best = self
            .member(me)
            .links
            .iter()
            .map(|&(y, s)| (s, self.member(y).order, y))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, _, other)) = best else {
            let story = self.next_story();
            let m = self.member(me);
            let (id, at) = (m.id, m.at);
            write_story(tx, story, i64::from(id), at, at, 1)?;
            return Ok(Placed {
                story,
                reason: "first item".into(),
            });
        };
        let story = self.member(other).story;
        if let Some(m) = self.member_mut(me) {
            m.story = story;
        }
        // The story grows by one: read its row rather than walk a component this big.
        let (head, start, last, items) = tx.story_row(story)?;
        let m = self.member(me);
        let head_order = u32::try_from(head)
            .ok()
            .and_then(|h| self.slot_of.get(&h))
            .map_or(u64::MAX, |&h| self.member(h).order);
        let (head, start) = if (m.at, m.order) < (start, head_order) {
            (i64::from(m.id), m.at)
        } else {
            (head, start)
        };
        write_story(tx, story, head, start, last.max(m.at), items + 1)?;
        Ok(Placed {
            story,
            reason: format!(
                "{} (joined its best link: the story's links are too many to cluster again)",
                self.reason(me, &[other, me])
            ),
        })
    }

    /// Why the item in slot `x` is in `cluster` (its first element is the headline).
    fn reason(&self, x: u32, cluster: &[u32]) -> String {
        if cluster.first() == Some(&x) {
            return if cluster.len() == 1 {
                "first item".into()
            } else {
                "headline: the earliest item".into()
            };
        }
        let me = self.member(x);
        let best = cluster
            .iter()
            .filter(|&&y| y != x)
            .map(|&y| (self.member(y).id, self.score_members(me, self.member(y))))
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

    /// Average-link clusters of `items` (slots sorted by date), each sorted by date
    /// ([`cluster::average_link`] over the links' scores and every other pair scored).
    fn average_link(&self, items: &[u32]) -> Vec<Vec<u32>> {
        let n = items.len();
        let index: FxHashMap<u32, usize> = items.iter().enumerate().map(|(i, x)| (*x, i)).collect();
        // Pair scores: the links' scores, and every other pair scored (below its bar, it still
        // counts in a mean).
        let mut pairs = Pairs::new(n);
        for (i, &x) in items.iter().enumerate() {
            for &(y, s) in &self.member(x).links {
                if let Some(&j) = index.get(&y) {
                    pairs.score[i * n + j] = f64::from(s);
                    pairs.linked[i * n + j] = true;
                }
            }
        }
        for i in 0..n {
            for j in (i + 1)..n {
                if !pairs.linked[i * n + j] {
                    let s = self
                        .score_members(self.member(items[i]), self.member(items[j]))
                        .total;
                    pairs.score[i * n + j] = s;
                    pairs.score[j * n + i] = s;
                }
            }
        }
        cluster::average_link(&pairs)
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
        let mut dropped = vec![false; self.members.len()];
        for (slot, m) in self.members.iter_mut().enumerate() {
            if m.as_ref().is_some_and(|m| m.at < horizon)
                && let Some(m) = m.take()
            {
                dropped[slot] = true;
                if let Some(k) = self.key_counts.get_mut(slot) {
                    *k = 0;
                }
                self.slot_of.remove(&m.id);
                self.free.push(slot as u32);
            }
        }
        for m in self.members.iter_mut().flatten() {
            m.links.retain(|l| !dropped[l.0 as usize]);
        }
        self.postings.retain(|_, list| {
            list.retain(|p| !dropped[p.slot as usize]);
            !list.is_empty()
        });
        // Reuse low slots first: the per-slot arrays stay small.
        self.free.sort_unstable_by(|a, b| b.cmp(a));
        self.covered_from = Some(horizon);
    }
}

/// How many of `before` (dated before `mid_at`, ascending) and of `after` (from `mid_at` on,
/// ascending) are the [`PER_TERM`] nearest to `mid_at`: the split a merge by distance would
/// reach (an earlier one first on a tie), found by a binary search over how many come from
/// `before`. The `i`-th nearest before is among the first [`PER_TERM`] of the merge when fewer
/// than `PER_TERM − i` of `after` are strictly nearer than it.
fn nearest_split(before: &[Posting], after: &[Posting], mid_at: u32) -> (usize, usize) {
    if before.len() + after.len() <= PER_TERM {
        return (before.len(), after.len());
    }
    let taken = |i: usize| {
        let j = PER_TERM - i;
        match (before.len().checked_sub(i + 1), j.checked_sub(1)) {
            (Some(x), Some(y)) => after
                .get(y)
                .is_none_or(|p| p.at - mid_at >= mid_at - before[x].at),
            _ => false,
        }
    };
    let (mut lo, mut hi) = (0, before.len().min(PER_TERM));
    while lo < hi {
        let m = (lo + hi) / 2;
        if taken(m) {
            lo = m + 1;
        } else {
            hi = m;
        }
    }
    (lo, PER_TERM - lo)
}

/// How many key terms two items must share to be scored: two when both have at least four, else
/// one.
fn shared_keys_needed(a: usize, b: u8) -> u8 {
    if a.min(usize::from(b)) >= 4 { 2 } else { 1 }
}

fn mean_to(index: &StoryIndex, x: u32, cluster: &[u32]) -> f64 {
    let me = index.member(x);
    let others: Vec<f64> = cluster
        .iter()
        .filter(|&&y| y != x)
        .map(|&y| index.score_members(me, index.member(y)).total)
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

fn write_story<D: StoryDb>(
    tx: &mut D,
    story: i64,
    headline: i64,
    started_at: i64,
    last_at: i64,
    items: i64,
) -> Result<(), D::Error> {
    tx.write_story(story, headline, started_at, last_at, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The candidates by their definition, read off every item: for each key term, the
    /// [`PER_TERM`] items within the window nearest in time (on a tie, an earlier one first,
    /// then by slot away from the date), counted per item; kept where enough key terms are
    /// shared, most first, then nearest, then by order and id.
    fn by_definition(
        index: &StoryIndex,
        keys_of: &FxHashMap<u32, Vec<u32>>,
        keys: &[u32],
        at: i64,
        me: Option<u32>,
    ) -> Vec<u32> {
        let (from, mid, to) = (
            clamped(at - index.window),
            clamped(at),
            clamped(at + index.window),
        );
        let mut tally: FxHashMap<u32, u8> = FxHashMap::default();
        for k in keys {
            let mut near: Vec<(u32, bool, u32, u32)> = Vec::new();
            for (slot, m) in index.members.iter().enumerate() {
                let (Some(m), slot) = (m, slot as u32) else {
                    continue;
                };
                let t = clamped(m.at);
                if !keys_of[&slot].contains(k) || t < from || t > to {
                    continue;
                }
                let after = t >= mid;
                let tie = if after { slot } else { u32::MAX - slot };
                near.push((t.abs_diff(mid), after, tie, slot));
            }
            near.sort_unstable();
            for &(_, _, _, slot) in near.iter().take(PER_TERM) {
                *tally.entry(slot).or_default() += 1;
            }
        }
        let mut out: Vec<(std::cmp::Reverse<u8>, i64, u64, u32, u32)> = tally
            .into_iter()
            .filter(|&(slot, n)| {
                Some(slot) != me && n >= shared_keys_needed(keys.len(), keys_of[&slot].len() as u8)
            })
            .map(|(slot, n)| {
                let m = index.member(slot);
                (std::cmp::Reverse(n), (m.at - at).abs(), m.order, m.id, slot)
            })
            .collect();
        out.sort_unstable();
        out.truncate(CANDIDATES);
        out.into_iter().map(|c| c.4).collect()
    }

    #[test]
    fn the_walk_finds_the_candidates_their_definition_names() {
        let mut rng = fastrand::Rng::with_seed(21);
        let weighed = Weighed::new(&Features::default());
        for round in 0..20 {
            let mut index = StoryIndex {
                window: 500,
                ..StoryIndex::default()
            };
            // Few terms and few dates: lists longer than the cap, and many ties in time.
            let terms = rng.u32(3..40);
            let mut keys_of: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
            let draw_keys = |rng: &mut fastrand::Rng| {
                let n = rng.usize(1..=KEY_TERMS);
                let mut keys: Vec<u32> = (0..n).map(|_| rng.u32(0..terms)).collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            };
            for id in 0..rng.u32(50..600) {
                let keys = draw_keys(&mut rng);
                let m = Member {
                    id: 1_000 - id,
                    at: 10_000 + i64::from(rng.u32(0..60)) * 37,
                    feed: 1,
                    order: rng.u64(0..20),
                    weighed: weighed.clone(),
                    story: 0,
                    links: Vec::new(),
                    unlinked: false,
                };
                let slot = index.insert(m, &keys, Vec::new());
                keys_of.insert(slot, keys);
            }
            for query in 0..30 {
                // A new item within, before or after the stored dates, or a stored one (as
                // when an item read back from the database looks for its links).
                let (keys, at, me) = if query % 2 == 0 {
                    let keys = draw_keys(&mut rng);
                    (keys, 9_000 + i64::from(rng.u32(0..3_500)), None)
                } else {
                    let slot = rng.u32(0..index.members.len() as u32);
                    (keys_of[&slot].clone(), index.member(slot).at, Some(slot))
                };
                let mut tally = vec![0u32; index.members.len()];
                let found = index.candidates(&keys, at, me, &mut tally, 1);
                assert_eq!(
                    found,
                    by_definition(&index, &keys_of, &keys, at, me),
                    "round {round}, query {query}"
                );
            }
        }
    }
}
