//! The vocabulary every stage shares: a normalized [`Item`] and its identity within a feed.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Longest stored title, in bytes.
pub const MAX_TITLE_BYTES: usize = 1_000;
/// Longest stored summary, in bytes (the full content is kept separately).
pub const MAX_SUMMARY_BYTES: usize = 2_000;
/// Longest stored plain-text content, in bytes.
pub const MAX_CONTENT_BYTES: usize = 64 * 1024;
/// Longest stored URL or GUID, in bytes; longer ones are not trustworthy identifiers.
pub const MAX_KEY_BYTES: usize = 2_048;
/// Most items taken from one document; the rest are ignored (and the feed's outcome says so).
pub const MAX_ITEMS_PER_FEED: usize = 1_000;

/// How an item is identified within its feed, strongest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ItemKey {
    /// The feed's own GUID / Atom id / JSON Feed id.
    Guid(String),
    /// No id: the canonical link.
    Url(String),
    /// Neither: a hash of title and content (stable across parses, unlike feed-rs's UUIDs).
    Hash(String),
}

impl ItemKey {
    /// The stored form: a one-letter kind, a colon, the value.
    pub fn as_stored(&self) -> String {
        match self {
            ItemKey::Guid(g) => format!("g:{g}"),
            ItemKey::Url(u) => format!("u:{u}"),
            ItemKey::Hash(h) => format!("h:{h}"),
        }
    }
}

/// One entry of a feed, normalized: plain text, canonical URL, UTC dates.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// newshound's own identity of the item within its feed.
    pub key: ItemKey,
    /// The link as published, resolved against the document's base.
    pub url: Option<String>,
    /// The link without tracking parameters or fragment.
    pub canonical_url: Option<String>,
    /// The cross-feed dedup key: [`crate::stories::url_key`] of the canonical URL, computed
    /// where that URL is parsed anyway (the writer would otherwise parse it again).
    pub url_key: Option<String>,
    /// Plain text, entities decoded, tags removed, whitespace collapsed.
    pub title: String,
    /// Plain text, bounded to [`MAX_SUMMARY_BYTES`].
    pub summary: String,
    /// Full content as plain text, when the feed carries more than the summary.
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// Hash of title, summary and content: detects edits and dedups id-less, link-less items.
    pub content_hash: u64,
}

impl Item {
    /// The date an item says it was published, else updated.
    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.published.or(self.updated)
    }
}

/// A stable 64-bit hash (xxh3): never `DefaultHasher`, whose output may change between Rust
/// releases while these values live in the database.
pub fn stable_hash(parts: &[&str]) -> u64 {
    // The hash of the parts, each followed by 0xff, in one buffer: `oneshot` avoids the
    // streaming hasher's allocations, and gives the same value.
    let len: usize = parts.iter().map(|p| p.len() + 1).sum();
    let mut small = [0u8; 256];
    let mut large = Vec::new();
    let buf: &mut [u8] = if len <= small.len() {
        &mut small[..len]
    } else {
        large.resize(len, 0);
        &mut large
    };
    let mut at = 0;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p.as_bytes());
        buf[at + p.len()] = 0xff;
        at += p.len() + 1;
    }
    twox_hash::XxHash3_64::oneshot(buf)
}

#[cfg(test)]
mod tests {
    use super::stable_hash;
    use std::hash::Hasher;

    /// Stored keys and hashes depend on these values: the one-shot hash must equal the
    /// streaming hash it replaced, for short and long inputs.
    #[test]
    fn stable_hash_equals_the_streaming_hash() {
        let long = "x".repeat(5000);
        for parts in [
            vec![],
            vec![""],
            vec!["trump"],
            vec!["a", "b"],
            vec![long.as_str(), "tail"],
        ] {
            let mut h = twox_hash::XxHash3_64::with_seed(0);
            for p in &parts {
                h.write(p.as_bytes());
                h.write(&[0xff]);
            }
            assert_eq!(
                stable_hash(&parts),
                h.finish(),
                "{:?}",
                parts.iter().map(|p| p.len()).collect::<Vec<_>>()
            );
        }
    }

    /// Every stored item key, content hash and URL-key hash depends on these exact values: a
    /// change in the hash library (or its seed) would silently re-key every stored item, so
    /// they are pinned, not only compared with another call of the same library.
    #[test]
    fn stable_hash_values_are_pinned() {
        const PINNED: [u64; 5] = [
            0x2d06_8005_38d3_94c2,
            0xd6bc_ec3c_6b29_d72e,
            0x7b2c_402f_2e27_8cc0,
            0x59c2_8587_06f3_c527,
            0x491a_706f_66c8_199b,
        ];
        let long = "x".repeat(5000);
        let pinned: [(&[&str], u64); 5] = [
            (&[], PINNED[0]),
            (&[""], PINNED[1]),
            (&["trump"], PINNED[2]),
            (&["a", "b"], PINNED[3]),
            (&[long.as_str(), "tail"], PINNED[4]),
        ];
        for (parts, value) in pinned {
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            assert_eq!(stable_hash(parts), value, "{lens:?}");
        }
    }
}
