//! Chapter 4, exercise 6: a UDP socket on the reactor.
//! install: net/tests/udp.rs
//!
//! The API, in `net/src/udp.rs`, exported as `simul_net::udp::UdpSocket` and
//! `simul_net::UdpSocket`:
//!
//! ```text
//! impl UdpSocket {
//!     pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket>;
//!     pub fn local_addr(&self) -> io::Result<SocketAddr>;
//!     /// Sends one datagram; how many bytes went (all of them, for UDP).
//!     pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize>;
//!     /// Receives one datagram: its length (truncated to `buf`) and its sender.
//!     pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
//!     pub fn poll_send_to(&self, cx: &mut Context<'_>, buf: &[u8], target: SocketAddr)
//!         -> Poll<io::Result<usize>>;
//!     pub fn poll_recv_from(&self, cx: &mut Context<'_>, buf: &mut [u8])
//!         -> Poll<io::Result<(usize, SocketAddr)>>;
//! }
//! ```
//!
//! Built on `simul_runtime::io::IoSource<mio::net::UdpSocket>`, as `TcpStream` is. The rule that
//! matters: a socket of datagrams is not a byte stream. A datagram shorter than the buffer says
//! nothing about whether another one waits behind it, so only `WouldBlock` may end the cached
//! readiness (edge-triggered epoll will not report datagrams that are already queued again).
//! A datagram longer than the buffer is cut, as the OS does, and the rest of it is gone.
//!
//! Copy this file to `net/tests/udp.rs` and run
//! `timeout 120 cargo test -p simul-net --test udp`.

use std::net::SocketAddr;
use std::time::Duration;

use simul_net::UdpSocket;
use simul_runtime::time::{now, timeout};
use simul_runtime::{run, spawn, Runtime};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Three datagrams of different sizes, all queued before the receiver first asks: each comes out
/// whole, in order, with its sender. Each is shorter than the buffer, which must not make the
/// socket forget that more are waiting.
#[test]
fn datagrams_sent_before_the_receiver_polls_all_arrive() {
    run(async {
        let receiver = UdpSocket::bind(loopback()).unwrap();
        let sender = UdpSocket::bind(loopback()).unwrap();
        let to = receiver.local_addr().unwrap();
        for datagram in [&b"one"[..], b"two!", b"three"] {
            assert_eq!(sender.send_to(datagram, to).await.unwrap(), datagram.len());
        }
        let mut buf = [0u8; 64];
        for datagram in [&b"one"[..], b"two!", b"three"] {
            let (n, from) = receiver.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], datagram);
            assert_eq!(from, sender.local_addr().unwrap());
        }
    });
}

/// A datagram longer than the buffer is cut to it; the next `recv_from` gets the next datagram,
/// not the rest of this one.
#[test]
fn a_datagram_longer_than_the_buffer_is_cut() {
    run(async {
        let receiver = UdpSocket::bind(loopback()).unwrap();
        let sender = UdpSocket::bind(loopback()).unwrap();
        let to = receiver.local_addr().unwrap();
        let long: Vec<u8> = (0..100).collect();
        sender.send_to(&long, to).await.unwrap();
        sender.send_to(b"next", to).await.unwrap();
        let mut small = [0u8; 10];
        let (n, _) = receiver.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], &long[..10]);
        let (n, _) = receiver.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
    });
}

/// Two of our sockets in two tasks play ping-pong, each waiting for the other's datagram: the
/// waits end through the reactor.
#[test]
fn two_tasks_exchange_a_hundred_round_trips() {
    run(async {
        let a = UdpSocket::bind(loopback()).unwrap();
        let b = UdpSocket::bind(loopback()).unwrap();
        let a_addr = a.local_addr().unwrap();
        let b_addr = b.local_addr().unwrap();
        let echo = spawn(async move {
            let mut buf = [0u8; 16];
            for _ in 0..100 {
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                assert_eq!(from, a_addr);
                b.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let mut buf = [0u8; 16];
        for i in 0..100u32 {
            a.send_to(&i.to_be_bytes(), b_addr).await.unwrap();
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&i.to_be_bytes()[..], b_addr));
        }
        echo.await.unwrap();
    });
}

/// With nothing to receive, `recv_from` parks the task on the reactor: the loop is idle, so
/// the virtual clock jumps to the timeout's deadline. A receiver that polls in a loop instead
/// keeps the loop busy, and the virtual clock never moves.
#[test]
fn a_receiver_with_nothing_to_receive_parks() {
    let rt = Runtime::builder().virtual_clock(true).build().unwrap();
    rt.block_on(async {
        let receiver = UdpSocket::bind(loopback()).unwrap();
        let start = now();
        let waited = timeout(Duration::from_secs(10), receiver.recv_from(&mut [0u8; 8])).await;
        assert!(
            waited.is_err(),
            "nothing was sent, yet it received {waited:?}"
        );
        assert_eq!(now() - start, Duration::from_secs(10));
    });
}
