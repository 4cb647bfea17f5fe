//! TCP on the reactor, over real loopback sockets.

use std::cell::Cell;
use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;

use simul_net::connect::{ProbeDepth, Stream, Transport};
use simul_net::{TcpListener, TcpStream};
use simul_runtime::{run, spawn};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Deterministic, non-repeating-looking bytes, so a reordering would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// 1 MB goes through an echo server that reads 7 bytes at a time and comes
/// back intact through reads of 13 bytes: partial reads and writes, and
/// edge-triggered readiness, at every size.
#[test]
fn echo_of_one_megabyte_through_tiny_buffers_is_exact() {
    run(async {
        let listener = TcpListener::bind(any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 7];
            let mut echoed = 0usize;
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                conn.write_all(&buf[..n]).await.unwrap();
                echoed += n;
            }
            conn.shutdown(Shutdown::Write).unwrap();
            echoed
        });

        let data = pattern(1 << 20);
        let client = Rc::new(TcpStream::connect(addr).await.unwrap());
        let writer = {
            let client = Rc::clone(&client);
            let data = data.clone();
            spawn(async move {
                for piece in data.chunks(4096) {
                    client.write_all(piece).await.unwrap();
                }
                client.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut received = Vec::with_capacity(data.len());
        let mut buf = [0u8; 13];
        loop {
            let n = client.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(server.await.unwrap(), data.len());
        assert_eq!(received.len(), data.len());
        assert!(received == data, "echoed bytes differ from those sent");
    });
}

/// Connecting to a port nobody listens on fails with ConnectionRefused
/// instead of waiting forever.
#[test]
fn connect_to_a_closed_port_is_refused_not_a_hang() {
    let addr = {
        let probe = std::net::TcpListener::bind(any_port()).unwrap();
        probe.local_addr().unwrap()
    }; // the probe is closed here, so the port is free and refuses
    let error = run(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// The peer closing its write half reads as end-of-stream (`Ok(0)`), every
/// time it is asked.
#[test]
fn peer_close_reads_as_zero_repeatedly() {
    run(async {
        let listener = TcpListener::bind(any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"bye").await.unwrap();
            // dropped here: FIN
        });
        let client = TcpStream::connect(addr).await.unwrap();
        closer.await.unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        loop {
            let n = client.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bye");
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert_eq!(
            client.try_peek(&mut buf).unwrap(),
            0,
            "peek sees the EOF too"
        );
    });
}

/// Many clients served concurrently by one accept loop, each answered
/// with its own id: no readiness event is lost or misrouted.
#[test]
fn one_loop_serves_many_concurrent_connections() {
    const CLIENTS: usize = 200;
    run(async {
        let listener = TcpListener::bind(any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Rc::new(Cell::new(0));
        let acceptor = {
            let served = Rc::clone(&served);
            spawn(async move {
                for _ in 0..CLIENTS {
                    let (conn, _) = listener.accept().await.unwrap();
                    let served = Rc::clone(&served);
                    drop(spawn(async move {
                        let mut id = [0u8; 8];
                        let mut have = 0;
                        while have < 8 {
                            have += conn.read(&mut id[have..]).await.unwrap();
                        }
                        let n = u64::from_le_bytes(id);
                        conn.write_all(&(n * 2).to_le_bytes()).await.unwrap();
                        served.set(served.get() + 1);
                    }));
                }
            })
        };
        let clients: Vec<_> = (0..CLIENTS as u64)
            .map(|i| {
                spawn(async move {
                    let conn = TcpStream::connect(addr).await.unwrap();
                    conn.write_all(&i.to_le_bytes()).await.unwrap();
                    let mut answer = [0u8; 8];
                    let mut have = 0;
                    while have < 8 {
                        let n = conn.read(&mut answer[have..]).await.unwrap();
                        assert!(n > 0, "server closed early");
                        have += n;
                    }
                    u64::from_le_bytes(answer)
                })
            })
            .collect();
        for (i, client) in clients.into_iter().enumerate() {
            assert_eq!(client.await.unwrap(), 2 * i as u64);
        }
        acceptor.await.unwrap();
        assert_eq!(served.get(), CLIENTS);
    });
}

/// Data and the peer's FIN arrive in one event: the short read that takes
/// the data clears readiness, but the closed half must stay ready, or the
/// end of the stream would never be seen (no new event comes).
#[test]
fn data_and_close_in_one_event_still_reach_end_of_stream() {
    run(async {
        let listener = TcpListener::bind(any_port()).unwrap();
        let addr = listener.local_addr().unwrap();
        let closer = spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"last words").await.unwrap();
        }); // dropped: FIN right behind the data
        let client = TcpStream::connect(addr).await.unwrap();
        closer.await.unwrap();
        // A reactor turn records the event (readable and read-closed at once)
        // before the first read.
        simul_runtime::yield_now().await;
        let mut buf = [0u8; 64];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"last words");
        let end =
            simul_runtime::time::timeout(std::time::Duration::from_secs(30), client.read(&mut buf));
        assert_eq!(end.await.expect("end of stream never seen").unwrap(), 0);
    });
}

/// A `Transport` over a loopback connection, and the plain blocking socket at its other end.
async fn transport_and_peer() -> (Transport, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind(any_port()).unwrap();
    let addr = listener.local_addr().unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (peer, _) = listener.accept().unwrap();
    (Transport::new(Stream::Tcp(tcp), addr), peer)
}

/// Reads `n` bytes into `transport`'s buffer and consumes them; the last read is short.
async fn read_and_consume(transport: &mut Transport, n: usize) {
    let mut got = 0;
    while got < n {
        got += transport.fill().await.unwrap();
    }
    transport.buf().consume(n);
}

/// The idle probe's two depths. `Reactor` trusts a read that emptied the socket earlier in the
/// same poll: nothing of this loop has run since, so only a peer racing us can have sent
/// anything (as here, on purpose), and the answer costs no syscall. `Kernel` peeks, and sees
/// it; so does `Reactor` in any later poll.
#[test]
fn the_reactor_depth_of_the_idle_probe_trusts_an_empty_read_only_within_its_poll() {
    run(async {
        let (mut transport, mut peer) = transport_and_peer().await;
        peer.write_all(b"answer").unwrap();
        read_and_consume(&mut transport, 6).await;
        assert!(transport.is_idle_and_open(ProbeDepth::Reactor));
        assert!(transport.is_idle_and_open(ProbeDepth::Kernel));
        peer.write_all(b"unasked").unwrap();
        assert!(
            transport.is_idle_and_open(ProbeDepth::Reactor),
            "within the poll that emptied the socket, the reactor cannot know"
        );
        assert!(!transport.is_idle_and_open(ProbeDepth::Kernel));
        simul_runtime::yield_now().await;
        assert!(
            !transport.is_idle_and_open(ProbeDepth::Reactor),
            "a later poll asks the kernel"
        );
    });
}

/// A close that the reactor saw together with the last data is never trusted away: a short read
/// empties the socket of data, not of the FIN behind it.
#[test]
fn the_reactor_depth_of_the_idle_probe_never_hides_a_close_it_saw() {
    run(async {
        let (mut transport, mut peer) = transport_and_peer().await;
        // Park on an empty socket first, so that the data and the FIN come as one event; then
        // read and probe in one poll.
        let reader = spawn(async move {
            let n = transport.fill().await.unwrap();
            transport.buf().consume(n);
            (n, transport.is_idle_and_open(ProbeDepth::Reactor))
        });
        simul_runtime::yield_now().await;
        peer.write_all(b"last").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let (n, open) = reader.await.unwrap();
        assert_eq!(n, 4);
        assert!(!open, "the reactor saw the close with the data");
    });
}

/// Carried off its loop, a socket's "read empty in this poll" would never expire, since that
/// loop's counters stop with it: there, the probe asks the kernel.
#[test]
fn the_reactor_depth_of_the_idle_probe_asks_the_kernel_off_its_loop() {
    let (mut transport, mut peer) = run(async {
        let (mut transport, mut peer) = transport_and_peer().await;
        peer.write_all(b"answer").unwrap();
        read_and_consume(&mut transport, 6).await;
        assert!(transport.is_idle_and_open(ProbeDepth::Reactor));
        (transport, peer)
    });
    peer.write_all(b"unasked").unwrap();
    assert!(
        !transport.is_idle_and_open(ProbeDepth::Reactor),
        "between two loops"
    );
    run(async {
        assert!(
            !transport.is_idle_and_open(ProbeDepth::Reactor),
            "on another loop"
        );
    });
}
