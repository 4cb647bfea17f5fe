//! SIGINT and SIGTERM as stop requests: the first is a warm stop (take no more jobs, finish the
//! running ones, deregister), the second a cold one. SIGTERM is what `docker stop`, systemd and
//! Kubernetes send before they SIGKILL; treating it like Ctrl-C is what RQ does.
//!
//! The handler (signal-hook's) only writes a byte into a socket pair, whose read end is an
//! [`IoSource`] on our reactor: the signal is then an ordinary readable event, handled on the
//! loop. Both signals share one pipe, so "the second signal" counts either kind.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGINT, SIGTERM};
use simul_runtime::io::IoSource;
use simul_runtime::{spawn, JoinHandle};

use super::worker::StopHandle;

/// Stops `stop`'s worker on SIGINT or SIGTERM, warm then cold; `on_signal(n)` is called before
/// each (n = 1 for the first), to log. The returned task lives until the signal pipe fails;
/// dropping it detaches it.
///
/// ```no_run
/// use simul_net::rq::{stop_on_signals, Functions, Worker, WorkerOptions};
/// simul_runtime::run(async {
///     let worker = Worker::new("redis://127.0.0.1", Functions::new(), WorkerOptions::default())?;
///     let _signals = stop_on_signals(worker.stop_handle(), |n| eprintln!("signal {n}"))?;
///     worker.run().await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
pub fn stop_on_signals(
    stop: StopHandle,
    on_signal: impl Fn(u32) + 'static,
) -> io::Result<JoinHandle<()>> {
    let (reader, writer) = UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    writer.set_nonblocking(true)?;
    let writer_for_term = writer.try_clone()?;
    signal_hook::low_level::pipe::register(SIGINT, writer)?;
    signal_hook::low_level::pipe::register(SIGTERM, writer_for_term)?;
    let source = IoSource::new(mio::net::UnixStream::from_std(reader))?;
    Ok(spawn(async move {
        let mut seen = 0u32;
        let mut buf = [0u8; 16];
        loop {
            match source.read_with(|s| (&*s).read(&mut buf)).await {
                Ok(n) if n > 0 => {
                    for _ in 0..n {
                        seen += 1;
                        on_signal(seen);
                        if seen == 1 {
                            stop.stop();
                        } else {
                            stop.abort();
                        }
                    }
                }
                _ => return,
            }
        }
    }))
}
