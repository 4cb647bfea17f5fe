//! The client side: enqueue a job exactly as Python's `Queue.enqueue` does, and look up its
//! status and result the way `job.get_status()` and `job.return_value()` do.
//!
//! Invariant this file owns: **an enqueue is one transaction.** The job hash, the queue list (or
//! the scheduled or deferred registry) and the `rq:queues` set are written by one
//! `MULTI`/`EXEC`, so a worker can never take an id whose hash is not there yet, and a crash
//! half-way leaves nothing behind. Whether a job with dependencies is queued or deferred is
//! decided inside that transaction, by a script (`scripts.rs`): a dependency cannot finish
//! between the look and the decision, which would leave the job deferred for ever.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use simul_runtime::time::{deadline_in, now};

use super::codec::{epoch_whole_seconds, utc_timestamp, uuid4};
use super::error::Error;
use super::job::{Call, Job, JobOptions, JobResult, JobStatus, MAX_SECONDS};
use super::keys::{Keys, QUEUES};
use super::scripts;
use crate::redis::{cmd, Connection, Value as Reply};

/// One RQ queue on one connection.
///
/// ```no_run
/// use std::time::Duration;
/// use simul_net::redis::Connection;
/// use simul_net::rq::{JobResult, Queue};
/// simul_runtime::run(async {
///     let redis = Connection::open("redis://127.0.0.1:6379").await?;
///     let mut queue = Queue::new(redis, "default");
///     let id = queue
///         .enqueue("mymodule.count_words_at_url", serde_json::json!(["http://nvie.com"]))
///         .await?;
///     println!("Job {id} enqueued");
///     match queue.wait_result(&id, Duration::from_secs(60)).await? {
///         Some(JobResult::Finished(words)) => println!("Result: {words}"),
///         other => println!("no result: {other:?}"),
///     }
///     Ok::<(), simul_net::rq::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct Queue {
    conn: Connection,
    name: String,
    keys: Keys,
}

impl Queue {
    /// Queue `name` (RQ's default queue is `"default"`) on `conn`.
    pub fn new(conn: Connection, name: &str) -> Queue {
        Queue {
            conn,
            name: name.to_owned(),
            keys: Keys::new(name),
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue's keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The connection, for commands of one's own.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Enqueues `func(*args)` with RQ's defaults and returns the new job's id. `args` must be a
    /// JSON array.
    pub async fn enqueue(&mut self, func: &str, args: Value) -> Result<String, Error> {
        self.enqueue_with(func, args, Map::new(), &JobOptions::default())
            .await
    }

    // BOOK: rq-enqueue
    /// Enqueues `func(*args, **kwargs)` with `options`, writing what `Queue.enqueue` writes:
    /// every field of the job hash (empty strings included), the id at the tail (or head) of
    /// `rq:queue:<name>`, and the queue key in `rq:queues`, in one transaction. With
    /// `depends_on`, the job is queued only if every dependency has finished, and deferred
    /// otherwise (`rq:deferred:<name>`), decided on the server in the same transaction.
    pub async fn enqueue_with(
        &mut self,
        func: &str,
        args: Value,
        kwargs: Map<String, Value>,
        options: &JobOptions,
    ) -> Result<String, Error> {
        self.write_job(func, args, kwargs, options, None).await
    }

    /// `enqueue_at`: the job waits in `rq:scheduled:<name>` (status `scheduled`) until `at`,
    /// when a scheduler (`rq worker --with-scheduler`, or ours) moves it onto the queue.
    pub async fn enqueue_at(
        &mut self,
        at: SystemTime,
        func: &str,
        args: Value,
        kwargs: Map<String, Value>,
        options: &JobOptions,
    ) -> Result<String, Error> {
        self.write_job(func, args, kwargs, options, Some(at)).await
    }

    /// `enqueue_in`: [`enqueue_at`](Self::enqueue_at) `delay` from now.
    pub async fn enqueue_in(
        &mut self,
        delay: Duration,
        func: &str,
        args: Value,
        kwargs: Map<String, Value>,
        options: &JobOptions,
    ) -> Result<String, Error> {
        let at = SystemTime::now()
            .checked_add(delay)
            .ok_or_else(|| Error::BadArguments(format!("a delay of {delay:?} is too long")))?;
        self.enqueue_at(at, func, args, kwargs, options).await
    }

    async fn write_job(
        &mut self,
        func: &str,
        args: Value,
        kwargs: Map<String, Value>,
        options: &JobOptions,
        at: Option<SystemTime>,
    ) -> Result<String, Error> {
        let Value::Array(args) = args else {
            return Err(Error::BadArguments(format!(
                "the arguments of {func} must be a JSON array, not {args}"
            )));
        };
        let call = Call {
            func: func.to_owned(),
            args,
            kwargs,
        };
        let data = call
            .to_data(options.serializer)
            .map_err(Error::BadArguments)?;
        let id = uuid4().map_err(Error::Entropy)?;
        let now = SystemTime::now();
        let stamp = utc_timestamp(now);
        let deferrable = !options.depends_on.is_empty();
        let status = match (at, deferrable) {
            (Some(_), _) => JobStatus::Scheduled,
            (None, true) => JobStatus::Deferred,
            (None, false) => JobStatus::Queued,
        };
        let mut fields: Vec<(&str, Vec<u8>)> = vec![
            ("created_at", stamp.clone().into_bytes()),
            ("data", data),
            ("success_callback_name", Vec::new()),
            ("failure_callback_name", Vec::new()),
            ("stopped_callback_name", Vec::new()),
            ("started_at", Vec::new()),
            ("ended_at", Vec::new()),
            ("last_heartbeat", Vec::new()),
            ("worker_name", Vec::new()),
            ("group_id", Vec::new()),
        ];
        if options.retries > 0 {
            let intervals = if options.retry_intervals.is_empty() {
                vec![0]
            } else {
                options.retry_intervals.clone()
            };
            fields.push(("retries_left", options.retries.to_string().into_bytes()));
            fields.push((
                "retry_intervals",
                Value::from(intervals).to_string().into_bytes(),
            ));
        }
        fields.push(("origin", self.name.clone().into_bytes()));
        fields.push(("description", call.description().into_bytes()));
        if at.is_none() && !deferrable {
            fields.push(("enqueued_at", stamp.clone().into_bytes()));
        }
        let timeout = options
            .timeout
            .map_or(-1, |t| t.as_secs().clamp(1, MAX_SECONDS) as i64)
            .to_string();
        fields.push(("timeout", timeout.into_bytes()));
        if let Some(ttl) = options.result_ttl {
            fields.push(("result_ttl", ttl.as_i64().to_string().into_bytes()));
        }
        if let Some(ttl) = options.failure_ttl {
            fields.push(("failure_ttl", ttl.as_i64().to_string().into_bytes()));
        }
        fields.push(("status", status.as_str().as_bytes().to_vec()));
        if deferrable {
            let ids = Value::from(options.depends_on.clone()).to_string();
            fields.push(("dependency_id", options.depends_on[0].clone().into_bytes()));
            fields.push(("dependency_ids", ids.into_bytes()));
            if options.allow_dependency_failures {
                fields.push(("allow_dependency_failures", b"1".to_vec()));
            }
        }
        let ttl = options.ttl.map(|t| t.as_secs().clamp(1, MAX_SECONDS));
        if let Some(ttl) = ttl {
            fields.push(("ttl", ttl.to_string().into_bytes()));
        }
        if options.at_front && (at.is_some() || deferrable) {
            fields.push(("enqueue_at_front", b"1".to_vec()));
        }
        let key = Keys::job(&id);
        let mut commands = vec![
            fields
                .into_iter()
                .fold(cmd("HSET").arg(&key), |c, (f, v)| c.arg(f).arg(v)),
            cmd("SADD").arg(QUEUES).arg(&self.keys.queue),
        ];
        if let Some(ttl) = ttl {
            commands.push(cmd("EXPIRE").arg(&key).arg(ttl));
        }
        commands.push(match at {
            Some(at) => cmd("ZADD")
                .arg(&self.keys.scheduled)
                .arg(epoch_whole_seconds(at))
                .arg(&id),
            None if deferrable => scripts::enqueue_dependent(
                &self.keys,
                &key,
                epoch_whole_seconds(now),
                &id,
                options.at_front,
                &stamp,
                &options.depends_on,
            ),
            None => cmd(if options.at_front { "LPUSH" } else { "RPUSH" })
                .arg(&self.keys.queue)
                .arg(&id),
        });
        self.conn
            .transaction(&commands)
            .await?
            .into_iter()
            .try_for_each(|reply| reply.into_result().map(drop))?;
        Ok(id)
    }

    /// The job hash of `id`, read; `None` if there is no such job (never enqueued, or expired).
    pub async fn job(&mut self, id: &str) -> Result<Option<Job>, Error> {
        let hash = self.conn.hgetall(Keys::job(id)).await?;
        Job::from_hash(id, hash)
    }

    /// The status of job `id` (`job.get_status()`); `None` if there is no such job.
    pub async fn status(&mut self, id: &str) -> Result<Option<JobStatus>, Error> {
        let status = self
            .conn
            .query(&cmd("HGET").arg(Keys::job(id)).arg("status"))
            .await?;
        Ok(status.into_result()?.as_str().and_then(JobStatus::parse))
    }

    /// How many jobs wait in the queue (`len(q)`).
    pub async fn len(&mut self) -> Result<usize, Error> {
        let reply = self.conn.query(&cmd("LLEN").arg(&self.keys.queue)).await?;
        let n = reply.into_result()?;
        n.as_int()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| unexpected("LLEN", &n))
    }

    /// Whether no job waits in the queue.
    pub async fn is_empty(&mut self) -> Result<bool, Error> {
        Ok(self.len().await? == 0)
    }

    // BOOK: rq-latest-result
    /// The latest result of job `id`, as `job.latest_result()` reads it: the newest entry of
    /// `rq:results:<id>` (`XREVRANGE key + - COUNT 1`). `None` while the job has not finished.
    pub async fn latest_result(&mut self, id: &str) -> Result<Option<JobResult>, Error> {
        let reply = self
            .conn
            .query(
                &cmd("XREVRANGE")
                    .arg(Keys::results(id))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await?
            .into_result()?;
        let entries = stream_entries("XREVRANGE", reply)?;
        match entries.into_iter().next() {
            None => Ok(None),
            Some(fields) => JobResult::from_entry(id, &fields).map(Some),
        }
    }

    /// Waits up to `limit` for job `id` to have a result, and returns the latest one. The wait
    /// is `XREAD BLOCK` on the job's result stream: the server wakes us when the worker writes,
    /// no polling. `None` if nothing came in time.
    pub async fn wait_result(
        &mut self,
        id: &str,
        limit: Duration,
    ) -> Result<Option<JobResult>, Error> {
        let deadline = deadline_in(limit);
        loop {
            if let Some(result) = self.latest_result(id).await? {
                return Ok(Some(result));
            }
            let left = deadline.saturating_duration_since(now());
            if left.is_zero() {
                return Ok(None);
            }
            // From id 0: any entry, even one written between XREVRANGE and this XREAD.
            let block_ms = left.as_millis().max(1) as u64;
            let read = cmd("XREAD")
                .arg("COUNT")
                .arg(1)
                .arg("BLOCK")
                .arg(block_ms)
                .arg("STREAMS")
                .arg(Keys::results(id))
                .arg("0");
            let reply = self
                .conn
                .blocking(&read, left.saturating_add(crate::redis::BLOCKING_MARGIN))
                .await?
                .into_result()?;
            if reply.is_nil() {
                return Ok(None);
            }
        }
    }

    /// Ids in `rq:finished:<q>` (RQ's `FinishedJobRegistry`), oldest first.
    pub async fn finished_job_ids(&mut self) -> Result<Vec<String>, Error> {
        let key = self.keys.finished.clone();
        self.registry_ids(&key).await
    }

    /// Ids in `rq:failed:<q>` (RQ's `FailedJobRegistry`), oldest first.
    pub async fn failed_job_ids(&mut self) -> Result<Vec<String>, Error> {
        let key = self.keys.failed.clone();
        self.registry_ids(&key).await
    }

    /// Ids of the jobs running now: the job part of each `rq:wip:<q>` member (RQ's
    /// `StartedJobRegistry`).
    pub async fn started_job_ids(&mut self) -> Result<Vec<String>, Error> {
        let key = self.keys.wip.clone();
        let members = self.registry_ids(&key).await?;
        Ok(members
            .into_iter()
            .map(|m| {
                m.rsplit_once(':')
                    .map_or(m.clone(), |(id, _)| id.to_owned())
            })
            .collect())
    }

    async fn registry_ids(&mut self, key: &str) -> Result<Vec<String>, Error> {
        let members = self.conn.zrangebyscore(key, "-inf", "+inf").await?;
        Ok(members
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect())
    }

    /// Puts failed job `id` back on its queue (RQ's `FailedJobRegistry.requeue`): out of
    /// `rq:failed:<q>`, status `queued`, at the tail of the queue. False if it was not failed here.
    pub async fn requeue_failed(&mut self, id: &str) -> Result<bool, Error> {
        let removed = self
            .conn
            .query(&cmd("ZREM").arg(&self.keys.failed).arg(id))
            .await?
            .into_result()?;
        if removed != Reply::Integer(1) {
            return Ok(false);
        }
        let stamp = utc_timestamp(SystemTime::now());
        self.conn
            .transaction(&[
                cmd("HSET")
                    .arg(Keys::job(id))
                    .args([
                        "status",
                        "queued",
                        "started_at",
                        "",
                        "ended_at",
                        "",
                        "exc_info",
                        "",
                    ])
                    .arg("enqueued_at")
                    .arg(stamp),
                cmd("PERSIST").arg(Keys::job(id)),
                cmd("RPUSH").arg(&self.keys.queue).arg(id),
            ])
            .await?;
        Ok(true)
    }
}

/// One stream entry's field/value pairs.
pub(crate) type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// The entries of an `XRANGE`/`XREVRANGE` reply: `[[id, [field, value, ...]], ...]`, as
/// field/value pairs.
pub(crate) fn stream_entries(command: &'static str, reply: Reply) -> Result<Vec<Fields>, Error> {
    let shown = reply.to_string();
    let bad = || Error::UnexpectedReply {
        command,
        reply: shown.clone(),
    };
    let entries = reply.into_array().ok_or_else(bad)?;
    entries
        .into_iter()
        .map(|entry| {
            let [_id, fields] =
                <[Reply; 2]>::try_from(entry.into_array().ok_or_else(bad)?).map_err(|_| bad())?;
            let flat: Vec<Vec<u8>> = fields
                .into_array()
                .ok_or_else(bad)?
                .into_iter()
                .map(|v| v.into_bytes().ok_or_else(bad))
                .collect::<Result<_, _>>()?;
            let pairs = flat.chunks_exact(2);
            if !pairs.remainder().is_empty() {
                return Err(bad());
            }
            let out: Fields = pairs.map(|p| (p[0].clone(), p[1].clone())).collect();
            Ok(out)
        })
        .collect()
}

fn unexpected(command: &'static str, reply: &Reply) -> Error {
    Error::UnexpectedReply {
        command,
        reply: reply.to_string(),
    }
}
