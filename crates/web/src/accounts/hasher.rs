//! Password hashing off the async runtime, bounded in threads, queue and memory.
//!
//! argon2id holds 19 MiB for tens of milliseconds per hash. On tokio's blocking pool every
//! concurrent login got its own thread, and glibc gives each thread its own malloc arena that
//! keeps freed memory: 80 logins, 8 at a time, left the process at 383 MB for good. Here a
//! fixed set of threads (one per core) does all hashing, each returns its arena's free memory
//! to the system after every hash, and at most a short queue waits: past it, the caller is
//! told to come back (503 with `Retry-After`) instead of piling up.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Hashing threads and their queue.
#[derive(Debug)]
pub struct Hasher {
    jobs: SyncSender<Job>,
}

/// The queue is full (or the threads are gone): try again shortly.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

impl Hasher {
    /// `threads` hashing threads and room for `queue` waiting hashes.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            // A thread that cannot start leaves the others to do the work; with none, every
            // hash answers Busy rather than hanging.
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&receiver));
        }
        Self { jobs }
    }

    /// Queues `job` for a hashing thread now (`Busy` when the queue is full) and returns its
    /// result when done.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, Busy>> + Send + 'static {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(job());
        });
        let queued = self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) | TrySendError::Disconnected(_) => Busy,
        });
        async move {
            queued?;
            answer.await.map_err(|_| Busy)
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking a job, never while hashing.
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        let Ok(job) = job else { return }; // the server is gone
        job();
        release_free_memory();
    }
}

/// Gives the memory a hash just freed back to the system.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas and releases free pages; it takes no
    // pointers from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_runs_on_a_hashing_thread_and_returns_its_value() {
        let hasher = Hasher::new(1, 1);
        let name = hasher
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("argon2-0"));
    }

    #[tokio::test]
    async fn past_the_queue_callers_are_told_to_come_back() {
        let hasher = Hasher::new(1, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        // One job holds the only thread, one waits in the queue: the next is refused.
        let running = tokio::spawn(hasher.run(move || {
            let _ = wait.lock().unwrap().recv();
        }));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let queued = tokio::spawn(hasher.run(|| ()));
        assert_eq!(hasher.run(|| ()).await, Err(Busy));
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
    }
}
