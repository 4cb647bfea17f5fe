//! The one read buffer of every connection (HTTP client, HTTP server, Redis): the socket side
//! reads into its spare room, a decoder consumes from its front.
//!
//! Invariant: the unread bytes are `data[start..end]`. Consuming only moves `start`, so handing a
//! decoded body slice to the caller costs no copy and no memmove; the unread bytes are moved to
//! the front only when space is needed for the next read. `data[end..]` stays initialised (zeros
//! or stale bytes), so reading into it needs no `unsafe`.
//!
//! Reads are offered [`FIRST_READ`] bytes at first and more only when a read fills all it was
//! offered: zero-filling the storage is the cost of having no `unsafe`, and a connection that
//! only ever sees a 2 KB response should not pay for 16 KiB of zeros.

/// Room the first read of a connection is offered: a typical response, request head or Redis
/// reply fits in it.
pub(crate) const FIRST_READ: usize = 4 * 1024;

/// The most room a read is offered: one TLS record's worth of plaintext.
pub(crate) const MAX_READ: usize = 16 * 1024;

/// Bytes read from a connection and not yet decoded.
///
/// The IO layer reads into [`spare`](ReadBuf::spare) and calls [`commit`](ReadBuf::commit); the
/// decoder consumes from the front.
///
/// ```
/// use simul_net::ReadBuf;
/// let mut buf = ReadBuf::new();
/// let spare = buf.spare(4);
/// spare[..2].copy_from_slice(b"hi");
/// buf.commit(2);
/// assert_eq!(buf.as_slice(), b"hi");
/// ```
#[derive(Debug, Default, Clone)]
pub struct ReadBuf {
    /// Storage; `data.len()` is how much of it is initialised, not how much is filled.
    data: Vec<u8>,
    /// First unread byte.
    start: usize,
    /// One past the last unread byte.
    end: usize,
    /// Room the next [`read_room`](ReadBuf::read_room) offers; 0 means [`FIRST_READ`].
    read_size: usize,
}

impl ReadBuf {
    /// An empty buffer; it grows on the first [`spare`](ReadBuf::spare).
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes received and not yet consumed.
    pub fn as_slice(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// How many bytes are unread.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every received byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Room for at least `at_least` more bytes, to read into; follow with [`commit`](Self::commit).
    ///
    /// Unread bytes move to the front first when that makes room, so the buffer does not grow
    /// while a long body streams through it.
    pub fn spare(&mut self, at_least: usize) -> &mut [u8] {
        if self.start == self.end {
            // Everything was consumed: restart at the front for free.
            self.start = 0;
            self.end = 0;
        } else if self.data.len() - self.end < at_least && self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < at_least {
            self.data.resize(self.end + at_least, 0);
        }
        &mut self.data[self.end..]
    }

    /// Room for the next read from the socket: [`FIRST_READ`] bytes at first, doubling each
    /// time a read fills all the room it had (more was probably waiting), up to [`MAX_READ`].
    /// Follow with [`commit`](Self::commit), which does the doubling.
    pub fn read_room(&mut self) -> &mut [u8] {
        let want = self.read_size.max(FIRST_READ);
        self.spare(want)
    }

    /// Marks `n` bytes written into [`spare`](Self::spare) as received. `n` is clamped to the
    /// spare room, so a wrong count cannot expose bytes that were never read.
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.data.len());
        if self.end == self.data.len() {
            // The read took all the room there was: offer the next one more.
            self.read_size = (self.read_size.max(FIRST_READ) * 2).min(MAX_READ);
        }
    }

    /// Appends bytes by copying, for callers (tests, fuzzing) that did not read into `spare`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.spare(bytes.len())[..bytes.len()].copy_from_slice(bytes);
        self.commit(bytes.len());
    }

    /// Drops the first `n` unread bytes (clamped to what is there).
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
    }

    /// Consumes the first `n` unread bytes (clamped) and returns them, without copying.
    pub(crate) fn take(&mut self, n: usize) -> &[u8] {
        let from = self.start;
        self.consume(n);
        &self.data[from..self.start]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_then_spare_reuses_the_front() {
        let mut buf = ReadBuf::new();
        buf.extend_from_slice(b"abcdef");
        assert_eq!(buf.take(4), b"abcd");
        assert_eq!(buf.as_slice(), b"ef");
        let cap = buf.data.len();
        buf.spare(cap - 2);
        // The two unread bytes moved to the front instead of growing the storage.
        assert_eq!(buf.data.len(), cap);
        assert_eq!(buf.as_slice(), b"ef");
    }

    #[test]
    fn read_room_starts_small_and_grows_only_when_filled() {
        let mut buf = ReadBuf::new();
        assert_eq!(buf.read_room().len(), FIRST_READ);
        buf.commit(100);
        buf.consume(100);
        // A short read: the room stays as it was.
        assert_eq!(buf.read_room().len(), FIRST_READ);
        buf.commit(FIRST_READ);
        buf.consume(FIRST_READ);
        // A read that filled its room: twice as much next time, but never past MAX_READ.
        assert_eq!(buf.read_room().len(), 2 * FIRST_READ);
        for _ in 0..8 {
            let room = buf.read_room().len();
            buf.commit(room);
            buf.consume(room);
        }
        assert_eq!(buf.read_room().len(), MAX_READ);
    }

    #[test]
    fn wrong_counts_are_clamped() {
        let mut buf = ReadBuf::new();
        buf.spare(3);
        buf.commit(100);
        assert_eq!(buf.len(), 3);
        buf.consume(100);
        assert!(buf.is_empty());
        assert_eq!(buf.take(5), b"");
    }
}
