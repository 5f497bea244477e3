//! The topic query language: text → [`Expr`], or a [`SyntaxError`] with the byte offset of the
//! problem and what was expected there.
//!
//! Grammar, loosest first (`NOT`/`-` binds tightest, then `NEAR/n`, then `AND` and plain
//! juxtaposition, then `OR`; parentheses override):
//!
//! ```text
//! or    := and ("OR" and)*
//! and   := near (["AND"] near)*
//! near  := unary ("NEAR/" n unary)*
//! unary := ("NOT" | "-") unary | scope
//! scope := ["title:" | "summary:"] primary
//! primary := "(" or ")" | '"' phrase '"' | word | word"*" | "@"lexicon
//!          | ("UPCOMING" | "PAST") ["/" n] "(" or ")"
//! ```
//!
//! Operators are upper-case (`AND`, `OR`, `NOT`, `NEAR/5`, `UPCOMING`, `PAST`); lower-case
//! `and`/`or` are words. `@name` stands for the OR of a lexicon's entries.

use std::fmt;

use super::lexicon::{self, Lexicons};
use super::tokenize::{fold_query_word, tokenize};

/// Which fields a term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Any,
    Title,
    Summary,
}

/// A leaf of a query: one or more normalized tokens that must appear consecutively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// Normalized tokens, in order.
    pub tokens: Vec<String>,
    /// The last token matches any word it begins (`plan*`).
    pub prefix: bool,
    pub scope: Scope,
    /// As written in the query, for explanations.
    pub source: String,
}

/// Which way an event's status must point for `UPCOMING(...)` / `PAST(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Upcoming,
    Past,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Upcoming => "UPCOMING",
            Status::Past => "PAST",
        }
    }
}

/// Default window of `UPCOMING(...)` and `PAST(...)`, in words.
pub const STATUS_WINDOW: u32 = 8;

/// An event-status test: `operand` occurs somewhere whose nearest cue (within `window` words, same
/// field and sentence) is one of `upcoming` or `past`, as `status` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTest {
    pub status: Status,
    pub window: u32,
    pub operand: Expr,
    pub upcoming: Vec<Term>,
    pub past: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Term(Term),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// Both sides within `distance` words of each other, in either order, in the same field.
    Near(Box<Expr>, Box<Expr>, u32),
    Status(Box<StatusTest>),
}

impl Expr {
    /// Every term in the expression, in order.
    pub fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        self.walk_terms(&mut out);
        out
    }

    fn walk_terms<'a>(&'a self, out: &mut Vec<&'a Term>) {
        match self {
            Expr::Term(t) => out.push(t),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.walk_terms(out)),
            Expr::Not(x) => x.walk_terms(out),
            Expr::Near(a, b, _) => {
                a.walk_terms(out);
                b.walk_terms(out);
            }
            Expr::Status(s) => s.operand.walk_terms(out),
        }
    }

    /// Can this expression be true of a text in which none of its terms occur? (Only through
    /// `NOT`; such topics are evaluated for every item.)
    pub fn matches_without_terms(&self) -> bool {
        match self {
            Expr::Term(_) | Expr::Near(..) | Expr::Status(_) => false,
            Expr::And(xs) => xs.iter().all(Expr::matches_without_terms),
            Expr::Or(xs) => xs.iter().any(Expr::matches_without_terms),
            Expr::Not(_) => true,
        }
    }
}

impl fmt::Display for Expr {
    /// Fully parenthesized, to show how a query was read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, xs: &[Expr], op: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{x}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Term(t) => {
                let scope = match t.scope {
                    Scope::Any => "",
                    Scope::Title => "title:",
                    Scope::Summary => "summary:",
                };
                let star = if t.prefix { "*" } else { "" };
                if t.tokens.len() == 1 {
                    write!(f, "{scope}{}{star}", t.tokens[0])
                } else {
                    write!(f, "{scope}\"{}{star}\"", t.tokens.join(" "))
                }
            }
            Expr::And(xs) => join(f, xs, "AND"),
            Expr::Or(xs) => join(f, xs, "OR"),
            Expr::Not(x) => write!(f, "NOT {x}"),
            Expr::Near(a, b, n) => write!(f, "({a} NEAR/{n} {b})"),
            Expr::Status(s) => {
                let op = s.status.as_str();
                if s.window == STATUS_WINDOW {
                    write!(f, "{op}({})", s.operand)
                } else {
                    write!(f, "{op}/{}({})", s.window, s.operand)
                }
            }
        }
    }
}

/// A query that does not parse: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the query text.
    pub offset: usize,
    pub message: String,
}

impl SyntaxError {
    /// The query line holding the error, and a caret line under it.
    pub fn snippet(&self, query: &str) -> (String, String) {
        let offset = self.offset.min(query.len());
        let line_start = query[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = query[offset..]
            .find('\n')
            .map_or(query.len(), |i| offset + i);
        let col = query[line_start..offset].chars().count();
        (
            query[line_start..line_end].to_owned(),
            format!("{}^", " ".repeat(col)),
        )
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for SyntaxError {}

/// Longest NEAR distance accepted.
pub const MAX_NEAR: u32 = 1_000;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses and NOTs accepted.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lex {
    Open,
    Close,
    And,
    Or,
    Not,
    Minus,
    Near(u32),
    Scope(Scope),
    Phrase(String),
    Word(String),
    Lexicon(String),
    Status(Status, u32),
}

fn describe(l: &Lex) -> String {
    match l {
        Lex::Open => "\"(\"".into(),
        Lex::Close => "\")\"".into(),
        Lex::And => "AND".into(),
        Lex::Or => "OR".into(),
        Lex::Not => "NOT".into(),
        Lex::Minus => "\"-\"".into(),
        Lex::Near(n) => format!("NEAR/{n}"),
        Lex::Scope(Scope::Title) => "title:".into(),
        Lex::Scope(_) => "summary:".into(),
        Lex::Phrase(p) => format!("\"{p}\""),
        Lex::Word(w) => format!("\"{w}\""),
        Lex::Lexicon(n) => format!("@{n}"),
        Lex::Status(s, _) => s.as_str().into(),
    }
}

fn lex(q: &str) -> Result<Vec<(Lex, usize)>, SyntaxError> {
    let err = |offset, message: String| Err(SyntaxError { offset, message });
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match c {
            b'(' => {
                out.push((Lex::Open, i));
                i += 1;
            }
            b')' => {
                out.push((Lex::Close, i));
                i += 1;
            }
            b'"' => {
                let Some(end) = q[i + 1..].find('"') else {
                    return err(i, "unterminated phrase: missing closing '\"'".into());
                };
                let inner = &q[i + 1..i + 1 + end];
                if inner.trim().is_empty() {
                    return err(i, "empty phrase \"\"".into());
                }
                out.push((Lex::Phrase(inner.to_owned()), i));
                i += end + 2;
            }
            b'-' if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() && b[i + 1] != b')' => {
                out.push((Lex::Minus, i));
                i += 1;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !b[i].is_ascii_whitespace()
                    && !matches!(b[i], b'(' | b')' | b'"')
                {
                    // A scope prefix ends the word: "title:(" or "title:\"".
                    if b[i] == b':' {
                        let head = &q[start..i];
                        if head == "title" || head == "summary" {
                            break;
                        }
                    }
                    i += 1;
                }
                let word = &q[start..i];
                if i < b.len() && b[i] == b':' {
                    let scope = if word == "title" {
                        Scope::Title
                    } else {
                        Scope::Summary
                    };
                    out.push((Lex::Scope(scope), start));
                    i += 1;
                    if i >= b.len() || b[i].is_ascii_whitespace() {
                        return err(
                            start,
                            format!(
                                "\"{word}:\" must be followed by a word, phrase or group with no space"
                            ),
                        );
                    }
                    continue;
                }
                let status = [("UPCOMING", Status::Upcoming), ("PAST", Status::Past)]
                    .into_iter()
                    .find(|(op, _)| {
                        word.strip_prefix(op)
                            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
                    });
                if let Some((op, status)) = status {
                    let window = match &word[op.len()..] {
                        "" => STATUS_WINDOW,
                        n => match n[1..].parse::<u32>() {
                            Ok(n) if (1..=MAX_NEAR).contains(&n) => n,
                            _ => {
                                return err(
                                    start + op.len() + 1,
                                    format!(
                                        "{op} window must be a number from 1 to {MAX_NEAR}, got \"{}\"",
                                        &n[1..]
                                    ),
                                );
                            }
                        },
                    };
                    if b.get(i) != Some(&b'(') {
                        return err(
                            start,
                            format!(
                                "{op} must be followed by a group with no space, as in {op}(summit OR meeting)"
                            ),
                        );
                    }
                    out.push((Lex::Status(status, window), start));
                    continue;
                }
                let lexeme = match word {
                    "AND" => Lex::And,
                    "OR" => Lex::Or,
                    "NOT" => Lex::Not,
                    w if w.starts_with("NEAR") => {
                        let Some(n) = w.strip_prefix("NEAR/") else {
                            return err(
                                start,
                                format!("\"{w}\": NEAR needs a distance, as in NEAR/5"),
                            );
                        };
                        match n.parse::<u32>() {
                            Ok(n) if (1..=MAX_NEAR).contains(&n) => Lex::Near(n),
                            _ => {
                                return err(
                                    start + 5,
                                    format!(
                                        "NEAR distance must be a number from 1 to {MAX_NEAR}, got \"{n}\""
                                    ),
                                );
                            }
                        }
                    }
                    w if w.starts_with('@') => {
                        if !lexicon::valid_name(&w[1..]) {
                            return err(
                                start,
                                format!(
                                    "\"{w}\": a lexicon name is letters, digits and _, as in @leaders"
                                ),
                            );
                        }
                        Lex::Lexicon(w[1..].to_owned())
                    }
                    w => Lex::Word(w.to_owned()),
                };
                out.push((lexeme, start));
            }
        }
    }
    Ok(out)
}

struct Parser<'q> {
    query: &'q str,
    lexicons: &'q Lexicons,
    lexemes: Vec<(Lex, usize)>,
    pos: usize,
    depth: usize,
}

/// Parses a query with the shipped lexicons only. Errors say where (byte offset) and what was
/// expected.
pub fn parse_query(query: &str) -> Result<Expr, SyntaxError> {
    parse_query_with(query, &Lexicons::default())
}

/// Parses a query; `@name` resolves in `lexicons`, then in the shipped lexicons.
pub fn parse_query_with(query: &str, lexicons: &Lexicons) -> Result<Expr, SyntaxError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(SyntaxError {
            offset: 0,
            message: format!("query is longer than {MAX_QUERY_BYTES} bytes"),
        });
    }
    let lexemes = lex(query)?;
    if lexemes.is_empty() {
        return Err(SyntaxError {
            offset: 0,
            message: "empty query: expected a word, a \"phrase\" or a (group)".into(),
        });
    }
    let mut p = Parser {
        query,
        lexicons,
        lexemes,
        pos: 0,
        depth: 0,
    };
    let expr = p.or()?;
    if let Some((l, off)) = p.lexemes.get(p.pos) {
        let message = if *l == Lex::Close {
            "unbalanced \")\": no \"(\" to close".to_owned()
        } else {
            format!("unexpected {} here", describe(l))
        };
        return Err(SyntaxError {
            offset: *off,
            message,
        });
    }
    if let Expr::Not(_) = &expr {
        // A lone negation matches nearly everything; almost certainly a mistake.
        return Err(SyntaxError { offset: 0, message: "a query cannot be only a NOT: add what it should match, as in `summit NOT mountain`".into() });
    }
    Ok(expr)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lex> {
        self.lexemes.get(self.pos).map(|(l, _)| l)
    }

    fn offset(&self) -> usize {
        self.lexemes
            .get(self.pos)
            .map_or(self.query.len(), |(_, o)| *o)
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            offset: self.offset(),
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut xs = vec![self.and()?];
        while self.peek() == Some(&Lex::Or) {
            self.pos += 1;
            if self.starts_operand() {
                xs.push(self.and()?);
            } else {
                return self.fail("expected a word, \"phrase\" or (group) after OR");
            }
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::Or(xs)
        })
    }

    fn starts_operand(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Lex::Open
                    | Lex::Not
                    | Lex::Minus
                    | Lex::Scope(_)
                    | Lex::Phrase(_)
                    | Lex::Word(_)
                    | Lex::Lexicon(_)
                    | Lex::Status(..)
            )
        )
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut xs = vec![self.near()?];
        loop {
            if self.peek() == Some(&Lex::And) {
                self.pos += 1;
                if !self.starts_operand() {
                    return self.fail("expected a word, \"phrase\" or (group) after AND");
                }
            } else if !self.starts_operand() {
                break;
            }
            xs.push(self.near()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            Expr::And(xs)
        })
    }

    fn near(&mut self) -> Result<Expr, SyntaxError> {
        let left_at = self.offset();
        let mut left = self.unary()?;
        while let Some(Lex::Near(n)) = self.peek() {
            let n = *n;
            check_near_operand(&left, left_at)?;
            self.pos += 1;
            if !self.starts_operand() {
                return self.fail(format!(
                    "expected a word, \"phrase\" or (group) after NEAR/{n}"
                ));
            }
            let right_at = self.offset();
            let right = self.unary()?;
            check_near_operand(&right, right_at)?;
            left = Expr::Near(Box::new(left), Box::new(right), n);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        match self.peek() {
            Some(Lex::Not | Lex::Minus) => {
                self.pos += 1;
                if !self.starts_operand() {
                    return self.fail("expected a word, \"phrase\" or (group) after NOT");
                }
                self.enter()?;
                let x = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(x)))
            }
            _ => self.scoped(Scope::Any),
        }
    }

    /// `@name`: the OR of the lexicon's entries, each a term whose source names the lexicon.
    fn lexicon(&self, name: &str, scope: Scope, at: usize) -> Result<Expr, SyntaxError> {
        let Some(entries) = self.lexicons.get(name) else {
            let mut known: Vec<&str> = self.lexicons.names().collect();
            known.extend(lexicon::shipped().names());
            known.sort_unstable();
            known.dedup();
            return Err(SyntaxError {
                offset: at,
                message: format!(
                    "unknown lexicon @{name}; known: {}",
                    known
                        .iter()
                        .map(|n| format!("@{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        let terms: Vec<Expr> = entries
            .iter()
            .map(|e| {
                Expr::Term(Term {
                    tokens: e.tokens.clone(),
                    prefix: e.prefix,
                    scope,
                    source: format!("{} (@{name})", e.text),
                })
            })
            .collect();
        Ok(if terms.len() == 1 {
            terms.into_iter().next().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(terms)
        })
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(format!("query nests deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn scoped(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        if let Some(Lex::Scope(s)) = self.peek() {
            let s = *s;
            if scope != Scope::Any {
                return self.fail("field scopes cannot nest: use one of title: or summary:");
            }
            self.pos += 1;
            let x = self.primary(s)?;
            return Ok(x);
        }
        self.primary(scope)
    }

    fn primary(&mut self, scope: Scope) -> Result<Expr, SyntaxError> {
        let at = self.offset();
        let Some((lexeme, _)) = self.lexemes.get(self.pos).cloned() else {
            return self.fail("query ends early: expected a word, \"phrase\" or (group)");
        };
        match lexeme {
            Lex::Open => {
                self.pos += 1;
                self.enter()?;
                if self.peek() == Some(&Lex::Close) {
                    return self.fail("empty group \"()\"");
                }
                let x = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Lex::Close) {
                    return Err(SyntaxError {
                        offset: at,
                        message: "unbalanced \"(\": missing \")\"".into(),
                    });
                }
                self.pos += 1;
                Ok(if scope == Scope::Any {
                    x
                } else {
                    rescope(x, scope, at)?
                })
            }
            Lex::Phrase(p) => {
                self.pos += 1;
                let (text, prefix) = match p.trim_end().strip_suffix('*') {
                    Some(t) => (t, true),
                    None => (p.as_str(), false),
                };
                term(text, prefix, scope, format!("\"{p}\""), at + 1)
            }
            Lex::Word(w) => {
                self.pos += 1;
                let (text, prefix) = match w.strip_suffix('*') {
                    Some(t) => (t, true),
                    None => (w.as_str(), false),
                };
                if let Some(star) = text.find('*') {
                    return Err(SyntaxError {
                        offset: at + star,
                        message: "\"*\" is only allowed at the end of a word (prefix match)".into(),
                    });
                }
                term(text, prefix, scope, w.clone(), at)
            }
            Lex::Lexicon(name) => {
                self.pos += 1;
                self.lexicon(&name, scope, at)
            }
            Lex::Status(status, window) => {
                self.pos += 1;
                let inner_at = self.offset();
                let operand = self.primary(scope)?;
                check_near_operand(&operand, inner_at).map_err(|e| SyntaxError {
                    offset: e.offset,
                    message: format!(
                        "{}(...) takes words, phrases, lexicons, OR-groups and NEARs: {}",
                        status.as_str(),
                        e.message
                    ),
                })?;
                let cues = |name: &str| -> Result<Vec<Term>, SyntaxError> {
                    let Some(entries) = self.lexicons.get(name) else {
                        return Err(SyntaxError {
                            offset: at,
                            message: format!(
                                "{} needs the lexicon @{name}, which is not defined",
                                status.as_str()
                            ),
                        });
                    };
                    Ok(entries
                        .iter()
                        .map(|e| Term {
                            tokens: e.tokens.clone(),
                            prefix: e.prefix,
                            scope: Scope::Any,
                            source: format!("{} (@{name})", e.text),
                        })
                        .collect())
                };
                Ok(Expr::Status(Box::new(StatusTest {
                    status,
                    window,
                    operand,
                    upcoming: cues(lexicon::UPCOMING_CUES)?,
                    past: cues(lexicon::PAST_CUES)?,
                })))
            }
            Lex::Close => self.fail("unexpected \")\": expected a word, \"phrase\" or (group)"),
            Lex::Scope(_) => self.fail("field scopes cannot nest: use one of title: or summary:"),
            other => self.fail(format!(
                "unexpected {}: expected a word, \"phrase\" or (group)",
                describe(&other)
            )),
        }
    }
}

fn term(
    text: &str,
    prefix: bool,
    scope: Scope,
    source: String,
    at: usize,
) -> Result<Expr, SyntaxError> {
    let mut tokens = tokenize(text).words();
    // Short forms fold in queries whatever their case: `us` and `U.S.` both mean the country.
    let last = tokens.len().saturating_sub(1);
    for (i, t) in tokens.iter_mut().enumerate() {
        if !(prefix && i == last) {
            *t = fold_query_word(t).to_owned();
        }
    }
    if tokens.is_empty() {
        return Err(SyntaxError {
            offset: at,
            message: format!("{source} has no letters or digits to match"),
        });
    }
    if prefix && tokens.last().is_some_and(|t| t.chars().count() < 2) && tokens.len() == 1 {
        return Err(SyntaxError {
            offset: at,
            message: format!(
                "prefix {source} is too short: use at least 2 characters before \"*\""
            ),
        });
    }
    Ok(Expr::Term(Term {
        tokens,
        prefix,
        scope,
        source,
    }))
}

/// Applies a field scope to every term of a group; a nested scope is an error.
fn rescope(x: Expr, scope: Scope, at: usize) -> Result<Expr, SyntaxError> {
    Ok(match x {
        Expr::Term(mut t) => {
            if t.scope != Scope::Any && t.scope != scope {
                return Err(SyntaxError {
                    offset: at,
                    message: "field scopes cannot nest: use one of title: or summary:".into(),
                });
            }
            t.scope = scope;
            Expr::Term(t)
        }
        Expr::And(xs) => Expr::And(
            xs.into_iter()
                .map(|x| rescope(x, scope, at))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(xs) => Expr::Or(
            xs.into_iter()
                .map(|x| rescope(x, scope, at))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(x) => Expr::Not(Box::new(rescope(*x, scope, at)?)),
        Expr::Near(a, b, n) => Expr::Near(
            Box::new(rescope(*a, scope, at)?),
            Box::new(rescope(*b, scope, at)?),
            n,
        ),
        Expr::Status(mut s) => {
            s.operand = rescope(s.operand, scope, at)?;
            Expr::Status(s)
        }
    })
}

/// NEAR operands are words, prefixes, phrases, OR-groups of those, or other NEARs.
fn check_near_operand(x: &Expr, at: usize) -> Result<(), SyntaxError> {
    match x {
        Expr::Term(_) => Ok(()),
        Expr::Near(a, b, _) => check_near_operand(a, at).and(check_near_operand(b, at)),
        Expr::Or(xs) => xs.iter().try_for_each(|x| check_near_operand(x, at)),
        Expr::And(_) => Err(SyntaxError {
            offset: at,
            message: "NEAR operands must be words, phrases or OR-groups, not AND-groups".into(),
        }),
        Expr::Not(_) => Err(SyntaxError {
            offset: at,
            message: "NEAR operands cannot be negated".into(),
        }),
        Expr::Status(_) => Err(SyntaxError {
            offset: at,
            message: "UPCOMING(...) and PAST(...) cannot be NEAR operands: put the NEAR inside"
                .into(),
        }),
    }
}

/// Something in a query that parses but cannot do what it seems to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
}

/// The warnings for a parsed query: operands that can never match.
pub fn lint(expr: &Expr) -> Vec<Warning> {
    let mut out = Vec::new();
    lint_into(expr, &mut out);
    out
}

fn lint_into(expr: &Expr, out: &mut Vec<Warning>) {
    match expr {
        Expr::Term(_) => {}
        Expr::Or(xs) => xs.iter().for_each(|x| lint_into(x, out)),
        Expr::Not(x) => lint_into(x, out),
        Expr::Status(s) => lint_into(&s.operand, out),
        Expr::Near(a, b, n) => {
            let (fa, fb) = (fields(a), fields(b));
            if fa & fb == 0 {
                out.push(Warning {
                    message: format!(
                        "({a} NEAR/{n} {b}) can never match: its sides are limited to different fields (NEAR needs both in one)"
                    ),
                });
            }
            lint_into(a, out);
            lint_into(b, out);
        }
        Expr::And(xs) => {
            let required: Vec<&Term> = xs
                .iter()
                .filter_map(|x| match x {
                    Expr::Term(t) => Some(t),
                    _ => None,
                })
                .collect();
            for x in xs {
                if let Expr::Not(n) = x {
                    for excluded in n.terms() {
                        if let Some(t) = required.iter().find(|t| covers(excluded, t)) {
                            out.push(Warning {
                                message: format!(
                                    "the query can never match: {} is required and {} excludes every text that has it",
                                    t.source, excluded.source
                                ),
                            });
                        }
                    }
                }
                lint_into(x, out);
            }
        }
    }
}

/// The fields an operand can match in: bit 0 title, bit 1 summary.
fn fields(x: &Expr) -> u8 {
    let of = |t: &Term| match t.scope {
        Scope::Any => 0b11,
        Scope::Title => 0b01,
        Scope::Summary => 0b10,
    };
    x.terms().into_iter().map(of).fold(0, |a, b| a | b)
}

/// Does every occurrence of `t` also match `excluded`?
fn covers(excluded: &Term, t: &Term) -> bool {
    let scope_ok = excluded.scope == Scope::Any || excluded.scope == t.scope;
    let n = excluded.tokens.len();
    if !scope_ok || t.tokens.len() != n || (t.prefix && !excluded.prefix) {
        return false;
    }
    excluded
        .tokens
        .iter()
        .zip(&t.tokens)
        .enumerate()
        .all(|(i, (e, w))| {
            if excluded.prefix && i == n - 1 {
                w.starts_with(e.as_str())
            } else {
                e == w
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(q: &str) -> String {
        parse_query(q)
            .map(|e| e.to_string())
            .unwrap_or_else(|e| format!("error at {}: {}", e.offset, e.message))
    }

    #[test]
    fn words_phrases_and_prefixes() {
        assert_eq!(show("Trump"), "trump");
        assert_eq!(show("\"Leaders Meeting\""), "\"leaders meeting\"");
        assert_eq!(show("schedul*"), "schedul*");
    }

    #[test]
    fn or_binds_looser_than_juxtaposition() {
        assert_eq!(show("a OR b c"), "(a OR (b AND c))");
        assert_eq!(show("a b OR c"), "((a AND b) OR c)");
    }

    #[test]
    fn explicit_and_equals_juxtaposition() {
        assert_eq!(show("a AND b"), show("a b"));
    }

    #[test]
    fn not_binds_tightest() {
        assert_eq!(show("NOT a b"), "(NOT a AND b)");
        assert_eq!(show("a -b"), "(a AND NOT b)");
    }

    #[test]
    fn near_binds_tighter_than_and() {
        assert_eq!(show("a b NEAR/3 c"), "(a AND (b NEAR/3 c))");
        assert_eq!(show("(a OR b) NEAR/8 cd*"), "((a OR b) NEAR/8 cd*)");
    }

    #[test]
    fn parentheses_override() {
        assert_eq!(show("(a OR b) c"), "((a OR b) AND c)");
    }

    #[test]
    fn field_scopes_apply_to_groups() {
        assert_eq!(
            show("title:(a OR b) summary:\"c d\""),
            "((title:a OR title:b) AND summary:\"c d\")"
        );
    }

    #[test]
    fn words_tokenize_like_text() {
        assert_eq!(show("president-elect"), "\"president elect\"");
        assert_eq!(show("\"U.S.\""), "u.s");
        assert_eq!(show("首脳会談"), "\"首 脳 会 談\"");
    }

    #[test]
    fn lowercase_operators_are_words() {
        assert_eq!(show("a or b"), "(a AND or AND b)");
    }

    #[test]
    fn errors_carry_offsets_and_expectations() {
        assert_eq!(
            show("(summit OR"),
            "error at 10: expected a word, \"phrase\" or (group) after OR"
        );
        assert_eq!(
            show("(summit"),
            "error at 0: unbalanced \"(\": missing \")\""
        );
        assert_eq!(
            show("a )"),
            "error at 2: unbalanced \")\": no \"(\" to close"
        );
        assert_eq!(
            show("\"open"),
            "error at 0: unterminated phrase: missing closing '\"'"
        );
        assert_eq!(
            show("a NEAR/x b"),
            "error at 7: NEAR distance must be a number from 1 to 1000, got \"x\""
        );
        assert_eq!(
            show("a NEAR b"),
            "error at 2: \"NEAR\": NEAR needs a distance, as in NEAR/5"
        );
        assert_eq!(
            show("a NEAR/3 NOT b"),
            "error at 9: NEAR operands cannot be negated"
        );
        assert_eq!(
            show("(a b) NEAR/3 c"),
            "error at 0: NEAR operands must be words, phrases or OR-groups, not AND-groups"
        );
        assert_eq!(
            show("a AND"),
            "error at 5: expected a word, \"phrase\" or (group) after AND"
        );
        assert_eq!(
            show("NOT a"),
            "error at 0: a query cannot be only a NOT: add what it should match, as in `summit NOT mountain`"
        );
        assert_eq!(
            show("s*x"),
            "error at 1: \"*\" is only allowed at the end of a word (prefix match)"
        );
        assert_eq!(
            show("a*"),
            "error at 0: prefix a* is too short: use at least 2 characters before \"*\""
        );
        assert_eq!(show("()"), "error at 1: empty group \"()\"");
        assert_eq!(
            show("   "),
            "error at 0: empty query: expected a word, a \"phrase\" or a (group)"
        );
        assert_eq!(
            show("!!!"),
            "error at 0: !!! has no letters or digits to match"
        );
        assert_eq!(
            show("title:summary:x"),
            "error at 6: field scopes cannot nest: use one of title: or summary:"
        );
        assert_eq!(
            show("title: x"),
            "error at 0: \"title:\" must be followed by a word, phrase or group with no space"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let q = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(show(&q).contains("nests deeper than"));
    }

    #[test]
    fn snippet_puts_a_caret_under_the_offset() {
        let e = parse_query("summit\n  NEAR/x talks").unwrap_err();
        let (line, caret) = e.snippet("summit\n  NEAR/x talks");
        assert_eq!(line, "  NEAR/x talks");
        assert_eq!(caret, "       ^");
    }
}
