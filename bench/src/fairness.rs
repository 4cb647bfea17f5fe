//! The `fairness` workload's runtime-independent parts: the plain thread that
//! measures echo round trips, the thread that keeps a socket full, the
//! self-waking task, and percentiles.
//!
//! Two measurements, one line:
//! - **busy-queue echo**: an echo server task shares its loop with `N` tasks
//!   that each wake themselves `K` times; a plain thread (not on any
//!   runtime) measures 64-byte round trips to it the whole time.
//! - **hot socket**: one task reads a socket that a thread keeps full, 1 KiB
//!   at a time, while another sleeps 10 ms `S` times; each sleep's lateness.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{yield_now, ECHO_MSG};

/// How long each hot-socket sample sleeps.
pub const HOT_SLEEP: Duration = Duration::from_millis(10);

/// The hot reader gives up after this long even if it was never asked to
/// stop: on a runtime without a budget it never yields, and its sibling
/// (who would tell it to stop) never runs.
pub const HOT_CAP: Duration = Duration::from_secs(5);

/// The hot reader's own limit: true while it may read on, checking the
/// clock only every 64 reads.
pub struct HotCap {
    started: Instant,
    reads: u64,
}

impl HotCap {
    pub fn new() -> HotCap {
        HotCap {
            started: Instant::now(),
            reads: 0,
        }
    }

    pub fn more(&mut self) -> bool {
        self.reads += 1;
        !self.reads.is_multiple_of(64) || self.started.elapsed() < HOT_CAP
    }
}

/// A task body that wakes itself `wakes` times, then finishes.
pub struct SelfWaking {
    left: usize,
}

impl SelfWaking {
    pub fn new(wakes: usize) -> SelfWaking {
        SelfWaking { left: wakes }
    }
}

impl Future for SelfWaking {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The echo prober: a plain thread doing round trips to `addr` until stopped.
pub struct Prober {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<Vec<Duration>>>>,
    /// A second handle on the prober's socket, so `finish` can end a round
    /// trip that will never be answered (the runtime under test has stopped
    /// serving, but its socket may still be open).
    socket: Mutex<Option<TcpStream>>,
    /// Round trips completed so far.
    done: Arc<AtomicUsize>,
}

impl Prober {
    pub fn new() -> Prober {
        Prober {
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
            socket: Mutex::new(None),
            done: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts measuring against the echo server at `addr`.
    pub fn start(&self, addr: SocketAddr) {
        let stop = Arc::clone(&self.stop);
        let done = Arc::clone(&self.done);
        let mut stream = TcpStream::connect(addr).expect("connect to the echo server");
        stream.set_nodelay(true).expect("nodelay");
        *self.socket.lock().unwrap() = Some(stream.try_clone().expect("clone the socket"));
        let thread = std::thread::spawn(move || {
            let mut reply = [0u8; 64];
            let mut rtts = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                if stream.write_all(&ECHO_MSG).is_err() || stream.read_exact(&mut reply).is_err() {
                    break;
                }
                rtts.push(sent.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            rtts
        });
        *self.thread.lock().unwrap() = Some(thread);
    }

    /// Waits (yielding to the runtime, which must still serve the echo) until at least one
    /// round trip is done, or 10 s have passed. A tiny run's busy phase is over in a few
    /// milliseconds, which on a loaded machine can be before the prober's first round trip.
    pub async fn first_round_trip(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.done.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            yield_now().await;
        }
    }

    /// Stops the thread and returns its round trips.
    pub fn finish(&self) -> Vec<Duration> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(socket) = self.socket.lock().unwrap().take() {
            // Unblocks a read whose echo will never come; the thread then ends.
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
        let thread = self.thread.lock().unwrap().take();
        thread
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

/// A connected pair on loopback: the runtime's end (non-blocking), and a
/// thread that writes into the other end as fast as it can until the
/// reader closes.
pub fn hot_socket() -> (TcpStream, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let writer = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let (reader, _) = listener.accept().expect("accept");
    reader.set_nonblocking(true).expect("nonblocking");
    let thread = std::thread::spawn(move || {
        let mut writer = writer;
        let chunk = [0x48u8; 64 * 1024];
        while writer.write_all(&chunk).is_ok() {}
    });
    (reader, thread)
}

/// The `p`-th percentile (0..=100) of `values`, nearest rank; 0 if empty.
pub fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}
