//! The Lua scripts the queue runs on the server, and the commands that send them.
//!
//! Invariant this file owns: **a decision that reads a key and then writes because of what it
//! read happens inside one script**, so no other client can act between the read and the write.
//! A script runs atomically in Redis: while it runs, no other command does. That is what makes
//! four things exact that `MULTI`/`EXEC` alone cannot (a transaction cannot branch on what it
//! reads):
//!
//! - ending a job ([`end`]): its outcome is written only if its run is still in `rq:wip` (so a
//!   retried write after a lost reply, or a write after recovery already failed the job, changes
//!   nothing), and the dependents whose dependencies are now all met are enqueued, as RQ's
//!   `enqueue_dependents` does;
//! - taking a job from several queues in priority order ([`take`]);
//! - moving due jobs from `rq:scheduled:<q>` to their queue ([`schedule_due`]);
//! - RQ's scheduler lock ([`lock`], [`unlock`]), with the very semantics of RQ's own scripts.
//!
//! Scripts are sent with `EVAL` and no `KEYS` (standalone Redis, as RQ needs), so a restarted
//! server, whose script cache is empty, needs nothing re-loaded.

use super::keys::Keys;
use crate::redis::{cmd, Cmd};

// BOOK: rq-end-script
/// Ends a run: `ARGV` = wip key, `<job>:<execution>` member, highest score that still counts
/// (`""`: any; recovery passes "now", so a job whose worker heartbeated meanwhile is left
/// alone), parent job id for dependents (`""`: none), the parent's final status, the
/// `enqueued_at` stamp for dependents, then each command as its argument count and arguments.
/// Returns 0 if the run was not (or no longer) in `rq:wip`: nothing was written.
const END: &str = r#"
local score = redis.call('ZSCORE', ARGV[1], ARGV[2])
if not score then return 0 end
if ARGV[3] ~= '' and tonumber(score) > tonumber(ARGV[3]) then return 0 end
local i = 7
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + 1 + n
end
local parent, status = ARGV[4], ARGV[5]
if parent == '' then return 1 end
local waiting_key = 'rq:job:' .. parent .. ':dependents'
local moved = 0
for _, id in ipairs(redis.call('SMEMBERS', waiting_key)) do
  local key = 'rq:job:' .. id
  local f = redis.call('HMGET', key, 'status', 'origin', 'allow_dependency_failures',
                       'enqueue_at_front')
  local allow = f[3] == '1'
  local ready = f[1] and f[1] ~= 'canceled' and f[2]
                and (status == 'finished' or (status == 'failed' and allow))
  if ready then
    for _, dep in ipairs(redis.call('SMEMBERS', 'rq:job::' .. id .. ':dependencies')) do
      if dep ~= parent then
        local s = redis.call('HGET', 'rq:job:' .. dep, 'status')
        if s and not (s == 'finished' or (allow and s == 'failed')) then ready = false end
      end
    end
  end
  if ready then
    redis.call('ZREM', 'rq:deferred:' .. f[2], id)
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[6])
    redis.call(f[4] == '1' and 'LPUSH' or 'RPUSH', 'rq:queue:' .. f[2], id)
    redis.call('SREM', waiting_key, id)
    moved = moved + 1
  end
end
if redis.call('SCARD', waiting_key) == 0 then redis.call('DEL', waiting_key) end
return 1 + moved
"#;

/// Whose dependents an [`end`] enqueues, and what the parent became.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dependents<'a> {
    pub job_id: &'a str,
    /// `finished`, `failed` or `stopped` (RQ enqueues dependents of a failed job only when they
    /// allow dependency failures, and of a stopped one never).
    pub status: &'a str,
    /// `enqueued_at` for each dependent enqueued.
    pub stamp: &'a str,
}

/// The `EVAL` of [`END`]: `commands` run only if `member` is in `wip` (with a score of at most
/// `max_score`, when given), then `dependents` are enqueued.
pub(crate) fn end(
    wip: &str,
    member: &str,
    max_score: Option<u64>,
    dependents: Option<Dependents<'_>>,
    commands: &[Cmd],
) -> Cmd {
    let (parent, status, stamp) =
        dependents.map_or(("", "", ""), |d| (d.job_id, d.status, d.stamp));
    let max = max_score.map(|s| s.to_string()).unwrap_or_default();
    commands.iter().fold(
        cmd("EVAL")
            .arg(END)
            .arg(0)
            .args([wip, member, &max, parent, status, stamp]),
        |eval, command| eval.arg(command.len()).args_of(command),
    )
}

/// Takes one job from the first non-empty queue of `ARGV` (queue keys, highest priority
/// first) into that queue's intermediate list, as `BLMOVE` does for one queue, and reads its
/// hash in the same step (the worker's next command would be that `HGETALL`; here it costs no
/// round trip of its own): returns `{queue key, id, {field, value, ...}}`, or nil when all are
/// empty. The hash is empty when the job was deleted or expired while queued. When the job's key
/// is not a hash (`WRONGTYPE`), the third element is Redis's error text instead: the script must
/// still name the id it moved, or it would sit in the intermediate list until recovery requeued
/// it, to fail the same way for ever. Any other error (an ACL that forbids the key, say) may pass,
/// so the move is undone and the take fails, to be tried again: dropping that id would lose the
/// job.
const TAKE: &str = r#"
for _, queue in ipairs(ARGV) do
  local id = redis.call('LMOVE', queue, queue .. ':intermediate', 'LEFT', 'RIGHT')
  if id then
    local hash = redis.pcall('HGETALL', 'rq:job:' .. id)
    if hash.err then
      if string.sub(hash.err, 1, 9) == 'WRONGTYPE' then return {queue, id, hash.err} end
      redis.call('LMOVE', queue .. ':intermediate', queue, 'RIGHT', 'LEFT')
      return redis.error_reply(hash.err)
    end
    return {queue, id, hash}
  end
end
return false
"#;

/// The `EVAL` of [`TAKE`] over `queue_keys`, in priority order.
pub(crate) fn take<'a>(queue_keys: impl IntoIterator<Item = &'a str>) -> Cmd {
    cmd("EVAL").arg(TAKE).arg(0).args(queue_keys)
}

/// Moves the jobs of `rq:scheduled:<q>` whose time has come (score <= `ARGV[3]`, at most
/// `ARGV[4]` of them) onto the queue, as RQ's scheduler does (`_enqueue_job`): status queued,
/// `enqueued_at`, at the head when the job asks (`enqueue_at_front`, or a retry with
/// `enqueue_at_front_on_retry`), the job's `ttl` renewed. Returns the ids moved. `ARGV` =
/// scheduled key, queue key, now, limit, stamp.
const SCHEDULE_DUE: &str = r#"
local due = redis.call('ZRANGEBYSCORE', ARGV[1], 0, ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  redis.call('ZREM', ARGV[1], id)
  local key = 'rq:job:' .. id
  local f = redis.call('HMGET', key, 'status', 'enqueue_at_front', 'enqueue_at_front_on_retry',
                       'ended_at', 'ttl')
  if f[1] then
    redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[5])
    local front = f[2] == '1' or (f[3] == '1' and f[4] and f[4] ~= '')
    redis.call(front and 'LPUSH' or 'RPUSH', ARGV[2], id)
    if f[5] and tonumber(f[5]) and tonumber(f[5]) > 0 then
      redis.call('EXPIRE', key, tonumber(f[5]))
    end
  end
end
return due
"#;

/// The `EVAL` of [`SCHEDULE_DUE`].
pub(crate) fn schedule_due(scheduled: &str, queue: &str, now: u64, limit: u32, stamp: &str) -> Cmd {
    cmd("EVAL")
        .arg(SCHEDULE_DUE)
        .arg(0)
        .arg(scheduled)
        .arg(queue)
        .arg(now)
        .arg(limit)
        .arg(stamp)
}

/// RQ's `ACQUIRE_OR_REFRESH_LOCK_SCRIPT`, to the letter of its semantics: 1 acquired, 2
/// refreshed (we held it), 0 held by another scheduler. `ARGV` = lock key, owner, ttl.
const LOCK: &str = r#"
local owner = redis.call('GET', ARGV[1])
if not owner then
  redis.call('SET', ARGV[1], ARGV[2], 'EX', ARGV[3])
  return 1
elseif owner == ARGV[2] then
  redis.call('EXPIRE', ARGV[1], ARGV[3])
  return 2
end
return 0
"#;

/// The `EVAL` of [`LOCK`].
pub(crate) fn lock(key: &str, owner: &str, ttl: u64) -> Cmd {
    cmd("EVAL").arg(LOCK).arg(0).arg(key).arg(owner).arg(ttl)
}

/// RQ's `RELEASE_LOCK_SCRIPT`: deletes the lock only if `owner` still holds it.
const UNLOCK: &str = r#"
if redis.call('GET', ARGV[1]) == ARGV[2] then return redis.call('DEL', ARGV[1]) end
return 0
"#;

/// The `EVAL` of [`UNLOCK`].
pub(crate) fn unlock(key: &str, owner: &str) -> Cmd {
    cmd("EVAL").arg(UNLOCK).arg(0).arg(key).arg(owner)
}

/// Enqueues a job with dependencies, as RQ's `setup_dependencies` + `enqueue_job` do, in one
/// step: if every dependency is finished (a missing one counts as met, as in RQ), `ARGV[5]` is
/// pushed on its queue (`RPUSH`, or `LPUSH` when `ARGV[6]` is `1`); otherwise its status becomes
/// `deferred`, it joins `rq:deferred:<q>` and each unfinished dependency's dependents set.
/// `ARGV` = job key, queue key, deferred key, now, id, at_front, `enqueued_at` stamp, then the
/// dependency ids; the job's hash (status `deferred`) is written before, in the same
/// transaction. Returns 1 if queued, 0 if deferred.
const ENQUEUE_DEPENDENT: &str = r#"
local deferred = false
for i = 8, #ARGV do
  local s = redis.call('HGET', 'rq:job:' .. ARGV[i], 'status')
  if s and s ~= 'finished' then deferred = true end
end
if not deferred then
  redis.call('HSET', ARGV[1], 'status', 'queued', 'enqueued_at', ARGV[7])
  redis.call(ARGV[6] == '1' and 'LPUSH' or 'RPUSH', ARGV[2], ARGV[5])
  return 1
end
redis.call('ZADD', ARGV[3], ARGV[4], ARGV[5])
for i = 8, #ARGV do
  redis.call('SADD', 'rq:job:' .. ARGV[i] .. ':dependents', ARGV[5])
  redis.call('SADD', 'rq:job::' .. ARGV[5] .. ':dependencies', ARGV[i])
end
return 0
"#;

/// The `EVAL` of [`ENQUEUE_DEPENDENT`].
pub(crate) fn enqueue_dependent(
    keys: &Keys,
    job_key: &str,
    now: u64,
    id: &str,
    at_front: bool,
    stamp: &str,
    dependencies: &[String],
) -> Cmd {
    cmd("EVAL")
        .arg(ENQUEUE_DEPENDENT)
        .arg(0)
        .args([job_key, &keys.queue, &keys.deferred])
        .arg(now)
        .arg(id)
        .arg(if at_front { "1" } else { "0" })
        .arg(stamp)
        .args(dependencies)
}
