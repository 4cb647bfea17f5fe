//! Chapter 4, exercise 5: two tasks waiting on one direction of a socket panic in debug builds.
//! install: net/tests/two_readers.rs
//!
//! The API does not change. What changes is the reactor's `poll_ready`
//! (`runtime/src/driver/reactor.rs`): when it is about to replace a stored waker by one that
//! does not `will_wake` the same task, and the stored one's wait is not over, it panics in debug
//! builds (`cfg(debug_assertions)`), naming the direction ("read" or "write") in the message, as
//! curio raises `ReadResourceBusy`. The rules:
//! - a wait is over once its task has run again (it registered again if it still waits) or
//!   finished; replacing the waker of a wait that is over is the legitimate case: a future that
//!   moved to another task and left no waiter behind, or a read that gave up (a timeout);
//! - so the reactor must know, for a stored waker, which task's poll stored it and whether that
//!   task has been polled or has finished since (an epoch per task, say, moved on at each poll
//!   and at the end, and kept beside the waker);
//! - release builds do none of it.
//!
//! Copy this file to `net/tests/two_readers.rs` and run
//! `timeout 120 cargo test -p simul-net --test two_readers`.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use simul_net::{TcpListener, TcpStream};
use simul_runtime::sync::oneshot;
use simul_runtime::time::{sleep, timeout};
use simul_runtime::{run, spawn, yield_now, Runtime};

/// A connected pair on loopback: (the side under test, its peer).
async fn pair() -> (Rc<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (Rc::new(client), accept.await.unwrap())
}

/// Lets every task that can run do so.
async fn settle() {
    for _ in 0..4 {
        yield_now().await;
    }
}

/// A read of up to 16 bytes, owning what it needs, so it can move between tasks.
async fn read_some(stream: Rc<TcpStream>) -> Vec<u8> {
    let mut buf = [0u8; 16];
    let n = stream.read(&mut buf).await.unwrap();
    buf[..n].to_vec()
}

/// Two tasks read one stream: the first waits, then the second's read panics, and its
/// `JoinHandle` reports the panic, with the direction in the message.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the check exists in debug builds only"
)]
fn two_tasks_reading_one_stream_panic_in_debug_builds() {
    run(async {
        let (stream, peer) = pair().await;
        let first = spawn(read_some(Rc::clone(&stream)));
        settle().await; // the first reader waits now
        let second = spawn(read_some(Rc::clone(&stream)));
        settle().await;
        peer.write_all(b"for whom?").await.unwrap();
        let error = second.await.expect_err("the second reader must panic");
        assert!(error.is_panic(), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("read"),
            "the message names the direction: {message}"
        );
        first.abort();
    });
}

/// A read future polled once by one task, which then ends, handing it over; the next task
/// awaits it. The first task's waker is left in the reactor, but its wait is over: no panic,
/// and the second task gets the bytes.
#[test]
#[allow(clippy::async_yields_async)] // the task hands the read over on purpose, unawaited
fn a_read_handed_over_by_a_task_that_ended_is_no_conflict() {
    run(async {
        let (stream, peer) = pair().await;
        let mut read = Box::pin(read_some(Rc::clone(&stream)));
        let handed_over = spawn(async move {
            let first = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "nothing was sent yet");
            read
        })
        .await
        .unwrap();
        let second = spawn(handed_over);
        settle().await;
        peer.write_all(b"hello").await.unwrap();
        assert_eq!(second.await.unwrap(), b"hello");
    });
}

/// A reader that gave up (its timeout elapsed) and now waits for something else is not
/// waiting on the socket any more, although its task is alive: a second task may read.
#[test]
fn a_reader_that_gave_up_and_waits_elsewhere_is_no_conflict() {
    let rt = Runtime::builder().virtual_clock(true).build().unwrap();
    rt.block_on(async {
        let (stream, peer) = pair().await;
        let (done, wait_for_done) = oneshot::channel::<()>();
        let gave_up = spawn({
            let stream = Rc::clone(&stream);
            async move {
                let read = timeout(Duration::from_secs(1), read_some(stream)).await;
                assert!(read.is_err(), "nothing was sent: the read times out");
                wait_for_done.await.unwrap(); // alive, and waiting elsewhere
            }
        });
        sleep(Duration::from_secs(2)).await; // the first reader's timeout fires at 1 s
        let second = spawn(read_some(Rc::clone(&stream)));
        settle().await;
        peer.write_all(b"yours").await.unwrap();
        assert_eq!(second.await.unwrap(), b"yours");
        done.send(()).unwrap();
        gave_up.await.unwrap();
    });
}
