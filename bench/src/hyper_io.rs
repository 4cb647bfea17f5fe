//! hyper's IO traits (`hyper::rt::Read`/`Write`) over futures-io's
//! `AsyncRead`/`AsyncWrite`, so that hyper runs on async-io's sockets: the
//! smol counterpart of hyper-util's `TokioIo`.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;

/// Most bytes offered to one read. hyper's buffer starts at 8 KiB and a
/// response here is ~2.3 KiB, so this bounds the zeroing below, not the reads.
const READ_CHUNK: usize = 16 * 1024;

pub struct FuturesIo<T>(pub T);

impl<T: AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: we only write to the slice, and only initialised bytes.
        let spare = unsafe { buf.as_mut() };
        let len = spare.len().min(READ_CHUNK);
        let spare = &mut spare[..len];
        // futures-io reads into initialised memory, hyper hands out
        // uninitialised memory: zero it first (cheap next to a syscall).
        spare.fill(MaybeUninit::new(0));
        // SAFETY: every byte of `spare` was initialised just above, and
        // `MaybeUninit<u8>` has the layout of `u8`.
        let bytes = unsafe { &mut *(spare as *mut [MaybeUninit<u8>] as *mut [u8]) };
        match Pin::new(&mut self.0).poll_read(cx, bytes) {
            Poll::Ready(Ok(n)) => {
                // SAFETY: the read filled the first `n` bytes of the cursor.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // async-io's `Async<TcpStream>` forwards `writev` to the socket.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
