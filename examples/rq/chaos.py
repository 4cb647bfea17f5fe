"""Python's side of the chaos test in tests/rq_chaos.rs: the producer that enqueues the jobs,
and the auditor that reads, with rq's own classes, what became of each.

    python chaos.py URL enqueue N PATH SECONDS   # N jobs mymodule.touch(PATH, <own id>, SECONDS)
    python chaos.py URL audit IDS_FILE           # one line per job id of IDS_FILE

`enqueue` prints one job id a line. Each job's token is its own id, so the line its side effect
appends to PATH names the job that ran.

`audit` prints, for each id: `<id> <status> <worker_name> <results> <registries> <why>`, where
`results` counts the job's entries in its result stream (one per recorded outcome), `registries`
is `F` if the id is in the finished registry, `X` if in the failed one (`FX` both, `-` neither),
and `why` is `AbandonedJobError` if the last failure says so, `RedisOutage` if it is one of
redis-py's exceptions (rq's worker failing a job because Redis was away when it ended it),
`WorkHorseDied` if rq's worker failed it because its work horse exited without an outcome,
else its first word (`-`: none);
then `registries: queued=Q intermediate=I started=S finished=F failed=X`.
"""

import sys
import uuid

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.results import Result

import mymodule


def enqueue(redis, n, path, seconds):
    q = Queue(connection=redis)
    batch = []
    for _ in range(n):
        job_id = str(uuid.uuid4())
        batch.append(Queue.prepare_data(mymodule.touch, (path, job_id, seconds), job_id=job_id))
    # One pipeline per 500 jobs: few round trips, and no single huge reply.
    for start in range(0, len(batch), 500):
        for job in q.enqueue_many(batch[start:start + 500]):
            print(job.id)


def audit(redis, ids_file):
    with open(ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    q = Queue(connection=redis)
    finished = set(q.finished_job_registry.get_job_ids(cleanup=False))
    failed = set(q.failed_job_registry.get_job_ids(cleanup=False))
    for job_id in ids:
        registries = ("F" if job_id in finished else "") + ("X" if job_id in failed else "")
        job = Job.fetch(job_id, connection=redis) if redis.exists("rq:job:" + job_id) else None
        if job is None:
            print("%s missing - 0 %s -" % (job_id, registries or "-"))
            continue
        results = job.results()
        failures = [r for r in results if r.type == Result.Type.FAILED]
        # Newest first. rq's own recovery writes "Moved to FailedJobRegistry, due to
        # AbandonedJobError, ...", ours "AbandonedJobError: Moved to ...".
        why = "-"
        if failures and failures[0].exc_string:
            text = failures[0].exc_string
            if "AbandonedJobError" in text:
                why = "AbandonedJobError"
            elif text.startswith("Work-horse terminated unexpectedly"):
                # rq's worker saw its forked work horse exit without an outcome (here: the horse
                # could not reach Redis as it ended the job) and failed the job.
                why = "WorkHorseDied"
            elif "redis.exceptions." in text:
                # rq's worker could not reach Redis while it ended the job (down, or loading its
                # AOF after the restart) and recorded the job as failed with that error.
                why = "RedisOutage"
            else:
                why = text.split()[0]
        print("%s %s %s %d %s %s" % (job_id, job.get_status().value, job.worker_name or "-",
                                     len(results), registries or "-", why))
    print("registries: queued=%d intermediate=%d started=%d finished=%d failed=%d" % (
        q.count,
        redis.llen(q.intermediate_queue_key),
        redis.zcard(q.started_job_registry.key),
        redis.zcard(q.finished_job_registry.key),
        redis.zcard(q.failed_job_registry.key),
    ))


def main():
    url, command, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    redis = Redis.from_url(url)
    if command == "enqueue":
        enqueue(redis, int(rest[0]), rest[1], float(rest[2]))
    elif command == "audit":
        audit(redis, rest[0])
    else:
        print("unknown command %r" % command, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
