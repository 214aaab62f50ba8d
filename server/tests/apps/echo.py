"""Echoes the request body, read in the way the query string asks:
all (read()), sized (read(1000) loop), lines (readline loop), iter (for line in input),
readlines; answers JSON-free: the bytes read, with X-Body-Len and X-Mode headers."""


def application(environ, start_response):
    inp = environ["wsgi.input"]
    mode = environ.get("QUERY_STRING") or "all"
    parts = []
    if mode == "all":
        parts.append(inp.read())
    elif mode == "sized":
        while True:
            b = inp.read(1000)
            if not b:
                break
            parts.append(b)
    elif mode == "lines":
        while True:
            line = inp.readline()
            if not line:
                break
            parts.append(line)
    elif mode == "iter":
        for line in inp:
            parts.append(line)
    elif mode == "readlines":
        parts.extend(inp.readlines())
    elif mode == "ignore":
        pass
    body = b"".join(parts)
    # After the end of the body, reads return b"".
    assert inp.read() == b"" or mode == "ignore"
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("X-Body-Len", str(len(body))), ("X-Mode", mode)])
    return [body]
