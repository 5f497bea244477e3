//! The listener's database readers: read-only connections of their own (never the writer's),
//! at most [`READERS`] reads at once on the blocking pool, and the response budget that bounds
//! how many bytes of responses built from the database exist until their clients read them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::store::{self, Backend, PgStore, Store};

/// Database reads (pages, API, metrics' counts) running at once; others wait their turn.
pub const READERS: usize = 2;
/// How long a request waits for a reader, or for room in the response budget, before it gets 503.
pub(super) const READ_WAIT: Duration = Duration::from_secs(10);
/// Bytes of response bodies built from the database that may exist at once, until the client
/// has read them: a slow reader holds its response's share, not more. A response larger than
/// this gets 503 (ask for fewer rows with `limit`).
pub const RESPONSE_BUDGET: usize = 32 << 20;

/// Which database the readers open.
#[derive(Clone)]
pub(super) enum Source {
    Sqlite(PathBuf),
    /// A PostgreSQL URL: its client runs on a thread of its own ([`store::pg::off_runtime`]),
    /// as the blocking pool's threads belong to the daemon's runtime.
    Postgres(String),
}

impl Source {
    fn open(&self) -> store::Result<Backend> {
        match self {
            Source::Sqlite(path) => Store::open_read_only(path).map(Backend::from),
            Source::Postgres(url) => PgStore::open_read_only(url).map(Backend::from),
        }
    }
}

/// Read-only connections to the database, opened as needed and kept for the next request.
pub(super) struct Readers {
    pub(super) source: Source,
    idle: Arc<Mutex<Vec<Backend>>>,
    slots: Arc<Semaphore>,
    /// [`RESPONSE_BUDGET`], in KiB.
    budget: Arc<Semaphore>,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum ReadError {
    #[error("the database is busy; try again")]
    Busy,
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("a database read failed")]
    Panicked,
    #[error("the response would be larger than {} MiB; ask for fewer rows (limit=)", RESPONSE_BUDGET >> 20)]
    TooLarge,
}

/// A response body holding its share of the response budget until the last copy of its bytes
/// (hyper's write queue included) is dropped.
struct Budgeted {
    bytes: Vec<u8>,
    _share: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Readers {
    pub(super) fn new(source: Source) -> Readers {
        Readers {
            source,
            idle: Arc::default(),
            slots: Arc::new(Semaphore::new(READERS)),
            budget: Arc::new(Semaphore::new(RESPONSE_BUDGET >> 10)),
        }
    }

    /// As [`read`](Self::read), for a response built from the database: `f` returns its status
    /// and body, whose bytes are reserved from the response budget before the reader is given
    /// back, so at most [`READERS`] built bodies wait outside the budget.
    pub(super) async fn read_body(
        &self,
        f: impl FnOnce(&mut Backend) -> store::Result<(StatusCode, Vec<u8>)> + Send + 'static,
    ) -> Result<(StatusCode, Bytes), ReadError> {
        let reader = self.acquire_reader().await?;
        let (built, reader) = self.run(f, reader).await?;
        let (status, bytes) = built?;
        let kib = u32::try_from(bytes.len().div_ceil(1024)).map_err(|_| ReadError::TooLarge)?;
        if kib as usize > RESPONSE_BUDGET >> 10 {
            return Err(ReadError::TooLarge);
        }
        let share = tokio::time::timeout(READ_WAIT, self.budget.clone().acquire_many_owned(kib))
            .await
            .map_err(|_| ReadError::Busy)?
            .map_err(|_| ReadError::Busy)?;
        drop(reader);
        Ok((
            status,
            Bytes::from_owner(Budgeted {
                bytes,
                _share: share,
            }),
        ))
    }

    async fn acquire_reader(&self) -> Result<OwnedSemaphorePermit, ReadError> {
        tokio::time::timeout(READ_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ReadError::Busy)?
            .map_err(|_| ReadError::Busy)
    }

    /// Runs `f` on an idle connection (or a new one) on the blocking pool. The reader's permit
    /// goes with it and comes back, so a request given up meanwhile still holds its reader until
    /// the read ends.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Backend) -> store::Result<T> + Send + 'static,
        reader: OwnedSemaphorePermit,
    ) -> Result<(store::Result<T>, OwnedSemaphorePermit), ReadError> {
        let (idle, source) = (self.idle.clone(), self.source.clone());
        tokio::task::spawn_blocking(move || {
            let popped = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut store = match popped.map(Ok).unwrap_or_else(|| source.open()) {
                Ok(s) => s,
                Err(e) => return (Err(e), reader),
            };
            let result = match store {
                Backend::Sqlite(_) => f(&mut store),
                Backend::Postgres(_) => store::pg::off_runtime(|| f(&mut store)),
            };
            // A connection that failed is not kept: the next read opens a fresh one.
            if result.is_ok() || matches!(store, Backend::Sqlite(_)) {
                idle.lock().unwrap_or_else(|e| e.into_inner()).push(store);
            }
            (result, reader)
        })
        .await
        .map_err(|_| ReadError::Panicked)
    }

    /// Runs `f` on a reader connection on the blocking pool, after waiting for a free reader.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Backend) -> store::Result<T> + Send + 'static,
    ) -> Result<T, ReadError> {
        let reader = self.acquire_reader().await?;
        Ok(self.run(f, reader).await?.0?)
    }
}
