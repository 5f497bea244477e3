//! Dedup and durability rules of the store, one per test.

use super::*;
use crate::model::{ItemKey, stable_hash};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("t.db"), Synchronous::Normal).unwrap();
    (dir, s)
}

fn item(key: &str, url: Option<&str>, title: &str) -> Item {
    Item {
        key: ItemKey::Guid(key.into()),
        url: url.map(str::to_owned),
        canonical_url: url.map(str::to_owned),
        title: title.into(),
        summary: String::new(),
        content: None,
        published: Some(Utc::now()),
        updated: None,
        authors: vec![],
        categories: vec![],
        content_hash: stable_hash(&[title]),
    }
}

fn fetched(feed: &str, items: Vec<Item>, matches: &[&str]) -> PollRecord {
    PollRecord {
        feed: feed.into(),
        url: format!("https://{feed}.example/rss"),
        at: Utc::now(),
        outcome: PollOutcome::Fetched {
            status: 200,
            etag: Some("\"v1\"".into()),
            last_modified: None,
            permanent_redirect: None,
            title: None,
            ttl: None,
            skip_hours: vec![],
            skip_days: vec![],
            items: items
                .into_iter()
                .map(|item| MatchedItem {
                    item,
                    matches: matches
                        .iter()
                        .map(|t| AlertCandidate {
                            topic: (*t).into(),
                            query_index: 0,
                            terms: vec!["x".into()],
                            field: "title".into(),
                            snippet: "s".into(),
                        })
                        .collect(),
                })
                .collect(),
        },
    }
}

const POLICY: AlertPolicy = AlertPolicy {
    max_age: Some(Duration::from_secs(86400)),
};

#[test]
fn same_feed_same_id_is_one_row_and_not_new_twice() {
    let (_d, mut s) = store();
    let a = s
        .record_poll(
            &fetched("a", vec![item("1", Some("https://x.example/1"), "T")], &[]),
            POLICY,
        )
        .unwrap();
    let b = s
        .record_poll(
            &fetched("a", vec![item("1", Some("https://x.example/1"), "T")], &[]),
            POLICY,
        )
        .unwrap();
    assert_eq!((a.new, b.new, b.unchanged), (1, 0, 1));
    assert_eq!(s.counts().unwrap().0, 1);
}

#[test]
fn an_edited_item_updates_in_place() {
    let (_d, mut s) = store();
    s.record_poll(
        &fetched(
            "a",
            vec![item("1", Some("https://x.example/1"), "Old")],
            &[],
        ),
        POLICY,
    )
    .unwrap();
    let b = s
        .record_poll(
            &fetched(
                "a",
                vec![item("1", Some("https://x.example/1"), "New")],
                &[],
            ),
            POLICY,
        )
        .unwrap();
    assert_eq!((b.new, b.updated), (0, 1));
    let items = s.items(None, None, 10).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].title, "New");
    assert!(items[0].changed.is_some());
}

#[test]
fn the_same_url_from_another_feed_is_one_item_with_two_sources() {
    let (_d, mut s) = store();
    s.record_poll(
        &fetched(
            "a",
            vec![item("a-1", Some("https://x.example/1"), "T")],
            &["topic"],
        ),
        POLICY,
    )
    .unwrap();
    let b = s
        .record_poll(
            &fetched(
                "b",
                vec![item("b-9", Some("https://x.example/1"), "T (wire)")],
                &["topic"],
            ),
            POLICY,
        )
        .unwrap();
    assert_eq!((b.new, b.merged), (0, 1));
    assert!(b.alerts.is_empty(), "the same story does not alert twice");
    let items = s.items(None, None, 10).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].sources, ["a", "b"]);
    assert_eq!(s.items(Some("b"), None, 10).unwrap().len(), 1);
}

#[test]
fn items_without_ids_or_links_dedup_by_content_hash() {
    let (_d, mut s) = store();
    let mut x = item("", None, "Same text");
    x.key = ItemKey::Hash("h1".into());
    let mut y = x.clone();
    y.key = ItemKey::Hash("h1-other-feed".into());
    s.record_poll(&fetched("a", vec![x], &[]), POLICY).unwrap();
    let b = s.record_poll(&fetched("b", vec![y], &[]), POLICY).unwrap();
    assert_eq!((b.new, b.merged), (0, 1));
}

#[test]
fn a_match_alerts_once_per_topic_and_item() {
    let (_d, mut s) = store();
    // first fetch of a feed: dated, recent items alert
    let a = s
        .record_poll(
            &fetched(
                "a",
                vec![item("1", Some("https://x.example/1"), "T")],
                &["t1", "t2"],
            ),
            POLICY,
        )
        .unwrap();
    assert_eq!(a.alerts.len(), 2);
    let b = s
        .record_poll(
            &fetched(
                "a",
                vec![item("1", Some("https://x.example/1"), "T edited")],
                &["t1", "t2"],
            ),
            POLICY,
        )
        .unwrap();
    assert_eq!(b.updated, 1);
    assert!(b.alerts.is_empty(), "an edit does not re-alert");
    assert_eq!(s.alerts(None, None, 10).unwrap().len(), 2);
}

#[test]
fn old_items_and_undated_baseline_items_do_not_alert() {
    let (_d, mut s) = store();
    let mut old = item("old", Some("https://x.example/old"), "Old");
    old.published = Some(Utc::now() - chrono::Duration::days(3));
    let mut undated = item("undated", Some("https://x.example/u"), "Undated");
    undated.published = None;
    let r = s
        .record_poll(&fetched("a", vec![old, undated], &["t"]), POLICY)
        .unwrap();
    assert!(r.first_fetch);
    assert_eq!((r.alerts.len(), r.suppressed), (0, 2));
    // later, an undated new item on a known feed does alert
    let mut later = item("later", Some("https://x.example/l"), "Later");
    later.published = None;
    let r = s
        .record_poll(&fetched("a", vec![later], &["t"]), POLICY)
        .unwrap();
    assert_eq!(r.alerts.len(), 1);
}

#[test]
fn a_guid_rotation_warns_instead_of_flooding() {
    let (_d, mut s) = store();
    let first: Vec<_> = (0..20)
        .map(|i| item(&format!("v1-{i}"), None, &format!("Story {i}")))
        .collect();
    s.record_poll(&fetched("a", first, &[]), POLICY).unwrap();
    let rotated: Vec<_> = (0..20)
        .map(|i| item(&format!("v2-{i}"), None, &format!("Story {i} (new guid)")))
        .collect();
    let r = s
        .record_poll(&fetched("a", rotated, &["t"]), POLICY)
        .unwrap();
    assert!(r.rotation_suspected);
    assert!(r.alerts.is_empty());
}

#[test]
fn a_failure_keeps_validators_and_counts_failures() {
    let (_d, mut s) = store();
    s.record_poll(&fetched("a", vec![item("1", None, "T")], &[]), POLICY)
        .unwrap();
    let fail = PollRecord {
        feed: "a".into(),
        url: "https://a.example/rss".into(),
        at: Utc::now(),
        outcome: PollOutcome::Failed {
            status: Some(500),
            class: "http_status",
            message: "HTTP 500".into(),
        },
    };
    s.record_poll(&fail, POLICY).unwrap();
    s.record_poll(&fail, POLICY).unwrap();
    let st = s.feed_state("a").unwrap().unwrap();
    assert_eq!(st.etag.as_deref(), Some("\"v1\""));
    assert_eq!(st.consecutive_failures, 2);
    assert_eq!(st.last_error_class.as_deref(), Some("http_status"));
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Store::open(&path, Synchronous::Normal).unwrap());
    let c = Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let err = Store::open(&path, Synchronous::Normal).err().unwrap();
    assert!(
        err.to_string().contains("schema version 99, newer than"),
        "{err}"
    );
}

#[test]
fn migrations_upgrade_an_old_database_in_place() {
    // A v0 database (an empty file) is brought to the current version, and reopening is a no-op.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    drop(Connection::open(&path).unwrap());
    let s = Store::open(&path, Synchronous::Normal).unwrap();
    assert_eq!(s.version().unwrap(), MIGRATIONS.len() as i64);
    drop(s);
    let s = Store::open(&path, Synchronous::Normal).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
}
