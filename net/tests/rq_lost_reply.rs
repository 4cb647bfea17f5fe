//! A job's end written by Redis whose reply never reached the worker (the invariant of
//! `rq/scripts.rs`: a retried end after a lost reply changes nothing), against a real
//! `redis-server` behind a proxy of this test's that loses exactly that reply.
//!
//! The proxy forwards everything, until it sees the end script go to Redis on some connection:
//! then it reads Redis's reply to it (so the script has run) and, instead of forwarding it,
//! closes that connection. The worker reconnects, sends the end again, and the script finds the
//! run gone from `rq:wip`. The job must have ended once, with one result, and the worker must
//! still count it as its own.

mod redis_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis_support::{fresh_db, shared};
use serde_json::json;
use simul_net::redis::{cmd, Connection};
use simul_net::rq::{Functions, JobResult, JobStatus, Queue, Worker, WorkerOptions};
use simul_runtime::run;
use simul_runtime::time::timeout;

/// A line of the end script (`rq/scripts.rs`), which no other command the worker sends has.
const END_SCRIPT_LINE: &[u8] = b"if ARGV[3] ~= '' and tonumber(score) > tonumber(ARGV[3])";

/// A proxy in front of `redis_port` that loses the reply to the first end script. Returns its
/// port and how many replies it lost.
fn lossy_proxy(redis_port: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lost = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicBool::new(true));
    let counted = Arc::clone(&lost);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", redis_port)).unwrap();
            let (armed, lost) = (Arc::clone(&armed), Arc::clone(&counted));
            let cut = Arc::new(AtomicBool::new(false));
            let (to_server, from_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            let cut_seen = Arc::clone(&cut);
            std::thread::spawn(move || upstream(from_client, to_server, &armed, &cut_seen));
            std::thread::spawn(move || downstream(server, client, &cut, &lost));
        }
    });
    (port, lost)
}

/// Client to Redis. The flag is raised before the chunk that holds the script line is passed
/// on, so Redis's reply to it cannot arrive before `downstream` knows to lose it (the worker has
/// one command at a time in flight on a connection).
fn upstream(mut client: TcpStream, mut server: TcpStream, armed: &AtomicBool, cut: &AtomicBool) {
    let mut window = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // The chunk and the bytes before it, in case the line spans two reads.
        window.extend_from_slice(&buf[..n]);
        if window
            .windows(END_SCRIPT_LINE.len())
            .any(|w| w == END_SCRIPT_LINE)
            && armed.swap(false, Ordering::SeqCst)
        {
            cut.store(true, Ordering::SeqCst);
        }
        let keep = window.len().saturating_sub(END_SCRIPT_LINE.len());
        window.drain(..keep);
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

/// Redis to client: the first reply read after the cut is raised is dropped, with the
/// connection.
fn downstream(mut server: TcpStream, mut client: TcpStream, cut: &AtomicBool, lost: &AtomicUsize) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) {
            lost.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

#[test]
fn an_end_whose_reply_was_lost_is_written_once_and_counted_by_its_worker() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    run(async {
        timeout(Duration::from_secs(60), async {
            let db = fresh_db();
            let direct = shared().url(db);
            let (proxy_port, lost) = lossy_proxy(shared().port());
            let through_proxy = format!("redis://127.0.0.1:{proxy_port}/{db}");

            let mut q = Queue::new(Connection::open(&direct).await.expect("open"), "default");
            let id = q.enqueue("add", json!([2, 3])).await.unwrap();
            let mut functions = Functions::new();
            functions.register("add", |call| async move {
                RAN.fetch_add(1, Ordering::SeqCst);
                let (a, b): (i64, i64) = (call.arg(0, "a")?, call.arg(1, "b")?);
                Ok(json!(a + b))
            });
            let options = WorkerOptions {
                burst: true,
                log: false,
                ..WorkerOptions::default()
            };
            let worker = Worker::new(&through_proxy, functions, options).expect("worker");
            let summary = worker.run().await.expect("the worker ran");

            assert_eq!(
                lost.load(Ordering::SeqCst),
                1,
                "the proxy lost the end's reply"
            );
            assert_eq!(RAN.load(Ordering::SeqCst), 1, "the job ran once");
            assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Finished));
            assert_eq!(
                q.latest_result(&id).await.unwrap(),
                Some(JobResult::Finished(json!(5)))
            );
            let mut redis = Connection::open(&direct).await.expect("open");
            let entries = redis
                .query(&cmd("XLEN").arg(format!("rq:results:{id}")))
                .await
                .expect("XLEN");
            assert_eq!(entries.as_int(), Some(1), "one result entry");
            assert!(q.started_job_ids().await.unwrap().is_empty());
            assert_eq!(
                (summary.finished, summary.failed),
                (1, 0),
                "the worker counts the job whose end it wrote"
            );
        })
        .await
        .expect("the test hung");
    });
}
