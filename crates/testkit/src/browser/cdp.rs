//! The DevTools connection over `--remote-debugging-pipe`: JSON messages, each terminated by
//! a NUL byte, written to Chromium's fd 3 and read from its fd 4.
//!
//! Two tasks own the pipe ends. The writer takes whole messages from a channel, so a caller
//! whose future is dropped mid-call can never leave half a message in the pipe. The reader
//! splits the stream at NULs and dispatches: replies (they carry the `id` of a command) go to
//! the caller waiting for that id, events (a `method`, and a `sessionId` when they come from a
//! page) to every subscriber of that method and session. When the pipe ends, every waiting
//! call and subscriber is woken with the reason, so nothing waits on a dead browser.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// A command's outcome: its `result`, or the protocol error rendered as text.
type Reply = Result<Value, String>;

/// The client side of one browser's DevTools pipe; shared by the browser and its pages.
pub(crate) struct Connection {
    outgoing: mpsc::UnboundedSender<Vec<u8>>,
    next_id: AtomicU64,
    shared: Arc<Shared>,
}

/// What the connection and its reader task share.
struct Shared {
    state: Mutex<State>,
    /// Chromium's log, named in "connection closed" errors: it usually says why.
    log_path: PathBuf,
}

#[derive(Default)]
struct State {
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    subscribers: Vec<Subscriber>,
    /// Why the pipe is gone, once it is: the answer to every later call.
    closed: Option<String>,
}

struct Subscriber {
    method: String,
    /// `None`: browser-level events (those without a `sessionId`).
    session: Option<String>,
    events: mpsc::UnboundedSender<Value>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records why the pipe ended and wakes everyone waiting (dropping their senders).
    fn close(&self, reason: String) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(format!(
                "{reason}; Chromium's log: {}",
                self.log_path.display()
            ));
        }
        state.pending.clear();
        state.subscribers.clear();
    }

    fn closed_reason(&self) -> String {
        self.lock()
            .closed
            .clone()
            .unwrap_or_else(|| "the DevTools connection is closed".to_owned())
    }

    /// Routes one message from Chromium.
    fn dispatch(&self, bytes: &[u8]) {
        let mut message: Value = match serde_json::from_slice(bytes) {
            Ok(message) => message,
            Err(e) => {
                // Not something a test can act on; the message is lost, its caller times out.
                eprintln!("browser: ignoring a DevTools message that is not JSON: {e}");
                return;
            }
        };
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            let reply = match message.get("error") {
                Some(error) => Err(describe_protocol_error(error)),
                None => Ok(message
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or_default()),
            };
            // No one waiting: the caller timed out or was dropped.
            if let Some(caller) = self.lock().pending.remove(&id) {
                let _ = caller.send(reply);
            }
            return;
        }
        let Some(method) = message.get("method").and_then(Value::as_str) else {
            return;
        };
        let session = message.get("sessionId").and_then(Value::as_str);
        let params = message.get("params").cloned().unwrap_or_default();
        let mut state = self.lock();
        state.subscribers.retain(|s| !s.events.is_closed());
        for subscriber in &state.subscribers {
            if subscriber.method == method && subscriber.session.as_deref() == session {
                let _ = subscriber.events.send(params.clone());
            }
        }
    }
}

/// `{"code": -32000, "message": "...", "data": "..."}` as one line.
fn describe_protocol_error(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("(no message)");
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    match error.get("data").and_then(Value::as_str) {
        Some(data) => format!("{message} ({data}; code {code})"),
        None => format!("{message} (code {code})"),
    }
}

impl Connection {
    /// Starts the reader and writer tasks on the current tokio runtime.
    pub(crate) fn start(
        to_chromium: pipe::Sender,
        from_chromium: pipe::Receiver,
        log_path: PathBuf,
    ) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            log_path,
        });
        let (outgoing, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(to_chromium, queue, Arc::clone(&shared)));
        tokio::spawn(read_loop(from_chromium, Arc::clone(&shared)));
        Self {
            outgoing,
            next_id: AtomicU64::new(1),
            shared,
        }
    }

    /// Sends `method` (to the page of `session`, or to the browser) and waits at most
    /// `timeout` for its result.
    pub(crate) async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> anyhow::Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let bytes = serde_json::to_vec(&message).context("serializing a CDP command")?;
        let (caller, reply) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if let Some(reason) = &state.closed {
                bail!("CDP {method}: {reason}");
            }
            state.pending.insert(id, caller);
        }
        if self.outgoing.send(bytes).is_err() {
            self.shared.lock().pending.remove(&id);
            bail!("CDP {method}: {}", self.shared.closed_reason());
        }
        match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => bail!("CDP {method} failed: {error}"),
            Ok(Err(_)) => bail!("CDP {method}: {}", self.shared.closed_reason()),
            Err(_) => {
                self.shared.lock().pending.remove(&id);
                bail!("CDP {method}: no answer from Chromium within {timeout:?}")
            }
        }
    }

    /// Events named `method` from `session` (or browser-level ones for `None`), from now on.
    /// Subscribe before sending the command that causes the event, or it may be missed.
    pub(crate) fn subscribe(
        &self,
        method: &str,
        session: Option<&str>,
        timeout: Duration,
    ) -> EventStream {
        let (events, receiver) = mpsc::unbounded_channel();
        let mut state = self.shared.lock();
        // After close the sender is dropped at once, so the stream reports the reason.
        if state.closed.is_none() {
            state.subscribers.push(Subscriber {
                method: method.to_owned(),
                session: session.map(str::to_owned),
                events,
            });
        }
        EventStream {
            method: method.to_owned(),
            receiver,
            shared: Arc::clone(&self.shared),
            timeout,
        }
    }
}

/// Events of one method from one page (or the browser), in the order Chromium sent them.
/// Dropping the stream unsubscribes.
pub struct EventStream {
    method: String,
    receiver: mpsc::UnboundedReceiver<Value>,
    shared: Arc<Shared>,
    timeout: Duration,
}

impl EventStream {
    /// The next event's `params`; an error once the stream's timeout has passed without one
    /// or the browser is gone.
    pub async fn next(&mut self) -> anyhow::Result<Value> {
        self.next_where(|_| true).await
    }

    /// The `params` of the next event that satisfies `accept`, skipping the others, within
    /// the stream's timeout (counted from this call).
    pub async fn next_where(
        &mut self,
        mut accept: impl FnMut(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(params)) if accept(&params) => return Ok(params),
                Ok(Some(_)) => {}
                Ok(None) => bail!(
                    "waiting for {}: {}",
                    self.method,
                    self.shared.closed_reason()
                ),
                Err(_) => bail!(
                    "waiting for {}: none within {:?}",
                    self.method,
                    self.timeout
                ),
            }
        }
    }
}

async fn write_loop(
    mut pipe: pipe::Sender,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    while let Some(mut message) = queue.recv().await {
        message.push(0);
        if let Err(e) = pipe.write_all(&message).await {
            shared.close(format!("writing to Chromium's DevTools pipe failed: {e}"));
            return;
        }
    }
    // Every Connection is gone: dropping `pipe` closes Chromium's fd 3, and Chromium exits on
    // that end of input (within about 0.1 s here), even if no one killed it.
}

async fn read_loop(mut pipe: pipe::Receiver, shared: Arc<Shared>) {
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let reason = loop {
        let read = match pipe.read(&mut chunk).await {
            Ok(0) => break "Chromium closed its DevTools pipe (it exited or crashed)".to_owned(),
            Ok(read) => read,
            Err(e) => break format!("reading Chromium's DevTools pipe failed: {e}"),
        };
        // Only the new bytes can hold a terminator: screenshots arrive as megabytes in many reads.
        let mut scan_from = buffer.len();
        buffer.extend_from_slice(&chunk[..read]);
        let mut consumed = 0;
        while let Some(offset) = buffer[scan_from..].iter().position(|&b| b == 0) {
            let end = scan_from + offset;
            shared.dispatch(&buffer[consumed..end]);
            consumed = end + 1;
            scan_from = consumed;
        }
        buffer.drain(..consumed);
    };
    shared.close(reason);
}
