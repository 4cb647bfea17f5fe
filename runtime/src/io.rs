//! `IoSource`: a non-blocking OS object plugged into the reactor.
//!
//! This is the one bridge between mio's sources and futures. `simul-net`
//! builds `TcpStream` and `TcpListener` on it; anyone can build more (UDP,
//! pipes, signals).
//!
//! It is also the one place that decides when cached readiness is used up
//! (the reactor only stores it): after an operation returned `WouldBlock`,
//! and, for byte streams, after a short read or write. And every operation
//! through it spends one unit of the task's cooperative budget (`coop.rs`).

use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use mio::event::Source;

use crate::coop;
pub use crate::driver::Direction;
use crate::driver::{Driver, SourceKey};

/// A mio [`Source`] registered with the current loop's reactor.
///
/// Operations are closures that do one non-blocking syscall; the source runs
/// them when the cached readiness says they may succeed, and parks the task
/// when they return `WouldBlock` (which also clears the cached readiness).
/// Dropping the source deregisters it and frees its reactor slot.
///
/// ```
/// use std::io::Read;
/// use simul_runtime::io::IoSource;
///
/// simul_runtime::run(async {
///     let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
///     a.set_nonblocking(true).unwrap();
///     let a = IoSource::new(mio::net::UnixStream::from_std(a)).unwrap();
///     std::thread::spawn(move || { use std::io::Write; (&b).write_all(b"hi").unwrap(); });
///     let mut buf = [0u8; 2];
///     let n = a.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
///     assert_eq!(&buf[..n], &b"hi"[..n]);
/// });
/// ```
pub struct IoSource<T: Source> {
    io: T,
    key: SourceKey,
    driver: Rc<Driver>,
}

impl<T: Source> IoSource<T> {
    /// Registers `io` (which must already be non-blocking) with the current loop.
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn new(mut io: T) -> io::Result<IoSource<T>> {
        let driver = Driver::current("IoSource::new");
        let key = driver.reactor().register(&mut io)?;
        Ok(IoSource { io, key, driver })
    }

    /// The wrapped object, for operations that do not block (addresses, options).
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Runs a read-side operation, retrying after each readiness event, until
    /// it does something other than `WouldBlock`.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Read, op, |_| false)
    }

    /// The write-side twin of [`poll_read_with`](Self::poll_read_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, op, |_| false)
    }

    /// Reads from a **byte stream** (TCP, a Unix stream, a pipe) into
    /// `buf`: `read` is one non-blocking read, returning how many bytes it
    /// put in its buffer.
    ///
    /// On a stream, a read that returns fewer bytes than asked for has
    /// emptied the kernel's buffer, so the readiness is forgotten at once
    /// and the next read waits for an event instead of first paying for a
    /// `WouldBlock`. (Not for datagram sockets: a short datagram says
    /// nothing about the next one.)
    pub fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mut read: impl FnMut(&T, &mut [u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        self.poll_io(
            cx,
            Direction::Read,
            |io| read(io, buf),
            |&n| short(n, asked),
        )
    }

    /// Writes `buf` to a byte stream: the twin of
    /// [`poll_read_into`](Self::poll_read_into). A short write means the
    /// kernel's send buffer is full.
    pub fn poll_write_from(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        mut write: impl FnMut(&T, &[u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let asked = buf.len();
        self.poll_io(
            cx,
            Direction::Write,
            |io| write(io, buf),
            |&n| short(n, asked),
        )
    }

    /// Awaits a read-side operation (see [`poll_read_with`](Self::poll_read_with)).
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with(cx, &mut op)).await
    }

    /// Awaits a write-side operation.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with(cx, &mut op)).await
    }

    /// Whether this source was already read empty in the poll running now, on the loop it
    /// belongs to: an operation used the read readiness up (a `WouldBlock`, or a short read on
    /// a stream) earlier in this poll, and no close has been seen. No syscall; `false` means
    /// "ask the kernel", never "there is data".
    ///
    /// The answer is only as fresh as the loop's latest look at the kernel, which may be a few
    /// dozen polls old: bytes that came after it, and a FIN queued behind the data that the
    /// short read took, are not seen. A peek would see them. Use it where such a miss is
    /// harmless, or is handled (an idempotent HTTP request's retry).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use simul_runtime::io::IoSource;
    ///
    /// simul_runtime::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    ///     a.set_nonblocking(true).unwrap();
    ///     let a = IoSource::new(mio::net::UnixStream::from_std(a)).unwrap();
    ///     (&b).write_all(b"hi").unwrap();
    ///     assert!(!a.read_drained_this_poll(), "nothing read yet");
    ///     let mut buf = [0u8; 16];
    ///     let read = std::future::poll_fn(|cx| a.poll_read_into(cx, &mut buf, |s, b| (&*s).read(b)));
    ///     assert_eq!(read.await.unwrap(), 2); // short: the kernel's buffer is empty
    ///     assert!(a.read_drained_this_poll());
    ///     (&b).write_all(b"more").unwrap(); // racing us: the reactor cannot know yet
    ///     assert!(a.read_drained_this_poll());
    ///     simul_runtime::yield_now().await; // another poll: ask the kernel again
    ///     assert!(!a.read_drained_this_poll());
    /// });
    /// ```
    // BOOK: drained-this-poll
    pub fn read_drained_this_poll(&self) -> bool {
        // Outside its loop (after `block_on` returned, or on another runtime) the moment no
        // longer moves, so an old stamp would match for ever.
        let on_its_loop = Driver::with_current(|current| Rc::ptr_eq(current, &self.driver));
        on_its_loop == Some(true)
            && self
                .driver
                .reactor()
                .drained_at(self.key, Direction::Read, self.driver.moment())
    }

    /// Ready when the reactor has reported readiness in `direction` that no
    /// operation has consumed yet. Waiting spends no budget.
    pub fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<()> {
        self.driver.reactor().poll_ready(self.key, direction, cx)
    }

    /// Every operation goes through here: wait for readiness, try, and on
    /// `WouldBlock` forget the readiness and wait again. `drained` says
    /// whether a successful result used the readiness up as well (a short
    /// transfer on a stream). The only code that clears readiness.
    // BOOK: poll-io
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        // Out of budget: give the loop back, even if the socket is ready.
        let spend = ready!(coop::poll_proceed(cx));
        let reactor = self.driver.reactor();
        loop {
            if reactor.poll_ready(self.key, direction, cx).is_pending() {
                return Poll::Pending; // waiting spends nothing
            }
            match op(&self.io) {
                // Consumed the readiness: wait for the next edge.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    reactor.clear_ready(self.key, direction, self.driver.moment())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => {
                    if result.as_ref().is_ok_and(&drained) {
                        reactor.clear_ready(self.key, direction, self.driver.moment());
                    }
                    spend.done();
                    return Poll::Ready(result);
                }
            }
        }
    }
}

/// A transfer of `n` bytes out of `asked` that left the kernel's buffer
/// empty (read) or full (write). Zero is the end of the stream, which stays
/// readable, so it is not "short".
// BOOK: short-read
fn short(n: usize, asked: usize) -> bool {
    n > 0 && n < asked
}

impl<T: Source> Drop for IoSource<T> {
    fn drop(&mut self) {
        self.driver.reactor().deregister(self.key, &mut self.io);
    }
}

impl<T: Source + std::fmt::Debug> std::fmt::Debug for IoSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}
