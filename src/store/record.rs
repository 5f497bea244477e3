//! One poll's writes, written once for both backends over [`IngestDb`]: the feed's row, its
//! items through dedup ([`upsert_item`]) and stories, alerts and their deliveries, redirects
//! and the feed's facts, in that order. Each backend implements the trait with its own SQL
//! (SQLite: `store::ingest`, PostgreSQL: `store::pg::ingest`) and runs its own group commit
//! around [`record_in`]; no SQL lives here.

use chrono::{DateTime, Utc};
use rustc_hash::FxHashSet;

use super::dedup::{DedupDb, Seen, upsert_item};
use super::ingest::NextIds;
use super::story_index::StoryIndex;
use super::{
    Activity, AlertCandidate, FeedFacts, IngestPolicy, MatchedItem, NewAlert, OutboxRoutes,
    PollOutcome, PollRecord, PollSummary, StoreError, ts,
};

/// A permanent redirect seen on this many consecutive polls becomes the URL polled.
pub const ADOPT_REDIRECT_AFTER: u32 = 3;

/// A feed's row as a poll finds it.
pub(crate) struct FeedRow {
    pub id: i64,
    /// The URL it was last polled at.
    pub url: String,
    pub last_success: Option<i64>,
    pub facts: FeedFacts,
}

/// A new alert's row, as [`IngestDb::insert_alert`] writes it.
pub(crate) struct AlertRow<'a> {
    pub m: &'a AlertCandidate,
    pub item: i64,
    pub story: i64,
    pub feed: i64,
    /// The matched terms, as JSON.
    pub terms: &'a str,
    pub at: i64,
}

/// The statements of a poll's writes besides dedup's, in a backend's dialect: the decisions
/// stay in [`record_in`]. Generic, not `dyn`, as [`DedupDb`] is.
pub(crate) trait IngestDb: DedupDb {
    /// The feed's row, inserted first if the feed is new.
    fn feed_row(&mut self, name: &str, url: &str) -> Result<FeedRow, Self::Error>;
    /// The config points the feed at another URL: forget its redirects there.
    fn repoint_feed(&mut self, feed: i64, url: &str) -> Result<(), Self::Error>;
    /// A document arrived (a warning: what the parser skipped).
    fn fetched(
        &mut self,
        feed: i64,
        at: i64,
        status: u16,
        title: Option<&str>,
        warning: Option<&str>,
    ) -> Result<(), Self::Error>;
    fn not_modified(&mut self, feed: i64, at: i64, status: u16) -> Result<(), Self::Error>;
    fn failed(
        &mut self,
        feed: i64,
        at: i64,
        status: Option<u16>,
        message: &str,
        class: &str,
    ) -> Result<(), Self::Error>;
    /// Every column of the feed's facts.
    fn write_facts(&mut self, feed: i64, facts: &FeedFacts) -> Result<(), Self::Error>;
    /// The poll ended without a permanent redirect.
    fn clear_redirect(&mut self, feed: i64) -> Result<(), Self::Error>;
    /// Counts a poll that ended in a permanent redirect to `target` (1 when the last one went
    /// elsewhere); returns the count and the URL adopted before, if any.
    fn count_redirect(
        &mut self,
        feed: i64,
        target: &str,
    ) -> Result<(u32, Option<String>), Self::Error>;
    /// Polls `target` from now on.
    fn adopt_redirect(&mut self, feed: i64, target: &str) -> Result<(), Self::Error>;
    /// The first item and story ids that can have been written at or after `t`.
    fn ids_since(&mut self, t: i64) -> Result<NextIds, Self::Error>;
    /// The feed's items from `first_item` on, dated (published, else first seen) `since` or
    /// later, but for the undated ones of its first poll among them: how many, the oldest date.
    fn activity(&mut self, feed: i64, since: i64, first_item: i64)
    -> Result<Activity, Self::Error>;
    /// How many sightings the feed has.
    fn sightings_of(&mut self, feed: i64) -> Result<i64, Self::Error>;
    fn story_of(&mut self, item: i64) -> Result<i64, Self::Error>;
    /// The story's items other than `except` that alerted for `topic`.
    fn alerted_in_story(
        &mut self,
        topic: &str,
        story: i64,
        except: i64,
    ) -> Result<Vec<i64>, Self::Error>;
    /// The new alert's id; `None` when the item alerted for the topic before.
    fn insert_alert(&mut self, row: &AlertRow<'_>) -> Result<Option<i64>, Self::Error>;
    /// How many feeds listed the story's items.
    fn story_sources(&mut self, story: i64) -> Result<i64, Self::Error>;
    /// The alert's deliveries, one per sink its topic routes to; how many were queued.
    fn enqueue(
        &mut self,
        routes: &OutboxRoutes,
        alert: &NewAlert,
        now_ms: i64,
    ) -> Result<usize, StoreError>;
}

/// One poll's writes, inside the caller's transaction or savepoint.
pub(super) fn record_in<D>(
    db: &mut D,
    rec: &PollRecord,
    policy: IngestPolicy,
    stories: &mut StoryIndex,
    routes: &OutboxRoutes,
) -> Result<PollSummary, StoreError>
where
    D: IngestDb,
    StoreError: From<D::Error>,
{
    let FeedRow {
        id: feed_id,
        url: known_url,
        last_success,
        mut facts,
    } = db.feed_row(&rec.feed, &rec.url)?;
    if known_url != rec.url {
        // The config now points the feed elsewhere: the old validators mean nothing there.
        db.repoint_feed(feed_id, &rec.url)?;
        facts.forget_url();
    }
    let at = ts(rec.at);
    let was_gone = facts.gone();
    let mut summary = PollSummary {
        first_fetch: last_success.is_none(),
        ..PollSummary::default()
    };
    match &rec.outcome {
        PollOutcome::Fetched {
            status,
            permanent_redirect,
            title,
            items,
            warning,
        } => {
            ingest(
                db,
                feed_id,
                &rec.feed,
                at,
                items,
                policy,
                rec.at,
                stories,
                routes,
                &mut summary,
            )?;
            db.fetched(feed_id, at, *status, title.as_deref(), warning.as_deref())?;
            summary.adopted = note_redirect(db, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::NotModified {
            status,
            permanent_redirect,
        } => {
            db.not_modified(feed_id, at, *status)?;
            summary.adopted = note_redirect(db, feed_id, permanent_redirect.as_deref())?;
        }
        PollOutcome::Failed {
            status,
            class,
            message,
        } => {
            db.failed(feed_id, at, *status, message, class.as_str())?;
        }
    }
    let mut facts = facts.after(rec);
    // Publishing activity changes only when items arrive.
    if matches!(rec.outcome, PollOutcome::Fetched { .. }) {
        facts.activity = activity(db, feed_id, at)?;
    }
    db.write_facts(feed_id, &facts)?;
    summary.became_gone = facts.gone() && !was_gone;
    summary.facts = facts;
    Ok(summary)
}

/// The feed's publishing over the last 7 days (by item date, else first sighting; undated items
/// of the feed's first poll in the window are its backlog, not a rate, and do not count), among
/// the items first seen in the last 8: the feed's older sightings (a year of a busy feed is
/// thousands) are passed over by their item id, without reading their items.
fn activity<D: IngestDb>(db: &mut D, feed_id: i64, now: i64) -> Result<Activity, D::Error> {
    let recent = db.ids_since(now - 8 * 86_400)?.item;
    db.activity(feed_id, now - 7 * 86_400, recent)
}

/// Counts consecutive polls that ended in the same permanent redirect; after
/// [`ADOPT_REDIRECT_AFTER`] of them the target becomes the URL polled. Returns it when adopted now.
fn note_redirect<D: IngestDb>(
    db: &mut D,
    feed_id: i64,
    target: Option<&str>,
) -> Result<Option<String>, D::Error> {
    let Some(t) = target else {
        db.clear_redirect(feed_id)?;
        return Ok(None);
    };
    let (seen, adopted) = db.count_redirect(feed_id, t)?;
    if seen >= ADOPT_REDIRECT_AFTER && adopted.as_deref() != Some(t) {
        db.adopt_redirect(feed_id, t)?;
        return Ok(Some(t.to_owned()));
    }
    Ok(None)
}

/// A known feed where most items suddenly look new: its GUIDs rotated. One warning, no flood.
fn rotation_suspected(stored_before: i64, new: usize, listed: usize) -> bool {
    stored_before >= 10 && new >= 5 && new * 2 > listed
}

/// Whether a new or changed item's matches are kept from alerting: dated longer ago than
/// `max_age`, undated on a feed's first fetch (its backlog), or in a poll that looks like a
/// GUID rotation. The rest of the policy (once per story where it is certain) needs the store.
fn suppressed(
    mi: &MatchedItem,
    policy: IngestPolicy,
    now: DateTime<Utc>,
    summary: &PollSummary,
) -> bool {
    let max_age = policy
        .max_age
        .and_then(|d| chrono::Duration::from_std(d).ok());
    let date = mi.item.date();
    let too_old = matches!((date, max_age), (Some(d), Some(age)) if d < now - age);
    let undated_baseline = date.is_none() && summary.first_fetch;
    too_old || undated_baseline || summary.rotation_suspected
}

/// A fetched document's items through dedup and stories, then the alerts of the new and
/// changed ones that match a topic, with their deliveries.
#[allow(clippy::too_many_arguments)]
fn ingest<D>(
    db: &mut D,
    feed_id: i64,
    feed_name: &str,
    at: i64,
    items: &[MatchedItem],
    policy: IngestPolicy,
    now: DateTime<Utc>,
    stories: &mut StoryIndex,
    routes: &OutboxRoutes,
    summary: &mut PollSummary,
) -> Result<(), StoreError>
where
    D: IngestDb,
    StoreError: From<D::Error>,
{
    let stored_before = db.sightings_of(feed_id)?;
    let mut to_alert: Vec<(i64, &MatchedItem)> = Vec::new();
    // A feed without sightings (its first poll) knows none of its items by their own keys,
    // unless its document lists one twice: the lookups by key are skipped but for keys already
    // seen in this poll (by hash: a collision only costs the lookup).
    let mut first_poll = (stored_before == 0).then(FxHashSet::<u64>::default);
    for mi in items {
        match upsert_item(db, feed_id, at, mi, policy, stories, first_poll.as_mut())? {
            Seen::New(id) => {
                summary.new += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Updated(id) => {
                summary.updated += 1;
                if !mi.matches.is_empty() {
                    to_alert.push((id, mi));
                }
            }
            Seen::Unchanged => summary.unchanged += 1,
            Seen::Merged => summary.merged += 1,
        }
    }
    summary.rotation_suspected = rotation_suspected(stored_before, summary.new, items.len());
    for (item_id, mi) in to_alert {
        if suppressed(mi, policy, now, summary) {
            summary.suppressed += mi.matches.len();
            continue;
        }
        let story_id = db.story_of(item_id)?;
        for m in &mi.matches {
            // Once per story, but only where the story is certain: an item that is the same
            // article as, or confidently the same story as, an item that alerted for this topic
            // is "also reported"; any other item alerts on its own, so a wrong merge can cost a
            // duplicate alert but never hide one.
            let alerted = db.alerted_in_story(&m.topic, story_id, item_id)?;
            if alerted
                .iter()
                .any(|&other| stories.confidently_same(item_id, other))
            {
                summary.also_reported.push((m.topic.clone(), story_id));
                continue;
            }
            let terms = serde_json::to_string(&m.terms).unwrap_or_else(|_| "[]".into());
            let inserted = db.insert_alert(&AlertRow {
                m,
                item: item_id,
                story: story_id,
                feed: feed_id,
                terms: &terms,
                at,
            })?;
            let Some(alert_id) = inserted else {
                summary.also_reported.push((m.topic.clone(), story_id));
                continue;
            };
            let sources = db.story_sources(story_id)?;
            summary.alerts.push(NewAlert {
                alert_id,
                item_id,
                story_id,
                sources: sources.max(1) as u32,
                topic: m.topic.clone(),
                feed: feed_name.to_owned(),
                title: mi.item.title.clone(),
                url: mi.item.url.clone(),
                published: mi.item.published,
                terms: m.terms.clone(),
                field: m.field.clone(),
                snippet: m.snippet.clone(),
                query_index: m.query_index,
            });
            // Its deliveries, in its transaction: never an alert without them, nor a delivery
            // of an alert rolled back.
            if !routes.is_empty()
                && let Some(a) = summary.alerts.last()
            {
                summary.enqueued += db.enqueue(routes, a, Utc::now().timestamp_millis())?;
            }
        }
    }
    Ok(())
}
