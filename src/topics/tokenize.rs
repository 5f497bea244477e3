//! One tokenizer for item text and for query words, so they always agree.
//!
//! Each character is NFKC-normalized, lower-cased, and stripped of combining accents on Latin,
//! Greek and Cyrillic letters ("São" → "sao", "ＴＲＵＭＰ" → "trump"). Words are runs of letters and
//! digits; a `.` between two word characters stays inside ("u.s", "3.5"), a `%` after a digit
//! sticks to it ("3.5%"), and a possessive `'s` is dropped ("Trump's" → "trump"). Characters of
//! scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are one
//! token each, so a query word such as `首脳会談` becomes a phrase of four tokens and matches the
//! same character sequence in a headline.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A token: its normalized text lives in [`Tokens::text`] at `norm`; `src` is its byte range in
/// the original text (for snippets and highlighting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub norm: (u32, u32),
    pub src: (u32, u32),
}

/// The tokens of one text.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    pub text: String,
    pub tokens: Vec<Token>,
}

impl Tokens {
    pub fn get(&self, i: usize) -> &str {
        let t = self.tokens[i];
        &self.text[t.norm.0 as usize..t.norm.1 as usize]
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The normalized token strings (for tests and queries).
    pub fn words(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.get(i).to_owned()).collect()
    }
}

/// Is `c` from a script written without spaces between words?
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FFFF) // CJK extensions B–F
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Unspaced,
    Sep,
}

fn class(c: char) -> Class {
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Class::Word
        } else {
            Class::Sep
        };
    }
    if is_unspaced_script(c) {
        Class::Unspaced
    } else if c.is_alphanumeric() || is_combining_mark(c) {
        Class::Word
    } else {
        Class::Sep
    }
}

/// Appends the normalized form of `c` to `out`; `prev_base_latin` tells whether a combining mark
/// here decorates a Latin/Greek/Cyrillic letter (and is dropped).
fn push_normalized(c: char, out: &mut Vec<char>) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for k in std::iter::once(c).nfkc() {
        for l in k.to_lowercase() {
            if (l as u32) < 0x0530 {
                // Latin, Greek, Cyrillic: fold accents away.
                for d in std::iter::once(l).nfd() {
                    if !is_combining_mark(d) {
                        out.push(d);
                    }
                }
            } else if is_combining_mark(l) && out.last().is_some_and(|p| (*p as u32) < 0x0530) {
                // A separate combining accent on a Latin letter.
            } else {
                out.push(l);
            }
        }
    }
}

/// Tokenizes `text`, appending to `out` (which is cleared first).
pub fn tokenize_into(text: &str, out: &mut Tokens) {
    out.text.clear();
    out.tokens.clear();
    if text.is_ascii() {
        tokenize_ascii(text, out);
    } else {
        tokenize_chars(text, out);
    }
}

/// The general path: any text, one character at a time.
fn tokenize_chars(text: &str, out: &mut Tokens) {
    // Normalize first, remembering each normalized char's source offset.
    let mut chars: Vec<(char, u32, u32)> = Vec::with_capacity(text.len());
    let mut buf = Vec::with_capacity(4);
    for (off, c) in text.char_indices() {
        buf.clear();
        push_normalized(c, &mut buf);
        let end = (off + c.len_utf8()) as u32;
        for &n in &buf {
            chars.push((n, off as u32, end));
        }
    }
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let (c, src_start, _) = chars[i];
        match class(c) {
            Class::Sep => i += 1,
            Class::Unspaced => {
                let start = out.text.len() as u32;
                out.text.push(c);
                out.tokens.push(Token {
                    norm: (start, out.text.len() as u32),
                    src: (src_start, chars[i].2),
                });
                i += 1;
            }
            Class::Word => {
                let norm_start = out.text.len() as u32;
                let mut j = i;
                let mut last_digit = false;
                while j < n {
                    let (cj, _, _) = chars[j];
                    match class(cj) {
                        Class::Word => {
                            out.text.push(cj);
                            last_digit = cj.is_ascii_digit();
                            j += 1;
                        }
                        Class::Sep
                            if (cj == '.' || cj == ',')
                                && j + 1 < n
                                && class(chars[j + 1].0) == Class::Word =>
                        {
                            // "u.s", "3.5", "1,000": keep internal dots (and digit commas).
                            if cj == ',' && !(last_digit && chars[j + 1].0.is_ascii_digit()) {
                                break;
                            }
                            out.text.push(cj);
                            j += 1;
                        }
                        Class::Sep if cj == '%' && last_digit => {
                            out.text.push('%');
                            j += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                let src_end = chars[j - 1].2;
                let mut norm = (norm_start, out.text.len() as u32);
                let word = &out.text[norm_start as usize..];
                if let Some(folded) = fold_short_form(word, || {
                    text[src_start as usize..src_end as usize]
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'.')
                }) {
                    out.text.truncate(norm_start as usize);
                    out.text.push_str(folded);
                    norm = (norm_start, out.text.len() as u32);
                }
                out.tokens.push(Token {
                    norm,
                    src: (src_start, src_end),
                });
                // Possessive: "trump's", "trump’s" → drop the "'s".
                if j + 1 < n
                    && matches!(chars[j].0, '\'' | '\u{2019}')
                    && chars[j + 1].0 == 's'
                    && (j + 2 == n || class(chars[j + 2].0) != Class::Word)
                {
                    j += 2;
                }
                i = j;
            }
        }
    }
}

/// The same rules as the general path, for the common all-ASCII text. ASCII folds byte for
/// byte, so the normalized text is the lower-cased source and each token's normalized range is
/// its source range: one copy of the text, then a scan for word boundaries.
fn tokenize_ascii(text: &str, out: &mut Tokens) {
    let Tokens { text: norm, tokens } = out;
    norm.push_str(text);
    norm.make_ascii_lowercase();
    let b = text.as_bytes();
    let n = b.len();
    let is_word = |i: usize| b.get(i).is_some_and(|&c| ASCII_CLASS[c as usize] != 0);
    let is_digit = |i: usize| b.get(i).is_some_and(|&c| ASCII_CLASS[c as usize] == DIGIT);
    let mut i = 0;
    while i < n {
        // Skip to a word character, then past the word's letters and digits.
        while i < n && ASCII_CLASS[b[i] as usize] == 0 {
            i += 1;
        }
        if i == n {
            break;
        }
        let start = i;
        loop {
            while i < n && ASCII_CLASS[b[i] as usize] != 0 {
                i += 1;
            }
            // Inside the word: "u.s", "3.5", "1,000" (a comma only between digits); a "%" after
            // a digit ends it.
            match b.get(i) {
                Some(b'.') if is_word(i + 1) => i += 1,
                Some(b',') if is_digit(i - 1) && is_digit(i + 1) => i += 1,
                Some(b'%') if is_digit(i - 1) => {
                    i += 1;
                    break;
                }
                _ => break,
            }
        }
        let range = (start as u32, i as u32);
        let mut norm_range = range;
        // Short forms are two to five bytes starting with two capitals or a capital and a dot
        // ("US", "U.S.A"): cheap tests keep the fold off the path of every other word. (Their
        // lower-case dotted forms, "u.s", are already canonical.)
        let len = i - start;
        if (2..=5).contains(&len)
            && b[start].is_ascii_uppercase()
            && matches!(b[start + 1], b'A'..=b'Z' | b'.')
        {
            norm_range = fold_ascii(norm, &b[start..i], range);
        }
        tokens.push(Token {
            norm: norm_range,
            src: range,
        });
        if b.get(i) == Some(&b'\'') && matches!(b.get(i + 1), Some(b's' | b'S')) && !is_word(i + 2)
        {
            i += 2;
        }
    }
}

/// The canonical token of a country or union short form, or `None`. Text folds only when written
/// in capitals (`all_caps`: "US", "U.S.A." → "u.s"), so the pronoun "us" stays a word while "US"
/// is the country; the canonical forms keep their dots ("u.s" is already one), so no ordinary
/// word folds into them. Query words fold through [`fold_query_word`], whatever their case.
pub fn fold_short_form(word: &str, all_caps: impl FnOnce() -> bool) -> Option<&'static str> {
    let folded = match word {
        "u.s" | "u.s.a" | "us" | "usa" => "u.s",
        "u.k" | "uk" => "u.k",
        "e.u" | "eu" => "e.u",
        "u.n" | "un" => "u.n",
        "u.a.e" | "uae" => "u.a.e",
        _ => return None,
    };
    all_caps().then_some(folded)
}

/// A query word's canonical token: short forms fold in any case (a query writing `us` means the
/// country), other words are unchanged.
pub fn fold_query_word(word: &str) -> &str {
    fold_short_form(word, || true).unwrap_or(word)
}

/// The normalized range of the ASCII token `word` (source range `range`, whose lower-cased text
/// is at the same place in `norm`): a folded short form is appended to `norm` and pointed at.
/// Rare, so kept out of line.
#[cold]
#[inline(never)]
fn fold_ascii(norm: &mut String, word: &[u8], range: (u32, u32)) -> (u32, u32) {
    let lower = &norm[range.0 as usize..range.1 as usize];
    match fold_short_form(lower, || {
        word.iter().all(|b| b.is_ascii_uppercase() || *b == b'.')
    }) {
        Some(folded) => {
            let at = norm.len() as u32;
            norm.push_str(folded);
            (at, norm.len() as u32)
        }
        None => range,
    }
}

const LETTER: u8 = 1;
const DIGIT: u8 = 2;

/// Per byte: `LETTER`, `DIGIT`, or 0 for a separator.
static ASCII_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_digit() {
            DIGIT
        } else if b.is_ascii_alphabetic() {
            LETTER
        } else {
            0
        };
        c += 1;
    }
    t
};

/// Both paths over the same text, for the property test that they agree.
#[cfg(test)]
pub(crate) fn tokenize_both_ways(text: &str) -> (Tokens, Tokens) {
    let (mut fast, mut general) = (Tokens::default(), Tokens::default());
    tokenize_ascii(text, &mut fast);
    tokenize_chars(text, &mut general);
    (fast, general)
}

/// Tokenizes `text` into a fresh [`Tokens`].
pub fn tokenize(text: &str) -> Tokens {
    let mut t = Tokens::default();
    tokenize_into(text, &mut t);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).words()
    }

    #[test]
    fn case_accents_and_width_fold() {
        assert_eq!(
            words("São Paulo TRUMP ＴＲＵＭＰ Café"),
            ["sao", "paulo", "trump", "trump", "cafe"]
        );
    }

    #[test]
    fn combining_accents_fold_too() {
        assert_eq!(words("Cafe\u{301} cre\u{300}me"), ["cafe", "creme"]);
    }

    #[test]
    fn possessives_are_dropped() {
        assert_eq!(
            words("Trump's visit, Ishiba’s plan"),
            ["trump", "visit", "ishiba", "plan"]
        );
    }

    #[test]
    fn dotted_abbreviations_and_percentages_stay_whole() {
        assert_eq!(
            words("The U.S. rate rose 3.5% to 1,000."),
            ["the", "u.s", "rate", "rose", "3.5%", "to", "1,000"]
        );
    }

    #[test]
    fn country_short_forms_fold_when_written_in_capitals() {
        let text = "US, U.S.A., USA and U.S. talks; the UK, U.K. and E.U. told us; UAE, UN";
        assert_eq!(
            words(text),
            [
                "u.s", "u.s", "u.s", "and", "u.s", "talks", "the", "u.k", "u.k", "and", "e.u",
                "told", "us", "u.a.e", "u.n"
            ]
        );
        // The general path folds alike.
        let mut general = tokenize(&format!("{text} é")).words();
        general.pop();
        assert_eq!(words(text), general);
        // The source range still points at what was written.
        let t = tokenize("Join US now");
        assert_eq!(t.tokens[1].src, (5, 7));
        assert_eq!(fold_query_word("us"), "u.s");
        assert_eq!(fold_query_word("summit"), "summit");
    }

    #[test]
    fn hyphens_split_words() {
        assert_eq!(words("president-elect"), ["president", "elect"]);
    }

    #[test]
    fn unspaced_scripts_are_one_token_per_character() {
        assert_eq!(
            words("石破首相、首脳会談へ"),
            ["石", "破", "首", "相", "首", "脳", "会", "談", "へ"]
        );
    }

    #[test]
    fn source_offsets_point_at_the_original_text() {
        let t = tokenize("Hello, São Paulo");
        let sao = t.tokens[1];
        assert_eq!(
            &"Hello, São Paulo"[sao.src.0 as usize..sao.src.1 as usize],
            "São"
        );
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_the_general_path() {
        for s in [
            "The U.S. rate rose 3.5% to 1,000. Trump's visit, a,b 10,x e.g. x.",
            "It's O'Neill's plan-B; SUMMIT!!",
        ] {
            // A trailing non-ASCII character forces the general path on the same text.
            let mut general = tokenize(&format!("{s} é")).words();
            general.pop();
            assert_eq!(tokenize(s).words(), general, "{s}");
        }
    }

    #[test]
    fn thai_vowel_marks_are_kept() {
        // Thai marks are not accents to fold: each character is its own token.
        assert_eq!(words("ประชุม").len(), "ประชุม".chars().count());
    }
}
