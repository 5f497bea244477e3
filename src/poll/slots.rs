//! Host politeness and fair fetch slots (ARCHITECTURE.md, "Fetch slots"): a poll's admission
//! (its host's shares and slot, then a fetch or slow-lane slot), the probe into probation and the
//! move to the slow lane while it fetches.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Poller, Waits};
use crate::config::FeedSource;
use crate::error_class::ErrorClass;
use crate::fetch::{FetchError, FetchOutcome, FetchRequest};
use crate::store::FeedState;

/// Per-host politeness: a limit on requests in flight, and the earliest start of the next one.
pub(super) struct Host {
    in_flight: Arc<Semaphore>,
    /// One more request for the host's slow polls, so that they never hold the slots of its
    /// healthy feeds: a stalled feed costs its host one slot, not `per_host_concurrency`.
    slow_slot: Arc<Semaphore>,
    /// Unproven polls hold at most all of its slots but one, so that its feeds already seen fast
    /// always have one while the others are found out (in probation too).
    unproven: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
}

/// What a poll holds while it runs: a slot of its host and a fetch slot (or a probation slot),
/// or its host's slow slot and a slow-lane slot.
pub(super) struct Admission {
    host: Option<Arc<Host>>,
    host_slot: Option<OwnedSemaphorePermit>,
    /// A permit of `lane`.
    slot: OwnedSemaphorePermit,
    lane: Lane,
    /// The host's share of unproven fetches, held while an unproven feed fetches.
    unproven_of_host: Option<OwnedSemaphorePermit>,
    /// The fleet's share, held while an unproven feed fetches in a fetch slot.
    unproven: Option<OwnedSemaphorePermit>,
    /// The feed's speed is not known: its fetch moves to probation after `probe_after`.
    probe: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Fetch,
    Probation,
    Slow,
}

impl Lane {
    pub(super) fn name(self) -> &'static str {
        match self {
            Lane::Fetch => "fetch slots",
            Lane::Probation => "probation",
            Lane::Slow => "slow lane",
        }
    }
}

impl Poller {
    pub(super) fn host(&self, source: &FeedSource) -> Option<Arc<Host>> {
        let FeedSource::Http(url) = source else {
            return None;
        };
        let host = url.host_str()?.to_owned();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let entry = hosts.entry(host).or_insert_with(|| {
            Arc::new(Host {
                in_flight: Arc::new(Semaphore::new(self.per_host)),
                slow_slot: Arc::new(Semaphore::new(1)),
                unproven: Arc::new(Semaphore::new(self.per_host.saturating_sub(1).max(1))),
                next_start: tokio::sync::Mutex::new(tokio::time::Instant::now()),
            })
        });
        Some(entry.clone())
    }

    /// Waits for the poll's turn: a slot of its host first (at most `per_host_concurrency` in
    /// flight; starts `host_spacing` apart), then a fetch slot; or, in the daemon, for a feed
    /// whose last fetch was slow or that is in backoff, its host's slow slot and a slow-lane
    /// slot. Taking the host's slot first keeps the polls queued for a busy host off the fetch
    /// slots (tokio's semaphores are FIFO). In the daemon, a feed not yet fetched takes its
    /// host's share of unproven fetches, then the fleet's, before either. `None`: the daemon is
    /// stopping.
    pub(super) async fn admit(
        &self,
        source: &FeedSource,
        state: Option<&FeedState>,
        waits: &mut Waits,
    ) -> Option<Admission> {
        // In backoff (the scheduler lengthens its wait from the second failure on): a single
        // failure may be happenstance.
        let in_backoff = self.history && state.is_some_and(|s| s.facts.consecutive_failures >= 2);
        // Not fetched since the start: the stored outcome of its last poll stands in (a feed
        // that last timed out is slow; one that last succeeded is proven), so that a restart
        // does not find the stalling feeds out again.
        let speed = if self.history {
            self.speeds().get(&source.to_string()).copied().or_else(|| {
                let s = state?;
                if s.last_error_class == Some(ErrorClass::Timeout) {
                    Some(true)
                } else if s.facts.consecutive_failures == 0 && s.last_success_at.is_some() {
                    Some(false)
                } else {
                    None
                }
            })
        } else {
            None
        };
        let slow_lane = in_backoff || speed == Some(true);
        let host = self.host(source);
        // First of all the unproven shares, the host's before the fleet's: a poll waiting for
        // its host's share (held by a neighbour being found out, up to `slow_after`) must hold
        // nothing the other hosts' feeds wait for, and one waiting for the fleet's share no slot
        // of its host (its proven neighbours would wait behind it).
        let queued = tokio::time::Instant::now();
        let (mut unproven_of_host, mut unproven) = (None, None);
        if let Some(cap) = self
            .unproven
            .as_ref()
            .filter(|_| !slow_lane && speed.is_none())
        {
            if let Some(h) = &host {
                unproven_of_host = Some(
                    self.until_stop(h.unproven.clone().acquire_owned())
                        .await?
                        .ok()?,
                );
            }
            unproven = Some(self.until_stop(cap.clone().acquire_owned()).await?.ok()?);
        }
        waits.first_wait = queued.elapsed();
        let queued = tokio::time::Instant::now();
        let mut host_slot = None;
        if let Some(h) = &host {
            let slots = if slow_lane {
                &h.slow_slot
            } else {
                &h.in_flight
            };
            host_slot = Some(self.until_stop(slots.clone().acquire_owned()).await?.ok()?);
            if !self.host_spacing.is_zero() {
                // A start is claimed when it happens, not ahead: a task that wakes late (a busy
                // machine) then pushes the next start back instead of leaving it too close. The
                // lock is held through the wait, so the host's polls start in the order they
                // came (tokio's mutex is FIFO), and none loses every race for the next start.
                let mut next = self.until_stop(h.next_start.lock()).await?;
                if *next > tokio::time::Instant::now() {
                    self.until_stop(tokio::time::sleep_until(*next)).await?;
                }
                *next = tokio::time::Instant::now() + self.host_spacing;
            }
        }
        waits.host_wait = queued.elapsed();
        let lane = if slow_lane { Lane::Slow } else { Lane::Fetch };
        let slots = if slow_lane { &self.slow } else { &self.global };
        let queued = tokio::time::Instant::now();
        let slot = self.until_stop(slots.clone().acquire_owned()).await?.ok()?;
        waits.slot_wait = queued.elapsed();
        waits.lane = lane.name();
        if self.stop.is_cancelled() {
            return None;
        }
        tracing::debug!(
            lane = lane.name(),
            first_wait_ms = waits.first_wait.as_millis() as u64,
            host_wait_ms = waits.host_wait.as_millis() as u64,
            slot_wait_ms = waits.slot_wait.as_millis() as u64,
            "admitted"
        );
        Some(Admission {
            host,
            host_slot,
            slot,
            lane,
            unproven_of_host,
            unproven,
            probe: !slow_lane && speed.is_none(),
        })
    }

    /// Both slow-lane slots a poll moving there needs (its host's and the global one), or none.
    fn try_slow_lane(
        &self,
        host: Option<&Arc<Host>>,
    ) -> Option<(Option<OwnedSemaphorePermit>, OwnedSemaphorePermit)> {
        let host_slot = match host {
            Some(h) => Some(h.slow_slot.clone().try_acquire_owned().ok()?),
            None => None,
        };
        let slot = self.slow.clone().try_acquire_owned().ok()?;
        Some((host_slot, slot))
    }

    /// Fetches in the admitted lane. A fetch of a feed whose speed is not known, still running
    /// after `probe_after` in a fetch slot, moves to probation: it gives back its fetch slot and
    /// its fleet's unproven share (it keeps its host's slot and share, so its host's feeds seen
    /// fast keep theirs); with probation full it stays. A fetch still running after `slow_after`
    /// in a fetch slot or in probation moves to the slow lane, freeing its slots (its host's
    /// and the fetch or probation slot) for the polls behind it; when the slow lane or its
    /// host's slow slot is taken, it fails instead. Either way the feed's next poll goes to the
    /// slow lane, until a fetch of it is fast again. The host's slot and the unproven shares
    /// are given back when the fetch ends; the lane's slot is held until the poll is committed.
    pub(super) async fn fetch_fairly(
        &self,
        request: &FetchRequest<'_>,
        admission: &mut Admission,
        waits: &mut Waits,
    ) -> Result<FetchOutcome, FetchError> {
        let started = tokio::time::Instant::now();
        let fetch = self.until_abort(self.fetcher.fetch(request));
        tokio::pin!(fetch);
        let result = loop {
            let deadline = match admission.lane {
                Lane::Slow => break fetch.await,
                Lane::Fetch if admission.probe => self.probe_after,
                Lane::Fetch | Lane::Probation => self.slow_after,
            };
            tokio::select! {
                r = &mut fetch => break r,
                _ = tokio::time::sleep_until(started + deadline) => {}
            }
            if admission.lane == Lane::Fetch && admission.probe {
                admission.probe = false;
                if let Ok(slot) = self.probation.clone().try_acquire_owned() {
                    admission.slot = slot;
                    admission.unproven = None;
                    admission.lane = Lane::Probation;
                    waits.lane = Lane::Probation.name();
                }
                continue;
            }
            match self.try_slow_lane(admission.host.as_ref()) {
                Some((host_slot, slot)) => {
                    admission.host_slot = host_slot;
                    admission.slot = slot;
                    admission.unproven = None;
                    admission.unproven_of_host = None;
                    admission.lane = Lane::Slow;
                    waits.moved_to_slow_lane = true;
                    waits.lane = Lane::Slow.name();
                }
                None => {
                    break Err(FetchError::Timeout(format!(
                        "still fetching after {} while the slow lane was full",
                        humantime::format_duration(self.slow_after)
                    )));
                }
            }
        };
        if !matches!(result, Err(FetchError::Cancelled)) {
            let slow = started.elapsed() >= self.slow_after
                || matches!(result, Err(FetchError::Timeout(_)));
            self.speeds().insert(request.source.to_string(), slow);
        }
        // Politeness is about requests in flight: the host's next poll may start while this
        // one is parsed and committed.
        admission.host_slot = None;
        admission.unproven = None;
        admission.unproven_of_host = None;
        result
    }
}
