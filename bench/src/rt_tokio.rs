//! The workloads on tokio's current-thread runtime (tokio's channel, timers
//! and TCP; hyper over hyper-util's `TokioIo` for HTTP).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep_until, Instant};

use crate::common::{
    lateness_ns, rss_bytes, share, yield_now, MemoryProbe, Meter, Tally, Target, Timed, ECHO_MSG,
};
use crate::fairness::{HotCap, Prober, SelfWaking, HOT_SLEEP};
use crate::hyper_client::session;
use crate::workloads::Workloads;

pub struct Tokio;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the tokio runtime")
}

impl Workloads for Tokio {
    fn spawn(n: usize) -> Timed<usize> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                handles.push(tokio::spawn(async {}));
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
                    tokio::spawn(async move {
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
            let (to_b, mut from_a) = tokio::sync::mpsc::channel::<u64>(1);
            let (to_a, mut from_b) = tokio::sync::mpsc::channel::<u64>(1);
            let meter = Meter::start();
            let b = tokio::spawn(async move {
                while let Some(v) = from_a.recv().await {
                    if to_a.send(v).await.is_err() {
                        break;
                    }
                }
            });
            let a = tokio::spawn(async move {
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
                    tokio::spawn(async move {
                        let deadline = Instant::now() + Duration::from_millis(d);
                        sleep_until(deadline).await;
                        lateness_ns(Instant::now().into_std(), deadline.into_std())
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
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let meter = Meter::start();
            // Never joined: it dies with the runtime.
            let _server = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(echo_back(stream));
                }
            });
            let clients: Vec<_> = (0..c).map(|_| tokio::spawn(echo_client(addr, k))).collect();
            let mut intact = 0;
            for client in clients {
                intact += usize::from(matches!(client.await, Ok(true)));
            }
            meter.stop(intact)
        })
    }

    fn http(r: usize, c: usize, target: &Target) -> Timed<Tally> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..c)
                .map(|i| tokio::spawn(connection(target.clone(), share(r, c, i), false)))
                .collect();
            meter.stop(join_tallies(tasks).await)
        })
    }

    fn c10k(n: usize, target: &Target) -> Timed<Tally> {
        runtime().block_on(async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..n)
                .map(|_| tokio::spawn(connection(target.clone(), 1, true)))
                .collect();
            meter.stop(join_tallies(tasks).await)
        })
    }

    fn https(r: usize, c: usize, target: &Target) -> Option<Timed<Tally>> {
        let connector = bench_ca_connector();
        Some(runtime().block_on(async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..c)
                .map(|i| {
                    let connection = tls_connection(&connector, target, share(r, c, i), false);
                    tokio::spawn(connection)
                })
                .collect();
            meter.stop(join_tallies(tasks).await)
        }))
    }

    fn tls_connect(n: usize, target: &Target) -> Option<Timed<Tally>> {
        let connector = bench_ca_connector();
        Some(runtime().block_on(async move {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..n)
                .map(|_| tokio::spawn(tls_connection(&connector, target, 1, true)))
                .collect();
            meter.stop(join_tallies(tasks).await)
        }))
    }

    fn busy_echo(tasks: usize, wakes: usize, prober: &Prober) -> Timed<usize> {
        runtime().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            let meter = Meter::start();
            let _server = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(echo_back(stream));
                }
            });
            let busy: Vec<_> = (0..tasks)
                .map(|_| tokio::spawn(SelfWaking::new(wakes)))
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
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let meter = Meter::start();
            let reading = Arc::clone(&stop);
            let reader = tokio::spawn(async move {
                let mut stream = TcpStream::from_std(hot).expect("register");
                let mut buf = [0u8; 1024];
                let mut cap = HotCap::new();
                while !reading.load(Ordering::Relaxed) && cap.more() {
                    if stream.read(&mut buf).await.is_err() {
                        break;
                    }
                }
            });
            let mut lateness = Vec::with_capacity(samples);
            for _ in 0..samples {
                let deadline = Instant::now() + HOT_SLEEP;
                sleep_until(deadline).await;
                lateness.push(lateness_ns(Instant::now().into_std(), deadline.into_std()));
            }
            stop.store(true, Ordering::Relaxed);
            let _ = reader.await;
            meter.stop(lateness)
        })
    }

    fn memory(n: usize, exit: &dyn Fn(Timed<MemoryProbe>)) {
        runtime().block_on(async move {
            let rss_before = rss_bytes();
            // `tokio::spawn` wants `Send` futures, hence an atomic counter.
            let polled = Arc::new(AtomicUsize::new(0));
            let meter = Meter::start();
            for _ in 0..n {
                let polled = Arc::clone(&polled);
                // Dropping the handle detaches the task; the runtime keeps it.
                drop(tokio::spawn(async move {
                    polled.fetch_add(1, Ordering::Relaxed);
                    std::future::pending::<()>().await;
                }));
            }
            while polled.load(Ordering::Relaxed) < n {
                yield_now().await;
            }
            let timed = meter.stop(polled.load(Ordering::Relaxed));
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

async fn echo_back(mut stream: TcpStream) {
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
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let _ = stream.set_nodelay(true);
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
async fn connection(target: Target, requests: usize, close: bool) -> Tally {
    let io = TcpStream::connect(target.addr).await.map(|stream| {
        let _ = stream.set_nodelay(true);
        TokioIo::new(stream)
    });
    session(io, &target, requests, close, |conn| {
        let driver = tokio::spawn(conn);
        async move {
            let _ = driver.await;
        }
    })
    .await
}

/// tokio-rustls on the ring provider (as simul's TLS), TLS 1.2 and 1.3, ALPN `http/1.1`,
/// trusting only the bench's CA: the same choices as simul's client.
fn bench_ca_connector() -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let pem = Target::ca_pem().expect("the TLS workloads need BENCH_CA");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.expect("BENCH_CA is PEM"))
            .expect("a usable CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One TLS connection making `requests` GETs (the future owns what it needs, to be spawned).
fn tls_connection(
    connector: &tokio_rustls::TlsConnector,
    target: &Target,
    requests: usize,
    close: bool,
) -> impl std::future::Future<Output = Tally> + Send + 'static {
    let (connector, target) = (connector.clone(), target.clone());
    async move {
        let name = rustls::pki_types::ServerName::IpAddress(target.addr.ip().into());
        let io = async {
            let stream = TcpStream::connect(target.addr).await?;
            let _ = stream.set_nodelay(true);
            connector.connect(name, stream).await.map(TokioIo::new)
        };
        session(io.await, &target, requests, close, |conn| {
            let driver = tokio::spawn(conn);
            async move {
                let _ = driver.await;
            }
        })
        .await
    }
}

async fn join_tallies(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut total = Tally::default();
    for task in tasks {
        match task.await {
            Ok(tally) => total.add(tally),
            Err(_) => total.errors += 1,
        }
    }
    total
}
