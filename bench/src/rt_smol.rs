//! The workloads on smol's parts: async-executor's `LocalExecutor` driven by
//! `async_io::block_on`, async-io's `Timer` and `Async<TcpStream>`,
//! async-channel, and hyper over the adapter in `hyper_io.rs`.

use std::cell::Cell;
use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    lateness_ns, rss_bytes, share, yield_now, MemoryProbe, Meter, Tally, Target, Timed, ECHO_MSG,
};
use crate::fairness::{HotCap, Prober, SelfWaking, HOT_SLEEP};
use crate::hyper_client::session;
use crate::hyper_io::FuturesIo;
use crate::workloads::Workloads;

pub struct Smol;

/// The executor, shared with the tasks that spawn tasks of their own.
type Executor = Rc<LocalExecutor<'static>>;

/// Runs `main(executor)` on a fresh executor on this thread.
fn block_on<F: Future>(main: impl FnOnce(Executor) -> F) -> F::Output {
    let ex = Rc::new(LocalExecutor::new());
    let future = main(Rc::clone(&ex));
    async_io::block_on(ex.run(future))
}

impl Workloads for Smol {
    fn spawn(n: usize) -> Timed<usize> {
        block_on(|ex| async move {
            let meter = Meter::start();
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                handles.push(ex.spawn(async {}));
            }
            let mut joined = 0;
            for handle in handles {
                handle.await;
                joined += 1;
            }
            meter.stop(joined)
        })
    }

    fn yields(tasks: usize, yields: usize) -> Timed<usize> {
        block_on(|ex| async move {
            let meter = Meter::start();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    ex.spawn(async move {
                        for _ in 0..yields {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            let mut finished = 0;
            for handle in handles {
                handle.await;
                finished += 1;
            }
            meter.stop(finished)
        })
    }

    fn pingpong(m: u64) -> Timed<bool> {
        block_on(|ex| async move {
            let (to_b, from_a) = async_channel::bounded::<u64>(1);
            let (to_a, from_b) = async_channel::bounded::<u64>(1);
            let meter = Meter::start();
            let b = ex.spawn(async move {
                while let Ok(v) = from_a.recv().await {
                    if to_a.send(v).await.is_err() {
                        break;
                    }
                }
            });
            let a = ex.spawn(async move {
                for i in 0..m {
                    if to_b.send(i).await.is_err() || from_b.recv().await != Ok(i) {
                        return false;
                    }
                }
                // Dropping the only sender closes channel 1, which ends B.
                drop(to_b);
                true
            });
            let ok = a.await;
            b.await;
            meter.stop(ok)
        })
    }

    fn timers(durations_ms: &[u64]) -> Timed<Vec<i64>> {
        block_on(|ex| async move {
            let meter = Meter::start();
            let handles: Vec<_> = durations_ms
                .iter()
                .map(|&d| {
                    ex.spawn(async move {
                        let deadline = Instant::now() + Duration::from_millis(d);
                        Timer::at(deadline).await;
                        lateness_ns(Instant::now(), deadline)
                    })
                })
                .collect();
            let mut lateness = Vec::with_capacity(handles.len());
            for handle in handles {
                lateness.push(handle.await);
            }
            meter.stop(lateness)
        })
    }

    fn echo(c: usize, k: usize) -> Timed<usize> {
        block_on(|ex| async move {
            let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
            let addr = listener.get_ref().local_addr().expect("local_addr");
            let meter = Meter::start();
            let server_ex = Rc::clone(&ex);
            // Never joined: it dies with the executor.
            let _server = ex.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.get_ref().set_nodelay(true);
                    server_ex.spawn(echo_back(stream)).detach();
                }
            });
            let clients: Vec<_> = (0..c).map(|_| ex.spawn(echo_client(addr, k))).collect();
            let mut intact = 0;
            for client in clients {
                intact += usize::from(client.await);
            }
            meter.stop(intact)
        })
    }

    fn http(r: usize, c: usize, target: &Target) -> Timed<Tally> {
        block_on(|ex| async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..c)
                .map(|i| {
                    let conn = connection(Rc::clone(&ex), target.clone(), share(r, c, i), false);
                    ex.spawn(conn)
                })
                .collect();
            meter.stop(join_tallies(tasks).await)
        })
    }

    fn c10k(n: usize, target: &Target) -> Timed<Tally> {
        block_on(|ex| async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..n)
                .map(|_| ex.spawn(connection(Rc::clone(&ex), target.clone(), 1, true)))
                .collect();
            meter.stop(join_tallies(tasks).await)
        })
    }

    fn busy_echo(tasks: usize, wakes: usize, prober: &Prober) -> Timed<usize> {
        block_on(|ex| async move {
            let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
            let addr = listener.get_ref().local_addr().expect("local_addr");
            let meter = Meter::start();
            let server_ex = Rc::clone(&ex);
            let _server = ex.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.get_ref().set_nodelay(true);
                    server_ex.spawn(echo_back(stream)).detach();
                }
            });
            let busy: Vec<_> = (0..tasks)
                .map(|_| ex.spawn(SelfWaking::new(wakes)))
                .collect();
            prober.start(addr);
            let mut finished = 0;
            for task in busy {
                task.await;
                finished += 1;
            }
            let timed = meter.stop(finished);
            prober.first_round_trip().await;
            timed
        })
    }

    fn hot_socket(hot: TcpStream, samples: usize) -> Timed<Vec<i64>> {
        block_on(|ex| async move {
            let stop = Rc::new(Cell::new(false));
            let meter = Meter::start();
            let reading = Rc::clone(&stop);
            let reader = ex.spawn(async move {
                let mut stream = Async::new(hot).expect("register");
                let mut buf = [0u8; 1024];
                let mut cap = HotCap::new();
                while !reading.get() && cap.more() {
                    if stream.read(&mut buf).await.is_err() {
                        break;
                    }
                }
            });
            let mut lateness = Vec::with_capacity(samples);
            for _ in 0..samples {
                let deadline = Instant::now() + HOT_SLEEP;
                Timer::at(deadline).await;
                lateness.push(lateness_ns(Instant::now(), deadline));
            }
            stop.set(true);
            reader.await;
            meter.stop(lateness)
        })
    }

    fn memory(n: usize, exit: &dyn Fn(Timed<MemoryProbe>)) {
        block_on(|ex| async move {
            let rss_before = rss_bytes();
            let polled = Rc::new(Cell::new(0usize));
            let meter = Meter::start();
            for _ in 0..n {
                let polled = Rc::clone(&polled);
                // Detached: the executor keeps the task.
                ex.spawn(async move {
                    polled.set(polled.get() + 1);
                    std::future::pending::<()>().await;
                })
                .detach();
            }
            while polled.get() < n {
                yield_now().await;
            }
            let timed = meter.stop(polled.get());
            let rss_after = rss_bytes();
            exit(Timed {
                value: MemoryProbe {
                    rss_before,
                    rss_after,
                    polled: timed.value,
                },
                wall: timed.wall,
                cpu: timed.cpu,
            })
        })
    }
}

async fn echo_back(mut stream: Async<TcpStream>) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn echo_client(addr: SocketAddr, k: usize) -> bool {
    let Ok(mut stream) = Async::<TcpStream>::connect(addr).await else {
        return false;
    };
    let _ = stream.get_ref().set_nodelay(true);
    let mut reply = [0u8; 64];
    for _ in 0..k {
        if stream.write_all(&ECHO_MSG).await.is_err()
            || stream.read_exact(&mut reply).await.is_err()
        {
            return false;
        }
    }
    reply == ECHO_MSG
}

/// One hyper connection; its driver is a task of its own, as hyper intends.
async fn connection(ex: Executor, target: Target, requests: usize, close: bool) -> Tally {
    let io = Async::<TcpStream>::connect(target.addr)
        .await
        .map(|stream| {
            let _ = stream.get_ref().set_nodelay(true);
            FuturesIo(stream)
        });
    session(io, &target, requests, close, |conn| {
        let driver = ex.spawn(async move {
            let _ = conn.await;
        });
        driver
    })
    .await
}

async fn join_tallies(tasks: Vec<Task<Tally>>) -> Tally {
    let mut total = Tally::default();
    for task in tasks {
        total.add(task.await);
    }
    total
}
