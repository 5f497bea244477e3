//! The pair score: how sure we are that two items report the same development of one event.
//!
//! Pure: two items' [`Features`], dates and feeds in, a [`Score`] out. The store's story index
//! finds candidate pairs and clusters on these scores; nothing here depends on what else was
//! stored, or in which order, so the same items always score the same.
//!
//! The parts (every threshold is chosen in `docs/quality.md`):
//! * **text**: terms weighted by field (title 3, lede 1, numbers double) × background IDF
//!   ([`idf`]); names and other words are compared apart, each as the mean of the weighted
//!   Jaccard index and the weighted containment of the smaller item in the larger;
//!   `text = NAME_SHARE × names + (1 − NAME_SHARE) × content`.
//! * **evidence**: two items about the same people share their names whatever happened, so a
//!   pair must also share distinctive words that are not names ([`MIN_SHARED_CONTENT`],
//!   [`MIN_CONTENT`]).
//! * **time**: items of one event are written within hours; a day later it is usually a new
//!   development. `time = 1 / (1 + (Δt / TIME_SCALE)²)`, and pairs further apart than the
//!   story window do not score at all.
//! * **same feed**: a newsroom rarely files twice on one development; a second item of the same
//!   feed is a follow-up unless it is close to the first ([`SAME_FEED_THRESHOLD`]).
//!
//! Two tiers: [`Tier::SameArticle`] (near-identical text: a re-post, a syndicated copy, a
//! retitled update) and [`Tier::SameStory`] (a score at or above the threshold).

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::{ENTITY, Features, KEY_MIN_IDF, KEY_TERMS, term_of_word};

/// The pair score at or above which two items of different feeds are linked in one story.
pub const DEFAULT_THRESHOLD: f64 = 0.30;
/// The pair score at or above which two items of the same feed are linked.
pub const SAME_FEED_THRESHOLD: f64 = 0.55;
/// Weighted Jaccard index over all terms at or above which two items are the same article.
pub const SAME_ARTICLE_JACCARD: f64 = 0.70;
/// The pair score at or above which an item is confidently the same story as an item that
/// already alerted: its own alert for the topic is then suppressed.
pub const CONFIDENT_THRESHOLD: f64 = 0.45;
/// The share of names in the text part.
pub const NAME_SHARE: f64 = 0.3;
/// The weight (field × IDF) of the non-name words two items must share.
pub const MIN_SHARED_CONTENT: f64 = 12.0;
/// The content part (non-name words) a linked pair must reach besides the score.
pub const MIN_CONTENT: f64 = 0.10;
/// Hours at which the time factor is one half.
pub const TIME_SCALE_HOURS: f64 = 18.0;

/// Which kind of "same" a pair is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Near-identical text: one article, posted again or syndicated.
    SameArticle,
    /// Different reports of one event at one development.
    SameStory,
    /// Not linked.
    Different,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::SameArticle => "same article",
            Tier::SameStory => "same story",
            Tier::Different => "different",
        }
    }
}

/// A pair's score and its parts, for clustering and for `stories --explain`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub tier: Tier,
    /// `text × time`, or 1 for the same article.
    pub total: f64,
    pub names: f64,
    pub content: f64,
    /// Weight of the shared non-name words.
    pub shared_content: f64,
    /// Weighted Jaccard index over all terms.
    pub jaccard: f64,
    pub time: f64,
    pub hours_apart: f64,
    pub same_feed: bool,
    /// The threshold this pair had to reach.
    pub threshold: f64,
}

impl Score {
    pub fn linked(&self) -> bool {
        self.tier != Tier::Different
    }

    /// One line for `stories --explain`: the tier, the score's parts and the threshold.
    pub fn explain(&self) -> String {
        format!(
            "{}, score {:.2} = text {:.2} (names {:.2}, content {:.2}, shared content {:.0}) × time {:.2} ({:.1} h apart){}; threshold {:.2}, jaccard {:.2} (same article ≥ {:.2})",
            self.tier.as_str(),
            self.total,
            NAME_SHARE * self.names + (1.0 - NAME_SHARE) * self.content,
            self.names,
            self.content,
            self.shared_content,
            self.time,
            self.hours_apart,
            if self.same_feed { ", same feed" } else { "" },
            self.threshold,
            self.jaccard,
            SAME_ARTICLE_JACCARD,
        )
    }
}

/// What the score needs of an item besides its text.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The item's own date (published, else first seen), seconds since 1970.
    pub at: i64,
    pub feed: i64,
}

/// Scores a pair. `window` (seconds) is the furthest apart two items of one story can be;
/// `threshold` the cross-feed bar (configurable, default [`DEFAULT_THRESHOLD`]).
pub fn score(
    a: &Features,
    ac: Context,
    b: &Features,
    bc: Context,
    window: i64,
    threshold: f64,
) -> Score {
    score_weighed(
        &Weighed::new(a),
        ac,
        &Weighed::new(b),
        bc,
        window,
        threshold,
    )
}

/// One term of an item with its weight (field × background IDF).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WeighedTerm {
    /// The term above its field byte, as in [`Features`].
    packed: u32,
    weight: f32,
}

impl WeighedTerm {
    fn term(self) -> u32 {
        self.packed >> 8
    }

    /// 1 for a name, 0 for any other word: which part of the text score the term counts in.
    fn part(self) -> usize {
        usize::from(self.packed as u8 & ENTITY != 0)
    }
}

/// An item's terms weighed once (field × background IDF), with each part's total weight: what
/// [`score_weighed`] takes, so an item compared with many others is weighed once, and what the
/// story index keeps of every item in memory (8 bytes a term).
#[derive(Debug, Clone, PartialEq)]
pub struct Weighed {
    /// Sorted by term.
    terms: Box<[WeighedTerm]>,
    /// Total weight of the terms that are not names (0) and of the names (1).
    sums: [f64; 2],
}

impl Weighed {
    pub fn new(f: &Features) -> Weighed {
        let terms: Box<[WeighedTerm]> = f
            .terms()
            .map(|(h, fw)| WeighedTerm {
                packed: (h << 8) | u32::from(fw),
                weight: (f64::from(fw & !ENTITY) * idf(h)) as f32,
            })
            .collect();
        let mut sums = [0.0; 2];
        for t in terms.iter() {
            sums[t.part()] += f64::from(t.weight);
        }
        Weighed { terms, sums }
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms an item is indexed under: its [`KEY_TERMS`] heaviest (ties by term), heaviest
    /// first, leaving out words too common to tell stories apart ([`KEY_MIN_IDF`]).
    pub fn key_terms(&self) -> KeyTerms {
        // One pass, keeping the heaviest so far in order in a fixed array: no allocation, and a
        // term lighter than the lightest kept is rejected by one comparison.
        let mut keys = KeyTerms::default();
        let mut weights = [0f32; KEY_TERMS];
        let mut n = 0;
        for t in self.terms.iter() {
            if t.weight < KEY_MIN_IDF * f32::from(t.packed as u8 & !ENTITY) {
                continue;
            }
            let (w, h) = (t.weight, t.term());
            if n == KEY_TERMS {
                if !heavier((w, h), (weights[n - 1], keys.terms[n - 1])) {
                    continue;
                }
                n -= 1;
            }
            let mut i = n;
            while i > 0 && heavier((w, h), (weights[i - 1], keys.terms[i - 1])) {
                weights[i] = weights[i - 1];
                keys.terms[i] = keys.terms[i - 1];
                i -= 1;
            }
            weights[i] = w;
            keys.terms[i] = h;
            n += 1;
        }
        keys.len = n as u8;
        keys
    }
}

/// Does (weight, term) `a` come before `b` among the key terms: heavier, or as heavy and a
/// lower term.
fn heavier(a: (f32, u32), b: (f32, u32)) -> bool {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)) == std::cmp::Ordering::Less
}

/// An item's key terms ([`Weighed::key_terms`]), heaviest first, held in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyTerms {
    len: u8,
    terms: [u32; KEY_TERMS],
}

impl std::ops::Deref for KeyTerms {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        &self.terms[..usize::from(self.len)]
    }
}

/// What two items' shared terms add up to, per part (0: other words, 1: names). A shared term
/// counts as a name when either item marks it as one.
#[derive(Default)]
struct Shared {
    /// Σ min(wa, wb) and Σ max(wa, wb) over the shared terms.
    min: [f64; 2],
    max: [f64; 2],
    /// Σ wa and Σ wb over the shared terms, by the shared part.
    a: [f64; 2],
    b: [f64; 2],
    /// Σ wa and Σ wb over the shared terms, by each item's own part (to take them out of its
    /// totals).
    a_own: [f64; 2],
    b_own: [f64; 2],
}

impl Shared {
    fn add(&mut self, a: WeighedTerm, b: WeighedTerm) {
        let (wa, wb) = (f64::from(a.weight), f64::from(b.weight));
        let k = a.part().max(b.part());
        self.min[k] += wa.min(wb);
        self.max[k] += wa.max(wb);
        self.a[k] += wa;
        self.b[k] += wb;
        self.a_own[a.part()] += wa;
        self.b_own[b.part()] += wb;
    }
}

/// [`score`], with both items already [`Weighed`]: one merge over both sorted term lists.
pub fn score_weighed(
    a: &Weighed,
    ac: Context,
    b: &Weighed,
    bc: Context,
    window: i64,
    threshold: f64,
) -> Score {
    let mut s = unscored(ac, bc, threshold);
    if (ac.at - bc.at).abs() > window {
        return s;
    }
    let mut shared = Shared::default();
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.terms.get(i), b.terms.get(j)) {
        match x.term().cmp(&y.term()) {
            std::cmp::Ordering::Equal => {
                shared.add(x, y);
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    finish(&mut s, a, b, &shared);
    s
}

/// One item's terms in a hash table, for scoring it against many others: each comparison then
/// reads the other item's terms once, in order, instead of merging two lists.
pub struct Probe<'a> {
    item: &'a Weighed,
    /// Open addressing, linear probing: (term | OCCUPIED, index in `item.terms`).
    slots: Vec<(u32, u32)>,
    shift: u32,
    /// One bit per value of a term's low [`FILTER_BITS`] bits, set for the item's terms: most
    /// of another item's terms are not the item's, and most of those are ruled out by one bit
    /// before the table is probed.
    filter: [u64; FILTER_WORDS],
}

const FILTER_BITS: u32 = 11;
const FILTER_WORDS: usize = 1 << (FILTER_BITS - 6);

const OCCUPIED: u32 = 1 << 31;

impl<'a> Probe<'a> {
    pub fn new(item: &'a Weighed) -> Probe<'a> {
        let bits = (item.terms.len() * 2)
            .max(16)
            .next_power_of_two()
            .trailing_zeros();
        let mut slots = vec![(0u32, 0u32); 1 << bits];
        let mask = (1usize << bits) - 1;
        let shift = 32 - bits;
        let mut filter = [0u64; FILTER_WORDS];
        for (i, t) in item.terms.iter().enumerate() {
            let (word, bit) = filter_bit(t.term());
            filter[word] |= bit;
            let mut at = slot_of(t.term(), shift);
            while slots[at].0 != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = (t.term() | OCCUPIED, i as u32);
        }
        Probe {
            item,
            slots,
            shift,
            filter,
        }
    }

    fn find(&self, term: u32) -> Option<WeighedTerm> {
        let mask = self.slots.len() - 1;
        let mut at = slot_of(term, self.shift);
        loop {
            let (k, i) = self.slots[at];
            if k == term | OCCUPIED {
                return self.item.terms.get(i as usize).copied();
            }
            if k == 0 {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// [`score_weighed`] of the probed item (`me`, at `mc`) and `other`.
    pub fn score(
        &self,
        mc: Context,
        other: &Weighed,
        oc: Context,
        window: i64,
        threshold: f64,
    ) -> Score {
        let mut s = unscored(mc, oc, threshold);
        if (mc.at - oc.at).abs() > window {
            return s;
        }
        let mut shared = Shared::default();
        for &y in other.terms.iter() {
            let (word, bit) = filter_bit(y.term());
            if self.filter[word] & bit == 0 {
                continue;
            }
            if let Some(x) = self.find(y.term()) {
                shared.add(x, y);
            }
        }
        finish(&mut s, self.item, other, &shared);
        s
    }
}

/// A term's word and bit in [`Probe::filter`].
fn filter_bit(term: u32) -> (usize, u64) {
    let low = term & ((1 << FILTER_BITS) - 1);
    ((low >> 6) as usize, 1 << (low & 63))
}

fn slot_of(term: u32, shift: u32) -> usize {
    (term.wrapping_mul(0x9e37_79b1) >> shift) as usize
}

/// A pair's [`Score`] before its text is compared: its time apart, feeds and threshold.
fn unscored(ac: Context, bc: Context, threshold: f64) -> Score {
    let hours_apart = (ac.at - bc.at).abs() as f64 / 3600.0;
    let same_feed = ac.feed == bc.feed;
    Score {
        tier: Tier::Different,
        total: 0.0,
        names: 0.0,
        content: 0.0,
        shared_content: 0.0,
        jaccard: 0.0,
        time: 0.0,
        hours_apart,
        same_feed,
        threshold: if same_feed {
            SAME_FEED_THRESHOLD.max(threshold)
        } else {
            threshold
        },
    }
}

/// The score's parts from what the two items share, and its tier.
fn finish(s: &mut Score, a: &Weighed, b: &Weighed, shared: &Shared) {
    // Per part: the union (Σ max over all terms), and each item's total, where a shared term
    // counts in the part it shares.
    let part = |k: usize| {
        let sum_a = a.sums[k] - shared.a_own[k] + shared.a[k];
        let sum_b = b.sums[k] - shared.b_own[k] + shared.b[k];
        let union = a.sums[k] + b.sums[k] - shared.a_own[k] - shared.b_own[k] + shared.max[k];
        (shared.min[k], union, sum_a, sum_b)
    };
    let overlap = |(inter, union, sa, sb): (f64, f64, f64, f64)| {
        let smaller = sa.min(sb);
        if union <= 0.0 || smaller <= 0.0 {
            0.0
        } else {
            (inter / union + inter / smaller) / 2.0
        }
    };
    let (content, names) = (part(0), part(1));
    s.names = overlap(names);
    s.content = overlap(content);
    s.shared_content = content.0;
    let union = content.1 + names.1;
    s.jaccard = if union > 0.0 {
        (content.0 + names.0) / union
    } else {
        0.0
    };
    s.time = 1.0 / (1.0 + (s.hours_apart / TIME_SCALE_HOURS).powi(2));
    if s.jaccard >= SAME_ARTICLE_JACCARD {
        s.tier = Tier::SameArticle;
        s.total = 1.0;
        return;
    }
    let both_name = names.2 > 0.0 && names.3 > 0.0;
    let text = if both_name {
        NAME_SHARE * s.names + (1.0 - NAME_SHARE) * s.content
    } else {
        s.content
    };
    s.total = text * s.time;
    if s.total >= s.threshold && s.shared_content >= MIN_SHARED_CONTENT && s.content >= MIN_CONTENT
    {
        s.tier = Tier::SameStory;
    }
}

/// Documents per term the background table stands for: it gives word frequencies per token, and
/// an item's title and lede are about this many words.
const WORDS_PER_ITEM: f64 = 60.0;
/// The Zipf value (log10 of occurrences per 10^9 words) taken for words missing from the table:
/// rarer than every word in it.
const UNLISTED_ZIPF: f64 = 2.5;

/// The background inverse document frequency of a term: from English word frequencies shipped
/// with the binary (`wordfreq_en.txt`), so weights do not depend on what one installation
/// happened to store lately, nor on the order it stored it in.
pub fn idf(term: u32) -> f64 {
    background()
        .get(&term)
        .copied()
        .map_or_else(|| idf_of_zipf(UNLISTED_ZIPF), f64::from)
}

/// Is the term an English word of the background table (not a rare name)?
pub fn listed(term: u32) -> bool {
    background().contains_key(&term)
}

fn idf_of_zipf(zipf: f64) -> f64 {
    let p = (WORDS_PER_ITEM * 10f64.powf(zipf - 9.0)).min(0.9);
    -p.ln()
}

/// Term → IDF, built once from the table: words that fold into one term add their frequencies.
fn background() -> &'static FxHashMap<u32, f32> {
    static TABLE: OnceLock<FxHashMap<u32, f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut freq: FxHashMap<u32, f64> = FxHashMap::default();
        for line in include_str!("wordfreq_en.txt").lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut words = line.split(' ');
            let Some(zipf) = words.next().and_then(|z| z.parse::<f64>().ok()) else {
                continue;
            };
            let per_word = 10f64.powf(zipf / 10.0 - 9.0);
            for w in words {
                if let Some(t) = term_of_word(w) {
                    *freq.entry(t).or_default() += per_word;
                }
            }
        }
        freq.into_iter()
            .map(|(t, f)| {
                let p = (WORDS_PER_ITEM * f).min(0.9);
                (t, (-p.ln()) as f32)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stories::features;

    fn ctx(at_hours: f64, feed: i64) -> Context {
        Context {
            at: (at_hours * 3600.0) as i64,
            feed,
        }
    }

    const DAY2: i64 = 2 * 86_400;

    #[test]
    fn the_probe_scores_as_the_merge_does() {
        let texts = [
            (
                "Kowalski meets Moreau in Geneva",
                "President Kowalski met Moreau on Monday.",
            ),
            (
                "Moreau and Kowalski meet in Geneva",
                "The talks in Geneva lasted three hours.",
            ),
            (
                "Flooding in Geneva",
                "Heavy rain flooded the old town of Geneva on Monday.",
            ),
            ("", ""),
        ];
        let items: Vec<Weighed> = texts
            .iter()
            .map(|(t, s)| Weighed::new(&features(t, s)))
            .collect();
        for (i, a) in items.iter().enumerate() {
            let probe = Probe::new(a);
            for (j, b) in items.iter().enumerate() {
                let (ac, bc) = (ctx(0.0, i as i64), ctx(2.0, j as i64));
                let merged = score_weighed(a, ac, b, bc, DAY2, DEFAULT_THRESHOLD);
                let probed = probe.score(ac, b, bc, DAY2, DEFAULT_THRESHOLD);
                assert_eq!(merged.tier, probed.tier, "{i} {j}");
                for (x, y) in [
                    (merged.total, probed.total),
                    (merged.names, probed.names),
                    (merged.content, probed.content),
                    (merged.jaccard, probed.jaccard),
                ] {
                    assert!((x - y).abs() < 1e-9, "{i} {j}: {x} vs {y}");
                }
            }
        }
    }

    /// The key terms as they were first written: filter, select, sort.
    fn key_terms_by_sorting(w: &Weighed) -> Vec<u32> {
        let mut t: Vec<(f32, u32)> = w
            .terms
            .iter()
            .filter(|t| t.weight >= KEY_MIN_IDF * f32::from(t.packed as u8 & !ENTITY))
            .map(|t| (t.weight, t.term()))
            .collect();
        t.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        t.truncate(KEY_TERMS);
        t.into_iter().map(|(_, h)| h).collect()
    }

    /// Random items with few distinct weights (many ties), some terms too common to be keys.
    fn random_weighed(rng: &mut fastrand::Rng) -> Weighed {
        let mut terms: Vec<u32> = (0..rng.usize(0..80)).map(|_| rng.u32(0..5_000)).collect();
        terms.sort_unstable();
        terms.dedup();
        let terms: Box<[WeighedTerm]> = terms
            .into_iter()
            .map(|h| {
                let field = [1u8, 2, 3, 6][rng.usize(0..4)];
                let entity = if rng.u8(0..8) == 0 { ENTITY } else { 0 };
                WeighedTerm {
                    packed: (h << 8) | u32::from(field | entity),
                    weight: f32::from(field) * [2.0f32, 4.0, 6.5, 10.87][rng.usize(0..4)],
                }
            })
            .collect();
        let mut sums = [0.0; 2];
        for t in terms.iter() {
            sums[t.part()] += f64::from(t.weight);
        }
        Weighed { terms, sums }
    }

    #[test]
    fn the_key_terms_are_the_heaviest_in_order() {
        let mut rng = fastrand::Rng::with_seed(12);
        for round in 0..2_000 {
            let w = random_weighed(&mut rng);
            assert_eq!(
                &*w.key_terms(),
                key_terms_by_sorting(&w).as_slice(),
                "round {round}"
            );
        }
    }

    #[test]
    fn the_probe_filter_changes_no_score() {
        let mut rng = fastrand::Rng::with_seed(13);
        let items: Vec<Weighed> = (0..200).map(|_| random_weighed(&mut rng)).collect();
        for a in &items {
            let probe = Probe::new(a);
            for _ in 0..20 {
                let b = &items[rng.usize(0..items.len())];
                let (ac, bc) = (ctx(0.0, 1), ctx(rng.f64() * 30.0, rng.i64(1..3)));
                let merged = score_weighed(a, ac, b, bc, DAY2, DEFAULT_THRESHOLD);
                assert_eq!(probe.score(ac, b, bc, DAY2, DEFAULT_THRESHOLD), merged);
            }
        }
    }

    #[test]
    fn common_words_weigh_less_than_rare_ones() {
        let t = |w: &str| term_of_word(w).unwrap();
        assert!(idf(t("government")) < idf(t("earthquake")));
        assert!(idf(t("earthquake")) < idf(t("kinzhal")));
    }

    #[test]
    fn a_reworded_report_of_one_event_is_the_same_story_and_a_day_later_it_is_not() {
        let a = features(
            "Magnitude 6.8 earthquake strikes northern Peru, killing 12",
            "A powerful earthquake shook the Andean region of Cajamarca early on Sunday, collapsing homes.",
        );
        let b = features(
            "Deadly quake hits Peru's Cajamarca region",
            "At least 12 people died when a 6.8 magnitude earthquake struck northern Peru on Sunday.",
        );
        let s = score(&a, ctx(0.0, 1), &b, ctx(3.0, 2), DAY2, DEFAULT_THRESHOLD);
        assert_eq!(s.tier, Tier::SameStory, "{}", s.explain());
        let later = score(&a, ctx(0.0, 1), &b, ctx(40.0, 2), DAY2, DEFAULT_THRESHOLD);
        assert_eq!(later.tier, Tier::Different, "{}", later.explain());
    }

    #[test]
    fn a_copy_is_the_same_article_even_from_one_feed() {
        let a = features(
            "Parliament ousts prime minister in no-confidence vote",
            "Lawmakers voted 30 to 20 to remove the prime minister on Tuesday.",
        );
        let b = features(
            "Parliament Ousts Prime Minister in No-Confidence Vote",
            "Lawmakers voted 30 to 20 to remove the prime minister on Tuesday.",
        );
        let s = score(&a, ctx(0.0, 1), &b, ctx(5.0, 1), DAY2, DEFAULT_THRESHOLD);
        assert_eq!(s.tier, Tier::SameArticle, "{}", s.explain());
    }

    #[test]
    fn names_alone_do_not_make_a_story() {
        let a = features(
            "Kowalski says talks with Moreau were the start of a thaw",
            "President Kowalski told reporters his call with Moreau opened negotiations.",
        );
        let b = features(
            "Kowalski and Moreau trade barbs over fishing quotas",
            "President Kowalski accused Moreau of breaking the agreement on fishing quotas.",
        );
        let s = score(&a, ctx(0.0, 1), &b, ctx(2.0, 2), DAY2, DEFAULT_THRESHOLD);
        assert_eq!(s.tier, Tier::Different, "{}", s.explain());
    }
}

#[cfg(test)]
mod shapes {
    use super::*;
    use crate::stories::features;

    #[test]
    fn a_meeting_held_is_not_the_meeting_planned() {
        let a = features(
            "Japan PM Ishiba Eyes Meeting With Trump After Inauguration",
            "Prime Minister Shigeru Ishiba is making arrangements to meet with U.S. President-elect Donald Trump in February or later, after Trump's inauguration.",
        );
        let b = features(
            "Ishiba meets Trump in Washington, pledges to deepen alliance",
            "Prime Minister Shigeru Ishiba held his first summit with President Donald Trump at the White House on Friday, pledging to boost investment.",
        );
        let s = score(
            &a,
            Context { at: 0, feed: 1 },
            &b,
            Context {
                at: 30 * 3600,
                feed: 2,
            },
            172_800,
            DEFAULT_THRESHOLD,
        );
        assert_eq!(s.tier, Tier::Different, "{}", s.explain());
    }
}

#[cfg(test)]
mod loose {
    use super::*;
    use crate::stories::features;

    /// The pair the end-to-end test `a_loose_story_merge_never_hides_an_alert` relies on.
    pub const A: (&str, &str) = (
        "Washington to hit Beijing with new 100% tariffs on electric vehicles",
        "The White House said on Tuesday it will impose 100% tariffs on Chinese electric vehicles and raise duties on batteries and solar cells.",
    );
    pub const B: (&str, &str) = (
        "Beijing vows to retaliate against Washington's new tariffs",
        "China's commerce ministry said it would take all necessary measures to defend its companies after the new duties on electric vehicles.",
    );

    #[test]
    fn a_reaction_links_to_the_news_it_reacts_to_but_not_confidently() {
        let s = score(
            &features(A.0, A.1),
            Context { at: 0, feed: 1 },
            &features(B.0, B.1),
            Context {
                at: 3 * 3600,
                feed: 2,
            },
            172_800,
            DEFAULT_THRESHOLD,
        );
        assert!(s.linked(), "{}", s.explain());
        assert!(s.total < CONFIDENT_THRESHOLD, "{}", s.explain());
    }
}
