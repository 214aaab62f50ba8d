//! Faults: a worker SIGKILLed mid-request, app errors in start_response and while
//! iterating, a slow client against `socket-timeout`, malformed uwsgi packets and
//! HTTP requests. Each must be refused or ignored cleanly, logged, and never take the
//! master or the worker down (pids and respawn counters read from the stats JSON).
//! Other cases live with their protocol: `uwsgi.rs` (magic vars, oversized and
//! malformed packets on a UNIX socket), `http.rs` (400s, trickling clients).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn respawns(sport: u16) -> Vec<i64> {
    stats_json(sport).unwrap()["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["respawn_count"].as_i64().unwrap())
        .collect()
}

#[test]
fn worker_killed_mid_request_is_respawned_within_a_second() {
    let dir = TempDir::new("fault-kill");
    let (mut p, port, sport) = start_with_stats(&dir, "faults", &["--processes", "2"]);
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"GET /sleep?20 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    });
    let needle = "SLEEP START 20 pid ";
    p.wait_log(needle);
    let log = p.log_text();
    let victim: i64 = log[log.find(needle).unwrap() + needle.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let before = worker_pids(sport);
    assert!(before.contains(&victim), "{before:?}");
    // SAFETY: signalling a worker of our own server.
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let t0 = Instant::now();
    // Poll the stats with a 1 s deadline: a new pid in the slot.
    let after = loop {
        let w = worker_pids(sport);
        if w.len() == 2 && !w.contains(&victim) {
            break w;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "not respawned within 1 s: {w:?}\n{}",
            p.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!("respawned in {:?}: {before:?} -> {after:?}", t0.elapsed());
    assert!(
        client.join().unwrap().is_empty(),
        "the killed request got an answer"
    );
    assert!(p.child.try_wait().unwrap().is_none(), "the master died");
    p.wait_log(&format!(
        "(pid: {victim}) ended (killed by signal 9), respawning"
    ));
    assert_eq!(http_get(port, "/pid").status, 200);
}

#[test]
fn app_errors_in_start_response_and_iteration_give_500_and_keep_the_worker() {
    let dir = TempDir::new("fault-app");
    let (mut p, port, sport) = start_with_stats(&dir, "faults", &["--processes", "1"]);
    let pid = http_get(port, "/pid").text();
    for (path, logged) in [
        ("/bad-status", "TypeError: wsgid: status must be a str"),
        ("/bad-header", "Injected"),
        ("/twice", "start_response"),
        ("/raise-iter", "ValueError: boom while iterating"),
    ] {
        let r = http_get(port, path);
        assert_eq!(r.status, 500, "{path}: {}", r.text());
        let log = p.log_text();
        assert!(
            log.contains(logged),
            "{path}: `{logged}` not logged:\n{log}"
        );
    }
    assert_eq!(
        http_get(port, "/pid").text(),
        pid,
        "the worker was replaced"
    );
    assert_eq!(respawns(sport), vec![1]);
    p.wait_log("Traceback");
}

#[test]
fn half_a_request_head_does_not_hold_the_only_worker_past_socket_timeout() {
    let dir = TempDir::new("fault-slow");
    let (mut p, port, _) = start_with_stats(
        &dir,
        "faults",
        &[
            "--processes",
            "1",
            "--threads",
            "1",
            "--socket-timeout",
            "2",
        ],
    );
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    slow.write_all(b"GET /pid HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t0 = Instant::now();
    // Queued behind the slow client (accept order is FIFO).
    let r = http_get(port, "/pid");
    let served = t0.elapsed();
    assert_eq!(r.status, 200);
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let dropped = t0.elapsed();
    eprintln!(
        "socket-timeout 2: the next client was served after {served:?}, the slow one dropped after {dropped:?}"
    );
    // Held by the slow client for about socket-timeout, not longer.
    assert!(
        served >= Duration::from_millis(1500) && served < Duration::from_millis(4500),
        "{served:?}"
    );
    assert!(dropped < Duration::from_millis(4500), "{dropped:?}");
    p.wait_log("HTTP request refused from 127.0.0.1: socket-timeout");
}

/// Sends raw bytes to a TCP port; returns what came back before EOF (bounded).
fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn status_of(out: &[u8]) -> u16 {
    String::from_utf8_lossy(out)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn malformed_uwsgi_and_http_are_refused_logged_and_survived() {
    let dir = TempDir::new("fault-bad");
    let uport = free_port();
    let uaddr = format!("127.0.0.1:{uport}");
    let (mut p, port, sport) =
        start_with_stats(&dir, "faults", &["--processes", "1", "--socket", &uaddr]);
    let pid = http_get(port, "/pid").text();
    // HTTP: bad request lines, bad headers, ambiguous framing, an oversized head.
    let http: &[(&[u8], &str)] = &[
        (b"GARBAGE\r\n\r\n", "malformed request head"),
        (b"GET /pid HTTP/1.1 extra\r\nHost: x\r\n\r\n", "malformed request head"),
        (b"GET /pid HTTP/1.7\r\nHost: x\r\n\r\n", "malformed request head: invalid HTTP version"),
        (b"GET /pid HTTP/1.1\r\nBad Header\r\n\r\n", "malformed request head"),
        (b"GET /pid HTTP/1.1\r\nX\x01: y\r\n\r\n", "malformed request head: invalid header name"),
        (
            b"POST /pid HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "invalid Content-Length",
        ),
        (
            b"POST /pid HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "both Content-Length and Transfer-Encoding",
        ),
        (
            b"POST /pid HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "unsupported Transfer-Encoding",
        ),
        (
            b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "malformed chunked body",
        ),
    ];
    for (bytes, logged) in http {
        let out = exchange(port, bytes);
        let code = status_of(&out);
        assert!(
            code == 400
                || code == 413
                || (code == 0 && out.is_empty())
                // The head was fine, the app ran: wsgi.input.read() raises -> 500.
                || (code == 500 && *logged == "malformed chunked body"),
            "{:?} -> {:?}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&out)
        );
        p.wait_log(logged);
    }
    let big = format!("GET /pid HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(5000));
    assert_eq!(status_of(&exchange(port, big.as_bytes())), 400);
    p.wait_log("request head is over buffer-size 4096");
    // uwsgi over TCP: a vars block over buffer-size, a malformed block, a wrong
    // modifier1, a truncated header; UWSGI_* magic variables are dropped.
    let long = "v".repeat(5000);
    let over = wsgid::proto::uwsgi::encode(&[
        (&b"REQUEST_METHOD"[..], &b"GET"[..]),
        (b"HTTP_X_LONG", long.as_bytes()),
    ]);
    assert!(exchange(uport, &over).is_empty());
    p.wait_log("over buffer-size 4096");
    assert!(exchange(uport, &[0, 3, 0, 0, 9, 0, b'a']).is_empty());
    assert!(exchange(uport, &[30, 0, 0, 0]).is_empty());
    p.wait_log("modifier1 30");
    assert!(exchange(uport, &[0, 200]).is_empty());
    let magic = wsgid::proto::uwsgi::encode(&[
        (&b"REQUEST_METHOD"[..], &b"GET"[..]),
        (b"PATH_INFO", b"/pid"),
        (b"REQUEST_URI", b"/pid"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"UWSGI_FILE", b"/tmp/evil.py"),
        (b"UWSGI_SCHEME", b"https"),
    ]);
    let out = exchange(uport, &magic);
    assert_eq!(status_of(&out), 200, "{}", String::from_utf8_lossy(&out));
    p.wait_log("ignoring uwsgi magic variable UWSGI_FILE");
    p.wait_log("ignoring uwsgi magic variable UWSGI_SCHEME");
    // Never a crash: same master, same worker, no respawn; a good request is served.
    assert!(p.child.try_wait().unwrap().is_none());
    assert_eq!(http_get(port, "/pid").text(), pid);
    assert_eq!(respawns(sport), vec![1]);
    let log = p.log_text();
    assert!(!log.contains("panic"), "{log}");
    eprintln!("{} refusals logged", log.matches("request refused").count());
}
