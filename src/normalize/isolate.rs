//! Per-entry fault isolation: when feed-rs rejects a whole document, each entry is read on its
//! own, so one entry it cannot read costs that entry, not the other 49.
//!
//! The document is cut into its head (everything before the first entry), each entry, and a tail
//! that closes the elements open around the entries. feed-rs then reads the head and tail alone
//! (the feed's own fields), and each entry between the start tags of the elements around it (their
//! namespaces and `xml:base`, not the whole head: a large head read once per entry would make a
//! document of many broken entries quadratic). Only documents feed-rs rejected come here: a
//! document it reads costs nothing more.

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// A document cut around its entries.
#[derive(Debug)]
pub struct Pieces<'a> {
    pub head: &'a str,
    /// The start tags of the elements open around the entries, outermost first.
    pub skeleton: String,
    /// Closing tags for what the head left open.
    pub tail: String,
    pub entries: Vec<&'a str>,
}

impl Pieces<'_> {
    /// The head and tail alone: the feed without entries.
    pub fn feed_only(&self) -> String {
        format!("{}{}", self.head, self.tail)
    }

    /// The document with only entry `i`.
    pub fn with_entry(&self, i: usize) -> Option<String> {
        let entry = self.entries.get(i)?;
        Some(format!("{}{}{}", self.skeleton, entry, self.tail))
    }
}

fn is_entry(name: &str) -> bool {
    let local = name.rsplit(':').next().unwrap_or(name);
    local == "item" || local == "entry"
}

/// Cuts a document around its entries; `None` when it has none, or it is not XML to its end
/// (cut off in transfer, say: a document that is not whole is not read in part). End tags need
/// not match their start tags: an entry with mismatched tags costs only that entry.
pub fn split(doc: &str) -> Option<Pieces<'_>> {
    let mut reader = Reader::from_str(doc);
    reader.config_mut().check_end_names = false;
    // Each open element's name and start tag, around the entries. Inside an entry only the
    // depth is counted: a document nested 500,000 levels deep in one entry kept a name for each.
    let mut open: Vec<(String, &str)> = Vec::new();
    let mut head_open: Option<Vec<(String, &str)>> = None;
    let mut head_end = None;
    let mut entries = Vec::new();
    // (start, depth within it) of the entry being read.
    let mut current: Option<(usize, usize)> = None;
    let mut pos = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        let end = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            // Elements still open at the end: cut off.
            Event::Eof if !open.is_empty() || current.is_some() => return None,
            Event::Eof => break,
            Event::Start(_) if current.is_some() => {
                if let Some((_, depth)) = &mut current {
                    *depth += 1;
                }
            }
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                if is_entry(&name) {
                    current = Some((pos, 1));
                    if head_end.is_none() {
                        head_end = Some(pos);
                        head_open = Some(open.clone());
                    }
                } else {
                    open.push((name, doc.get(pos..end)?));
                }
            }
            Event::Empty(e) if current.is_none() && is_entry(e.name().as_ref()) => {
                if head_end.is_none() {
                    head_end = Some(pos);
                    head_open = Some(open.clone());
                }
                entries.push(doc.get(pos..end)?);
            }
            Event::End(_) => match &mut current {
                Some((start, depth)) => {
                    *depth -= 1;
                    if *depth == 0 {
                        entries.push(doc.get(*start..end)?);
                        current = None;
                    }
                }
                None => {
                    open.pop();
                }
            },
            _ => {}
        }
        pos = end;
    }
    let head = doc.get(..head_end?)?;
    let head_open = head_open?;
    let skeleton = head_open.iter().map(|(_, tag)| *tag).collect();
    let tail = head_open
        .iter()
        .rev()
        .map(|(n, _)| format!("</{n}>"))
        .collect();
    Some(Pieces {
        head,
        skeleton,
        tail,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_cut_around_its_entries() {
        let doc = "<?xml version=\"1.0\"?><rss><channel><title>T</title><item><title>a</title></item>\n<item/><item><b>x</i></item><extra/></channel></rss>";
        let p = split(doc).expect("entries");
        assert_eq!(
            p.head,
            "<?xml version=\"1.0\"?><rss><channel><title>T</title>"
        );
        assert_eq!(p.tail, "</channel></rss>");
        assert_eq!(p.skeleton, "<rss><channel>");
        assert_eq!(
            p.with_entry(1).as_deref(),
            Some("<rss><channel><item/></channel></rss>")
        );
        assert_eq!(
            p.entries,
            [
                "<item><title>a</title></item>",
                "<item/>",
                "<item><b>x</i></item>"
            ]
        );
    }

    #[test]
    fn a_document_cut_off_is_not_cut_into_entries() {
        assert!(split("<feed><entry><id>1</id></entry><entry><id>2</id><title>cut<").is_none());
    }
}
