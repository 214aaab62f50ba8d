//! http-socket: real wsgid + real apps, raw sockets and curl.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::*;

fn server(dir: &TempDir, module: &str, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let mut args = vec![
        "--http-socket",
        &addr,
        "--pythonpath",
        &apps,
        "--module",
        module,
    ];
    args.extend_from_slice(extra);
    (start_wsgid(dir, &args), port)
}

#[test]
fn hello_with_curl_and_keep_alive() {
    let dir = TempDir::new("hello");
    let (p, port) = server(&dir, "hello", &["--processes", "2"]);
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out) = curl(&[&url]);
    assert_eq!(code, 0);
    assert_eq!(out, b"Hello, World!");
    // curl reuses one connection for two URLs on the same host (keep-alive).
    let out = std::process::Command::new(tool("curl"))
        .args([
            "-sS",
            "-v",
            "--max-time",
            "30",
            &url,
            &format!("{url}again"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"Hello, World!Hello, World!");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Re-using existing connection") || err.contains("Reusing existing"),
        "{err}"
    );
    // Raw pipelined requests on one connection.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    for _ in 0..2 {
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length").as_deref(), Some("13"));
    }
    // Request log lines like uWSGI's.
    let mut p = p;
    p.wait_log("GET /2 =>");
    let log = p.log_text();
    assert!(log.contains("GET /1 => generated 13 bytes in"), "{log}");
    assert!(log.contains("(HTTP/1.1 200) 1 headers in"), "{log}");
}

#[test]
fn http10_and_connection_close_end_the_connection() {
    let dir = TempDir::new("close");
    let (p, port) = server(&dir, "hello", &["--disable-logging"]);
    let r = http_raw(port, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.head.starts_with("HTTP/1.0 200 OK"), "{}", r.head);
    // Reading to EOF works: the server closed.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut all).unwrap();
    assert!(String::from_utf8_lossy(&all).contains("Connection: close"));
    assert!(all.ends_with(b"Hello, World!"));
    // disable-logging: no request lines (the log is complete once the master stopped).
    let mut p = p;
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
    let log = p.log_text();
    assert!(
        log.contains("master stopped") && !log.contains("GET /"),
        "{log}"
    );
}

#[test]
fn head_has_no_body() {
    let dir = TempDir::new("head");
    let (_p, port) = server(&dir, "hello", &[]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let r = read_response(&mut s, &mut buf, true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length").as_deref(), Some("13"));
    // The next response follows directly: no body bytes were sent for HEAD.
    let r2 = read_response(&mut s, &mut buf, false);
    assert_eq!(r2.body, b"Hello, World!");
}

#[test]
fn streaming_generator_is_chunked() {
    let dir = TempDir::new("stream");
    let (_p, port) = server(&dir, "stream", &[]);
    let r = http_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.header("transfer-encoding").as_deref(), Some("chunked"));
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    // HTTP/1.0: no chunking, the end of the body is the end of the connection.
    let r = http_raw(port, b"GET / HTTP/1.0\r\n\r\n");
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
}

#[test]
fn one_mib_body() {
    let dir = TempDir::new("big");
    let (_p, port) = server(&dir, "big", &[]);
    let url = format!("http://127.0.0.1:{port}/");
    let (code, out) = curl(&[&url]);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 1024 * 1024);
    assert!(out.iter().all(|&b| b == b'x'));
}

#[test]
fn file_wrapper_sendfile_and_iteration() {
    let dir = TempDir::new("files");
    let file = dir.join("data.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let mut cmd = wsgid_cmd();
    cmd.env("WSGID_TEST_FILE", &file);
    let _p = start_wsgid_with(
        &dir,
        cmd,
        &[
            "--http-socket",
            &addr,
            "--pythonpath",
            &apps,
            "--module",
            "files",
        ],
    );
    let r = http_get(port, "/");
    assert_eq!(r.header("content-length").as_deref(), Some("300000"));
    assert_eq!(r.body, data);
    let r = http_get(port, "/?skip=10");
    assert_eq!(r.body, &data[10..]);
    let r = http_get(port, "/bytesio");
    assert_eq!(r.body, b"from memory\n".repeat(1000));
}

#[test]
fn request_bodies_sized_chunked_and_expect_continue() {
    let dir = TempDir::new("bodies");
    let (_p, port) = server(&dir, "echo", &["--processes", "2"]);
    let body: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .take(200_000)
        .collect();
    for mode in ["all", "sized", "lines", "iter", "readlines"] {
        // Sized.
        let mut req = format!(
            "POST /?{mode} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        let r = http_raw(port, &req);
        assert_eq!(r.status, 200, "{mode}");
        assert_eq!(r.body, body, "sized body, mode {mode}");
        // Chunked, in uneven chunks.
        let mut req =
            format!("POST /?{mode} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                .into_bytes();
        for c in body.chunks(7777) {
            req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            req.extend_from_slice(c);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        let r = http_raw(port, &req);
        assert_eq!(r.body, body, "chunked body, mode {mode}");
    }
    // curl with Expect: 100-continue and a chunked upload.
    let f = dir.join("up.bin");
    std::fs::write(&f, &body).unwrap();
    let url = format!("http://127.0.0.1:{port}/?all");
    let at = format!("@{}", f.display());
    let (code, out) = curl(&["-H", "Expect: 100-continue", "--data-binary", &at, &url]);
    assert_eq!(code, 0);
    assert_eq!(out, body);
    let (code, out) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &at,
        &url,
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, body);
    // A body the app does not read is skipped; the connection keeps working.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"POST /?ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /?all HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut s, &mut buf, false)
            .header("x-body-len")
            .as_deref(),
        Some("0")
    );
    assert_eq!(read_response(&mut s, &mut buf, false).status, 200);
}

#[test]
fn environ_keys_and_types() {
    let dir = TempDir::new("environ");
    let (_p, port) = server(&dir, "environ_dump", &["--threads", "2"]);
    let r = http_raw(port, b"POST /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nX-Multi: a\r\nX-Multi: b\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(r.status, 200);
    let text = r.text();
    let get = |k: &str| -> (String, String) {
        let pat = format!("\"{k}\": [\"");
        let i = text
            .find(&pat)
            .unwrap_or_else(|| panic!("{k} missing in {text}"));
        let rest = &text[i + pat.len()..];
        let (ty, rest) = rest.split_once("\", ").unwrap();
        let val = rest
            .split(']')
            .next()
            .unwrap()
            .trim_matches('"')
            .to_string();
        (ty.to_string(), val)
    };
    for (k, v) in [
        ("REQUEST_METHOD", "POST"),
        ("PATH_INFO", "/a b/c"),
        ("QUERY_STRING", "x=1&y=%20"),
        ("REQUEST_URI", "/a%20b/c?x=1&y=%20"),
        ("SCRIPT_NAME", ""),
        ("SERVER_NAME", "example.org"),
        ("SERVER_PORT", "8080"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("CONTENT_TYPE", "text/plain"),
        ("CONTENT_LENGTH", "3"),
        ("HTTP_HOST", "example.org:8080"),
        ("HTTP_X_MULTI", "a, b"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("wsgi.url_scheme", "http"),
    ] {
        assert_eq!(get(k), ("str".to_string(), v.to_string()), "{k}");
    }
    assert_eq!(get("_body"), ("bytes".into(), "abc".into()));
    assert_eq!(get("REMOTE_PORT").0, "str");
    assert_eq!(get("wsgi.version"), ("tuple".into(), "(1, 0)".into()));
    assert_eq!(get("wsgi.multithread"), ("bool".into(), "True".into()));
    assert_eq!(get("wsgi.multiprocess"), ("bool".into(), "False".into()));
    assert_eq!(get("wsgi.run_once"), ("bool".into(), "False".into()));
    assert_eq!(get("wsgi.input").0, "Input");
    assert_eq!(get("wsgi.errors").0, "TextIOWrapper");
    assert_eq!(get("wsgi.file_wrapper").0, "type");
    assert!(!text.contains("HTTP_CONTENT_LENGTH") && !text.contains("HTTP_CONTENT_TYPE"));
}

#[test]
fn app_errors_give_500_and_the_worker_survives() {
    let dir = TempDir::new("boom");
    let (p, port) = server(&dir, "boom", &[]);
    let pid_before = http_get(port, "/pid").text();
    let r = http_get(port, "/raise");
    assert_eq!(r.status, 500);
    let r = http_get(port, "/raise-iter");
    assert_eq!(r.status, 500);
    let r = http_get(port, "/exc-info");
    assert_eq!(r.status, 503);
    assert_eq!(r.text(), "replaced");
    let r = http_get(port, "/write");
    assert_eq!(r.text(), "via write, then iterable");
    let r = http_get(port, "/close");
    assert_eq!(r.text(), "with close");
    assert_eq!(
        http_get(port, "/pid").text(),
        pid_before,
        "the worker was replaced"
    );
    let mut p = p;
    p.wait_log("CLOSE CALLED");
    let log = p.log_text();
    assert!(
        log.contains("Traceback") && log.contains("RuntimeError: boom from the app"),
        "{log}"
    );
    assert!(log.contains("ValueError: boom while iterating"), "{log}");
    assert!(log.contains("CLOSE CALLED"), "{log}");
}

#[test]
fn malformed_requests_are_refused_and_logged() {
    let dir = TempDir::new("bad");
    let (p, port) = server(&dir, "hello", &[]);
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let r = http_raw(port, bad);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
    }
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(5000));
    assert_eq!(http_raw(port, big.as_bytes()).status, 400);
    assert_eq!(http_get(port, "/").status, 200);
    let mut p = p;
    p.wait_log("HTTP request refused");
}

#[test]
fn idle_keep_alive_connections_close_after_socket_timeout() {
    let dir = TempDir::new("idle");
    let (_p, port) = server(&dir, "hello", &["--socket-timeout", "1"]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    assert_eq!(read_response(&mut s, &mut buf, false).status, 200);
    let start = std::time::Instant::now();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut rest).unwrap();
    assert!(rest.is_empty());
    let took = start.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "idle connection held {took:?}"
    );
}

#[test]
fn slow_client_does_not_hold_the_worker_past_socket_timeout() {
    let dir = TempDir::new("slow");
    let (mut p, port) = server(
        &dir,
        "hello",
        &["--socket-timeout", "1", "--processes", "1"],
    );
    // A client trickling its request head, one byte every 200 ms.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if s.write_all(b"X").is_err() {
                break;
            }
        }
        start.elapsed()
    });
    p.wait_log("request head not received within socket-timeout");
    // The only worker serves again.
    assert_eq!(http_get(port, "/").status, 200);
    let held = slow.join().unwrap();
    assert!(held < std::time::Duration::from_secs(5), "{held:?}");
}

#[test]
fn wsgi_file_without_py_suffix_and_callable() {
    let dir = TempDir::new("wsgifile");
    let script = dir.join("myapp-script");
    std::fs::write(
        &script,
        "#!/usr/bin/env python3\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [__name__.encode()]\n",
    )
    .unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let s = script.display().to_string();
    let _p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--wsgi-file",
            &s,
            "--callable",
            "app",
        ],
    );
    let body = http_get(port, "/").text();
    assert!(body.starts_with("uwsgi_file_"), "{body}");
}

#[test]
fn ini_file_with_section_placeholders_and_lazy_apps() {
    let dir = TempDir::new("inifile");
    let port = free_port();
    let ini = dir.join("site.ini");
    std::fs::write(
        &ini,
        format!(
            "[other]\nprocesses = 9\n[uwsgi]\n; a comment\nbase = {apps}\nhttp-socket = 127.0.0.1:{port}\npythonpath = %(base)\nmodule = environ_dump\nlazy-apps = true\nmaster\nprocesses = 2\nthreads = 2\nenv = WSGID_T1=one\nenv = WSGID_T2=%d\nplugins = python3\n",
            apps = apps_dir().display()
        ),
    )
    .unwrap();
    let _p = start_wsgid(&dir, &["--ini", &format!("{}:uwsgi", ini.display())]);
    let r = http_get(port, "/");
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["wsgi.multiprocess"][1], "True");
    assert_eq!(v["wsgi.multithread"][1], "True");
    // env is set for the process (os.environ), not in the WSGI environ.
    assert!(v.get("WSGID_T1").is_none());
}

#[test]
fn silent_client_after_a_partial_head_is_dropped() {
    let dir = TempDir::new("silent");
    let (_p, port) = server(
        &dir,
        "hello",
        &["--socket-timeout", "1", "--processes", "1"],
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut out);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "held {:?}",
        start.elapsed()
    );
    assert_eq!(http_get(port, "/").status, 200);
}

#[test]
fn content_length_is_enforced_on_kept_alive_connections() {
    let dir = TempDir::new("cl");
    let (mut p, port) = server(&dir, "boom", &[]);
    // Too long: cut at Content-Length, the next response on the connection is intact.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /long HTTP/1.1\r\nHost: x\r\n\r\nGET /write HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    assert_eq!(read_response(&mut s, &mut buf, false).body, b"123");
    assert_eq!(
        read_response(&mut s, &mut buf, false).text(),
        "via write, then iterable"
    );
    // Too short: the connection is closed so the client sees the truncation.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut all).unwrap();
    assert!(all.ends_with(b"\r\n\r\n12345"));
    p.wait_log("response shorter than its Content-Length");
}

#[test]
fn absolute_form_request_target() {
    let dir = TempDir::new("absform");
    let (_p, port) = server(&dir, "environ_dump", &[]);
    let r = http_raw(port, b"GET http://example.org:81/x%2Fy?q=1 HTTP/1.1\r\nHost: example.org:81\r\nConnection: close\r\n\r\n");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["PATH_INFO"][1], "/x/y");
    assert_eq!(v["QUERY_STRING"][1], "q=1");
    assert_eq!(v["REQUEST_URI"][1], "http://example.org:81/x%2Fy?q=1");
}

#[test]
fn handler_threads_keep_their_python_thread_state() {
    let dir = TempDir::new("tstate");
    let (_p, port) = server(&dir, "environ_dump:thread_identity", &["--threads", "3"]);
    // Every thread's threading.local counter must equal the number of requests that
    // thread served (a per-request thread state would reset it to 1).
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    for _ in 0..40 {
        let t = http_get(port, "/").text();
        let (ident, n) = t.split_once(' ').unwrap();
        let count = seen.entry(ident.to_string()).or_insert(0);
        *count += 1;
        assert_eq!(
            n.parse::<u32>().unwrap(),
            *count,
            "thread {ident}: threading.local was reset"
        );
    }
}

/// Kept-alive connections each worker owns, from the stats JSON (sum over its threads).
fn owned_connections(v: &serde_json::Value) -> Vec<u64> {
    v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w["cores"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["connections"].as_u64().unwrap())
                .sum()
        })
        .collect()
}

#[test]
fn kept_alive_connections_are_balanced_between_workers() {
    // 64 kept-alive connections opened one after another: the case in which
    // EPOLLEXCLUSIVE alone wakes the same idle worker for every arrival (it took all 64).
    // Balanced accepting splits them; the stats count each worker's connections.
    let dir = TempDir::new("balance");
    let (_p, port, sport) =
        start_with_stats(&dir, "hello", &["--processes", "2", "--disable-logging"]);
    wait_for("2 workers", || {
        (worker_pids(sport).len() == 2).then_some(())
    });
    let get = |s: &mut TcpStream, buf: &mut Vec<u8>| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(s, buf, false).status, 200);
    };
    let mut conns = Vec::new();
    for _ in 0..64 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = Vec::new();
        get(&mut s, &mut buf);
        conns.push((s, buf));
    }
    let split = wait_for("the stats to count 64 connections", || {
        let o = owned_connections(&stats_json(sport)?);
        (o.iter().sum::<u64>() == 64).then_some(o)
    });
    assert!(
        split.iter().all(|n| (24..=40).contains(n)),
        "connections per worker: {split:?}"
    );
    // Every connection is still served, and a new one too (a worker at its share
    // leaves the listeners to the other, never both out).
    for (s, buf) in &mut conns {
        get(s, buf);
    }
    assert_eq!(http_get(port, "/").status, 200);
    // Closed by the clients: no worker counts them any longer.
    drop(conns);
    wait_for("the stats to count 0 connections", || {
        let o = owned_connections(&stats_json(sport)?);
        (o.iter().sum::<u64>() == 0).then_some(())
    });
}

#[test]
fn a_worker_in_a_long_request_does_not_hold_back_new_connections() {
    // Balanced accepting must not leave connections waiting behind a worker that owns
    // fewer of them only because it is stuck in a long request: the other worker keeps
    // accepting beyond its share.
    let dir = TempDir::new("balance-stuck");
    let (mut p, port, sport) =
        start_with_stats(&dir, "boom", &["--processes", "2", "--disable-logging"]);
    wait_for("2 workers", || {
        (worker_pids(sport).len() == 2).then_some(())
    });
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET /sleep?5 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    p.wait_log("SLEEP START 5");
    let start = std::time::Instant::now();
    let mut conns = Vec::new();
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!(r.status, 200);
        pids.insert(r.text());
        conns.push(s);
    }
    let took = start.elapsed();
    assert!(
        took < std::time::Duration::from_millis(3500),
        "12 connections took {took:?} while the other worker slept 5 s"
    );
    assert_eq!(
        pids.len(),
        1,
        "served by the worker that is not asleep: {pids:?}"
    );
    let mut buf = Vec::new();
    assert_eq!(read_response(&mut slow, &mut buf, false).text(), "slept");
}
