//! All topics compiled into one [`Matcher`].
//!
//! Every distinct term of every topic gets an id. The first token of every term goes into one
//! byte trie: walking an item's token down it finds, in one pass, every prefix term (at the
//! nodes passed) and every exact term (at the node reached), so the work per token depends on
//! the token's length, not on how many topics exist. Stemmed terms use a hash index of stems.
//! Only topics with at least one hit (plus the rare topics that can match through `NOT` alone)
//! have their expression evaluated.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::syntax::{Expr, Scope, SyntaxError, parse_query};
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
    Not(Box<Node>),
    Near(Box<Node>, Box<Node>, u32),
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
    term_topics: Vec<Vec<u32>>,
    trie: Trie,
    flat: FlatTrie,
    stems: Vec<StemIndex>,
    always: Vec<u32>,
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
}

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
            term_topics: Vec::new(),
            trie: Trie::new(),
            flat: FlatTrie::default(),
            stems: Vec::new(),
            always: Vec::new(),
        };
        let mut ids: HashMap<TermKey, u32> = HashMap::new();
        for (ti, spec) in specs.iter().enumerate() {
            let mut queries = Vec::new();
            let mut anchors = Some(Vec::new());
            for q in &spec.queries {
                let expr = parse_query(q).map_err(|e| (ti, e))?;
                let node = m.compile(&expr, spec.stem, &mut ids);
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
                        let topics = &mut m.term_topics[id as usize];
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
        m.flat = FlatTrie::from(&m.trie);
        Ok(m)
    }

    fn compile(
        &mut self,
        expr: &Expr,
        stem: Option<Stem>,
        ids: &mut HashMap<TermKey, u32>,
    ) -> Node {
        match expr {
            Expr::Term(t) => {
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
                let id = match ids.get(&key) {
                    Some(id) => *id,
                    None => {
                        let id = self.terms.len() as u32;
                        self.index_term(&key, id);
                        ids.insert(key.clone(), id);
                        self.terms.push(CompiledTerm {
                            key,
                            source: t.source.clone(),
                        });
                        self.term_topics.push(Vec::new());
                        id
                    }
                };
                Node::Term(id)
            }
            Expr::And(xs) => Node::And(xs.iter().map(|x| self.compile(x, stem, ids)).collect()),
            Expr::Or(xs) => Node::Or(xs.iter().map(|x| self.compile(x, stem, ids)).collect()),
            Expr::Not(x) => Node::Not(Box::new(self.compile(x, stem, ids))),
            Expr::Near(a, b, n) => Node::Near(
                Box::new(self.compile(a, stem, ids)),
                Box::new(self.compile(b, stem, ids)),
                *n,
            ),
        }
    }

    /// Terms of which at least one must occur for `node` to be true: a conjunction needs only
    /// its most specific operand's anchors, a disjunction all of its operands'. `None` when the
    /// node can be true with no term present (a negation).
    fn anchors(&self, node: &Node) -> Option<Vec<u32>> {
        match node {
            Node::Term(id) => Some(vec![*id]),
            Node::Not(_) => None,
            Node::Or(xs) => {
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
        }
    }

    /// How rare a set of anchor terms is likely to be: that of its least specific term, where
    /// phrases beat words, words beat prefixes, and longer beats shorter.
    fn specificity(&self, anchors: &[u32]) -> usize {
        anchors
            .iter()
            .map(|&id| {
                let k = &self.terms[id as usize].key;
                let chars: usize = k.tokens.iter().map(|t| t.chars().count()).sum();
                let bonus = if k.prefix { 0 } else { 4 } + 8 * (k.tokens.len() - 1);
                chars + bonus
            })
            .min()
            .unwrap_or(0)
    }

    fn index_term(&mut self, key: &TermKey, id: u32) {
        let first: Box<str> = key.tokens[0].as_str().into();
        if key.prefix && key.tokens.len() == 1 {
            let node = self.trie.insert(&first);
            self.trie.nodes[node].prefix_terms.push(id);
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
            let node = self.trie.insert(&first);
            self.trie.nodes[node].exact_terms.push(id);
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
        s.hits
            .sort_unstable_by_key(|h| (h.term, h.field as u8, h.start));

        s.candidates.clear();
        s.candidates.extend_from_slice(&self.always);
        let mut last = u32::MAX;
        for h in &s.hits {
            if h.term != last {
                s.candidates
                    .extend_from_slice(&self.term_topics[h.term as usize]);
                last = h.term;
            }
        }
        s.candidates.sort_unstable();
        s.candidates.dedup();

        let mut out = Vec::new();
        for &ti in &s.candidates {
            let topic = &self.topics[ti as usize];
            if let Some(feeds) = &topic.feeds
                && !feeds.iter().any(|f| f == feed)
            {
                continue;
            }
            let eval = Eval { hits: &s.hits };
            if let Some(qi) = topic.queries.iter().position(|q| eval.truth(q)) {
                let mut terms = Vec::new();
                eval.positive_terms(&topic.queries[qi], &mut |id| {
                    if let Some(h) = eval.first(id) {
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
            let scope = self.terms[term as usize].key.scope;
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
            let word = tokens.get(i);
            let mut node = 0usize;
            let bytes = word.as_bytes();
            for (depth, &b) in bytes.iter().enumerate() {
                let Some(next) = self.flat.child(node, b) else {
                    break;
                };
                node = next;
                // A prefix term matches when the walk passes its node at a character boundary.
                let prefix = self.flat.prefix_terms(node);
                if !prefix.is_empty() && word.is_char_boundary(depth + 1) {
                    prefix.iter().for_each(|&id| push(id, i, 1));
                }
                if depth + 1 == bytes.len() {
                    for &id in self.flat.exact_terms(node) {
                        let t = &self.terms[id as usize].key;
                        if phrase_at(t, i, n, |k| tokens.get(k)) {
                            push(id, i, t.tokens.len());
                        }
                    }
                }
            }
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

/// A byte trie over the first tokens of all terms. The root's children are a direct table;
/// deeper nodes keep their few children in a sorted list.
#[derive(Debug)]
struct Trie {
    root: Box<[u32; 256]>,
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Default)]
struct TrieNode {
    keys: Vec<u8>,
    next: Vec<u32>,
    prefix_terms: Vec<u32>,
    exact_terms: Vec<u32>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            root: Box::new([0; 256]),
            nodes: vec![TrieNode::default()],
        }
    }

    fn child(&self, node: usize, b: u8) -> Option<usize> {
        if node == 0 {
            let c = self.root[b as usize];
            return (c != 0).then_some(c as usize);
        }
        let n = &self.nodes[node];
        n.keys.binary_search(&b).ok().map(|i| n.next[i] as usize)
    }

    /// The node for `word`, created as needed.
    fn insert(&mut self, word: &str) -> usize {
        let mut node = 0;
        for &b in word.as_bytes() {
            node = match self.child(node, b) {
                Some(c) => c,
                None => {
                    let c = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    if node == 0 {
                        self.root[b as usize] = c as u32;
                    } else {
                        let n = &mut self.nodes[node];
                        let at = n.keys.partition_point(|k| *k < b);
                        n.keys.insert(at, b);
                        n.next.insert(at, c as u32);
                    }
                    c
                }
            };
        }
        node
    }
}

/// The trie flattened for walking: nodes of 20 bytes in one array, each node's edges and terms
/// contiguous, so a step down costs about one cache line instead of several pointer hops.
#[derive(Debug, Default)]
struct FlatTrie {
    root: Vec<u32>,
    /// Direct tables for the root's children too (the busiest nodes): `second[i]` for the node
    /// whose `second_of[node] == i`.
    second: Vec<[u32; 256]>,
    second_of: Vec<u32>,
    nodes: Vec<FlatNode>,
    edge_keys: Vec<u8>,
    edge_next: Vec<u32>,
    terms: Vec<u32>,
}

#[derive(Debug, Default, Clone, Copy)]
struct FlatNode {
    edges: u32,
    prefix: u32,
    exact: u32,
    n_edges: u16,
    n_prefix: u16,
    n_exact: u16,
}

impl FlatTrie {
    fn from(t: &Trie) -> FlatTrie {
        let mut f = FlatTrie {
            root: t.root.to_vec(),
            ..FlatTrie::default()
        };
        for n in &t.nodes {
            let node = FlatNode {
                edges: f.edge_keys.len() as u32,
                n_edges: n.keys.len() as u16,
                prefix: f.terms.len() as u32,
                n_prefix: n.prefix_terms.len() as u16,
                exact: (f.terms.len() + n.prefix_terms.len()) as u32,
                n_exact: n.exact_terms.len() as u16,
            };
            f.edge_keys.extend_from_slice(&n.keys);
            f.edge_next.extend_from_slice(&n.next);
            f.terms.extend_from_slice(&n.prefix_terms);
            f.terms.extend_from_slice(&n.exact_terms);
            f.nodes.push(node);
        }
        f.second_of = vec![u32::MAX; t.nodes.len()];
        for &c in t.root.iter().filter(|&&c| c != 0) {
            let mut table = [0u32; 256];
            let n = &t.nodes[c as usize];
            for (k, next) in n.keys.iter().zip(&n.next) {
                table[*k as usize] = *next;
            }
            f.second_of[c as usize] = f.second.len() as u32;
            f.second.push(table);
        }
        f
    }

    fn child(&self, node: usize, b: u8) -> Option<usize> {
        if node == 0 {
            let c = self.root[b as usize];
            return (c != 0).then_some(c as usize);
        }
        if let Some(table) = self.second.get(self.second_of[node] as usize) {
            let c = table[b as usize];
            return (c != 0).then_some(c as usize);
        }
        let n = self.nodes[node];
        let keys = &self.edge_keys[n.edges as usize..n.edges as usize + n.n_edges as usize];
        keys.iter()
            .position(|&k| k == b)
            .map(|i| self.edge_next[n.edges as usize + i] as usize)
    }

    fn prefix_terms(&self, node: usize) -> &[u32] {
        let n = self.nodes[node];
        &self.terms[n.prefix as usize..n.prefix as usize + n.n_prefix as usize]
    }

    fn exact_terms(&self, node: usize) -> &[u32] {
        let n = self.nodes[node];
        &self.terms[n.exact as usize..n.exact as usize + n.n_exact as usize]
    }
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
}

impl Eval<'_> {
    fn of(&self, term: u32) -> &[Hit] {
        let lo = self.hits.partition_point(|h| h.term < term);
        let hi = self.hits.partition_point(|h| h.term <= term);
        &self.hits[lo..hi]
    }

    fn first(&self, term: u32) -> Option<Hit> {
        self.of(term).first().copied()
    }

    fn truth(&self, node: &Node) -> bool {
        match node {
            Node::Term(id) => !self.of(*id).is_empty(),
            Node::And(xs) => xs.iter().all(|x| self.truth(x)),
            Node::Or(xs) => xs.iter().any(|x| self.truth(x)),
            Node::Not(x) => !self.truth(x),
            Node::Near(..) => !self.spans(node).is_empty(),
        }
    }

    /// Where a NEAR operand occurs: (field, first token, last token).
    fn spans(&self, node: &Node) -> Vec<(Field, u32, u32)> {
        match node {
            Node::Term(id) => self
                .of(*id)
                .iter()
                .map(|h| (h.field, h.start, h.end))
                .collect(),
            Node::Or(xs) => xs.iter().flat_map(|x| self.spans(x)).collect(),
            Node::Near(a, b, n) => {
                let (sa, sb) = (self.spans(a), self.spans(b));
                let mut out = Vec::new();
                for &(fa, a0, a1) in &sa {
                    for &(fb, b0, b1) in &sb {
                        if fa != fb {
                            continue;
                        }
                        let gap = if a1 < b0 {
                            b0 - a1
                        } else if b1 < a0 {
                            a0 - b1
                        } else {
                            // The same words cannot stand for both sides.
                            continue;
                        };
                        if gap <= *n {
                            out.push((fa, a0.min(b0), a1.max(b1)));
                        }
                    }
                }
                out
            }
            Node::And(_) | Node::Not(_) => Vec::new(),
        }
    }

    /// Calls `f` for every term outside a NOT.
    fn positive_terms(&self, node: &Node, f: &mut impl FnMut(u32)) {
        match node {
            Node::Term(id) => f(*id),
            Node::And(xs) | Node::Or(xs) => xs.iter().for_each(|x| self.positive_terms(x, f)),
            Node::Not(_) => {}
            Node::Near(a, b, _) => {
                self.positive_terms(a, f);
                self.positive_terms(b, f);
            }
        }
    }
}
