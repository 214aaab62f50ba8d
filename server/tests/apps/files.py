"""wsgi.file_wrapper over a real file (sendfile) and over a BytesIO (iteration)."""

import io
import os

PATH = os.environ.get("WSGID_TEST_FILE", "/etc/os-release")


def application(environ, start_response):
    if environ["PATH_INFO"].endswith("/bytesio"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"from memory\n" * 1000), 4096)
    f = open(PATH, "rb")
    if environ["QUERY_STRING"] == "skip=10":
        f.seek(10)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 8192)
