//! All topics compiled into one [`Matcher`].
//!
//! Every distinct term of every topic gets an id. The first token of every unstemmed term goes
//! into one hash index (`FirstTokens`): an item's token is hashed once for the exact terms,
//! and its prefixes are hashed only at the lengths of prefix terms that start with the same
//! three bytes (usually none). Every probe meets a bit filter small enough to stay in the L1
//! cache first, so a token that matches nothing costs the same with 10 topics or 1,000. (A byte
//! trie did the same job in fewer probes but walked a node per byte through a structure that
//! outgrows the L1 cache as topics grow; docs/performance.md has the comparison.)
//! Stemmed terms use a hash index of stems. Only topics with at least one hit (plus the rare
//! topics that can match through `NOT` alone) have their expression evaluated, and a term's
//! presence is a bit test, so most of them are settled without looking at positions.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::syntax::{Expr, Scope, Status, SyntaxError, parse_query_with};
use super::tokenize::{Tokens, tokenize_into};
use super::{Stem, TopicSpec};

/// A small, fast, non-cryptographic hasher for short token strings (the FxHash mix). Keys come
/// from the config, not from feeds, so flooding attacks on the table do not apply.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Which field of an item a term was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
        }
    }
}

/// One term that matched, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchedTerm {
    /// The term as written in the query.
    pub term: String,
    pub field: Field,
    /// Byte range in that field's text.
    pub range: Range<usize>,
    /// Set when this term is the tense cue that decided an `UPCOMING`/`PAST` clause, so an
    /// alert can say why it counted the event as upcoming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cue: Option<crate::topics::syntax::Status>,
}

/// A topic that matched an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMatch {
    /// Index into the specs the matcher was built from.
    pub topic: usize,
    /// Which of the topic's alternative queries fired (the first that did).
    pub query: usize,
    /// The positive terms found, in query order, each at its first occurrence.
    pub terms: Vec<MatchedTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TermKey {
    tokens: Vec<String>,
    prefix: bool,
    scope: Scope,
    stem: Option<Stem>,
}

#[derive(Debug, Clone, Copy)]
struct TermShape {
    scope: Scope,
    tokens: u16,
}

#[derive(Debug)]
struct CompiledTerm {
    key: TermKey,
    source: String,
}

#[derive(Debug, Clone)]
enum Node {
    Term(u32),
    And(Vec<Node>),
    Or(Vec<Node>),
    /// The OR of a lexicon's entries; the name (for explanations) is `lexicon_names[i]`, kept
    /// out of the node so that a node stays as small as before lexicons (it is walked per item).
    Lexicon(u32, Vec<Node>),
    Not(Box<Node>),
    Near(Box<Node>, Box<Node>, u32),
    Status(Box<StatusNode>),
}

#[derive(Debug, Clone)]
struct StatusNode {
    status: Status,
    window: u32,
    operand: Node,
    /// Cue terms: those pointing ahead, then those pointing back.
    upcoming: Vec<u32>,
    past: Vec<u32>,
}

/// The cue that decided an event's status, and where.
#[derive(Debug, Clone, Copy)]
struct Decision {
    status: Status,
    cue: u32,
    hit: Hit,
}

#[derive(Debug)]
struct CompiledTopic {
    name: String,
    queries: Vec<Node>,
    feeds: Option<Vec<String>>,
}

/// One hit: term `term` spans tokens `start..=end` of `field`.
#[derive(Debug, Clone, Copy)]
struct Hit {
    term: u32,
    field: Field,
    start: u32,
    end: u32,
}

/// Per-language stemming index.
struct StemIndex {
    stem: Stem,
    stemmer: rust_stemmers::Stemmer,
    first: FxMap<Box<str>, Vec<u32>>,
}

/// All topics, compiled.
pub struct Matcher {
    topics: Vec<CompiledTopic>,
    terms: Vec<CompiledTerm>,
    /// Per term: where its topics are in `term_topic_ids` (and the next term's start).
    term_topic_at: Vec<u32>,
    term_topic_ids: Vec<u32>,
    /// Per term, what the hot loop needs, packed away from the rest (which it rarely touches).
    shapes: Vec<TermShape>,
    first: FirstTokens,
    /// `(first token, is prefix, term)` of the unstemmed terms, while compiling.
    first_words: Vec<(Box<str>, bool, u32)>,
    stems: Vec<StemIndex>,
    always: Vec<u32>,
    /// The names of the lexicons `Node::Lexicon` refers to.
    lexicon_names: Vec<Box<str>>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("topics", &self.topics.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

/// Reusable per-thread buffers for [`Matcher::match_item`].
#[derive(Default)]
pub struct Scratch {
    title: Tokens,
    summary: Tokens,
    hits: Vec<Hit>,
    stemmed_title: Vec<String>,
    stemmed_summary: Vec<String>,
    candidates: Vec<u32>,
    /// One bit per topic: already in `candidates`? Cleared after each item.
    queued: Vec<u64>,
    /// One bit per term: was it found in this item? Cleared after each item.
    present: Vec<u64>,
    /// Per term, its first hit (`NONE` when none); per hit, the same term's next hit. Each
    /// term's hits chain in text order, title first, without sorting.
    first_hit: Vec<u32>,
    next_hit: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Scratch {
    /// The title's and the summary's tokens from the last call to
    /// [`Matcher::match_item_with`], for other users of the same text.
    pub fn tokens(&self) -> (&Tokens, &Tokens) {
        (&self.title, &self.summary)
    }
}

impl Matcher {
    /// Compiles topics. Fails with the index of the first topic whose query does not parse
    /// (config validation reports them all before this is called).
    pub fn new(specs: &[TopicSpec]) -> Result<Matcher, (usize, SyntaxError)> {
        let mut m = Matcher {
            topics: Vec::with_capacity(specs.len()),
            terms: Vec::new(),
            term_topic_at: Vec::new(),
            term_topic_ids: Vec::new(),
            shapes: Vec::new(),
            first: FirstTokens::new(&[]),
            first_words: Vec::new(),
            stems: Vec::new(),
            always: Vec::new(),
            lexicon_names: Vec::new(),
        };
        let mut ids: HashMap<TermKey, u32> = HashMap::new();
        let mut term_topics: Vec<Vec<u32>> = Vec::new();
        for (ti, spec) in specs.iter().enumerate() {
            let mut queries = Vec::new();
            let mut anchors = Some(Vec::new());
            for q in &spec.queries {
                let expr = parse_query_with(q, &spec.lexicons).map_err(|e| (ti, e))?;
                let node = m.compile(&expr, spec.stem, &mut ids);
                term_topics.resize(m.terms.len(), Vec::new());
                match (m.anchors(&node), anchors.as_mut()) {
                    (Some(a), Some(all)) => all.extend(a),
                    _ => anchors = None,
                }
                queries.push(node);
            }
            // A topic is evaluated for an item only when one of its anchor terms occurs in it.
            match anchors {
                Some(terms) => {
                    for id in terms {
                        let topics = &mut term_topics[id as usize];
                        if topics.last() != Some(&(ti as u32)) {
                            topics.push(ti as u32);
                        }
                    }
                }
                None => m.always.push(ti as u32),
            }
            m.topics.push(CompiledTopic {
                name: spec.name.clone(),
                queries,
                feeds: spec.feeds.clone(),
            });
        }
        m.first = FirstTokens::new(&std::mem::take(&mut m.first_words));
        m.term_topic_at.push(0);
        for topics in term_topics {
            m.term_topic_ids.extend(topics);
            m.term_topic_at.push(m.term_topic_ids.len() as u32);
        }
        Ok(m)
    }

    fn compile(
        &mut self,
        expr: &Expr,
        stem: Option<Stem>,
        ids: &mut HashMap<TermKey, u32>,
    ) -> Node {
        match expr {
            Expr::Term(t) => Node::Term(self.term_id(t, stem, ids)),
            Expr::And(xs) => Node::And(xs.iter().map(|x| self.compile(x, stem, ids)).collect()),
            Expr::Or(xs) => {
                let nodes = xs.iter().map(|x| self.compile(x, stem, ids)).collect();
                match lexicon_name(xs) {
                    Some(name) => {
                        let i = match self.lexicon_names.iter().position(|n| &**n == name) {
                            Some(i) => i,
                            None => {
                                self.lexicon_names.push(name.into());
                                self.lexicon_names.len() - 1
                            }
                        };
                        Node::Lexicon(i as u32, nodes)
                    }
                    None => Node::Or(nodes),
                }
            }
            Expr::Not(x) => Node::Not(Box::new(self.compile(x, stem, ids))),
            Expr::Near(a, b, n) => Node::Near(
                Box::new(self.compile(a, stem, ids)),
                Box::new(self.compile(b, stem, ids)),
                *n,
            ),
            Expr::Status(st) => {
                // The operand first, so that a word that is also a cue is named for the operand.
                let operand = self.compile(&st.operand, stem, ids);
                // Cues are matched as written: stemming "will" or "met" would blur them.
                let upcoming = st
                    .upcoming
                    .iter()
                    .map(|t| self.term_id(t, None, ids))
                    .collect();
                let past = st.past.iter().map(|t| self.term_id(t, None, ids)).collect();
                Node::Status(Box::new(StatusNode {
                    status: st.status,
                    window: st.window,
                    operand,
                    upcoming,
                    past,
                }))
            }
        }
    }

    fn term_id(
        &mut self,
        t: &super::syntax::Term,
        stem: Option<Stem>,
        ids: &mut HashMap<TermKey, u32>,
    ) -> u32 {
        // Prefixes are never stemmed: "plan*" already covers the inflections.
        let stem = if t.prefix { None } else { stem };
        let tokens = match stem {
            Some(s) => {
                let stemmer = rust_stemmers::Stemmer::create(s.algorithm());
                t.tokens
                    .iter()
                    .map(|w| stemmer.stem(w).into_owned())
                    .collect()
            }
            None => t.tokens.clone(),
        };
        let key = TermKey {
            tokens,
            prefix: t.prefix,
            scope: t.scope,
            stem,
        };
        match ids.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.terms.len() as u32;
                self.index_term(&key, id);
                ids.insert(key.clone(), id);
                self.terms.push(CompiledTerm {
                    key,
                    source: t.source.clone(),
                });
                self.shapes.push(TermShape {
                    scope: t.scope,
                    tokens: t.tokens.len().min(usize::from(u16::MAX)) as u16,
                });
                id
            }
        }
    }

    /// Terms of which at least one must occur for `node` to be true: a conjunction needs only
    /// its most specific operand's anchors, a disjunction all of its operands'. `None` when the
    /// node can be true with no term present (a negation).
    fn anchors(&self, node: &Node) -> Option<Vec<u32>> {
        match node {
            Node::Term(id) => Some(vec![*id]),
            Node::Not(_) => None,
            Node::Or(xs) | Node::Lexicon(_, xs) => {
                let mut all = Vec::new();
                for x in xs {
                    all.extend(self.anchors(x)?);
                }
                Some(all)
            }
            Node::And(xs) => xs
                .iter()
                .filter_map(|x| self.anchors(x))
                .max_by_key(|a| self.specificity(a)),
            Node::Near(a, b, _) => [self.anchors(a), self.anchors(b)]
                .into_iter()
                .flatten()
                .max_by_key(|a| self.specificity(a)),
            // The cues never get a topic evaluated: they are common words.
            Node::Status(st) => self.anchors(&st.operand),
        }
    }

    /// How rare a set of anchor terms is likely to be: that of its least specific term, where
    /// phrases beat words, words beat prefixes, a term only in titles beats one anywhere (a
    /// title is a tenth or so of an item's words), and longer beats shorter.
    fn specificity(&self, anchors: &[u32]) -> usize {
        anchors
            .iter()
            .map(|&id| {
                let k = &self.terms[id as usize].key;
                let chars: usize = k.tokens.iter().map(|t| t.chars().count()).sum();
                let bonus = if k.prefix { 0 } else { 4 }
                    + 8 * (k.tokens.len() - 1)
                    + if k.scope == Scope::Title { 8 } else { 0 };
                chars + bonus
            })
            .min()
            .unwrap_or(0)
    }

    fn index_term(&mut self, key: &TermKey, id: u32) {
        let first: Box<str> = key.tokens[0].as_str().into();
        if key.prefix && key.tokens.len() == 1 {
            self.first_words.push((first, true, id));
        } else if let Some(stem) = key.stem {
            let index = match self.stems.iter().position(|s| s.stem == stem) {
                Some(i) => i,
                None => {
                    self.stems.push(StemIndex {
                        stem,
                        stemmer: rust_stemmers::Stemmer::create(stem.algorithm()),
                        first: FxMap::default(),
                    });
                    self.stems.len() - 1
                }
            };
            self.stems[index].first.entry(first).or_default().push(id);
        } else {
            self.first_words.push((first, false, id));
        }
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn topic_name(&self, topic: usize) -> &str {
        &self.topics[topic].name
    }

    /// Matches one item against every topic.
    pub fn match_item(&self, feed: &str, title: &str, summary: &str) -> Vec<TopicMatch> {
        let mut scratch = Scratch::default();
        self.match_item_with(&mut scratch, feed, title, summary)
    }

    /// As [`match_item`](Self::match_item), reusing buffers across calls.
    pub fn match_item_with(
        &self,
        s: &mut Scratch,
        feed: &str,
        title: &str,
        summary: &str,
    ) -> Vec<TopicMatch> {
        tokenize_into(title, &mut s.title);
        tokenize_into(summary, &mut s.summary);
        if self.topics.is_empty() {
            return Vec::new();
        }
        s.hits.clear();
        for (field, tokens, stemmed) in [
            (Field::Title, &s.title, &mut s.stemmed_title),
            (Field::Summary, &s.summary, &mut s.stemmed_summary),
        ] {
            stemmed.clear();
            self.find_hits(field, tokens, stemmed, &mut s.hits);
        }
        s.candidates.clear();
        s.candidates.extend_from_slice(&self.always);
        s.queued.resize(self.topics.len().div_ceil(64), 0);
        s.present.resize(self.terms.len().div_ceil(64), 0);
        s.first_hit.resize(self.terms.len(), NONE);
        s.next_hit.clear();
        s.next_hit.resize(s.hits.len(), NONE);
        // Backwards, so that each chain comes out in text order.
        for (i, h) in s.hits.iter().enumerate().rev() {
            let t = h.term as usize;
            s.next_hit[i] = s.first_hit[t];
            s.first_hit[t] = i as u32;
        }
        for (i, h) in s.hits.iter().enumerate() {
            let t = h.term as usize;
            if s.first_hit[t] == i as u32 {
                let topics = &self.term_topic_ids
                    [self.term_topic_at[t] as usize..self.term_topic_at[t + 1] as usize];
                for &ti in topics {
                    let (word, bit) = (ti as usize / 64, 1 << (ti % 64));
                    if s.queued[word] & bit == 0 {
                        s.queued[word] |= bit;
                        s.candidates.push(ti);
                    }
                }
                s.present[t / 64] |= 1 << (t % 64);
            }
        }
        for &ti in &s.candidates {
            s.queued[ti as usize / 64] = 0;
        }

        let mut out = Vec::new();
        for &ti in &s.candidates {
            let topic = &self.topics[ti as usize];
            if let Some(feeds) = &topic.feeds
                && !feeds.iter().any(|f| f == feed)
            {
                continue;
            }
            let eval = Eval {
                hits: &s.hits,
                present: &s.present,
                first_hit: &s.first_hit,
                next_hit: &s.next_hit,
                fields: [(&s.title, title), (&s.summary, summary)],
            };
            if let Some(qi) = topic.queries.iter().position(|q| eval.truth(q)) {
                let mut terms = Vec::new();
                eval.positive_terms(&topic.queries[qi], &mut |id, at, cue| {
                    if let Some(h) = at.or_else(|| eval.first(id)) {
                        let tokens = if h.field == Field::Title {
                            &s.title
                        } else {
                            &s.summary
                        };
                        let range = tokens.tokens[h.start as usize].src.0 as usize
                            ..tokens.tokens[h.end as usize].src.1 as usize;
                        let term = self.terms[id as usize].source.clone();
                        if !terms.iter().any(|t: &MatchedTerm| t.term == term) {
                            terms.push(MatchedTerm {
                                term,
                                field: h.field,
                                range,
                                cue,
                            });
                        }
                    }
                });
                out.push(TopicMatch {
                    topic: ti as usize,
                    query: qi,
                    terms,
                });
            }
        }
        for h in &s.hits {
            s.present[h.term as usize / 64] = 0;
            s.first_hit[h.term as usize] = NONE;
        }
        // Candidates come in the order their terms were found; matches go out in topic order.
        out.sort_unstable_by_key(|m| m.topic);
        out
    }

    fn find_hits(
        &self,
        field: Field,
        tokens: &Tokens,
        stemmed: &mut Vec<String>,
        hits: &mut Vec<Hit>,
    ) {
        let n = tokens.len();
        if n == 0 {
            return;
        }
        let mut push = |term: u32, start: usize, len: usize| {
            let scope = self.shapes[term as usize].scope;
            let in_scope = match scope {
                Scope::Any => true,
                Scope::Title => field == Field::Title,
                Scope::Summary => field == Field::Summary,
            };
            if in_scope {
                hits.push(Hit {
                    term,
                    field,
                    start: start as u32,
                    end: (start + len - 1) as u32,
                });
            }
        };
        for i in 0..n {
            self.first.find(tokens.get(i), |id, prefix| {
                if prefix || self.shapes[id as usize].tokens == 1 {
                    push(id, i, 1);
                } else {
                    let t = &self.terms[id as usize].key;
                    if phrase_at(t, i, n, |k| tokens.get(k)) {
                        push(id, i, t.tokens.len());
                    }
                }
            });
        }
        for index in &self.stems {
            if stemmed.len() != n {
                stemmed.clear();
                stemmed.extend((0..n).map(|i| index.stemmer.stem(tokens.get(i)).into_owned()));
            }
            for i in 0..n {
                if let Some(ids) = index.first.get(stemmed[i].as_str()) {
                    for &id in ids {
                        let t = &self.terms[id as usize].key;
                        if phrase_at(t, i, n, |k| stemmed[k].as_str()) {
                            push(id, i, t.tokens.len());
                        }
                    }
                }
            }
            // With several stemming languages, the next one recomputes.
            stemmed.clear();
        }
    }
}

/// How one topic's queries evaluate on one item, for `topics explain` and backtests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The first query that matched, if any.
    pub query: Option<usize>,
    /// The evaluation tree, one line per node, indented, each marked `+` (true) or `-` (false).
    pub tree: Vec<String>,
    /// Per query, its clauses that were false: the operands of a top-level AND, else the query.
    pub missing: Vec<Vec<String>>,
}

impl Matcher {
    /// Evaluates topic `topic` on one item and says why it does or does not match. Slower than
    /// [`match_item`](Self::match_item); for people, not for the pipeline.
    pub fn explain(&self, topic: usize, title: &str, summary: &str) -> Explanation {
        let mut s = Scratch::default();
        tokenize_into(title, &mut s.title);
        tokenize_into(summary, &mut s.summary);
        let mut hits = Vec::new();
        for (field, tokens, stemmed) in [
            (Field::Title, &s.title, &mut s.stemmed_title),
            (Field::Summary, &s.summary, &mut s.stemmed_summary),
        ] {
            stemmed.clear();
            self.find_hits(field, tokens, stemmed, &mut hits);
        }
        let mut present = vec![0u64; self.terms.len().div_ceil(64)];
        let mut first_hit = vec![NONE; self.terms.len()];
        let mut next_hit = vec![NONE; hits.len()];
        for (i, h) in hits.iter().enumerate().rev() {
            let t = h.term as usize;
            next_hit[i] = first_hit[t];
            first_hit[t] = i as u32;
            present[t / 64] |= 1 << (t % 64);
        }
        let eval = Eval {
            hits: &hits,
            present: &present,
            first_hit: &first_hit,
            next_hit: &next_hit,
            fields: [(&s.title, title), (&s.summary, summary)],
        };
        let texts = [title, summary];
        let mut out = Explanation::default();
        let Some(t) = self.topics.get(topic) else {
            return out;
        };
        for (qi, q) in t.queries.iter().enumerate() {
            let truth = eval.truth(q);
            if truth && out.query.is_none() {
                out.query = Some(qi);
            }
            out.tree.push(format!(
                "{} query #{}",
                if truth { "+" } else { "-" },
                qi + 1
            ));
            self.explain_node(&eval, &texts, q, 1, &mut out.tree);
            let missing = match q {
                Node::And(xs) => xs
                    .iter()
                    .filter(|x| !eval.truth(x))
                    .map(|x| self.render(x))
                    .collect(),
                _ if !truth => vec![self.render(q)],
                _ => Vec::new(),
            };
            out.missing.push(missing);
        }
        out
    }

    fn explain_node(
        &self,
        eval: &Eval,
        texts: &[&str; 2],
        node: &Node,
        depth: usize,
        out: &mut Vec<String>,
    ) {
        let pad = "  ".repeat(depth);
        let mark = if eval.truth(node) { "+" } else { "-" };
        let found = |id: u32| -> Option<String> {
            let h = eval.first(id)?;
            let (tokens, _) = eval.fields[h.field as usize];
            let text = texts[h.field as usize];
            let range = tokens.tokens[h.start as usize].src.0 as usize
                ..tokens.tokens[h.end as usize].src.1 as usize;
            Some(format!(
                "\"{}\" in {}",
                text.get(range).unwrap_or(""),
                h.field.as_str()
            ))
        };
        match node {
            Node::Term(id) => {
                let at = found(*id).map(|f| format!(": {f}")).unwrap_or_default();
                out.push(format!(
                    "{pad}{mark} {}{at}",
                    self.terms[*id as usize].source
                ));
            }
            Node::Lexicon(_, xs) => {
                let hits: Vec<String> = xs
                    .iter()
                    .filter_map(|x| match x {
                        Node::Term(id) => found(*id).map(|f| format!("{} {f}", self.entry(*id))),
                        _ => None,
                    })
                    .collect();
                let detail = if hits.is_empty() {
                    String::new()
                } else {
                    format!(": {}", hits.join("; "))
                };
                out.push(format!("{pad}{mark} {}{detail}", self.render(node)));
            }
            Node::And(xs) | Node::Or(xs) => {
                let op = if matches!(node, Node::And(_)) {
                    "AND"
                } else {
                    "OR"
                };
                out.push(format!("{pad}{mark} {op}"));
                for x in xs {
                    self.explain_node(eval, texts, x, depth + 1, out);
                }
            }
            Node::Not(x) => {
                out.push(format!("{pad}{mark} NOT"));
                self.explain_node(eval, texts, x, depth + 1, out);
            }
            Node::Near(a, b, n) => {
                out.push(format!("{pad}{mark} NEAR/{n}"));
                self.explain_node(eval, texts, a, depth + 1, out);
                self.explain_node(eval, texts, b, depth + 1, out);
            }
            Node::Status(st) => {
                let cue = match eval.decide(st) {
                    Some(d) => format!(": cue {}", self.describe_hit(eval, texts, d.cue, d.hit)),
                    None => {
                        let other = StatusNode {
                            status: match st.status {
                                Status::Upcoming => Status::Past,
                                Status::Past => Status::Upcoming,
                            },
                            ..(**st).clone()
                        };
                        match eval.decide(&other) {
                            Some(d) => format!(
                                ": nearest cue says {} ({})",
                                other.status.as_str(),
                                self.describe_hit(eval, texts, d.cue, d.hit)
                            ),
                            None => ": no cue near it".into(),
                        }
                    }
                };
                out.push(format!("{pad}{mark} {}{cue}", st.status.as_str()));
                self.explain_node(eval, texts, &st.operand, depth + 1, out);
            }
        }
    }

    fn describe_hit(&self, eval: &Eval, texts: &[&str; 2], id: u32, h: Hit) -> String {
        let (tokens, _) = eval.fields[h.field as usize];
        let range = tokens.tokens[h.start as usize].src.0 as usize
            ..tokens.tokens[h.end as usize].src.1 as usize;
        format!(
            "\"{}\" in {} ({})",
            texts[h.field as usize].get(range).unwrap_or(""),
            h.field.as_str(),
            self.terms[id as usize].source
        )
    }

    /// The entry text of a lexicon term (its source without the " (@name)" suffix).
    fn entry(&self, id: u32) -> &str {
        let src = &self.terms[id as usize].source;
        src.rsplit_once(" (@").map_or(src.as_str(), |(e, _)| e)
    }

    /// A node as query text, lexicons by name.
    fn render(&self, node: &Node) -> String {
        let join = |xs: &[Node], op: &str| {
            let parts: Vec<String> = xs.iter().map(|x| self.render(x)).collect();
            format!("({})", parts.join(&format!(" {op} ")))
        };
        match node {
            Node::Term(id) => self.terms[*id as usize].source.clone(),
            Node::Or(xs) => join(xs, "OR"),
            Node::Lexicon(i, _) => format!("@{}", self.lexicon_names[*i as usize]),
            Node::And(xs) => join(xs, "AND"),
            Node::Not(x) => format!("NOT {}", self.render(x)),
            Node::Near(a, b, n) => format!("({} NEAR/{n} {})", self.render(a), self.render(b)),
            Node::Status(st) => format!("{}({})", st.status.as_str(), self.render(&st.operand)),
        }
    }
}

/// The lexicon an OR-group was expanded from (all its terms' sources end in " (@name)").
fn lexicon_name(xs: &[Expr]) -> Option<&str> {
    let mut name = None;
    for x in xs {
        let Expr::Term(t) = x else { return None };
        let n = t.source.rsplit_once(" (@")?.1.strip_suffix(')')?;
        if name.is_some_and(|m| m != n) {
            return None;
        }
        name = Some(n);
    }
    name
}

/// The first tokens of all unstemmed terms, hashed: for an item token, one probe finds the terms
/// whose first token it is, and one probe per distinct prefix length finds the prefix terms that
/// start it. The probes go first to a bit filter that stays in the L1 cache, so the tokens
/// that match nothing (most of them) never touch the table, however many topics there are.
#[derive(Debug)]
struct FirstTokens {
    /// One bit per hash (the top `FILTER_BITS` bits of it).
    filter: Box<[u64]>,
    /// Bit `l` is set when some prefix term's first token is `l` bytes long (`l` < 64).
    prefix_lens: u64,
    /// The same per hash of the first three bytes (prefixes of two bytes are filed under their
    /// two bytes): a token probes only the lengths of prefixes that may start like it, usually
    /// none.
    prefix_lens_by_start: Box<[u64]>,
    /// Open addressing, linear probing, at most half full. A slot holds what a probe compares,
    /// so a lookup usually reads one cache line.
    slots: Box<[Slot]>,
    /// The words of the slots, compared only when longer than 8 bytes.
    words: Box<[Box<str>]>,
    /// Prefix terms of 64 bytes or more (never in practice): checked one by one.
    long_prefixes: Vec<(Box<str>, u32)>,
    terms: Vec<u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    hash: u64,
    /// [`first_word`] of the word.
    first: u64,
    /// The word's length in bytes, shifted left once, with the low bit set for a prefix.
    shape: u32,
    /// `terms[at..at + n]`; `n == 0` marks an empty slot.
    at: u32,
    n: u32,
}

const FILTER_BITS: u32 = 17;
const START_BITS: u32 = 10;

/// Where a word start (two or three bytes, little-endian) sits in
/// `FirstTokens::prefix_lens_by_start`.
fn start_index(start: u64) -> usize {
    (start.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - START_BITS)) as usize
}

impl FirstTokens {
    /// Indexes `(first token, is prefix, term id)` triples.
    fn new(words: &[(Box<str>, bool, u32)]) -> FirstTokens {
        let mut groups: FxMap<(&str, bool), Vec<u32>> = FxMap::default();
        let mut long_prefixes = Vec::new();
        for (word, prefix, id) in words {
            if *prefix && word.len() >= 64 {
                long_prefixes.push((word.clone(), *id));
            } else {
                groups.entry((word, *prefix)).or_default().push(*id);
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_unstable();
        let size = (groups.len() * 2).next_power_of_two().max(8);
        let mut f = FirstTokens {
            filter: vec![0u64; 1 << (FILTER_BITS - 6)].into_boxed_slice(),
            prefix_lens: 0,
            prefix_lens_by_start: vec![0; 1 << START_BITS].into_boxed_slice(),
            slots: vec![Slot::default(); size].into_boxed_slice(),
            words: vec![Box::<str>::default(); size].into_boxed_slice(),
            long_prefixes,
            terms: Vec::new(),
        };
        for ((word, prefix), ids) in groups {
            let hash = word_hash(word.as_bytes(), prefix);
            let bit = (hash >> (64 - FILTER_BITS)) as usize;
            f.filter[bit / 64] |= 1 << (bit % 64);
            if prefix {
                f.prefix_lens |= 1 << word.len();
                if word.len() >= 2 {
                    let start = first_word(word.as_bytes()) & low_bits(8 * word.len().min(3));
                    f.prefix_lens_by_start[start_index(start)] |= 1 << word.len();
                }
            }
            let mask = f.slots.len() - 1;
            let mut at = hash as usize & mask;
            while f.slots[at].n != 0 {
                at = (at + 1) & mask;
            }
            f.slots[at] = Slot {
                hash,
                first: first_word(word.as_bytes()),
                shape: shape(word.len(), prefix),
                at: f.terms.len() as u32,
                n: ids.len() as u32,
            };
            f.words[at] = word.into();
            f.terms.extend_from_slice(&ids);
        }
        f
    }

    /// The terms of `word` (whose [`first_word`] is `first`) as an exact word or a prefix.
    #[inline(always)]
    fn lookup(&self, word: &[u8], first: u64, prefix: bool, hash: u64) -> &[u32] {
        let bit = (hash >> (64 - FILTER_BITS)) as usize;
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return &[];
        }
        self.probe(word, first, prefix, hash)
    }

    /// The table lookup behind the filter.
    #[inline(never)]
    fn probe(&self, word: &[u8], first: u64, prefix: bool, hash: u64) -> &[u32] {
        let mask = self.slots.len() - 1;
        let shape = shape(word.len(), prefix);
        let mut at = hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.n == 0 {
                return &[];
            }
            if slot.hash == hash
                && slot.shape == shape
                && slot.first == first
                && (word.len() <= 8 || self.words[at].as_bytes() == word)
            {
                return &self.terms[slot.at as usize..(slot.at + slot.n) as usize];
            }
            at = (at + 1) & mask;
        }
    }

    /// Calls `f(term, false)` for the terms whose first token is `word`, and `f(term, true)` for
    /// the prefix terms whose first token starts it (ending on a character boundary).
    fn find(&self, word: &str, mut f: impl FnMut(u32, bool)) {
        let bytes = word.as_bytes();
        let first = first_word(bytes);
        let hash = if bytes.len() <= 8 {
            mix(seed(bytes.len(), false), first)
        } else {
            word_hash(bytes, false)
        };
        self.lookup(bytes, first, false, hash)
            .iter()
            .for_each(|&id| f(id, false));
        // Prefix lengths up to the word's own, shortest first.
        let mut lens = self.prefix_lens & 0b10;
        if bytes.len() >= 2 {
            lens |= self.prefix_lens_by_start[start_index(first & 0xffff)] & 0b100;
        }
        if bytes.len() >= 3 {
            lens |= self.prefix_lens_by_start[start_index(first & 0xff_ffff)]
                & !0b111
                & low_bits(bytes.len() + 1);
        }
        if lens != 0 {
            while lens != 0 {
                let len = lens.trailing_zeros() as usize;
                lens &= lens - 1;
                if !word.is_char_boundary(len) {
                    continue;
                }
                let start = first & low_bits(len * 8);
                let hash = if len <= 8 {
                    mix(seed(len, true), start)
                } else {
                    word_hash(&bytes[..len], true)
                };
                self.lookup(&bytes[..len], start, true, hash)
                    .iter()
                    .for_each(|&id| f(id, true));
            }
        }
        for (start, id) in &self.long_prefixes {
            if word.starts_with(&**start) {
                f(*id, true);
            }
        }
    }
}

/// The low `n` bits set (`n` ≤ 64).
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// The first up-to-8 bytes of `bytes` as a little-endian word, zero-padded. Short words are read
/// with two overlapping loads instead of a byte loop or a `memcpy` call: this runs for every token.
fn first_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if let Some(w) = bytes.first_chunk::<8>() {
        u64::from_le_bytes(*w)
    } else if n >= 4 {
        let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let hi = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
        u64::from(lo) | u64::from(hi) << (8 * (n - 4))
    } else if n > 0 {
        u64::from(bytes[0])
            | u64::from(bytes[n / 2]) << (8 * (n / 2))
            | u64::from(bytes[n - 1]) << (8 * (n - 1))
    } else {
        0
    }
}

fn shape(len: usize, prefix: bool) -> u32 {
    (len.min(u32::MAX as usize >> 1) as u32) << 1 | u32::from(prefix)
}

fn seed(len: usize, prefix: bool) -> u64 {
    (len as u64) << 1 | u64::from(prefix)
}

fn mix(h: u64, w: u64) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    h ^ (h >> 29)
}

/// Hash of a token (8 bytes at a time, the last chunk zero-padded), distinct for exact words and
/// prefixes. `FirstTokens::find` relies on a word of at most 8 bytes taking one `mix` step.
fn word_hash(bytes: &[u8], prefix: bool) -> u64 {
    let mut h = seed(bytes.len(), prefix);
    let mut chunks = bytes.chunks(8);
    for c in &mut chunks {
        h = mix(h, first_word(c));
    }
    h
}

/// Does the whole term match at token `i` (its first token already does)?
fn phrase_at<'a>(t: &TermKey, i: usize, n: usize, get: impl Fn(usize) -> &'a str) -> bool {
    let len = t.tokens.len();
    if i + len > n {
        return false;
    }
    (1..len).all(|k| {
        let word = get(i + k);
        if t.prefix && k == len - 1 {
            word.starts_with(t.tokens[k].as_str())
        } else {
            word == t.tokens[k]
        }
    })
}

struct Eval<'h> {
    hits: &'h [Hit],
    present: &'h [u64],
    first_hit: &'h [u32],
    next_hit: &'h [u32],
    /// The title's and the summary's tokens and text, for sentence boundaries.
    fields: [(&'h Tokens, &'h str); 2],
}

impl Eval<'_> {
    /// The hits of `term`, in text order (title first).
    fn of(&self, term: u32) -> impl Iterator<Item = Hit> + '_ {
        let mut at = self.first_hit[term as usize];
        std::iter::from_fn(move || {
            let h = *self.hits.get(at as usize)?;
            at = self.next_hit[at as usize];
            Some(h)
        })
    }

    fn first(&self, term: u32) -> Option<Hit> {
        self.of(term).next()
    }

    fn has(&self, id: u32) -> bool {
        self.present[id as usize / 64] & (1 << (id % 64)) != 0
    }

    /// [`truth`](Self::truth) without a call for the common case, a term.
    #[inline(always)]
    fn leaf_or_truth(&self, node: &Node) -> bool {
        match node {
            Node::Term(id) => self.has(*id),
            _ => self.truth(node),
        }
    }

    fn truth(&self, node: &Node) -> bool {
        match node {
            Node::Term(id) => self.has(*id),
            Node::And(xs) => xs.iter().all(|x| self.leaf_or_truth(x)),
            Node::Or(xs) | Node::Lexicon(_, xs) => xs.iter().any(|x| self.leaf_or_truth(x)),
            Node::Not(x) => !self.truth(x),
            // Both sides first: a cheap test that spares most position checks.
            Node::Near(a, b, _) => {
                self.leaf_or_truth(a) && self.leaf_or_truth(b) && !self.spans(node).is_empty()
            }
            Node::Status(st) => self.leaf_or_truth(&st.operand) && self.decide(st).is_some(),
        }
    }

    /// The first place `st`'s operand occurs whose nearest cue points the way `st` asks, and
    /// that cue. Ties between an upcoming and a past cue go to the upcoming one: "met and agreed
    /// to meet again" is news of a meeting to come. A cue that begins inside another cue is
    /// governed by it and does not count: in "to hold talks" the infinitive `to hold` (ahead)
    /// governs `hold talks` (the headline present of talks held), as in "set to be held" it
    /// governs `held`.
    fn decide(&self, st: &StatusNode) -> Option<Decision> {
        let cues = st
            .upcoming
            .iter()
            .map(|&c| (Status::Upcoming, c))
            .chain(st.past.iter().map(|&c| (Status::Past, c)))
            .filter(|&(_, c)| self.has(c));
        let cues: Vec<(Status, u32)> = cues.collect();
        if cues.is_empty() {
            return None;
        }
        let governed = |hit: &Hit| {
            cues.iter().any(|&(_, other)| {
                self.of(other)
                    .any(|o| o.field == hit.field && o.start < hit.start && hit.start <= o.end)
            })
        };
        // In text order, title first, so that the cue named is the first a reader meets.
        let mut spans = self.spans(&st.operand);
        spans.sort_unstable_by_key(|&(f, s0, _)| (f as u8, s0));
        for (field, s0, s1) in spans {
            let mut best: Option<(u32, Decision)> = None;
            for &(status, cue) in &cues {
                for hit in self.of(cue).filter(|h| h.field == field && !governed(h)) {
                    let gap = if hit.end < s0 {
                        s0 - hit.end
                    } else {
                        hit.start.saturating_sub(s1)
                    };
                    if gap > st.window
                        || best.is_some_and(|(g, d)| {
                            g < gap || (g == gap && d.status == Status::Upcoming)
                        })
                        || self.sentence_break(field, s0.min(hit.start), s1.max(hit.end))
                    {
                        continue;
                    }
                    best = Some((gap, Decision { status, cue, hit }));
                }
            }
            if let Some((_, d)) = best
                && d.status == st.status
            {
                return Some(d);
            }
        }
        None
    }

    /// Does a sentence end between tokens `from` and `to` of `field`? A `.`, `!`, `?` or `;`
    /// between two tokens ends one, except the dot of an abbreviation ("U.S. President",
    /// "Mr. Kishida").
    fn sentence_break(&self, field: Field, from: u32, to: u32) -> bool {
        let (tokens, text) = self.fields[field as usize];
        let bytes = text.as_bytes();
        (from as usize..to as usize).any(|k| {
            let (Some(a), Some(b)) = (tokens.tokens.get(k), tokens.tokens.get(k + 1)) else {
                return false;
            };
            let gap = bytes.get(a.src.1 as usize..b.src.0 as usize).unwrap_or(&[]);
            if gap.iter().any(|c| matches!(c, b'!' | b'?' | b';')) {
                return true;
            }
            if !gap.contains(&b'.') {
                return false;
            }
            let word = tokens.get(k);
            let abbreviation = word.contains('.')
                || word.chars().count() == 1
                || matches!(
                    word,
                    "mr" | "mrs"
                        | "ms"
                        | "dr"
                        | "st"
                        | "gen"
                        | "sen"
                        | "rep"
                        | "gov"
                        | "lt"
                        | "col"
                        | "no"
                        | "vs"
                        | "jr"
                        | "prof"
                        | "pres"
                );
            !abbreviation
        })
    }

    /// Where a NEAR operand occurs: (field, first token, last token).
    fn spans(&self, node: &Node) -> Vec<(Field, u32, u32)> {
        match node {
            Node::Term(id) => self.of(*id).map(|h| (h.field, h.start, h.end)).collect(),
            Node::Or(xs) | Node::Lexicon(_, xs) => xs.iter().flat_map(|x| self.spans(x)).collect(),
            Node::Near(a, b, n) => {
                let (sa, sb) = (self.spans(a), self.spans(b));
                let mut out = Vec::new();
                for &(fa, a0, a1) in &sa {
                    for &(fb, b0, b1) in &sb {
                        if fa != fb {
                            continue;
                        }
                        // Overlapping sides are as near as can be: the phrase "to meet"
                        // satisfies both `meet*` and `"to meet"`, as a reader would say it
                        // does. One word alone still cannot stand for both sides.
                        let gap = if a1 < b0 {
                            b0 - a1
                        } else if b1 < a0 {
                            a0 - b1
                        } else if (a0, a1) != (b0, b1) {
                            0
                        } else {
                            continue;
                        };
                        if gap <= *n {
                            out.push((fa, a0.min(b0), a1.max(b1)));
                        }
                    }
                }
                out
            }
            Node::And(_) | Node::Not(_) | Node::Status(_) => Vec::new(),
        }
    }

    /// Calls `f` for every term outside a NOT (with the hit to show, when it is not the term's
    /// first), and for the cue that decided each event status.
    fn positive_terms(&self, node: &Node, f: &mut impl FnMut(u32, Option<Hit>, Option<Status>)) {
        match node {
            Node::Term(id) => f(*id, None, None),
            Node::And(xs) | Node::Or(xs) | Node::Lexicon(_, xs) => {
                xs.iter().for_each(|x| self.positive_terms(x, f))
            }
            Node::Not(_) => {}
            Node::Near(a, b, _) => {
                self.positive_terms(a, f);
                self.positive_terms(b, f);
            }
            Node::Status(st) => {
                self.positive_terms(&st.operand, f);
                if let Some(d) = self.decide(st) {
                    f(d.cue, Some(d.hit), Some(d.status));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(query: &str) -> Matcher {
        let spec = TopicSpec {
            name: "t".into(),
            queries: vec![query.into()],
            feeds: None,
            stem: None,
            lexicons: Default::default(),
        };
        Matcher::new(&[spec]).expect("query compiles")
    }

    /// The terms whose presence gets topic 0 evaluated.
    fn anchors(m: &Matcher) -> Vec<&str> {
        (0..m.terms.len())
            .filter(|&t| {
                m.term_topic_ids[m.term_topic_at[t] as usize..m.term_topic_at[t + 1] as usize]
                    .contains(&0)
            })
            .map(|t| m.terms[t].source.as_str())
            .collect()
    }

    #[test]
    fn a_node_stays_small() {
        // Evaluation walks nodes for every candidate topic of every item.
        assert!(
            std::mem::size_of::<Node>() <= 32,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    #[test]
    fn a_conjunction_is_anchored_on_its_most_specific_operand() {
        // A phrase beats a longer word; a word beats a longer prefix.
        assert_eq!(
            anchors(&matcher("\"no deal\" negotiations")),
            ["\"no deal\""]
        );
        assert_eq!(anchors(&matcher("summitry* talks")), ["talks"]);
        // Terms seen only in titles beat a longer name that may be anywhere: a name in every
        // item would get the topic evaluated for every item.
        assert_eq!(
            anchors(&matcher("title:(kishida OR ishiba) Zelenskyy -summit")),
            ["kishida", "ishiba"]
        );
        // A negation is never an anchor; a topic that can match through one alone is
        // evaluated for every item.
        assert_eq!(anchors(&matcher("summit -cancelled")), ["summit"]);
        let m = matcher("summit OR -cancelled");
        assert!(anchors(&m).is_empty());
        assert_eq!(m.always, [0]);
    }
}
