//! An echo server: every byte a client sends comes back. One task per
//! connection, all on one thread (asyncio's `start_server` example).
//!
//! `cargo run --example echo_server -- [ADDR]` (default 127.0.0.1:7878),
//! then `nc 127.0.0.1 7878` in another terminal. Ctrl-C stops it.
//!
//! When the process runs out of file descriptors, the accept loop waits for
//! a connection to close instead of spinning (`simul::net::accept`), and
//! says so once.

use std::net::SocketAddr;

use simul::net::accept::{Accepted, Acceptor};
use simul::net::{TcpListener, TcpStream};
use simul::{select, signal, spawn, Either};

async fn echo(conn: TcpStream, peer: SocketAddr) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = conn.write_all(&buf[..n]).await {
                    eprintln!("{peer}: write failed: {e}");
                    break;
                }
            }
            Err(e) => {
                eprintln!("{peer}: read failed: {e}");
                break;
            }
        }
    }
}

fn main() {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or_else(|e| {
            eprintln!("error: bad address {arg:?}: {e}");
            std::process::exit(2)
        }),
        None => "127.0.0.1:7878".parse().unwrap(),
    };
    simul::run(async move {
        let listener = match TcpListener::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                std::process::exit(1)
            }
        };
        println!("echoing on {}", listener.local_addr().unwrap());
        let mut acceptor = Acceptor::new(listener);
        let accept_loop = async {
            loop {
                match acceptor.accept().await {
                    Ok(Accepted {
                        stream,
                        peer,
                        guard,
                    }) => drop(spawn(async move {
                        echo(stream, peer).await;
                        drop(guard);
                    })),
                    Err(e) => {
                        eprintln!("error: cannot accept any more: {e}");
                        return;
                    }
                }
            }
        };
        if let Either::Right(_) = select(accept_loop, signal::ctrl_c()).await {
            println!("interrupted: closing");
        }
    });
}
