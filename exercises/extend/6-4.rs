//! Chapter 6, exercise 4: `TcpStream::into_split`, tokio style.
//! install: net/tests/split.rs
//!
//! The API, in `net/src/tcp.rs` (the halves are `simul_net::tcp::{ReadHalf, WriteHalf}`):
//!
//! ```text
//! impl TcpStream {
//!     pub fn into_split(self) -> (ReadHalf, WriteHalf);
//! }
//! impl ReadHalf {
//!     pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
//!     pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
//! }
//! impl WriteHalf {
//!     pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
//!     pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
//!     pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
//!     pub fn shutdown(&mut self) -> io::Result<()>;   // sends FIN
//! }
//! ```
//!
//! The halves share the stream through an `Rc` (one task per direction: `&mut self` makes a
//! second reader a compile error, where two tasks sharing a `TcpStream` would steal each other's
//! wakeups). The rules: dropping the `WriteHalf` sends FIN, as `shutdown` does, because the
//! socket itself stays open while the `ReadHalf` lives; dropping the `ReadHalf` leaves the
//! writing alone; the socket closes when both are gone.
//!
//! Copy this file to `net/tests/split.rs` and run
//! `timeout 120 cargo test -p simul-net --test split`.

use std::net::{Shutdown, SocketAddr};

use simul_net::{TcpListener, TcpStream};
use simul_runtime::{run, spawn};

/// A connected pair on loopback: (the side under test, its peer).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// Reads until the end of the stream.
async fn read_to_end(read: impl AsyncFnMut(&mut [u8]) -> std::io::Result<usize>) -> Vec<u8> {
    let mut read = read;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read(&mut buf).await.unwrap() {
            0 => return got,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Deterministic, non-repeating-looking bytes, so a reordering would show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// A megabyte through an echo server, written by one task and read back by another through the
/// halves of one stream. The writer drops its half when done, without calling `shutdown`: the
/// echo server sees the end only if that drop sent FIN, and the reader sees the end only after
/// the server's.
#[test]
fn a_megabyte_echoes_through_the_halves_in_two_tasks() {
    let data = pattern(1 << 20);
    let echoed = run(async {
        let (client, server) = pair().await;
        let echo = spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                match server.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => server.write_all(&buf[..n]).await.unwrap(),
                }
            }
            server.shutdown(Shutdown::Write).unwrap();
        });
        let (mut reader, mut writer) = client.into_split();
        let sent = data.clone();
        let writing = spawn(async move {
            for piece in sent.chunks(10_000) {
                writer.write_all(piece).await.unwrap();
            }
            // `writer` dropped here: FIN
        });
        let echoed = read_to_end(async |buf: &mut [u8]| reader.read(buf).await).await;
        writing.await.unwrap();
        echo.await.unwrap();
        echoed
    });
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "echoed bytes differ from those sent");
}

/// Dropping the read half does not stop the writing: the peer still gets every byte, then the
/// end when the write half goes too.
#[test]
fn dropping_the_read_half_leaves_the_write_half_working() {
    run(async {
        let (client, server) = pair().await;
        let (reader, mut writer) = client.into_split();
        drop(reader);
        writer.write_all(b"still here").await.unwrap();
        drop(writer);
        let got = read_to_end(async |buf: &mut [u8]| server.read(buf).await).await;
        assert_eq!(got, b"still here");
    });
}

/// `shutdown` on the write half sends FIN at once, and the read half still reads what the peer
/// sends after it.
#[test]
fn shutdown_of_the_write_half_keeps_the_read_half_reading() {
    run(async {
        let (client, server) = pair().await;
        let (mut reader, mut writer) = client.into_split();
        writer.write_all(b"question").await.unwrap();
        writer.shutdown().unwrap();
        let asked = read_to_end(async |buf: &mut [u8]| server.read(buf).await).await;
        assert_eq!(asked, b"question");
        server.write_all(b"answer").await.unwrap();
        drop(server);
        let answer = read_to_end(async |buf: &mut [u8]| reader.read(buf).await).await;
        assert_eq!(answer, b"answer");
        drop(writer); // a FIN already sent is not an error the second time
    });
}
