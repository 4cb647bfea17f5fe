//! The bound on threads that timed-out blocking jobs leave running (`rq/lingering.rs`, the
//! invariant "no job thread starts while `max` or more abandoned threads are alive", so at most
//! `max - 1 + concurrency` are), against a real `redis-server`.
//!
//! A binary of its own: the count is the process's, and the timed-out sleeps of `rq.rs`'s tests
//! would move it. The jobs' threads wait on a gate the test opens one thread at a time, so
//! nothing here depends on how long anything takes, except the jobs' own 1 s timeout.

mod redis_support;
mod rq_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use redis_support::{fresh_db, shared};
use rq_common::until_status;
use serde_json::json;
use simul_net::redis::{cmd, Connection};
use simul_net::rq::{
    jobs_waiting_for_a_thread, lingering_threads, Functions, JobOptions, JobStatus, Queue, Worker,
    WorkerOptions,
};
use simul_runtime::time::{self, timeout};
use simul_runtime::{run, spawn};

/// How many threads may pass: each `held` job takes one permit before it returns.
static PERMITS: Mutex<usize> = Mutex::new(0);
static OPENED: Condvar = Condvar::new();
/// How many `held` jobs have entered their function.
static STARTED: AtomicUsize = AtomicUsize::new(0);

fn pass_the_gate() {
    let mut permits = PERMITS.lock().unwrap();
    while *permits == 0 {
        permits = OPENED.wait(permits).unwrap();
    }
    *permits -= 1;
}

fn open_the_gate(n: usize) {
    *PERMITS.lock().unwrap() += n;
    OPENED.notify_all();
}

/// Polls `condition` on the loop (bounded: 10 s).
async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[test]
fn a_blocking_job_past_the_lingering_limit_waits_until_an_abandoned_thread_returns() {
    run(async {
        timeout(Duration::from_secs(60), async {
            let url = shared().url(fresh_db());
            let mut redis = Connection::open(&url).await.expect("open");
            redis.query(&cmd("FLUSHDB")).await.expect("FLUSHDB");
            let mut q = Queue::new(Connection::open(&url).await.expect("open"), "default");

            let mut functions = Functions::new();
            functions.register_blocking("held", |_call| {
                STARTED.fetch_add(1, Ordering::SeqCst);
                pass_the_gate();
                Ok(json!("passed"))
            });
            let options = WorkerOptions {
                concurrency: 4,
                max_lingering_threads: 2,
                log: false,
                ..WorkerOptions::default()
            };
            let one_second = JobOptions::default().timeout(Some(Duration::from_secs(1)));
            let mut abandoned = Vec::new();
            for _ in 0..4 {
                let id = q
                    .enqueue_with("held", json!([]), Default::default(), &one_second)
                    .await
                    .unwrap();
                abandoned.push(id);
            }
            let worker = Worker::new(&url, functions, options).expect("worker");
            let stop = worker.stop_handle();
            let worker = spawn(worker.run());

            // Four threads started (none were abandoned yet), and all four timed out.
            for id in &abandoned {
                until_status(&mut q, id, JobStatus::Failed).await;
            }
            until("four abandoned threads", || lingering_threads() == 4).await;
            until("four threads entered their function", || {
                STARTED.load(Ordering::SeqCst) == 4
            })
            .await;

            // A fifth and a sixth job are taken (the worker has four free slots), but their
            // threads may not start while two or more abandoned ones run.
            let fifth = q.enqueue("held", json!([])).await.unwrap();
            let sixth = q.enqueue("held", json!([])).await.unwrap();
            until_status(&mut q, &fifth, JobStatus::Started).await;
            until_status(&mut q, &sixth, JobStatus::Started).await;
            until("both jobs wait for a thread", || {
                jobs_waiting_for_a_thread() == 2
            })
            .await;
            open_the_gate(2);
            until("two abandoned threads returned", || {
                lingering_threads() == 2
            })
            .await;
            // Woken by each return, both found the limit still reached and wait again.
            until("both jobs wait again", || jobs_waiting_for_a_thread() == 2).await;
            assert_eq!(
                STARTED.load(Ordering::SeqCst),
                4,
                "a waiting job's thread started with the limit reached"
            );

            // One more returns: below the limit, both waiting jobs start (an admitted thread
            // is not abandoned, so it does not count), though no second abandoned thread
            // returns.
            open_the_gate(1);
            until("both waiting jobs' threads started", || {
                STARTED.load(Ordering::SeqCst) == 6
            })
            .await;
            open_the_gate(3);
            until_status(&mut q, &fifth, JobStatus::Finished).await;
            until_status(&mut q, &sixth, JobStatus::Finished).await;
            until("every abandoned thread returned", || {
                lingering_threads() == 0
            })
            .await;

            // A cold stop aborts the task of a job whose thread runs: that thread is abandoned
            // too, and counted until it returns.
            q.enqueue("held", json!([])).await.unwrap();
            until("the seventh job's thread started", || {
                STARTED.load(Ordering::SeqCst) == 7
            })
            .await;
            stop.abort();
            let summary = worker.await.unwrap().expect("worker ran");
            assert!(summary.aborted);
            assert_eq!((summary.failed, summary.finished), (4, 2));
            assert_eq!(
                lingering_threads(),
                1,
                "the aborted job's thread is not counted"
            );
            open_the_gate(1);
            until("the aborted job's thread returned", || {
                lingering_threads() == 0
            })
            .await;
        })
        .await
        .expect("the test hung");
    });
}
