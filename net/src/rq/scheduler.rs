//! RQ's scheduler role (`rq worker --with-scheduler`): every second, move the jobs of
//! `rq:scheduled:<q>` whose time has come (`enqueue_at`, `enqueue_in`, retries with an
//! interval) onto their queue.
//!
//! Invariant this file owns: **at most one scheduler moves a queue's due jobs, whether the
//! workers are Python's or ours.** That is RQ's per-queue lock, `rq:scheduler-lock:<q>`, whose
//! value is the holder's name and whose ttl (`interval + 60` s) the holder renews on every tick,
//! with RQ's own acquire-or-refresh rule ([`scripts::lock`]). A scheduler that lost the lock (its
//! ttl ran out while it was cut off, and another took it) stops moving that queue's jobs at its
//! next tick; one that lacks a lock tries again every `scheduler_fallback` (RQ: 120 s). And the
//! move itself is one script per queue ([`scripts::schedule_due`]), so even two schedulers
//! overlapping for an instant cannot enqueue a job twice.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use simul_runtime::time::sleep;
use simul_runtime::{select, Either};

use super::codec::{epoch_whole_seconds, log_safe, utc_timestamp};
use super::context::Context;
use super::error::Error;
use super::keys::Keys;
use super::scripts;
use crate::redis::{cmd, Connection, Value as Reply};

/// How many due jobs one tick moves per queue (RQ's chunk size).
const CHUNK: u32 = 1000;

/// The scheduler of one worker.
pub(crate) struct Scheduler {
    context: Rc<Context>,
    conn: Connection,
    queues: Vec<Keys>,
    /// Queue names whose lock we hold.
    held: BTreeSet<String>,
    last_try: Option<Instant>,
}

impl Scheduler {
    pub(crate) fn new(context: Rc<Context>, conn: Connection, queues: Vec<Keys>) -> Scheduler {
        Scheduler {
            context,
            conn,
            queues,
            held: BTreeSet::new(),
            last_try: None,
        }
    }

    fn lock_ttl(&self) -> u64 {
        self.context
            .options
            .scheduler_interval
            .as_secs()
            .saturating_add(60)
    }

    fn name(&self) -> &str {
        &self.context.worker
    }

    // BOOK: rq-scheduler-tick
    /// Runs until the worker's warm stop, then releases the locks it holds.
    pub(crate) async fn run(mut self) {
        let context = Rc::clone(&self.context);
        loop {
            if let Err(e) = self.tick().await {
                context.log(&format!("scheduler: {e}; trying again next tick"));
            }
            let pause = sleep(context.options.scheduler_interval);
            if let Either::Right(()) = select(pause, context.stop.warm.wait()).await {
                break;
            }
        }
        if let Err(e) = self.release().await {
            context.log(&format!("scheduler: cannot release its locks: {e}"));
        }
    }

    async fn tick(&mut self) -> Result<(), Error> {
        let fallback = self.context.options.scheduler_fallback;
        let all_held = self.held.len() == self.queues.len();
        if !all_held && self.last_try.is_none_or(|at| at.elapsed() >= fallback) {
            self.last_try = Some(Instant::now());
            for keys in self.queues.clone() {
                if self.held.contains(keys.name()) {
                    continue;
                }
                let taken = self.lock(&keys).await?;
                if taken {
                    self.context.log(&format!(
                        "Acquired scheduler lock for {}",
                        log_safe(keys.name())
                    ));
                    self.held.insert(keys.name().to_owned());
                }
            }
        }
        if self.held.is_empty() {
            return Ok(());
        }
        self.heartbeat().await?;
        let stamp = utc_timestamp(SystemTime::now());
        let now = epoch_whole_seconds(SystemTime::now());
        for keys in self.queues.iter().filter(|k| self.held.contains(k.name())) {
            let due = scripts::schedule_due(&keys.scheduled, &keys.queue, now, CHUNK, &stamp);
            let moved = self.conn.query(&due).await?.into_result()?;
            for id in moved.into_array().unwrap_or_default() {
                if let Some(id) = id.as_str() {
                    self.context.log(&format!(
                        "{}: scheduled job {} is due: enqueued",
                        keys.name(),
                        log_safe(id)
                    ));
                }
            }
        }
        Ok(())
    }

    /// RQ's acquire-or-refresh: true if we hold `keys`'s lock now.
    async fn lock(&mut self, keys: &Keys) -> Result<bool, Error> {
        let ttl = self.lock_ttl();
        let lock = scripts::lock(&keys.scheduler_lock, &self.context.worker, ttl);
        let reply = self.conn.query(&lock).await?.into_result()?;
        Ok(matches!(reply, Reply::Integer(1 | 2)))
    }

    /// The scheduler's own hash (`rq:scheduler:<name>`) and every held lock renewed; a lock
    /// another scheduler holds now is dropped from ours.
    async fn heartbeat(&mut self) -> Result<(), Error> {
        let ttl = self.lock_ttl();
        let key = Keys::scheduler(self.name());
        let queues: Vec<&str> = self.queues.iter().map(Keys::name).collect();
        let stamp = utc_timestamp(SystemTime::now());
        let hash = cmd("HSET")
            .arg(&key)
            .args(["name", self.name()])
            .args(["hostname", "simul", "pid"])
            .arg(std::process::id())
            .args(["queues", &queues.join(","), "created_at", &stamp])
            .args(["last_heartbeat", &stamp]);
        let expire = cmd("EXPIRE").arg(&key).arg(ttl);
        self.conn.query(&hash).await?.into_result()?;
        self.conn.query(&expire).await?.into_result()?;
        for keys in self.queues.clone() {
            if self.held.contains(keys.name()) && !self.lock(&keys).await? {
                self.context.log(&format!(
                    "Scheduler lock for {} was taken over by another scheduler",
                    log_safe(keys.name())
                ));
                self.held.remove(keys.name());
            }
        }
        Ok(())
    }

    async fn release(&mut self) -> Result<(), Error> {
        for keys in self.queues.clone() {
            if self.held.remove(keys.name()) {
                let unlock = scripts::unlock(&keys.scheduler_lock, &self.context.worker);
                self.conn.query(&unlock).await?.into_result()?;
            }
        }
        let key = Keys::scheduler(self.name());
        self.conn.query(&cmd("DEL").arg(key)).await?.into_result()?;
        Ok(())
    }
}
