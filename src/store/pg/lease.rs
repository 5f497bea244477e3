//! Work sharing: each daemon claims a feed before polling it, with a lease that expires, and
//! gives it back with the feed's next poll time; a heartbeat row per daemon (`instances`).
//!
//! A claim is one statement: the feed's row, if nobody holds it (or the holder's lease expired, or
//! it is this daemon's) and it is due, locked with `FOR UPDATE SKIP LOCKED` (two daemons claiming
//! at once never wait for each other: one gets the row, the other skips it) and stamped with this
//! daemon's id and the lease's end, on the server's clock. The release is the schedule write, so
//! the next claim sees the feed's next poll time and no daemon polls it again within its interval.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::PgStore;
use crate::store::{Result, from_ts, ts};

/// What a claim decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Poll it: this daemon holds the feed until its schedule is written (or the lease ends).
    Granted,
    /// Another daemon holds it or polled it lately: look again after this long.
    Busy(Duration),
}

/// This daemon, as other daemons see it.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub lease: Duration,
}

impl Instance {
    /// A fresh id for this process: the host, the pid and a random suffix (a restarted daemon is a
    /// new instance; its predecessor's leases expire).
    pub fn new(lease: Duration) -> Instance {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let pid = std::process::id();
        Instance {
            id: format!("{host}:{pid}:{:06x}", fastrand::u32(..0x100_0000)),
            host,
            pid,
            lease,
        }
    }
}

/// A row of `newshound instances`.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRow {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started: Option<DateTime<Utc>>,
    /// Milliseconds since its last heartbeat (the server's clock).
    pub heartbeat_age_ms: i64,
    /// Live: a heartbeat within its lease time.
    pub live: bool,
    /// Feeds it holds now (unexpired leases).
    pub leases: i64,
}

/// The server's clock in milliseconds (the leases' clock: daemons' clocks may differ).
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// How often a daemon writes its heartbeat: a few times per lease.
fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
}

/// Gives back a daemon's leases and removes its row (a clean stop).
pub(super) fn leave(client: &mut postgres::Client, id: &str) -> Result<()> {
    client.execute(
        "UPDATE feeds SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
        &[&id],
    )?;
    client.execute("DELETE FROM instances WHERE id = $1", &[&id])?;
    Ok(())
}

impl PgStore {
    /// Makes this store a daemon's that shares the work: registers `me` and starts its heartbeat
    /// (a thread with a connection of its own, so a long group commit never delays it).
    pub fn join(&mut self, url: &str, me: Instance) -> Result<()> {
        let mut beat = super::connect(url)?;
        let register = format!(
            "INSERT INTO instances (id, host, pid, started_at, heartbeat_at, lease_ms) VALUES ($1, $2, $3, $4, {NOW_MS}, $5)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = {NOW_MS}"
        );
        let args = (
            me.id.clone(),
            me.host.clone(),
            i64::from(me.pid),
            ts(Utc::now()),
            me.lease.as_millis() as i64,
        );
        super::off_runtime(|| {
            beat.execute(
                register.as_str(),
                &[&args.0, &args.1, &args.2, &args.3, &args.4],
            )
        })?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let every = heartbeat_every(me.lease);
        let thread = std::thread::Builder::new()
            .name("newshound-beat".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if let Err(e) = beat.execute(
                        register.as_str(),
                        &[&args.0, &args.1, &args.2, &args.3, &args.4],
                    ) {
                        tracing::warn!(error = %e, "heartbeat not written");
                    }
                }
            })
            .map_err(|e| {
                crate::store::StoreError::Shared(format!("cannot start the heartbeat thread: {e}"))
            })?;
        self.heartbeat = Some((stop, thread));
        tracing::info!(instance = %me.id, lease = %humantime::format_duration(me.lease), "sharing the work with the other daemons on this database");
        self.claimer = me.id.clone();
        self.lease = me.lease;
        self.instance = Some(me);
        Ok(())
    }

    /// Claims `feed` (creating its row) for this daemon, if it is due at `now` and nobody holds it.
    pub fn claim(&mut self, feed: &str, url: &str, now: DateTime<Utc>) -> Result<Claim> {
        let Some(me) = self.instance.clone() else {
            return Ok(Claim::Granted);
        };
        let lease_ms = me.lease.as_millis() as i64;
        let now = now.timestamp_millis();
        // One round trip when the feed is due and free (autocommit: the row lock lasts only as
        // long as the statement; the lease is what holds the feed after it).
        const CLAIM: &str = "UPDATE feeds SET lease_owner = $2, lease_until = (extract(epoch from clock_timestamp()) * 1000)::bigint + $3
             WHERE id IN (SELECT id FROM feeds WHERE name = $1
                            AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < (extract(epoch from clock_timestamp()) * 1000)::bigint)
                            AND coalesce(next_poll_ms, next_poll_at * 1000, 0) <= $4
                          FOR UPDATE SKIP LOCKED)
             RETURNING id";
        let mut db = self.auto();
        if db.opt(CLAIM, &[&feed, &me.id, &lease_ms, &now])?.is_some() {
            return Ok(Claim::Granted);
        }
        // Why not: held (until its lease ends), or polled lately (until its next poll), or a feed
        // never seen (its row is created, then claimed).
        const WHY: &str = "SELECT coalesce(next_poll_ms, next_poll_at * 1000), lease_owner, lease_until - (extract(epoch from clock_timestamp()) * 1000)::bigint FROM feeds WHERE name = $1";
        let mut r = db.opt(WHY, &[&feed])?;
        if r.is_none() {
            db.exec(
                "INSERT INTO feeds (name, url) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&feed, &url],
            )?;
            if db.opt(CLAIM, &[&feed, &me.id, &lease_ms, &now])?.is_some() {
                return Ok(Claim::Granted);
            }
            r = db.opt(WHY, &[&feed])?;
        }
        let retry = match r {
            None => Duration::from_secs(1),
            Some(r) => {
                let next: Option<i64> = r.get(0);
                let owner: Option<String> = r.get(1);
                let left: Option<i64> = r.get(2);
                let held = match (owner, left) {
                    (Some(_), Some(ms)) if ms > 0 => Some(Duration::from_millis(ms as u64)),
                    _ => None,
                };
                let due = next
                    .filter(|&n| n > now)
                    .map(|n| Duration::from_millis((n - now) as u64));
                // Held: look again when the lease ends (the holder's schedule write usually
                // comes first and moves the next look to the feed's next poll).
                match (held, due) {
                    (Some(h), Some(d)) => h.max(d),
                    (Some(h), None) => h,
                    (None, Some(d)) => d,
                    // Locked by a claim in progress elsewhere.
                    (None, None) => Duration::from_secs(1),
                }
            }
        };
        Ok(Claim::Busy(retry.max(Duration::from_millis(100))))
    }

    /// Extends this daemon's claim on `feed` for a whole lease from now, if it still holds it:
    /// `false` when the lease ran out (whether or not another daemon has claimed it since).
    pub fn renew(&mut self, feed: &str) -> Result<bool> {
        let Some(me) = self.instance.clone() else {
            return Ok(true);
        };
        let lease_ms = me.lease.as_millis() as i64;
        const RENEW: &str = "UPDATE feeds SET lease_until = (extract(epoch from clock_timestamp()) * 1000)::bigint + $3
             WHERE name = $1 AND lease_owner = $2
               AND lease_until >= (extract(epoch from clock_timestamp()) * 1000)::bigint
             RETURNING id";
        Ok(self
            .auto()
            .opt(RENEW, &[&feed, &me.id, &lease_ms])?
            .is_some())
    }

    /// Records the schedule decision for a feed and gives its lease back, unless another daemon
    /// holds it now (this one's lease expired): that one's schedule stands.
    pub fn set_schedule(
        &mut self,
        feed: &str,
        next: DateTime<Utc>,
        interval: Duration,
        reason: &str,
    ) -> Result<()> {
        let me = self.instance.as_ref().map(|i| i.id.clone());
        self.auto().exec(
            "UPDATE feeds SET next_poll_at = $2, next_poll_ms = $6, poll_interval = $3, schedule_reason = $4, lease_owner = NULL, lease_until = NULL
             WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $5::text OR $5::text IS NULL)",
            &[&feed, &ts(next), &(interval.as_secs() as i64), &reason, &me, &next.timestamp_millis()],
        )?;
        Ok(())
    }

    /// The daemons that wrote a heartbeat, newest first, with the leases each holds.
    pub fn instances(&mut self) -> Result<Vec<InstanceRow>> {
        let mut tx = self.begin()?;
        let rows = tx.all(
            "SELECT i.id, i.host, i.pid, i.started_at, (extract(epoch from clock_timestamp()) * 1000)::bigint - i.heartbeat_at, i.lease_ms,
                    (SELECT count(*) FROM feeds f WHERE f.lease_owner = i.id AND f.lease_until > (extract(epoch from clock_timestamp()) * 1000)::bigint)
             FROM instances i ORDER BY i.heartbeat_at DESC, i.id",
            &[],
        )?;
        tx.commit()?;
        Ok(rows
            .iter()
            .map(|r| {
                let age: i64 = r.get(4);
                let lease: i64 = r.get(5);
                InstanceRow {
                    id: r.get(0),
                    host: r.get(1),
                    pid: r.get(2),
                    started: from_ts(r.get(3)),
                    heartbeat_age_ms: age,
                    live: age <= lease,
                    leases: r.get(6),
                }
            })
            .collect())
    }
}
