"""Apps that fail: raise before start_response, raise while iterating, raise in
start_response with exc_info after an error, and a write() user."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise RuntimeError("boom from the app")
    if path == "/raise-iter":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            raise ValueError("boom while iterating")
            yield b"never"

        return gen()
    if path == "/exc-info":
        try:
            raise KeyError("handled")
        except KeyError:
            import sys
            start_response("200 OK", [("Content-Type", "text/plain")])
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"replaced"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"via write, ")
        return [b"then iterable"]
    if path == "/close":
        class Body:
            def __iter__(self):
                return iter([b"with close"])

            def close(self):
                import sys
                sys.stderr.write("CLOSE CALLED\n")
                sys.stderr.flush()

        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()
    if path == "/short":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"12345"]
    if path == "/long":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"12345"]
    if path == "/pid":
        import os
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    if path == "/sleep":
        import sys
        import time
        sys.stderr.write("SLEEP START %s\n" % environ.get("QUERY_STRING"))
        sys.stderr.flush()
        time.sleep(float(environ.get("QUERY_STRING") or "5"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
