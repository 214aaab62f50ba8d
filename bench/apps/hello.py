"""Benchmark apps: the anchors' `application` (13-byte text) and `big` (1 MiB)."""

BIG = b"x" * (1 << 20)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]


def big(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(BIG)))])
    return [BIG]
