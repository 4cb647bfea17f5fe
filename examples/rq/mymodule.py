"""The article's mymodule, for Python's `rq worker` (either serializer).

The same functions, under the same names, as simul's `simul::net::rq::mymodule`, so a job
enqueued from either side can be run by a worker of either side. `requests` is replaced by the
standard library's urllib, so that the only package needed is `rq` itself.
"""

import time
import urllib.request


def count_words_at_url(url):
    """Just an example function that's called async."""
    with urllib.request.urlopen(url, timeout=30) as resp:
        text = resp.read().decode("utf-8", errors="replace")
    print(len(text.split()))
    return len(text.split())


def add(a, b):
    return a + b


def fail(message="boom"):
    raise ValueError(message)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def async_sleep(seconds):
    time.sleep(seconds)
    return seconds


def touch(path, token, seconds):
    """The chaos test's side effect: wait, then append one line."""
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(token + "\n")
    return token
