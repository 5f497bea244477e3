//! A fixed pool of threads for CPU-bound work: parsing, normalizing and matching a feed.
//!
//! tokio's blocking pool would do the work too, but it starts a new thread whenever none is idle
//! at the instant a task is submitted, and a thread that has just finished a parse is often not
//! idle yet: a cold run grew it to three times as many threads as cores. Each thread keeps its
//! own allocator arena and its own caches (the tokenizer's word → term cache), so those threads
//! held memory that a pool of one thread per core does not. Jobs wait in one queue, in the
//! order they came; a job whose caller has gone (a cancelled poll) is skipped, not run.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// The threads and their queue. Dropping the pool lets the threads finish the queued jobs and exit.
pub struct CpuPool {
    jobs: mpsc::Sender<Job>,
}

/// The job panicked (the panic was logged by the panic hook), or the pool is gone.
#[derive(Debug, thiserror::Error)]
#[error("the job panicked on its worker thread")]
pub struct Panicked;

impl CpuPool {
    /// Starts `threads` threads (at least one), all named `name`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<CpuPool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || work(&queue))?;
        }
        Ok(CpuPool { jobs })
    }

    /// One thread per core.
    pub fn per_core(name: &str) -> std::io::Result<CpuPool> {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        CpuPool::new(cores, name)
    }

    /// Runs `f` on a pool thread and waits for its result without blocking the caller's thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Panicked>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if !tx.is_closed() {
                let _ = tx.send(f());
            }
        });
        self.jobs.send(job).map_err(|_| Panicked)?;
        rx.await.map_err(|_| Panicked)
    }
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held while waiting, so idle threads queue on the mutex instead: one of
        // them takes each job.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return; // the pool was dropped and the queue is empty
        };
        // A panicking job loses its result (its caller sees `Panicked`), not the thread.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn runs_every_job_on_no_more_threads_than_it_has() {
        let pool = Arc::new(CpuPool::new(2, "test-pool").expect("pool"));
        let mut results = runtime().block_on(async {
            // All 64 are queued at once: each task submits its job on its first poll.
            let mut set = tokio::task::JoinSet::new();
            for i in 0..64 {
                let pool = Arc::clone(&pool);
                set.spawn(async move {
                    pool.run(move || {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        (i, std::thread::current().id())
                    })
                    .await
                });
            }
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                out.push(r.expect("task").expect("job ran"));
            }
            out
        });
        results.sort_by_key(|(i, _)| *i);
        assert_eq!(
            results.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..64).collect::<Vec<_>>()
        );
        let threads: HashSet<_> = results.iter().map(|(_, t)| *t).collect();
        assert!(threads.len() <= 2, "{} threads", threads.len());
        assert!(!threads.contains(&std::thread::current().id()));
    }

    #[test]
    fn a_panicking_job_fails_alone_and_the_pool_keeps_working() {
        let pool = CpuPool::new(1, "test-pool").expect("pool");
        let rt = runtime();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let failed = rt.block_on(pool.run(|| -> u32 { panic!("boom") }));
        std::panic::set_hook(hook);
        assert!(failed.is_err());
        assert_eq!(
            rt.block_on(pool.run(|| 7)).expect("pool still runs jobs"),
            7
        );
    }

    #[test]
    fn a_job_whose_caller_has_gone_is_skipped() {
        let pool = CpuPool::new(1, "test-pool").expect("pool");
        let rt = runtime();
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        rt.block_on(async {
            // The one thread is busy until the gate opens...
            let busy = pool.run(move || gate_rx.recv().is_ok());
            tokio::pin!(busy);
            assert!(futures_poll_once(busy.as_mut()).await.is_none());
            // ...so this job waits in the queue, and its caller gives up on it.
            let flag = Arc::clone(&ran);
            let mut abandoned =
                Box::pin(pool.run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)));
            assert!(futures_poll_once(abandoned.as_mut()).await.is_none());
            drop(abandoned);
            gate_tx.send(()).expect("gate");
            assert!(busy.await.expect("busy job"));
            // A job queued after the abandoned one has run, so the abandoned one was dequeued.
            pool.run(|| ()).await.expect("last job");
        });
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// Polls once: `Some` if the future finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
