//! An [`axum::serve::Listener`] whose connections are TLS streams.
//!
//! axum's serve loop awaits [`Listener::accept`] for one connection at a time. Doing the TLS
//! handshake inside `accept` would let one slow or silent client (a port scanner, a phone on
//! a bad link) stall every other client for as long as its handshake takes. So TCP accepts run
//! in a task of their own, each handshake in its own task under a timeout and a cap on
//! handshakes in progress, and finished streams reach axum through a bounded channel.
//!
//! Someone who types `http://` for this port gets a short plain-text 400 that says to use
//! `https://`, instead of a connection that dies without a word.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, error};

/// A client gets this long for its whole handshake (or to send a plain HTTP request).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;
/// Finished handshakes waiting for axum to take them.
const READY_QUEUE: usize = 64;
/// What is read (and discarded) of a plain HTTP request before closing, so the kernel does
/// not reset the connection before the client has read our answer.
const MAX_PLAIN_REQUEST_BYTES: usize = 16 * 1024;

const PLAIN_HTTP_ANSWER: &str =
    "This port speaks HTTPS: open the same address with https:// instead of http://.\n";

/// The `--listen` socket when HTTPS is on.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `tcp`. The accept task ends when this listener is dropped.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(Self { local_addr, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task holds the sender until this listener is dropped; if it is gone
            // anyway (the runtime is shutting down) no connection will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            _ = ready.closed() => return,
            permit = Arc::clone(&handshakes).acquire_owned() => match permit {
                Ok(permit) => permit,
                // Never closed; should it be, there is nothing left to accept for.
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = ready.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        tokio::spawn(handshake(
            acceptor.clone(),
            stream,
            peer,
            ready.clone(),
            permit,
        ));
    }
}

/// As axum does for its own TcpListener: a connection that died in the queue is skipped; any
/// other error (out of file descriptors) is logged and retried a second later, not in a spin.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    error!(error = %e, "cannot accept a connection on the HTTPS port");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What a new connection turned out to be. Returned once per connection and moved straight
/// into the channel, so boxing the stream would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Opening {
    Tls(TlsStream<TcpStream>),
    PlainHttp,
}

/// Handshakes one connection and hands it to axum. `_permit` counts it as in progress until
/// axum has it (or it failed).
async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    _permit: OwnedSemaphorePermit,
) {
    // Small request/response exchanges (WHIP, the API) should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, open(acceptor, stream)).await {
        Ok(Ok(Opening::Tls(tls))) => {
            // Fails only when the listener is gone (shutting down): the stream is dropped.
            let _ = ready.send((tls, peer)).await;
        }
        Ok(Ok(Opening::PlainHttp)) => {
            debug!(%peer, "plain HTTP on the HTTPS port: answered 400");
        }
        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => debug!(%peer, "TLS handshake timed out"),
    }
}

async fn open(acceptor: TlsAcceptor, stream: TcpStream) -> io::Result<Opening> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed before the handshake",
        ));
    }
    // A TLS connection opens with a handshake record (0x16); an HTTP/1 request with its
    // method in capitals.
    if first[0].is_ascii_uppercase() {
        refuse_plain_http(stream).await?;
        return Ok(Opening::PlainHttp);
    }
    acceptor.accept(stream).await.map(Opening::Tls)
}

async fn refuse_plain_http(mut stream: TcpStream) -> io::Result<()> {
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{PLAIN_HTTP_ANSWER}",
        PLAIN_HTTP_ANSWER.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await?;
    // Read what the client sent, up to a bound, until it closes.
    let mut sink = [0u8; 4096];
    let mut read = 0;
    while read < MAX_PLAIN_REQUEST_BYTES {
        match stream.read(&mut sink).await? {
            0 => break,
            n => read += n,
        }
    }
    Ok(())
}
