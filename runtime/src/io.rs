//! `IoSource`: a non-blocking OS object plugged into the reactor.
//!
//! This is the one bridge between mio's sources and futures. `simul-net`
//! builds `TcpStream` and `TcpListener` on it; anyone can build more (UDP,
//! pipes, signals).

use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::event::Source;

use crate::context;
use crate::executor::Core;
pub use crate::reactor::Direction;
use crate::reactor::SourceKey;

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
    core: Rc<Core>,
}

impl<T: Source> IoSource<T> {
    /// Registers `io` (which must already be non-blocking) with the current loop.
    ///
    /// # Panics
    /// Outside a simul runtime.
    pub fn new(mut io: T) -> io::Result<IoSource<T>> {
        let core = context::current("IoSource::new");
        let key = core.reactor.register(&mut io)?;
        Ok(IoSource { io, key, core })
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
        self.poll_io(cx, Direction::Read, op)
    }

    /// The write-side twin of [`poll_read_with`](Self::poll_read_with).
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io(cx, Direction::Write, op)
    }

    /// Awaits a read-side operation (see [`poll_read_with`](Self::poll_read_with)).
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(cx, Direction::Read, &mut op)).await
    }

    /// Awaits a write-side operation.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_io(cx, Direction::Write, &mut op)).await
    }

    /// Ready when the reactor has reported readiness in `direction` that no
    /// operation has consumed yet (a connect in progress waits on `Write`).
    pub fn poll_ready(&self, cx: &mut Context<'_>, direction: Direction) -> Poll<()> {
        self.core.reactor.poll_ready(self.key, direction, cx)
    }

    /// Forgets cached readiness in `direction`, for code that learned by its
    /// own syscall that the object would block.
    pub fn clear_ready(&self, direction: Direction) {
        self.core.reactor.clear_ready(self.key, direction);
    }

    // BOOK: poll-io
    fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if self.poll_ready(cx, direction).is_pending() {
                return Poll::Pending;
            }
            match op(&self.io) {
                // Consumed the readiness: wait for the next edge.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_ready(direction),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<T: Source> Drop for IoSource<T> {
    fn drop(&mut self) {
        self.core.reactor.deregister(self.key, &mut self.io);
    }
}

impl<T: Source + std::fmt::Debug> std::fmt::Debug for IoSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}
