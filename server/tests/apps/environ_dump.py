"""Dumps the environ as JSON: {key: [type name, value as str]}, plus the body read."""

import json


def application(environ, start_response):
    body = environ["wsgi.input"].read()
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int)) or v is None:
            out[k] = [type(v).__name__, v if not isinstance(v, bool) else str(v)]
        elif isinstance(v, tuple):
            out[k] = [type(v).__name__, repr(v)]
        else:
            out[k] = [type(v).__name__, None]
    out["_body"] = ["bytes", body.decode("latin-1")]
    data = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def thread_identity(environ, start_response):
    """Returns the handler thread's Python identity and a per-thread request counter:
    with a long-lived thread state, threading.local survives between requests."""
    import threading

    local = _LOCAL
    local.n = getattr(local, "n", 0) + 1
    body = ("%s %d" % (threading.get_ident(), local.n)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


import threading as _threading  # noqa: E402

_LOCAL = _threading.local()
