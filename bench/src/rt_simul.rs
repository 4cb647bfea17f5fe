//! The workloads on simul: `simul::Runtime`, `simul::spawn`, simul's
//! channel, timers, TCP and its own HTTP client.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use simul::net::http::{Client, ClientBuilder};
use simul::net::tls::Certificate;
use simul::net::{TcpListener, TcpStream};
use simul::time::{now, sleep_until};

use crate::common::{
    lateness_ns, rss_bytes, share, yield_now, MemoryProbe, Meter, Tally, Target, Timed, ECHO_MSG,
};
use crate::fairness::{HotCap, Prober, SelfWaking, HOT_SLEEP};
use crate::workloads::Workloads;

pub struct Simul;

/// Built outside the timed part; dropped (tasks torn down) after it.
fn runtime() -> simul::Runtime {
    simul::Runtime::new().expect("build the simul runtime")
}

impl Workloads for Simul {
    fn spawn(n: usize) -> Timed<usize> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                handles.push(simul::spawn(async {}));
            }
            let mut joined = 0;
            for handle in handles {
                joined += usize::from(handle.await.is_ok());
            }
            meter.stop(joined)
        })
    }

    fn yields(tasks: usize, yields: usize) -> Timed<usize> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let handles: Vec<_> = (0..tasks)
                .map(|_| {
                    simul::spawn(async move {
                        for _ in 0..yields {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            let mut finished = 0;
            for handle in handles {
                finished += usize::from(handle.await.is_ok());
            }
            meter.stop(finished)
        })
    }

    fn pingpong(m: u64) -> Timed<bool> {
        runtime().block_on(async move {
            let (to_b, mut from_a) = simul::sync::channel::<u64>(1);
            let (to_a, mut from_b) = simul::sync::channel::<u64>(1);
            let meter = Meter::start();
            let b = simul::spawn(async move {
                while let Some(v) = from_a.recv().await {
                    if to_a.send(v).await.is_err() {
                        break;
                    }
                }
            });
            let a = simul::spawn(async move {
                for i in 0..m {
                    if to_b.send(i).await.is_err() || from_b.recv().await != Some(i) {
                        return false;
                    }
                }
                // Dropping the only sender closes channel 1, which ends B.
                drop(to_b);
                true
            });
            let ok = matches!(a.await, Ok(true));
            let ok = b.await.is_ok() && ok;
            meter.stop(ok)
        })
    }

    fn timers(durations_ms: &[u64]) -> Timed<Vec<i64>> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let handles: Vec<_> = durations_ms
                .iter()
                .map(|&d| {
                    simul::spawn(async move {
                        let deadline = now() + Duration::from_millis(d);
                        sleep_until(deadline).await;
                        lateness_ns(now(), deadline)
                    })
                })
                .collect();
            let mut lateness = Vec::with_capacity(handles.len());
            for handle in handles {
                if let Ok(late) = handle.await {
                    lateness.push(late);
                }
            }
            meter.stop(lateness)
        })
    }

    fn echo(c: usize, k: usize) -> Timed<usize> {
        runtime().block_on(async move {
            let listener = TcpListener::bind(([127, 0, 0, 1], 0).into()).expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let meter = Meter::start();
            // Never joined: it dies with the runtime.
            let _server = simul::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    drop(simul::spawn(echo_back(stream)));
                }
            });
            let clients: Vec<_> = (0..c).map(|_| simul::spawn(echo_client(addr, k))).collect();
            let mut intact = 0;
            for client in clients {
                intact += usize::from(matches!(client.await, Ok(true)));
            }
            meter.stop(intact)
        })
    }

    fn http(r: usize, c: usize, target: &Target) -> Timed<Tally> {
        keep_alive(r, c, target, Client::builder())
    }

    fn c10k(n: usize, target: &Target) -> Timed<Tally> {
        one_request_each(n, target, Client::builder())
    }

    fn https(r: usize, c: usize, target: &Target) -> Option<Timed<Tally>> {
        Some(keep_alive(r, c, target, trusting_bench_ca()))
    }

    fn tls_connect(n: usize, target: &Target) -> Option<Timed<Tally>> {
        Some(one_request_each(n, target, trusting_bench_ca()))
    }

    fn busy_echo(tasks: usize, wakes: usize, prober: &Prober) -> Timed<usize> {
        runtime().block_on(async move {
            let listener = TcpListener::bind(([127, 0, 0, 1], 0).into()).expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let meter = Meter::start();
            let _server = simul::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    drop(simul::spawn(echo_back(stream)));
                }
            });
            let busy: Vec<_> = (0..tasks)
                .map(|_| simul::spawn(SelfWaking::new(wakes)))
                .collect();
            prober.start(addr);
            let mut finished = 0;
            for task in busy {
                finished += usize::from(task.await.is_ok());
            }
            let timed = meter.stop(finished);
            prober.first_round_trip().await;
            timed
        })
    }

    fn hot_socket(hot: std::net::TcpStream, samples: usize) -> Timed<Vec<i64>> {
        runtime().block_on(async move {
            let stop = Rc::new(Cell::new(false));
            let meter = Meter::start();
            let reading = Rc::clone(&stop);
            let reader = simul::spawn(async move {
                let stream = TcpStream::from_std(hot).expect("register");
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
                let deadline = now() + HOT_SLEEP;
                sleep_until(deadline).await;
                lateness.push(lateness_ns(now(), deadline));
            }
            stop.set(true);
            let _ = reader.await;
            meter.stop(lateness)
        })
    }

    fn memory(n: usize, exit: &dyn Fn(Timed<MemoryProbe>)) {
        runtime().block_on(async move {
            let rss_before = rss_bytes();
            let polled = Rc::new(Cell::new(0usize));
            let meter = Meter::start();
            for _ in 0..n {
                let polled = Rc::clone(&polled);
                // Dropping the handle detaches the task; the runtime keeps it.
                drop(simul::spawn(async move {
                    polled.set(polled.get() + 1);
                    std::future::pending::<()>().await;
                }));
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

async fn echo_back(stream: TcpStream) {
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
    let Ok(stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let _ = stream.set_nodelay(true);
    let mut reply = [0u8; 64];
    for _ in 0..k {
        if stream.write_all(&ECHO_MSG).await.is_err()
            || read_exact(&stream, &mut reply).await.is_err()
        {
            return false;
        }
    }
    reply == ECHO_MSG
}

/// simul's stream has no `read_exact`: fill `buf` or fail.
async fn read_exact(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]).await? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(())
}

/// One GET: a 200 whose whole body was read counts as ok.
/// A client that trusts only the bench's CA (nginx's TLS certificate).
fn trusting_bench_ca() -> ClientBuilder {
    let pem = Target::ca_pem().expect("the TLS workloads need BENCH_CA");
    let ca = Certificate::from_pem(&pem).expect("BENCH_CA is a PEM certificate");
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(&ca)
}

/// `r` requests from `c` tasks over `c` keep-alive connections (`http`, `https`).
fn keep_alive(r: usize, c: usize, target: &Target, builder: ClientBuilder) -> Timed<Tally> {
    runtime().block_on(async move {
        // One client for all C tasks; its pool must keep all C
        // connections, or tasks would keep opening new ones.
        // BENCH_DIAG=1 logs every connect and reuse on stderr (`curl -v` style).
        let diag = std::env::var_os("BENCH_DIAG").is_some();
        let client = builder.max_idle_per_host(c).verbose(diag).build();
        let meter = Meter::start();
        let tasks: Vec<_> = (0..c)
            .map(|i| {
                let client = client.clone();
                let url = target.url.clone();
                simul::spawn(async move {
                    let mut tally = Tally::default();
                    for _ in 0..share(r, c, i) {
                        tally.add(get(&client, &url, false).await);
                    }
                    tally
                })
            })
            .collect();
        let total = join_tallies(tasks).await;
        let mut timed = meter.stop(total);
        if std::env::var_os("BENCH_STATS").is_some() {
            // The loop's own counters: reactor turns per request without
            // strace's slowdown (see strace.sh).
            eprintln!("simul stats: {:?}", simul::stats());
        }
        // Every connection is back in the pool now: there should be C.
        // Fewer means a task ran requests without ever waiting (the
        // response was already there), finished, and left its connection
        // to a task that had not started yet.
        timed.value.connections = client.idle_connections();
        timed
    })
}

/// `n` one-request connections at once (`c10k`, `tls-connect`).
fn one_request_each(n: usize, target: &Target, builder: ClientBuilder) -> Timed<Tally> {
    runtime().block_on(async move {
        // `Connection: close` responses never go back to the pool, so
        // every request opens its own connection.
        let client = builder.build();
        let meter = Meter::start();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let client = client.clone();
                let url = target.url.clone();
                simul::spawn(async move { get(&client, &url, true).await })
            })
            .collect();
        let total = join_tallies(tasks).await;
        meter.stop(total)
    })
}

async fn get(client: &Client, url: &str, close: bool) -> Tally {
    let mut request = client.get(url);
    if close {
        request = request.header("Connection", "close");
    }
    let outcome = async {
        let response = request.send().await.map_err(|e| e.to_string())?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()));
        }
        response.bytes().await.map_err(|e| e.to_string())
    };
    match outcome.await {
        Ok(body) => Tally {
            ok: 1,
            body_bytes: body.len(),
            errors: 0,
            connections: usize::from(close),
        },
        Err(e) => {
            eprintln!("simul http: {e}");
            Tally {
                errors: 1,
                ..Tally::default()
            }
        }
    }
}

async fn join_tallies(tasks: Vec<simul::JoinHandle<Tally>>) -> Tally {
    let mut total = Tally::default();
    for task in tasks {
        match task.await {
            Ok(tally) => total.add(tally),
            Err(_) => total.errors += 1,
        }
    }
    total
}
