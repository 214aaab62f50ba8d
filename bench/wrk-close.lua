-- Closing connections for every server alike: an HTTP/1.0 request without keep-alive,
-- so the server closes after each response and wrk reconnects without counting a
-- read error (an HTTP/1.1 "Connection: close" request makes wrk count uWSGI's close
-- as one, because uWSGI's http-socket does not echo "Connection: close").
dofile(os.getenv("WRK_REPORT"))
local req = "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\n\r\n"
request = function() return req end
