//! SIGINT and SIGTERM as stop requests: the first is a warm stop (take no more jobs, finish the
//! running ones, deregister), the second a cold one. SIGTERM is what `docker stop`, systemd and
//! Kubernetes send before they SIGKILL; treating it like Ctrl-C is what RQ does.
//!
//! The signals themselves come from the runtime's signal service (`simul_runtime::signal`),
//! which turns each into an ordinary readable event on the loop; here they only become a
//! count, "the second signal" counting either kind.

use std::io;

use simul_runtime::signal::{ctrl_c, terminate};
use simul_runtime::{select, spawn, Either, JoinHandle};

use super::worker::StopHandle;

/// Stops `stop`'s worker on SIGINT or SIGTERM, warm then cold; `on_signal(n)` is called before
/// each (n = 1 for the first), to log. The returned task lives until the signals can no longer
/// be listened to; dropping it detaches it.
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
    // Both listeners start now, so a signal that comes before the task first runs counts.
    let (mut interrupt, mut term) = (ctrl_c(), terminate());
    Ok(spawn(async move {
        let mut seen = 0u32;
        loop {
            // Each future waits for a signal after its creation; the one that fired is
            // replaced at once, in the same poll, so no signal falls between two of them.
            let delivered = match select(&mut interrupt, &mut term).await {
                Either::Left(result) => {
                    interrupt = ctrl_c();
                    result
                }
                Either::Right(result) => {
                    term = terminate();
                    result
                }
            };
            if delivered.is_err() {
                return; // the signal service could not start
            }
            seen += 1;
            on_signal(seen);
            if seen == 1 {
                stop.stop();
            } else {
                stop.abort();
            }
        }
    }))
}
