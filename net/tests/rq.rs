//! The RQ-layout job queue against a real `redis-server` (see `redis_support`): what an enqueue
//! writes, a worker's success, failure and timeout paths, many jobs at once on one loop, burst
//! mode, warm and cold stops, heartbeats, and recovery of the jobs a dead worker held.
//!
//! One shared server for the whole binary, a database per test. The worker runs as a task in
//! the test's own loop. Nothing sleeps to synchronise: a test that must act once a job has
//! started polls Redis for that state, with a deadline.

mod redis_support;
mod rq_common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use redis_support::{fresh_db, shared, RedisServer};
use rq_common::until_status;
use serde_json::{json, Map};
use simul_net::redis::{cmd, Connection, Value};
use simul_net::rq::{
    self, Call, Functions, JobError, JobOptions, JobResult, JobStatus, Keys, Queue, Ttl, Worker,
    WorkerOptions,
};
use simul_runtime::sync::Event;
use simul_runtime::time::{self, timeout};
use simul_runtime::{run, spawn};

/// A URL of a database of this test's own on the shared server, emptied.
async fn fresh_url() -> String {
    let url = shared().url(fresh_db());
    let mut redis = Connection::open(&url).await.expect("open");
    redis.query(&cmd("FLUSHDB")).await.expect("FLUSHDB");
    url
}

async fn queue(url: &str) -> Queue {
    Queue::new(Connection::open(url).await.expect("open"), "default")
}

/// The functions these tests enqueue, under the article's module name.
fn functions() -> Functions {
    let mut functions = Functions::new();
    functions
        .register("mymodule.add", |call| async move {
            let a: serde_json::Value = call.arg(0, "a")?;
            let b: serde_json::Value = call.arg(1, "b")?;
            match (a.as_i64(), b.as_i64(), a.as_f64(), b.as_f64()) {
                (Some(a), Some(b), _, _) => Ok(json!(a + b)),
                (_, _, Some(a), Some(b)) => Ok(json!(a + b)),
                _ => Err(JobError::new(
                    "TypeError: unsupported operand type(s) for +",
                )),
            }
        })
        .register("mymodule.fail", |call| async move {
            let message: String = call.arg_or(0, "message", "boom".to_owned())?;
            Err(JobError::new(format!("ValueError: {message}")))
        })
        .register("mymodule.async_sleep", |call| async move {
            let seconds: f64 = call.arg(0, "seconds")?;
            time::sleep(Duration::from_secs_f64(seconds)).await;
            Ok(call.args[0].clone())
        })
        .register_blocking("mymodule.sleep", |call| {
            let seconds: f64 = call.arg(0, "seconds")?;
            std::thread::sleep(Duration::from_secs_f64(seconds));
            Ok(call.args[0].clone())
        });
    functions
}

/// RQ's defaults, quiet, with the functions above.
fn worker(url: &str, options: WorkerOptions) -> Worker {
    worker_with(url, functions(), options)
}

fn worker_with(url: &str, functions: Functions, options: WorkerOptions) -> Worker {
    let options = WorkerOptions {
        log: false,
        ..options
    };
    Worker::new(url, functions, options).expect("worker")
}

fn burst() -> WorkerOptions {
    WorkerOptions {
        burst: true,
        ..WorkerOptions::default()
    }
}

async fn ttl(redis: &mut Connection, key: &str) -> i64 {
    let reply = redis.query(&cmd("TTL").arg(key)).await.expect("TTL");
    reply.as_int().expect("integer")
}

async fn list(redis: &mut Connection, key: &str) -> Vec<String> {
    let reply = redis
        .query(&cmd("LRANGE").arg(key).arg(0).arg(-1))
        .await
        .expect("LRANGE");
    reply
        .into_array()
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_str().expect("text").to_owned())
        .collect()
}

#[test]
fn options_that_make_no_sense_are_refused_by_name() {
    let refused = |options: WorkerOptions| match Worker::new(
        "redis://127.0.0.1:1/0",
        functions(),
        WorkerOptions {
            log: false,
            ..options
        },
    ) {
        Err(rq::Error::BadOptions(why)) => why,
        other => panic!("accepted: {other:?}"),
    };
    let why = refused(WorkerOptions {
        queues: vec![],
        ..burst()
    });
    assert!(why.contains("queue"), "{why}");
    let why = refused(WorkerOptions {
        concurrency: 0,
        ..burst()
    });
    assert!(why.contains("concurrency"), "{why}");
    let why = refused(WorkerOptions {
        max_lingering_threads: 0,
        ..burst()
    });
    assert!(why.contains("max_lingering_threads"), "{why}");
    let why = refused(WorkerOptions {
        heartbeat_interval: Duration::from_secs(90),
        heartbeat_ttl: Duration::from_secs(90),
        ..burst()
    });
    assert!(why.contains("heartbeat"), "{why}");
}

#[test]
fn enqueue_writes_the_hash_list_and_set_rq_writes() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q
            .enqueue("mymodule.count_words_at_url", json!(["http://nvie.com"]))
            .await
            .unwrap();
        let redis = q.connection();
        let hash = redis.hgetall(Keys::job(&id)).await.unwrap();
        let mut fields: Vec<&str> = hash.keys().map(String::as_str).collect();
        fields.sort_unstable();
        // Exactly the fields rq 2.12's `Queue.enqueue` writes (dumped from a real one).
        assert_eq!(
            fields,
            [
                "created_at",
                "data",
                "description",
                "ended_at",
                "enqueued_at",
                "failure_callback_name",
                "group_id",
                "last_heartbeat",
                "origin",
                "started_at",
                "status",
                "stopped_callback_name",
                "success_callback_name",
                "timeout",
                "worker_name"
            ]
        );
        assert_eq!(hash["status"], b"queued");
        assert_eq!(hash["origin"], b"default");
        assert_eq!(hash["timeout"], b"180");
        assert_eq!(
            hash["description"],
            b"mymodule.count_words_at_url('http://nvie.com')"
        );
        assert_eq!(&hash["data"][..2], &[0x78, 0x9c], "zlib, as RQ writes it");
        let created = String::from_utf8(hash["created_at"].clone()).unwrap();
        assert_eq!(created.len(), 27, "{created}");
        assert!(
            created.ends_with('Z') && created.as_bytes()[19] == b'.',
            "{created}"
        );
        assert_eq!(
            Call::from_data(&hash["data"]).unwrap(),
            Call::new(
                "mymodule.count_words_at_url",
                vec!["http://nvie.com".into()]
            )
        );
        assert_eq!(list(redis, "rq:queue:default").await, [id.as_str()]);
        assert_eq!(
            redis.smembers(rq::QUEUES).await.unwrap(),
            [b"rq:queue:default".to_vec()]
        );
        assert_eq!(ttl(redis, &Keys::job(&id)).await, -1, "no ttl while queued");
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Queued));
        assert_eq!(q.latest_result(&id).await.unwrap(), None);

        let err = q
            .enqueue("mymodule.add", json!({"a": 1}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("must be a JSON array"), "{err}");
    });
}

#[test]
fn a_worker_runs_a_job_and_the_result_is_where_rq_looks() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q.enqueue("mymodule.add", json!([2, 3])).await.unwrap();
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!(summary.finished, 1);
        assert_eq!(
            q.wait_result(&id, Duration::from_secs(5)).await.unwrap(),
            Some(JobResult::Finished(json!(5)))
        );
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Finished));
        assert_eq!(q.finished_job_ids().await.unwrap(), [id.as_str()]);
        assert!(q.started_job_ids().await.unwrap().is_empty());
        let job = q.job(&id).await.unwrap().unwrap();
        assert!(!job.started_at.is_empty() && !job.ended_at.is_empty());
        assert!(!job.worker_name.is_empty());
        let redis = q.connection();
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        let job_ttl = ttl(redis, &Keys::job(&id)).await;
        let result_ttl = ttl(redis, &Keys::results(&id)).await;
        assert!((490..=500).contains(&job_ttl), "job ttl {job_ttl}");
        assert!((490..=500).contains(&result_ttl), "result ttl {result_ttl}");
        assert!(!redis
            .query(&cmd("EXISTS").arg(format!("rq:executions:{id}")))
            .await
            .unwrap()
            .is_nil());
    });
}

#[test]
fn wait_result_wakes_when_a_running_worker_writes() {
    run(async {
        let url = fresh_url().await;
        let running = spawn(worker(&url, WorkerOptions::default()).run());
        let mut q = queue(&url).await;
        let id = q
            .enqueue_with(
                "mymodule.add",
                json!([1.5, 2]),
                Map::new(),
                &JobOptions::default().result_ttl(Ttl::Forever),
            )
            .await
            .unwrap();
        let result = q.wait_result(&id, Duration::from_secs(10)).await.unwrap();
        assert_eq!(result, Some(JobResult::Finished(json!(3.5))));
        assert_eq!(
            ttl(q.connection(), &Keys::job(&id)).await,
            -1,
            "result_ttl -1 keeps it"
        );
        running.abort();
    });
}

#[test]
fn a_failing_job_is_failed_with_its_error_text() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q.enqueue("mymodule.fail", json!(["kaput"])).await.unwrap();
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!(summary.failed, 1);
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Failed));
        assert_eq!(
            q.latest_result(&id).await.unwrap(),
            Some(JobResult::Failed("ValueError: kaput".into()))
        );
        let job = q.job(&id).await.unwrap().unwrap();
        assert_eq!(job.exc_info.as_deref(), Some("ValueError: kaput"));
        assert_eq!(q.failed_job_ids().await.unwrap(), [id.as_str()]);
        let job_ttl = ttl(q.connection(), &Keys::job(&id)).await;
        assert!(
            job_ttl > 31_000_000,
            "failure_ttl defaults to a year: {job_ttl}"
        );

        // Put back, it fails again: the record is replaced, nothing is left behind.
        assert!(q.requeue_failed(&id).await.unwrap());
        assert!(!q.requeue_failed(&id).await.unwrap());
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Queued));
        worker(&url, burst()).run().await.unwrap();
        assert_eq!(q.failed_job_ids().await.unwrap(), [id]);
    });
}

#[test]
fn unknown_functions_and_unreadable_jobs_fail_without_panicking() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let unknown = q.enqueue("mymodule.nope", json!([])).await.unwrap();
        let bad_args = q.enqueue("mymodule.add", json!([1])).await.unwrap();
        // A pickle that would call os.system, a truncated one, a timeout that is not a number,
        // and Python's job_timeout=10**20 (a poison job: it must fail, not panic or loop).
        let redis = q.connection();
        for (id, field, value) in [
            (
                "pickled-code",
                "data",
                &b"\x80\x05\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94."[..],
            ),
            ("pickled-short", "data", b"\x80\x04\x95pickle"),
            ("odd-timeout", "timeout", b"soon"),
            ("poison-timeout", "timeout", b"1e+20"),
        ] {
            redis
                .hset(Keys::job(id), [("status", &b"queued"[..]), (field, value)])
                .await
                .unwrap();
            redis.rpush("rq:queue:default", id).await.unwrap();
        }
        let missing = "no-such-hash";
        redis.rpush("rq:queue:default", missing).await.unwrap();
        // A field name that is not UTF-8 (Python writes bytes keys as they come), and a job key
        // that is not a hash at all: the take has already moved each id when it finds out.
        let bad_name = cmd("HSET")
            .arg(Keys::job("bad-field-name"))
            .arg("status")
            .arg("queued")
            .arg(&b"\xffname"[..])
            .arg("x");
        assert_eq!(redis.query(&bad_name).await.unwrap(), Value::Integer(2));
        redis
            .rpush("rq:queue:default", "bad-field-name")
            .await
            .unwrap();
        let not_a_hash = cmd("SET").arg(Keys::job("not-a-hash")).arg("a string");
        redis.query(&not_a_hash).await.unwrap();
        redis.rpush("rq:queue:default", "not-a-hash").await.unwrap();
        // An id that is not UTF-8, with a readable job under it: RQ cannot name it, so it is
        // taken out of the list by its bytes (a lossy name would leave it there for ever).
        let foreign = &b"foreign-\xff"[..];
        let foreign_job = cmd("HSET")
            .arg([&b"rq:job:"[..], foreign].concat())
            .args(["status", "queued"]);
        redis.query(&foreign_job).await.unwrap();
        redis.rpush("rq:queue:default", foreign).await.unwrap();
        let last = q.enqueue("mymodule.add", json!([2, 3])).await.unwrap();

        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!((summary.failed, summary.finished), (7, 1));
        assert_eq!(
            q.latest_result(&last).await.unwrap(),
            Some(JobResult::Finished(json!(5)))
        );
        let text = |r: Option<JobResult>| match r {
            Some(JobResult::Failed(text)) => text,
            other => panic!("expected a failure, got {other:?}"),
        };
        let t = text(q.latest_result(&unknown).await.unwrap());
        assert!(
            t.starts_with("AttributeError: no function \"mymodule.nope\""),
            "{t}"
        );
        let t = text(q.latest_result(&bad_args).await.unwrap());
        assert!(
            t.contains("mymodule.add() missing required argument: 'b'"),
            "{t}"
        );
        let t = text(q.latest_result("pickled-code").await.unwrap());
        assert!(
            t.starts_with("InvalidJobError") && t.contains("STACK_GLOBAL"),
            "{t}"
        );
        let t = text(q.latest_result("pickled-short").await.unwrap());
        assert!(
            t.starts_with("InvalidJobError") && t.contains("truncated"),
            "{t}"
        );
        let t = text(q.latest_result("odd-timeout").await.unwrap());
        assert!(t.contains("timeout \"soon\""), "{t}");
        let t = text(q.latest_result("poison-timeout").await.unwrap());
        assert!(
            t.starts_with("InvalidJobError") && t.contains("1e+20"),
            "{t}"
        );
        let t = text(q.latest_result("bad-field-name").await.unwrap());
        assert!(
            t.starts_with("InvalidJobError") && t.contains("not UTF-8"),
            "{t}"
        );
        // Dropped, and left as it was: it is not ours to delete.
        let get = cmd("GET").arg(Keys::job("not-a-hash"));
        let kept = q.connection().query(&get).await.unwrap();
        assert_eq!(kept.as_str(), Some("a string"));
        let status = cmd("HGET")
            .arg([&b"rq:job:"[..], foreign].concat())
            .arg("status");
        let kept = q.connection().query(&status).await.unwrap();
        assert_eq!(
            kept.as_str(),
            Some("queued"),
            "the foreign job is left as it was"
        );
        let mut failed = q.failed_job_ids().await.unwrap();
        failed.sort();
        assert_eq!(
            failed,
            [
                bad_args.as_str(),
                "bad-field-name",
                "odd-timeout",
                "pickled-code",
                "pickled-short",
                "poison-timeout",
                unknown.as_str()
            ]
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        assert_eq!(q.status(missing).await.unwrap(), None);
        let redis = q.connection();
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        assert!(list(redis, "rq:queue:default").await.is_empty());
    });
}

/// An error inside the take script that says nothing about the job (here an ACL that lets the
/// worker's user touch every `rq:` key but `rq:job:*`) must not lose it: the script moves the id
/// back to the head of its queue and fails, and the worker tries again later.
#[test]
fn a_take_refused_by_an_acl_puts_the_id_back_at_the_head_of_its_queue() {
    let server = RedisServer::start(&[]);
    run(async move {
        let mut admin = Connection::open(&server.url(0)).await.unwrap();
        let no_jobs = cmd("ACL").args([
            "SETUSER",
            "no-jobs",
            "on",
            ">pw",
            "+@all",
            "~rq:[^j]*",
            "&*",
        ]);
        admin.query(&no_jobs).await.unwrap().into_result().unwrap();
        let mut q = queue(&server.url(0)).await;
        let id = q.enqueue("mymodule.add", json!([1, 2])).await.unwrap();
        // Whether an EVAL (the take) has failed: `failed_calls` in its command statistics.
        let refused = || async {
            let info = cmd("INFO").arg("commandstats");
            let mut redis = Connection::open(&server.url(0)).await.unwrap();
            let text = redis.query(&info).await.unwrap();
            let text = text.as_str().unwrap_or_default().to_owned();
            let eval = text.lines().find(|l| l.starts_with("cmdstat_eval:"));
            let failed = eval.and_then(|l| l.split("failed_calls=").nth(1));
            failed.is_some_and(|n| !n.starts_with('0'))
        };
        assert!(!refused().await);

        let refused_worker = worker(&server.url_with("no-jobs:pw", 0), WorkerOptions::default());
        let stop = refused_worker.stop_handle();
        let running = spawn(refused_worker.run());
        let mut seen = false;
        for _ in 0..500 {
            if refused().await {
                seen = true;
                break;
            }
            time::sleep(Duration::from_millis(10)).await;
        }
        assert!(seen, "the worker's take never met the ACL");
        stop.stop();
        let summary = running.await.unwrap().unwrap();
        assert_eq!(summary.finished + summary.failed, 0);
        let redis = q.connection();
        assert_eq!(list(redis, "rq:queue:default").await, [id.as_str()]);
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Queued));

        // Nothing was lost: a worker that may read the job runs it.
        worker(&server.url(0), burst()).run().await.unwrap();
        assert_eq!(
            q.latest_result(&id).await.unwrap(),
            Some(JobResult::Finished(json!(3)))
        );
    });
}

#[test]
fn a_job_over_its_timeout_fails_whether_async_or_blocking() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let one_second = JobOptions::default().timeout(Some(Duration::from_secs(1)));
        let on_loop = q
            .enqueue_with("mymodule.async_sleep", json!([60]), Map::new(), &one_second)
            .await
            .unwrap();
        let on_thread = q
            .enqueue_with("mymodule.sleep", json!([3]), Map::new(), &one_second)
            .await
            .unwrap();
        let options = WorkerOptions {
            concurrency: 2,
            ..burst()
        };
        let summary = worker(&url, options).run().await.unwrap();
        assert_eq!(summary.failed, 2);
        for id in [on_loop, on_thread] {
            assert_eq!(
                q.latest_result(&id).await.unwrap(),
                Some(JobResult::Failed(
                    "JobTimeoutException: Task exceeded maximum timeout value (1 seconds)".into()
                ))
            );
        }
    });
}

#[test]
fn concurrency_runs_n_jobs_at_once_on_one_loop() {
    const N: usize = 4;
    run(async {
        let url = fresh_url().await;
        // Each job waits until all N have started: they can only finish if they overlap.
        let arrived = Rc::new(Cell::new(0));
        let all_here = Rc::new(Event::new());
        let test_thread = std::thread::current().id();
        let mut functions = Functions::new();
        functions.register("test.rendezvous", move |_call| {
            let (arrived, all_here) = (Rc::clone(&arrived), Rc::clone(&all_here));
            async move {
                assert_eq!(
                    std::thread::current().id(),
                    test_thread,
                    "on the loop's thread"
                );
                arrived.set(arrived.get() + 1);
                if arrived.get() == N {
                    all_here.set();
                }
                timeout(Duration::from_secs(10), all_here.wait())
                    .await
                    .map_err(|_| JobError::new("only some jobs ran at once"))?;
                Ok(json!(arrived.get()))
            }
        });
        let mut q = queue(&url).await;
        let mut ids = Vec::new();
        for _ in 0..N {
            ids.push(q.enqueue("test.rendezvous", json!([])).await.unwrap());
        }
        let options = WorkerOptions {
            concurrency: N,
            ..burst()
        };
        let summary = worker_with(&url, functions, options).run().await.unwrap();
        assert_eq!(summary.finished, N as u64, "{summary:?}");
        for id in ids {
            assert_eq!(
                q.latest_result(&id).await.unwrap(),
                Some(JobResult::Finished(json!(N)))
            );
        }
    });
}

#[test]
fn burst_mode_exits_when_the_queue_is_empty() {
    run(async {
        let url = fresh_url().await;
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!(summary, rq::Summary::default());
        let mut q = queue(&url).await;
        for i in 0..5 {
            q.enqueue("mymodule.add", json!([i, 1])).await.unwrap();
        }
        let options = WorkerOptions {
            concurrency: 2,
            ..burst()
        };
        let summary = worker(&url, options).run().await.unwrap();
        assert_eq!(summary.finished, 5);
        assert!(q.is_empty().await.unwrap());
    });
}

#[test]
fn a_job_deleted_while_queued_is_dropped_and_the_worker_ends_idle() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let gone = q.enqueue("mymodule.add", json!([1, 1])).await.unwrap();
        let kept = q.enqueue("mymodule.add", json!([2, 2])).await.unwrap();
        // Its hash deleted (or expired) while its id waits on the queue: the take script's
        // `HGETALL` finds nothing, and the id must not stay in the intermediate list.
        let delete = cmd("DEL").arg(Keys::job(&gone));
        let deleted = q.connection().query(&delete).await.unwrap();
        assert_eq!(deleted, Value::Integer(1));
        let w = worker(&url, WorkerOptions::default());
        let worker_key = format!("rq:worker:{}", w.name());
        let stop = w.stop_handle();
        let running = spawn(w.run());
        until_status(&mut q, &kept, JobStatus::Finished).await;
        // The end script that wrote `finished` also wrote the worker's state after the job.
        let redis = q.connection();
        let state = redis
            .query(&cmd("HMGET").arg(&worker_key).args(["state", "current_job"]))
            .await
            .unwrap()
            .into_array()
            .unwrap();
        assert_eq!(state[0].as_str(), Some("idle"));
        assert!(state[1].is_nil(), "current_job is still {:?}", state[1]);
        assert!(list(redis, "rq:queue:default").await.is_empty());
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        stop.stop();
        let summary = running.await.unwrap().unwrap();
        assert_eq!((summary.finished, summary.failed), (1, 0));
        assert_eq!(
            q.latest_result(&kept).await.unwrap(),
            Some(JobResult::Finished(json!(4)))
        );
        assert_eq!(q.status(&gone).await.unwrap(), None);
    });
}

#[test]
fn warm_stop_finishes_the_running_job_and_cold_stop_leaves_it_to_recovery() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let options = JobOptions::default().timeout(Some(Duration::from_secs(30)));
        let id = q
            .enqueue_with("mymodule.async_sleep", json!([0.5]), Map::new(), &options)
            .await
            .unwrap();
        let w = worker(&url, WorkerOptions::default());
        let stop = w.stop_handle();
        let running = spawn(w.run());
        until_status(&mut q, &id, JobStatus::Started).await;
        stop.stop();
        let summary = running.await.unwrap().unwrap();
        assert_eq!((summary.finished, summary.aborted), (1, false));
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Finished));

        let id = q
            .enqueue_with("mymodule.async_sleep", json!([60]), Map::new(), &options)
            .await
            .unwrap();
        let w = worker(&url, WorkerOptions::default());
        let stop = w.stop_handle();
        let running = spawn(w.run());
        until_status(&mut q, &id, JobStatus::Started).await;
        stop.stop();
        stop.abort();
        let summary = running.await.unwrap().unwrap();
        assert!(summary.aborted);
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Started));
        assert_eq!(q.started_job_ids().await.unwrap(), [id]);
    });
}

#[test]
fn a_live_workers_heartbeat_keeps_its_job_from_recovery() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q.enqueue("mymodule.async_sleep", json!([3])).await.unwrap();
        let options = WorkerOptions {
            heartbeat_ttl: Duration::from_secs(2),
            heartbeat_interval: Duration::from_millis(300),
            ..burst()
        };
        let running = spawn(worker(&url, options).run());
        until_status(&mut q, &id, JobStatus::Started).await;
        let score = |v: Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
        let member = {
            let reply = q
                .connection()
                .query(
                    &cmd("ZRANGE")
                        .arg("rq:wip:default")
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES"),
                )
                .await
                .unwrap();
            reply.into_array().unwrap()
        };
        let (name, first) = (
            member[0].as_bytes().unwrap().to_vec(),
            score(member[1].clone()).unwrap(),
        );
        // Poll until the deadline has moved: the heartbeat renewed it.
        let mut moved = false;
        for _ in 0..500 {
            let now = q
                .connection()
                .query(&cmd("ZSCORE").arg("rq:wip:default").arg(&name))
                .await
                .unwrap();
            if score(now).is_some_and(|s| s > first) {
                moved = true;
                break;
            }
            time::sleep(Duration::from_millis(10)).await;
        }
        assert!(moved, "the rq:wip deadline never moved");
        let mut janitor = Connection::open(&url).await.unwrap();
        let report = rq::recover(&mut janitor, "default", Duration::ZERO, "janitor")
            .await
            .unwrap();
        assert!(report.is_empty(), "{report:?}");
        let summary = running.await.unwrap().unwrap();
        assert_eq!(summary.finished, 1);
    });
}

/// Moves the head of the queue into the intermediate list, as a worker's `BLMOVE` does: the
/// state a worker leaves when it dies right after taking a job.
async fn take_like_a_dying_worker(redis: &mut Connection) -> String {
    let taken = redis
        .blmove(
            "rq:queue:default",
            "rq:queue:default:intermediate",
            Duration::from_secs(1),
        )
        .await
        .unwrap()
        .expect("a job to take");
    String::from_utf8(taken).unwrap()
}

#[test]
fn recovery_requeues_a_job_stuck_in_the_intermediate_list_after_the_grace() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q.enqueue("mymodule.add", json!([20, 22])).await.unwrap();
        let redis = q.connection();
        assert_eq!(take_like_a_dying_worker(redis).await, id);
        redis
            .rpush("rq:queue:default:intermediate", "hash-gone")
            .await
            .unwrap();

        let mut janitor = Connection::open(&url).await.unwrap();
        let grace = Duration::from_secs(3600);
        let first = rq::recover(&mut janitor, "default", grace, "j")
            .await
            .unwrap();
        assert_eq!(first.first_seen, 1, "seen once: left alone {first:?}");
        let second = rq::recover(&mut janitor, "default", grace, "j")
            .await
            .unwrap();
        assert!(second.is_empty(), "within the grace period: {second:?}");
        assert_eq!(
            list(redis, "rq:queue:default:intermediate").await,
            [id.as_str()]
        );
        let third = rq::recover(&mut janitor, "default", Duration::ZERO, "j")
            .await
            .unwrap();
        assert_eq!(third.requeued, [id.as_str()]);
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        assert_eq!(list(redis, "rq:queue:default").await, [id.as_str()]);

        worker(&url, burst()).run().await.unwrap();
        assert_eq!(
            q.latest_result(&id).await.unwrap(),
            Some(JobResult::Finished(json!(42)))
        );
    });
}

#[test]
fn recovery_removes_entries_whose_id_is_not_utf8_by_their_bytes() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let redis = q.connection();
        let taken = &b"taken-\xfe"[..];
        redis
            .rpush("rq:queue:default:intermediate", taken)
            .await
            .unwrap();
        let started = cmd("ZADD")
            .arg("rq:wip:default")
            .arg(1)
            .arg(&b"started-\xff:exec1"[..]);
        redis.query(&started).await.unwrap();

        let mut janitor = Connection::open(&url).await.unwrap();
        let grace = Duration::from_secs(3600);
        let report = rq::recover(&mut janitor, "default", grace, "j")
            .await
            .unwrap();
        assert_eq!(
            report.foreign,
            ["started-\\xff:exec1", "taken-\\xfe"],
            "{report:?}"
        );
        assert!(!report.is_empty());
        let redis = q.connection();
        assert!(list(redis, "rq:queue:default:intermediate")
            .await
            .is_empty());
        let wip = redis.query(&cmd("ZCARD").arg("rq:wip:default")).await;
        assert_eq!(wip.unwrap(), Value::Integer(0));
        let again = rq::recover(&mut janitor, "default", grace, "j")
            .await
            .unwrap();
        assert!(again.is_empty(), "nothing is left to remove: {again:?}");
    });
}

/// Starts `id` the way a worker does, with a `rq:wip` deadline already in the past: the state a
/// worker leaves when it is killed mid-job and its heartbeats stop.
async fn start_like_a_killed_worker(redis: &mut Connection, id: &str) {
    redis
        .transaction(&[
            cmd("HSET").arg(Keys::job(id)).arg("status").arg("started"),
            cmd("ZADD")
                .arg("rq:wip:default")
                .arg(1)
                .arg(format!("{id}:exec1")),
            cmd("LREM")
                .arg("rq:queue:default:intermediate")
                .arg(1)
                .arg(id),
        ])
        .await
        .unwrap();
}

/// What RQ's own worker leaves when it dies between the two steps of its start (the `rq:wip`
/// entry written by the parent, status `started` and the `LREM` by the work horse): the id in
/// the intermediate list *and* an expired `rq:wip` entry, the status still `queued`.
async fn half_start_like_rq(redis: &mut Connection, id: &str) {
    redis
        .query(
            &cmd("ZADD")
                .arg("rq:wip:default")
                .arg(1)
                .arg(format!("{id}:exec1")),
        )
        .await
        .unwrap();
}

#[test]
fn recovery_never_requeues_the_intermediate_entry_of_a_run_it_failed_or_retried() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let plain = q.enqueue("mymodule.add", json!([1, 1])).await.unwrap();
        let options = JobOptions::default().retries(1);
        let retried = q
            .enqueue_with("mymodule.add", json!([2, 2]), Map::new(), &options)
            .await
            .unwrap();
        for id in [&plain, &retried] {
            let redis = q.connection();
            assert_eq!(&take_like_a_dying_worker(redis).await, id);
            half_start_like_rq(redis, id).await;
        }
        let mut janitor = Connection::open(&url).await.unwrap();
        let first = rq::recover(&mut janitor, "default", Duration::ZERO, "j")
            .await
            .unwrap();
        assert_eq!(
            (first.abandoned, first.retried, first.first_seen),
            (vec![plain.clone()], vec![retried.clone()], 2),
            "the runs are ended; their ids in the intermediate list are only seen"
        );
        let second = rq::recover(&mut janitor, "default", Duration::ZERO, "j")
            .await
            .unwrap();
        assert!(second.requeued.is_empty(), "{second:?}");
        assert_eq!(second.dropped, [plain.as_str(), retried.as_str()]);
        assert!(list(q.connection(), "rq:queue:default:intermediate")
            .await
            .is_empty());
        // The retry is on the queue once; the failed job is not on it at all.
        assert_eq!(
            list(q.connection(), "rq:queue:default").await,
            [retried.as_str()]
        );
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!((summary.finished, summary.failed), (1, 0));
        assert_eq!(q.status(&plain).await.unwrap(), Some(JobStatus::Failed));
        assert_eq!(
            q.latest_result(&retried).await.unwrap(),
            Some(JobResult::Finished(json!(4)))
        );
        assert_eq!(q.failed_job_ids().await.unwrap(), [plain.as_str()]);
    });
}

#[test]
fn recovery_fails_an_abandoned_job_or_retries_it_when_it_has_retries() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let plain = q.enqueue("mymodule.add", json!([1, 1])).await.unwrap();
        let retried = q
            .enqueue_with(
                "mymodule.add",
                json!([2, 2]),
                Map::new(),
                &JobOptions::default().retries(1),
            )
            .await
            .unwrap();
        for id in [&plain, &retried] {
            let redis = q.connection();
            assert_eq!(&take_like_a_dying_worker(redis).await, id);
            start_like_a_killed_worker(redis, id).await;
        }
        // Two workers' passes at once: each job is handled by exactly one of them.
        let mut janitors = [
            Connection::open(&url).await.unwrap(),
            Connection::open(&url).await.unwrap(),
        ];
        let [a, b] = &mut janitors;
        let reports = simul_runtime::join_all([
            rq::recover(a, "default", Duration::ZERO, "a"),
            rq::recover(b, "default", Duration::ZERO, "b"),
        ])
        .await;
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for report in reports {
            let report = report.unwrap();
            one.extend(report.abandoned);
            two.extend(report.retried);
        }
        assert_eq!(
            (one, two),
            (vec![plain.clone()], vec![retried.clone()]),
            "each handled once"
        );

        assert_eq!(q.status(&plain).await.unwrap(), Some(JobStatus::Failed));
        match q.latest_result(&plain).await.unwrap() {
            Some(JobResult::Failed(text)) => assert!(text.contains("AbandonedJobError"), "{text}"),
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(q.failed_job_ids().await.unwrap(), [plain.as_str()]);
        assert_eq!(q.status(&retried).await.unwrap(), Some(JobStatus::Queued));
        assert_eq!(q.job(&retried).await.unwrap().unwrap().retries_left, 0);
        assert!(q.started_job_ids().await.unwrap().is_empty());

        // Not lost: the retried one runs, and the failed one can be put back.
        assert!(q.requeue_failed(&plain).await.unwrap());
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!(summary.finished, 2);
        assert_eq!(
            q.latest_result(&plain).await.unwrap(),
            Some(JobResult::Finished(json!(2)))
        );
        assert_eq!(
            q.latest_result(&retried).await.unwrap(),
            Some(JobResult::Finished(json!(4)))
        );
    });
}

#[test]
fn a_failing_job_with_retries_is_requeued_until_they_run_out() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        let id = q
            .enqueue_with(
                "mymodule.fail",
                json!([]),
                Map::new(),
                &JobOptions::default().retries(2),
            )
            .await
            .unwrap();
        let summary = worker(&url, burst()).run().await.unwrap();
        assert_eq!((summary.retried, summary.failed), (2, 1));
        assert_eq!(q.status(&id).await.unwrap(), Some(JobStatus::Failed));
        assert_eq!(
            q.latest_result(&id).await.unwrap(),
            Some(JobResult::Failed("ValueError: boom".into()))
        );
    });
}

#[test]
fn timed_out_blocking_jobs_never_hold_the_threads_dns_needs() {
    run(async {
        let url = fresh_url().await;
        let mut q = queue(&url).await;
        // Six blocking sleeps of 25 s with a 1 s timeout: as many as the runtime's blocking pool
        // has threads on this machine's size (cpus + 4), then a job that needs a DNS lookup.
        let one_second = JobOptions::default().timeout(Some(Duration::from_secs(1)));
        let mut sleepers = Vec::new();
        for _ in 0..6 {
            let id = q
                .enqueue_with("mymodule.sleep", json!([25]), Map::new(), &one_second)
                .await
                .unwrap();
            sleepers.push(id);
        }
        let lookup = q.enqueue("lookup", json!(["localhost"])).await.unwrap();
        let mut functions = functions();
        functions.register("lookup", |call| async move {
            let host: String = call.arg(0, "host")?;
            let addrs = simul_net::dns::resolve(&host, 80)
                .await
                .map_err(|e| JobError::new(format!("OSError: {e}")))?;
            Ok(json!(addrs.len()))
        });
        let options = WorkerOptions {
            concurrency: 7,
            ..burst()
        };
        let started = std::time::Instant::now();
        let summary = timeout(
            Duration::from_secs(20),
            worker_with(&url, functions, options).run(),
        )
        .await
        .expect("the worker finished long before the sleeps would have")
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_eq!((summary.finished, summary.failed), (1, 6));
        assert!(matches!(
            q.latest_result(&lookup).await.unwrap(),
            Some(JobResult::Finished(n)) if n.as_u64() > Some(0)
        ));
        for id in &sleepers {
            match q.latest_result(id).await.unwrap() {
                Some(JobResult::Failed(text)) => assert!(text.contains("JobTimeoutException")),
                other => panic!("{other:?}"),
            }
        }
    });
}
