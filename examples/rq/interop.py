"""Python's side of the interop tests in tests/rq_python.rs: each subcommand does what a Python
program using rq would, against a queue that simul's `rq_worker` serves, and prints what it saw
as `key: value` lines.

    python interop.py URL workers                 # Worker.all(): name state current_job
    python interop.py URL stop-job JOB_ID         # send_stop_job_command
    python interop.py URL kill-horse WORKER       # send_kill_horse_command
    python interop.py URL shutdown WORKER         # send_shutdown_command
    python interop.py URL timed                   # Retry(max=2, interval=1), enqueue_in, depends_on
    python interop.py URL check ID...             # status and return_value of each job
"""

import sys
import time
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry, Worker
from rq.command import send_kill_horse_command, send_shutdown_command, send_stop_job_command
from rq.job import Job, JobStatus

import mymodule


def wait_for(jobs, seconds=30):
    deadline = time.monotonic() + seconds
    done = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED)
    while not all(j.get_status() in done for j in jobs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def main():
    url, command, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    redis = Redis.from_url(url)
    if command == "workers":
        for w in Worker.all(connection=redis):
            found = Worker.find_by_key(w.key, connection=redis)
            print("worker: %s %s %s %s" % (found.name, found.get_state(), found.get_current_job_id(),
                                           ",".join(found.queue_names())))
    elif command == "stop-job":
        send_stop_job_command(redis, rest[0])
        print("sent: stop-job")
    elif command == "kill-horse":
        send_kill_horse_command(redis, rest[0])
        print("sent: kill-horse")
    elif command == "shutdown":
        send_shutdown_command(redis, rest[0])
        print("sent: shutdown")
    elif command == "timed":
        q = Queue(connection=redis)
        started = time.monotonic()
        flaky = q.enqueue(mymodule.fail, "again", retry=Retry(max=2, interval=1))
        later = q.enqueue_in(timedelta(seconds=2), mymodule.add, 1, 2)
        first = q.enqueue(mymodule.add, 20, 1)
        second = q.enqueue(mymodule.add, 40, 2, depends_on=first)
        print("enqueued: %s %s %s %s" % (flaky.id, later.id, first.id, second.id), flush=True)
        ok = wait_for([flaky, later, first, second])
        print("all ended: %s" % ok)
        print("elapsed over 1 s: %s" % (time.monotonic() - started >= 1))
        flaky.refresh()
        print("flaky: %s %s" % (flaky.get_status().value, flaky.retries_left))
        print("later: %s %s" % (later.get_status().value, later.return_value()))
        print("chain: %s %s" % (first.return_value(), second.return_value()))
        print("flaky failures: %d" % sum(1 for r in flaky.results() if r.type == r.Type.FAILED))
    elif command == "check":
        for id in rest:
            job = Job.fetch(id, connection=redis)
            print("%s: %s %s" % (id, job.get_status().value, job.return_value()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
