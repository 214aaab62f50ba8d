-- Kept-alive HTTP/1.1 GET (wrk's default request).
dofile(os.getenv("WRK_REPORT"))
