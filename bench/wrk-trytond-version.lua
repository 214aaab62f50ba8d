-- JSON-RPC common.server.version, as the Tryton client sends it on connect; HTTP/1.0
-- without keep-alive (see wrk-close.lua).
dofile(os.getenv("WRK_REPORT"))
local body = '{"method": "common.server.version", "params": [], "id": 1}'
local req = "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: wrk\r\n" ..
  "Content-Type: application/json\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
request = function() return req end
