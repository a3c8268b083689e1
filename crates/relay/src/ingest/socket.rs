//! The one UDP socket every WebRTC session shares, read in batches and answering from the
//! address each datagram arrived on.
//!
//! The socket is bound to the wildcard address, so the kernel would pick a reply's source
//! address by routing alone. A browser on this machine sends from the LAN address to, say,
//! 127.0.0.1; a reply "from" the LAN address does not match the candidate pair it checked and
//! is dropped. With `IP_PKTINFO` / `IPV6_RECVPKTINFO` each datagram carries the local address
//! it was sent to, and each reply names that address as its source (quinn-udp does the
//! `recvmmsg`/`sendmsg` control messages, and GRO batching on Linux).

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Receive buffer asked for the shared UDP port. Every publisher's packets queue in this one
/// buffer while the reader task waits for a CPU: Linux's default (208 KiB) holds ~170 full
/// datagrams, about 6 ms of 100 streams at 2.5 Mbit/s, and the kernel silently drops the rest
/// (`RcvbufErrors` in /proc/net/snmp). 8 MiB holds a quarter of a second of that load. Linux
/// caps it at `net.core.rmem_max` (4 MiB on Debian 12 by default, which still helps).
pub const RECEIVE_BUFFER: usize = 8 * 1024 * 1024;

/// Room for one GRO-coalesced read: the kernel merges up to 64 KiB of same-sized datagrams.
const SLOT: usize = 64 * 1024;

pub struct IngestSocket {
    io: UdpSocket,
    state: UdpSocketState,
    /// An AF_INET6 socket: IPv4 peers must be named as IPv4-mapped addresses.
    ipv6: bool,
}

/// One datagram read from the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub source: SocketAddr,
    /// The local address the datagram was sent to (None where the platform cannot tell).
    pub local: Option<IpAddr>,
}

/// Buffers for one batched read, reused for every read.
pub struct RecvBatch {
    data: Vec<u8>,
    meta: Vec<RecvMeta>,
    filled: usize,
}

impl RecvBatch {
    pub fn new() -> Self {
        let slots = quinn_udp::BATCH_SIZE.max(1);
        Self {
            data: vec![0; slots * SLOT],
            meta: vec![RecvMeta::default(); slots],
            filled: 0,
        }
    }

    /// The datagrams of the last read, GRO segments split back into datagrams.
    pub fn datagrams(&self) -> impl Iterator<Item = (Received, &[u8])> {
        self.data
            .chunks(SLOT)
            .zip(&self.meta)
            .take(self.filled)
            .flat_map(|(slot, meta)| {
                let received = Received {
                    source: SocketAddr::new(meta.addr.ip().to_canonical(), meta.addr.port()),
                    local: meta.dst_ip.map(|ip| ip.to_canonical()),
                };
                let len = meta.len.min(slot.len());
                let stride = if meta.stride == 0 {
                    len.max(1)
                } else {
                    meta.stride
                };
                slot[..len].chunks(stride).map(move |d| (received, d))
            })
    }
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl IngestSocket {
    /// Binds `addr` with a large receive buffer. `[::]` is bound dual-stack (IPv4 too); when
    /// the host has no IPv6 at all, it falls back to `0.0.0.0`. Returns the receive buffer the
    /// kernel granted (Linux reports double what it books, for its own bookkeeping).
    pub fn bind(addr: SocketAddr) -> io::Result<(Self, usize)> {
        match bind_socket(addr) {
            Err(e) if addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) && no_ipv6(&e) => bind_socket(
                SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), addr.port()),
            ),
            other => other,
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Waits for datagrams and reads as many as one batch holds.
    pub async fn recv(&self, batch: &mut RecvBatch) -> io::Result<()> {
        loop {
            self.io.readable().await?;
            let mut slices: Vec<IoSliceMut<'_>> =
                batch.data.chunks_mut(SLOT).map(IoSliceMut::new).collect();
            let result = self.io.try_io(Interest::READABLE, || {
                self.state
                    .recv((&self.io).into(), &mut slices, &mut batch.meta)
            });
            match result {
                Ok(n) => {
                    batch.filled = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one datagram now or drops it: UDP is lossy anyway, and a full socket buffer must
    /// never stall a session. `source`: the local address to send from (the one the peer's
    /// datagrams arrived on); None lets the kernel choose.
    pub fn try_send(
        &self,
        destination: SocketAddr,
        source: Option<IpAddr>,
        contents: &[u8],
    ) -> io::Result<()> {
        let destination = if self.ipv6 {
            SocketAddr::new(to_ipv6(destination.ip()), destination.port())
        } else {
            destination
        };
        let transmit = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: source.map(|ip| if self.ipv6 { to_ipv6(ip) } else { ip }),
        };
        self.io.try_io(Interest::WRITABLE, || {
            self.state.try_send((&self.io).into(), &transmit)
        })
    }
}

fn bind_socket(addr: SocketAddr) -> io::Result<(IngestSocket, usize)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    // Best effort: a smaller buffer still works, and the caller warns about it.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    let granted = socket.recv_buffer_size().unwrap_or(0) / 2;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let std: std::net::UdpSocket = socket.into();
    let state = UdpSocketState::new((&std).into())?;
    let io = UdpSocket::from_std(std)?;
    Ok((
        IngestSocket {
            io,
            state,
            ipv6: addr.is_ipv6(),
        },
        granted,
    ))
}

fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
    )
}

fn to_ipv6(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exchange(
        server_bind: &str,
        client_bind: &str,
        to: &str,
    ) -> (Received, Vec<u8>, SocketAddr) {
        let (server, _) = IngestSocket::bind(server_bind.parse().unwrap()).unwrap();
        let port = server.local_addr().unwrap().port();
        let client = tokio::net::UdpSocket::bind(client_bind).await.unwrap();
        let target: SocketAddr = SocketAddr::new(to.parse().unwrap(), port);
        client.send_to(b"ping", target).await.unwrap();
        let mut batch = RecvBatch::new();
        server.recv(&mut batch).await.unwrap();
        let (received, data) = batch.datagrams().next().unwrap();
        let data = data.to_vec();
        server
            .try_send(received.source, received.local, b"pong")
            .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        (received, data, from)
    }

    #[tokio::test]
    async fn a_reply_leaves_from_the_address_the_datagram_arrived_on() {
        let (received, data, from) = exchange("0.0.0.0:0", "127.0.0.1:0", "127.0.0.1").await;
        assert_eq!(data, b"ping");
        assert_eq!(received.local, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(from.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn a_dual_stack_socket_answers_ipv4_peers_as_ipv4() {
        let (received, _, from) = exchange("[::]:0", "127.0.0.1:0", "127.0.0.1").await;
        assert!(received.source.is_ipv4(), "{received:?}");
        assert_eq!(received.local, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(from.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn a_dual_stack_socket_answers_ipv6_peers() {
        // Hosts without IPv6 loopback cannot run this check; say so rather than pass.
        if std::net::UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("skipped: this host has no ::1");
            return;
        }
        let (received, _, from) = exchange("[::]:0", "[::1]:0", "::1").await;
        assert_eq!(received.local, Some("::1".parse().unwrap()));
        assert_eq!(from.ip(), "::1".parse::<IpAddr>().unwrap());
    }
}
