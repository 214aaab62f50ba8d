"""The differential test's app: routes to the other test apps by path prefix."""

import big
import boom
import environ_dump
import hello
import stream


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/hello"):
        return hello.application(environ, start_response)
    if path.startswith("/stream"):
        return stream.application(environ, start_response)
    if path.startswith("/big"):
        return big.application(environ, start_response)
    if path in ("/raise", "/write", "/exc-info", "/nothing-here"):
        return boom.application(environ, start_response)
    return environ_dump.application(environ, start_response)
