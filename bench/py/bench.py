"""The Python peers of WORKLOADS.md: asyncio and asyncio + uvloop.

    python bench/py/bench.py WORKLOAD asyncio|uvloop ARGS...

One workload, once; prints the one result line
(`workload runtime seconds key=value ... cpu_s=...`) and exits 0 only if
every check passed. HTTP uses aiohttp. Run it from the venv the bench
driver creates (bench/.venv: uvloop, aiohttp).
"""

import asyncio
import os
import resource
import socket
import sys
import time

BODY_LEN = 2070
ECHO_MSG = b"\x5a" * 64
MASK = (1 << 64) - 1


class Timer:
    """The spec's stopwatch: wall (monotonic) and process CPU time."""

    def __init__(self):
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def finish(workload, runtime, wall, cpu, extras, failures):
    """Prints the result line (and failed checks on stderr); exits."""
    parts = [workload, runtime, f"{wall:.6f}"]
    parts += [f"{key}={value}" for key, value in extras]
    parts.append(f"cpu_s={cpu:.6f}")
    for failure in failures:
        print(f"check failed: {failure}", file=sys.stderr)
    print(" ".join(parts), flush=True)
    # os._exit: the memory workload must not tear a million tasks down.
    os._exit(1 if failures else 0)


def timer_durations_ms(n, max_ms):
    """SplitMix64 from the spec's seed, each output % (max_ms + 1)."""
    state = 0x5EED000000002024
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append((z ^ (z >> 31)) % (max_ms + 1))
    return out


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def share(total, conns, i):
    return total // conns + (1 if i < total % conns else 0)


async def noop():
    pass


async def spawn(rt, n):
    loop = asyncio.get_running_loop()
    timer = Timer()
    tasks = [loop.create_task(noop()) for _ in range(n)]
    for task in tasks:
        await task
    wall, cpu = timer.stop()
    finish("spawn", rt, wall, cpu, [("ns_per_task", f"{wall * 1e9 / max(n, 1):.1f}")], [])


async def yields(rt, t, y):
    async def worker():
        for _ in range(y):
            # asyncio's equivalent of the spec's yield_now.
            await asyncio.sleep(0)

    loop = asyncio.get_running_loop()
    timer = Timer()
    tasks = [loop.create_task(worker()) for _ in range(t)]
    for task in tasks:
        await task
    wall, cpu = timer.stop()
    finish("yield", rt, wall, cpu, [("ns_per_yield", f"{wall * 1e9 / max(t * y, 1):.1f}")], [])


async def pingpong(rt, m):
    # asyncio.Queue cannot be closed before 3.13: None stands for "closed".
    to_b = asyncio.Queue(maxsize=1)
    to_a = asyncio.Queue(maxsize=1)

    async def b():
        while (v := await to_b.get()) is not None:
            await to_a.put(v)

    async def a():
        for i in range(m):
            await to_b.put(i)
            if await to_a.get() != i:
                return False
        await to_b.put(None)
        return True

    loop = asyncio.get_running_loop()
    timer = Timer()
    task_b = loop.create_task(b())
    task_a = loop.create_task(a())
    ok = await task_a
    await task_b
    wall, cpu = timer.stop()
    extras = [("ns_per_roundtrip", f"{wall * 1e9 / max(m, 1):.1f}")]
    finish("pingpong", rt, wall, cpu, extras, [] if ok else ["a reply did not match"])


async def timers(rt, n, max_ms):
    durations = timer_durations_ms(n, max_ms)

    async def sleeper(d_ms):
        deadline = time.monotonic() + d_ms / 1000
        await asyncio.sleep(d_ms / 1000)
        return time.monotonic() - deadline

    loop = asyncio.get_running_loop()
    timer = Timer()
    tasks = [loop.create_task(sleeper(d)) for d in durations]
    late = [await task for task in tasks]
    wall, cpu = timer.stop()
    failures = []
    if max_ms == 1000 and n >= 5 and durations[:5] != [675, 749, 472, 565, 12]:
        failures.append(f"first durations {durations[:5]}")
    if max_ms == 1000 and n == 100_000 and sum(durations) != 50_111_114:
        failures.append(f"durations sum to {sum(durations)}")
    extras = [
        ("mean_late_us", f"{sum(late) / max(len(late), 1) * 1e6:.1f}"),
        ("max_late_us", f"{max(late, default=0) * 1e6:.1f}"),
    ]
    finish("timers", rt, wall, cpu, extras, failures)


def nodelay(writer):
    # asyncio sets TCP_NODELAY by default; said again for uvloop's sake.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def echo(rt, c, k):
    async def serve(reader, writer):
        nodelay(writer)
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def client(port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        nodelay(writer)
        reply = b""
        for _ in range(k):
            writer.write(ECHO_MSG)
            reply = await reader.readexactly(64)
        writer.close()
        return reply == ECHO_MSG

    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    timer = Timer()
    tasks = [loop.create_task(client(port)) for _ in range(c)]
    intact = 0
    for task in tasks:
        try:
            intact += await task
        except OSError as e:
            print(f"echo client: {e}", file=sys.stderr)
    wall, cpu = timer.stop()
    failures = [] if intact == c else [f"{intact} of {c} clients ended intact"]
    finish("echo", rt, wall, cpu, [("msgs_per_s", f"{c * k / wall:.0f}")], failures)


async def fetch(session, url, headers=None):
    """One GET: (1, body length) for a 200, (0, 0) otherwise."""
    try:
        async with session.get(url, headers=headers) as response:
            body = await response.read()
            return (1, len(body)) if response.status == 200 else (0, 0)
    except Exception as e:  # any failure is counted, not fatal
        print(f"aiohttp: {e!r}", file=sys.stderr)
        return 0, 0


def http_finish(workload, rt, wall, cpu, requests, results):
    ok = sum(r[0] for r in results)
    body = sum(r[1] for r in results)
    errors = requests - ok
    extras = []
    if workload == "http":
        extras.append(("req_per_s", f"{requests / wall:.0f}"))
    extras += [
        ("cpu_us_per_req", f"{cpu * 1e6 / max(requests, 1):.2f}"),
        ("body_bytes", body),
        ("errors", errors),
    ]
    failures = []
    if errors:
        failures.append(f"{errors} errors")
    if body != requests * BODY_LEN:
        failures.append(f"{body} body bytes, want {requests * BODY_LEN}")
    finish(workload, rt, wall, cpu, extras, failures)


async def http(rt, r, c, url):
    import aiohttp

    async def worker(session, count):
        return [await fetch(session, url) for _ in range(count)]

    loop = asyncio.get_running_loop()
    timer = Timer()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c)) as session:
        tasks = [loop.create_task(worker(session, share(r, c, i))) for i in range(c)]
        results = [x for task in tasks for x in await task]
        wall, cpu = timer.stop()
    http_finish("http", rt, wall, cpu, r, results)


async def c10k(rt, n, url):
    import aiohttp

    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        timer = Timer()
        headers = {"Connection": "close"}
        tasks = [loop.create_task(fetch(session, url, headers)) for _ in range(n)]
        results = [await task for task in tasks]
        wall, cpu = timer.stop()
    http_finish("c10k", rt, wall, cpu, n, results)


async def memory(rt, n):
    loop = asyncio.get_running_loop()
    polled = 0

    async def parked():
        nonlocal polled
        polled += 1
        await loop.create_future()

    before = rss_bytes()
    timer = Timer()
    # asyncio keeps only weak references to tasks: the list keeps them alive.
    tasks = [loop.create_task(parked()) for _ in range(n)]
    while polled < n:
        await asyncio.sleep(0)
    wall, cpu = timer.stop()
    after = rss_bytes()
    extras = [("bytes_per_task", f"{(after - before) / max(n, 1):.1f}")]
    failures = [] if polled == n else [f"{polled} of {n} tasks polled"]
    assert len(tasks) == n
    finish("memory", rt, wall, cpu, extras, failures)


WORKLOADS = {
    "spawn": (spawn, [int]),
    "yield": (yields, [int, int]),
    "pingpong": (pingpong, [int]),
    "timers": (timers, [int, int]),
    "echo": (echo, [int, int]),
    "http": (http, [int, int, str]),
    "c10k": (c10k, [int, str]),
    "memory": (memory, [int]),
}


def main(argv):
    if len(argv) < 2 or argv[0] not in WORKLOADS or argv[1] not in ("asyncio", "uvloop"):
        print(__doc__, file=sys.stderr)
        return 2
    workload, rt = argv[0], argv[1]
    func, types = WORKLOADS[workload]
    args = [t(a) for t, a in zip(types, argv[2:])]
    if len(args) != len(types):
        print(f"{workload} takes {len(types)} arguments", file=sys.stderr)
        return 2
    if workload == "c10k":
        # The spec's `ulimit -n 20000`.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 20000:
            resource.setrlimit(resource.RLIMIT_NOFILE, (20000, max(hard, 20000)))
    if rt == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Every workload ends the process through finish(); reaching here is a bug.
    loop.run_until_complete(func(rt, *args))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
