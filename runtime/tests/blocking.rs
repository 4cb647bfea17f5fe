//! The blocking pool (invariant 12): results come back through a waker, panics become
//! `JoinError`s, the pool is bounded, and the virtual clock waits for jobs
//! that are out instead of jumping past them.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{fail_if_hung, real_rt, virtual_rt};
use simul_runtime::{join_all, spawn, spawn_blocking, time, Runtime};

// Invariant: a job's result comes back to the awaiting task.
#[test]
fn spawn_blocking_returns_the_result() {
    let rt = real_rt();
    let sum = rt.block_on(async { spawn_blocking(|| (1..=100u32).sum::<u32>()).await.unwrap() });
    assert_eq!(sum, 5050);
    assert_eq!(
        rt.stats().wakes_remote,
        1,
        "the result came back by one remote wake"
    );
}

// Invariant: a panicking job gives a JoinError with is_panic() and its message.
#[test]
fn panicking_job_gives_a_panic_join_error() {
    let err =
        real_rt().block_on(async { spawn_blocking(|| panic!("job failed")).await.unwrap_err() });
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("job failed"));
}

// Invariant: 64 jobs on a pool of 4 all complete, never more than 4 at once,
// and 4 of them do run at once (they meet at a barrier of 4).
#[test]
fn many_jobs_on_a_small_pool_all_complete() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let out = fail_if_hung("64 jobs on 4 threads", move || {
        let rt = Runtime::builder().max_blocking_threads(4).build().unwrap();
        rt.block_on(async {
            let jobs = (0..64usize).map(|i| {
                let (running, most, barrier) = (running.clone(), most.clone(), barrier.clone());
                spawn_blocking(move || {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    barrier.wait(); // jobs come in groups of 4 running together
                    running.fetch_sub(1, SeqCst);
                    i
                })
            });
            let results: Vec<usize> = join_all(jobs)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            (results, most.load(SeqCst))
        })
    });
    assert_eq!(out.0, (0..64).collect::<Vec<_>>());
    assert_eq!(out.1, 4, "at most, and at least once, 4 jobs ran at once");
}

// Invariant: the pool starts threads up to its bound even when some are
// idle: two jobs that need each other both get a thread. (An idle thread
// counted for two jobs leaves the second queued behind the first: a
// deadlock.) The idle thread must be caught idle, so the scenario is
// repeated, on four loops at once to keep the CPUs contended.
#[test]
fn jobs_that_meet_get_their_own_threads_when_one_is_idle() {
    fail_if_hung("two jobs waiting for each other on a pool of 4", || {
        let loops: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    let rt = Runtime::builder().max_blocking_threads(4).build().unwrap();
                    rt.block_on(async {
                        for _ in 0..500 {
                            // Leaves one pool thread idle (or about to be).
                            spawn_blocking(|| ()).await.unwrap();
                            let barrier = Arc::new(Barrier::new(2));
                            let (a, b) = (barrier.clone(), barrier);
                            let first = spawn_blocking(move || {
                                a.wait();
                            });
                            let second = spawn_blocking(move || {
                                b.wait();
                            });
                            first.await.unwrap();
                            second.await.unwrap();
                        }
                    });
                })
            })
            .collect();
        loops.into_iter().for_each(|l| l.join().unwrap());
    });
}

// Invariant: under the virtual clock, time does not jump past a pending timer
// while a blocking job is out: the job (50 ms of real sleep) completes
// before a 1 ms virtual timer fires.
#[test]
fn virtual_clock_waits_for_a_blocking_job() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let rt = virtual_rt();
    rt.block_on(async {
        let l = Rc::clone(&log);
        let timer = spawn(async move {
            time::sleep(Duration::from_millis(1)).await;
            l.borrow_mut().push("timer");
        });
        let job = spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
        job.await.unwrap();
        log.borrow_mut().push("job");
        timer.await.unwrap();
    });
    assert_eq!(*log.borrow(), ["job", "timer"]);
}

// Invariant: under the virtual clock, a job whose handle was aborted still
// holds time until it ends, and its end lets the loop go on (the loop must not
// sleep forever waiting for a result nobody will deliver).
#[test]
fn virtual_clock_resumes_after_an_aborted_job_ends() {
    fail_if_hung("a virtual-clock loop after an aborted blocking job", || {
        let rt = virtual_rt();
        rt.block_on(async {
            let job = spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
            job.abort();
            assert!(job.await.unwrap_err().is_cancelled());
            let start = time::now();
            time::sleep(Duration::from_secs(1)).await;
            assert_eq!(time::now() - start, Duration::from_secs(1));
        });
    });
}
