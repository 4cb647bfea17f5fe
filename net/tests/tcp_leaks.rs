//! Sockets give back everything when dropped: file descriptors and reactor
//! slots. Alone in its own test binary, because it counts the process's fds.

use std::net::SocketAddr;

use simul_net::{TcpListener, TcpStream};
use simul_runtime::{run, spawn, stats};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// After 50 connections (accepted, used, dropped), a refused connect and the
/// listener itself are dropped, the fd count and the reactor's registrations
/// are back where they started.
#[test]
fn dropped_sockets_leave_no_fd_and_no_reactor_slot() {
    run(async {
        let fds_before = open_fds();
        let sources_before = stats().io_sources;
        {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let server = spawn(async move {
                let mut conns = Vec::new();
                for _ in 0..50 {
                    conns.push(listener.accept().await.unwrap().0);
                }
                for conn in &conns {
                    conn.write_all(b"x").await.unwrap();
                }
                conns.len()
            });
            let mut clients = Vec::new();
            for _ in 0..50 {
                clients.push(TcpStream::connect(addr).await.unwrap());
            }
            assert_eq!(server.await.unwrap(), 50);
            for client in &clients {
                let mut b = [0u8; 1];
                assert_eq!(client.read(&mut b).await.unwrap(), 1);
            }
            assert!(stats().io_sources >= sources_before + 50);
            drop(clients);

            let closed: SocketAddr = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap()
            };
            assert!(TcpStream::connect(closed).await.is_err());
        }
        assert_eq!(stats().io_sources, sources_before, "reactor slots leaked");
        assert_eq!(open_fds(), fds_before, "file descriptors leaked");
    });
}
