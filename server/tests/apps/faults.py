"""Apps for the fault and recycling tests: the worker's pid, a sleep, memory growth
kept across requests, and errors in start_response and while iterating."""

import os
import sys
import time

_HOARD = []


def _text(start_response, body, status="200 OK"):
    start_response(status, [("Content-Type", "text/plain")])
    return [body.encode()]


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING") or ""
    if path == "/pid":
        return _text(start_response, str(os.getpid()))
    if path == "/sleep":
        sys.stderr.write("SLEEP START %s pid %d\n" % (query, os.getpid()))
        sys.stderr.flush()
        time.sleep(float(query or "5"))
        return _text(start_response, "slept")
    if path == "/alloc":
        # Keeps query MiB alive in this worker (touched, so resident).
        _HOARD.append(bytearray(b"x" * (int(query or "1") << 20)))
        return _text(start_response, "%d %d" % (os.getpid(), len(_HOARD)))
    if path == "/echo":
        return _text(start_response, environ["wsgi.input"].read().decode("latin-1"))
    if path == "/bad-status":
        # start_response itself raises (the status must be a str).
        start_response(200, [("Content-Type", "text/plain")])
        return [b"never"]
    if path == "/bad-header":
        start_response("200 OK", [("X-Evil", "a\r\nInjected: yes")])
        return [b"never"]
    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b"never"]
    if path == "/raise-iter":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            raise ValueError("boom while iterating")
            yield b"never"

        return gen()
    return _text(start_response, "not found", "404 Not Found")
