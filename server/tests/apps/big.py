"""A 1 MiB response body (the anchors' `big` case)."""

BODY = b"x" * (1024 * 1024)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [BODY]
