"""The article's enqueue, verbatim apart from the URL: RQ's default serializer (pickle), which
simul's `rq_worker` reads (plain data only).

    from mymodule import count_words_at_url
    q = Queue(connection=Redis())
    job = q.enqueue(count_words_at_url, 'http://nvie.com')

With no internet, by default the page is served by this script (the standard library's
http.server on 127.0.0.1, in a thread), so a worker in another process can fetch it.

    python enqueue.py [--url redis://127.0.0.1:6379/0] [--queue default] [--page URL]
                      [--fail MESSAGE] [--wait SECS] [--serializer pickle|json] [--job-id ID]

`--job-id` gives the job a chosen id, so that two runs (one per worker, in
scripts/side-by-side.sh rq) enqueue the same job.

Prints `Job <id> enqueued`, waits for the job to end, then prints `Status: <status>` and
`Result: <job.return_value()>`, or `Failed: <exc_string>` (exit 1).
"""

import argparse
import http.server
import os
import sys
import threading
import time

from redis import Redis
from rq import Queue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from mymodule import count_words_at_url

PAGE = (
    "Using asyncio and aiohttp is not always a good idea, especially if you are "
    "using older versions of Python. In addition, there are times when you need to distribute tasks "
    "across different servers. In this case, RQ (Redis Queue) can be used.\n"
)


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--queue", default="default")
    parser.add_argument("--page")
    parser.add_argument("--fail", help="enqueue mymodule.fail(MESSAGE) instead")
    parser.add_argument("--wait", type=float, default=60)
    parser.add_argument("--serializer", choices=["pickle", "json"], default="pickle")
    parser.add_argument("--job-id")
    args = parser.parse_args()

    if args.serializer == "json":
        q = Queue(args.queue, connection=Redis.from_url(args.url), serializer=JSONSerializer)
    else:
        q = Queue(args.queue, connection=Redis.from_url(args.url))
    if args.fail is not None:
        job = q.enqueue("mymodule.fail", args.fail, job_id=args.job_id)
    else:
        page = args.page
        if page is None:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            page = "http://127.0.0.1:%d/" % server.server_address[1]
        job = q.enqueue(count_words_at_url, page, job_id=args.job_id)
    print("Job %s enqueued" % job.id, flush=True)

    deadline = time.monotonic() + args.wait
    while job.get_status() not in (JobStatus.FINISHED, JobStatus.FAILED):
        if time.monotonic() > deadline:
            print("No result within %s s" % args.wait, flush=True)
            return 1
        time.sleep(0.05)
    print("Status: %s" % job.get_status().value, flush=True)
    if job.get_status() == JobStatus.FINISHED:
        print("Result: %s" % job.return_value(), flush=True)
        return 0
    print("Failed: %s" % job.latest_result().exc_string, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
