//! Chapter 6, exercise 5: `TcpStream::read_exact`.
//! install: net/tests/read_exact.rs
//!
//! The API, in `net/src/tcp.rs`:
//!
//! ```text
//! impl TcpStream {
//!     /// Fills all of `buf`, however many reads it takes.
//!     pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()>;
//! }
//! ```
//!
//! The rules: it returns once `buf` is full, and reads nothing past its end (the next bytes are
//! the next read's). If the peer closes first, the error is `io::ErrorKind::UnexpectedEof`
//! (what was read so far is in `buf`, but the call failed). An empty `buf` is `Ok(())` at once.
//!
//! Copy this file to `net/tests/read_exact.rs` and run
//! `timeout 120 cargo test -p simul-net --test read_exact`.

use std::io::ErrorKind;
use std::net::SocketAddr;

use simul_net::{TcpListener, TcpStream};
use simul_runtime::{run, spawn, yield_now};

/// A connected pair on loopback: (the side under test, its peer).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// A peer that writes one byte at a time, giving the loop a turn between bytes: `read_exact`
/// sees many short reads and must keep going until the buffer is full.
#[test]
fn a_peer_writing_one_byte_at_a_time_fills_the_buffer() {
    let data: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(37)).collect();
    let got = run(async {
        let (reader, writer) = pair().await;
        writer.set_nodelay(true).unwrap();
        let sent = data.clone();
        let peer = spawn(async move {
            for byte in &sent {
                writer.write_all(std::slice::from_ref(byte)).await.unwrap();
                yield_now().await;
            }
            writer // kept open: the reader must not need the close to finish
        });
        let mut buf = vec![0u8; data.len()];
        reader.read_exact(&mut buf).await.unwrap();
        drop(peer.await.unwrap());
        buf
    });
    assert_eq!(got, data);
}

/// Ten bytes in one write, read as two `read_exact`s of five: the second gets the second half,
/// so the first read nothing past its buffer.
#[test]
fn read_exact_takes_no_byte_past_its_buffer() {
    run(async {
        let (reader, writer) = pair().await;
        writer.write_all(b"0123456789").await.unwrap();
        let mut first = [0u8; 5];
        let mut second = [0u8; 5];
        reader.read_exact(&mut first).await.unwrap();
        reader.read_exact(&mut second).await.unwrap();
        assert_eq!((&first, &second), (b"01234", b"56789"));
    });
}

/// A peer that closes after 3 of the 10 bytes: `UnexpectedEof`, not `Ok` and not a wait for
/// bytes that will never come.
#[test]
fn a_peer_closing_early_is_unexpected_eof() {
    run(async {
        let (reader, writer) = pair().await;
        writer.write_all(b"abc").await.unwrap();
        drop(writer); // FIN after three bytes
        let mut buf = [0u8; 10];
        let error = reader.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(&buf[..3], b"abc");
    });
}

/// A peer that closes with nothing sent: `UnexpectedEof` too.
#[test]
fn a_peer_closing_before_any_byte_is_unexpected_eof() {
    run(async {
        let (reader, writer) = pair().await;
        drop(writer);
        let error = reader.read_exact(&mut [0u8; 4]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    });
}

/// An empty buffer is full already.
#[test]
fn an_empty_buffer_is_ok_at_once() {
    run(async {
        let (reader, _writer) = pair().await;
        reader.read_exact(&mut []).await.unwrap();
    });
}
