//! IO through the reactor (invariant 5), on real UnixStream pairs:
//! readiness is cached under edge triggering (a reader that stops before
//! `WouldBlock` still gets the rest), `WouldBlock` on write parks the writer
//! until the peer drains, a peer's close is seen, and every registration is
//! released.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;

use common::{real_rt, settle};
use simul_runtime::io::IoSource;
use simul_runtime::{spawn, stats};

fn registered(stream: UnixStream) -> IoSource<mio::net::UnixStream> {
    stream.set_nonblocking(true).unwrap();
    IoSource::new(mio::net::UnixStream::from_std(stream)).unwrap()
}

// Invariant: a reader that stops before WouldBlock reads the rest later
// without a new event (the readiness was cached, not lost).
#[test]
fn partial_reads_get_the_rest_without_a_new_event() {
    let rt = real_rt();
    rt.block_on(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let source = registered(ours);
        (&theirs).write_all(b"abcdef").unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut two = [0u8; 2];
            let n = source.read_with(|s| (&*s).read(&mut two)).await.unwrap();
            got.extend_from_slice(&two[..n]);
        }
        assert_eq!(got, b"abcdef");
        let events = stats().io_events;
        // Nothing is left: the next read parks, and a new write wakes it.
        let reader = spawn(async move {
            let mut buf = [0u8; 8];
            let n = source.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            buf[..n].to_vec()
        });
        settle().await;
        assert!(!reader.is_finished());
        (&theirs).write_all(b"gh").unwrap();
        assert_eq!(reader.await.unwrap(), b"gh");
        assert!(stats().io_events > events);
    });
    assert_eq!(rt.stats().io_sources, 0, "the registration was released");
}

// Invariant: a write that hits WouldBlock parks the writer until the peer
// (another thread) drains the socket; every byte arrives, in order.
#[test]
fn writer_parked_on_a_full_socket_resumes_when_the_peer_drains() {
    const TOTAL: usize = 4 << 20; // far more than a socket buffer holds
    let (ours, theirs) = UnixStream::pair().unwrap();
    let drain = thread::spawn(move || {
        let mut all = Vec::new();
        (&theirs).read_to_end(&mut all).unwrap();
        all
    });
    let rt = real_rt();
    let fills = rt.block_on(async move {
        let source = registered(ours);
        let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        // Times the socket was full: a write that would block, or a short
        // write (which, by the readiness rule, parks the writer without the
        // WouldBlock syscall, so a fast drain may never show one).
        let mut fills = 0;
        while sent < TOTAL {
            let wanted = TOTAL - sent;
            sent += source
                .write_with(|s| {
                    let r = (&*s).write(&data[sent..]);
                    match &r {
                        Err(e) if e.kind() == ErrorKind::WouldBlock => fills += 1,
                        Ok(n) if *n < wanted => fills += 1,
                        _ => {}
                    }
                    r
                })
                .await
                .unwrap();
        }
        fills
        // `source` drops here: the peer sees the end of the stream.
    });
    let all = drain.join().unwrap();
    assert_eq!(all.len(), TOTAL);
    assert!(all.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    assert!(
        fills >= 1,
        "the socket never filled: the test proved nothing"
    );
    assert_eq!(rt.stats().io_sources, 0);
}

// Invariant: a peer's close wakes a parked reader, which reads end-of-stream.
#[test]
fn peer_close_wakes_a_parked_reader_with_eof() {
    let rt = real_rt();
    rt.block_on(async {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let reader = spawn(async move {
            let source = registered(ours);
            let mut buf = [0u8; 8];
            source.read_with(|s| (&*s).read(&mut buf)).await.unwrap()
        });
        settle().await;
        assert!(!reader.is_finished());
        thread::spawn(move || drop(theirs)).join().unwrap();
        assert_eq!(reader.await.unwrap(), 0, "end of stream");
    });
    assert_eq!(rt.stats().io_sources, 0);
}

// Invariant: many registrations made and dropped leave no slot behind.
#[test]
fn every_registration_is_released() {
    let rt = real_rt();
    rt.block_on(async {
        let mut keep = Vec::new();
        for _ in 0..100 {
            let (a, b) = UnixStream::pair().unwrap();
            keep.push((registered(a), registered(b)));
        }
        assert_eq!(stats().io_sources, 200);
        keep.clear();
        assert_eq!(stats().io_sources, 0);
    });
}
