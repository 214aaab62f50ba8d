//! The process model: workers respawned when they die, SIGHUP graceful reload,
//! SIGQUIT/SIGINT/SIGTERM graceful stop with in-flight requests completed, harakiri,
//! max-requests, lazy-apps, need-app, logto, sd_notify READY/STOPPING.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;

fn boom(dir: &TempDir, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let mut args = vec![
        "--http-socket",
        &addr,
        "--pythonpath",
        &apps,
        "--module",
        "boom",
    ];
    args.extend_from_slice(extra);
    (start_wsgid(dir, &args), port)
}

fn pid_of(port: u16) -> i32 {
    http_get(port, "/pid").text().parse().unwrap()
}

#[test]
fn killed_worker_is_respawned() {
    let dir = TempDir::new("respawn");
    let (mut p, port) = boom(&dir, &[]);
    let w1 = pid_of(port);
    // SAFETY: signalling the worker of our own server.
    unsafe { libc::kill(w1, libc::SIGKILL) };
    p.wait_log(&format!(
        "(pid: {w1}) ended (killed by signal 9), respawning"
    ));
    let start = Instant::now();
    let w2 = wait_for("a respawned worker", || {
        let r = std::panic::catch_unwind(|| pid_of(port)).ok()?;
        (r != w1).then_some(r)
    });
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_ne!(w1, w2);
}

#[test]
fn sighup_reloads_workers_and_keeps_serving() {
    let dir = TempDir::new("reload");
    let (mut p, port) = boom(&dir, &["--lazy-apps"]);
    let w1 = pid_of(port);
    p.signal(libc::SIGHUP);
    p.wait_log("SIGHUP: gracefully reloading workers");
    p.wait_log(&format!("(pid: {w1}) ended (exit status 0), respawning"));
    let w2 = wait_for("a new worker", || {
        let r = std::panic::catch_unwind(|| pid_of(port)).ok()?;
        (r != w1).then_some(r)
    });
    assert_ne!(w1, w2);
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "master must survive SIGHUP"
    );
}

#[test]
fn sigquit_stops_gracefully_after_the_running_request() {
    let dir = TempDir::new("stop");
    let (mut p, port) = boom(&dir, &["--processes", "1"]);
    // A request that takes 1 s is in flight when SIGQUIT arrives.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /sleep?1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    p.wait_log("SLEEP START 1");
    p.signal(libc::SIGQUIT);
    let r = read_response(&mut s, &mut Vec::new(), false);
    assert_eq!(r.text(), "slept");
    assert_eq!(p.wait_exit(), Some(0));
    let log = p.log_text();
    assert!(log.contains("signal 3: stopping gracefully"), "{log}");
    assert!(log.contains("master stopped"), "{log}");
}

#[test]
fn sigterm_and_sigint_stop() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let dir = TempDir::new("term");
        let (mut p, _port) = boom(&dir, &["--processes", "2", "--die-on-term"]);
        p.signal(sig);
        assert_eq!(p.wait_exit(), Some(0), "signal {sig}: {}", p.log_text());
    }
}

#[test]
fn harakiri_kills_a_stuck_worker() {
    let dir = TempDir::new("harakiri");
    let (mut p, port) = boom(&dir, &["--harakiri", "1", "--processes", "2"]);
    let t = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"GET /sleep?30 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        let _ = std::io::Read::read_to_end(&mut s, &mut out);
        (out, start.elapsed())
    });
    p.wait_log("HARAKIRI ON WORKER");
    let (out, took) = t.join().unwrap();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(p.log_text().contains("GET /sleep?30"));
    // The other worker and the respawned one serve.
    assert_eq!(http_get(port, "/write").status, 200);
}

#[test]
fn max_requests_recycles_workers() {
    let dir = TempDir::new("maxreq");
    let (mut p, port) = boom(&dir, &["--max-requests", "3"]);
    let w1 = pid_of(port);
    for _ in 0..3 {
        http_get(port, "/write");
    }
    p.wait_log("reached max-requests 3");
    let w2 = wait_for("a recycled worker", || {
        let r = std::panic::catch_unwind(|| pid_of(port)).ok()?;
        (r != w1).then_some(r)
    });
    assert_ne!(w1, w2);
}

#[test]
fn need_app_and_missing_app() {
    let dir = TempDir::new("needapp");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let out = wsgid_cmd()
        .args([
            "--http-socket",
            &addr,
            "--pythonpath",
            &apps,
            "--module",
            "no_such_module",
            "--need-app",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(22));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ModuleNotFoundError"));
    // Without need-app the server runs and answers 500 (uWSGI 2.0's default).
    let _p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--pythonpath",
            &apps,
            "--module",
            "no_such_module",
        ],
    );
    assert_eq!(http_get(port, "/").status, 500);
}

#[test]
fn logto_and_sd_notify() {
    let dir = TempDir::new("notify");
    let nsock = dir.join("notify.sock");
    let listener = UnixDatagram::bind(&nsock).unwrap();
    listener.set_read_timeout(Some(WAIT)).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let logto = dir.join("app.log");
    let mut cmd = wsgid_cmd();
    cmd.env("NOTIFY_SOCKET", &nsock).args([
        "--http-socket",
        &addr,
        "--pythonpath",
        &apps,
        "--module",
        "hello",
        "--logto",
    ]);
    cmd.arg(&logto);
    let mut p = spawn(cmd, dir.join("stderr.log"), libc::SIGTERM);
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.contains("READY=1"), "{msg}");
    // READY comes after the sockets are bound: a request works now.
    assert_eq!(http_get(port, "/").status, 200);
    p.signal(libc::SIGTERM);
    let n = listener.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));
    assert_eq!(p.wait_exit(), Some(0));
    let log = std::fs::read_to_string(&logto).unwrap();
    assert!(log.contains("GET / => generated 13 bytes"), "{log}");
    assert!(
        !p.log_text().contains("GET /"),
        "logto must take the request log"
    );
}

#[test]
fn sighup_without_lazy_apps_reexecs_the_master_with_new_code() {
    let dir = TempDir::new("reexec");
    let app = dir.join("reload_app.py");
    let write = |v: &str| {
        std::fs::write(
            &app,
            format!("def application(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [b'{v}']\n"),
        )
        .unwrap()
    };
    write("v1");
    let port = free_port();
    let sock = dir.join("app.sock");
    let addr = format!("127.0.0.1:{port}");
    let d = dir.path().display().to_string();
    let s = sock.display().to_string();
    let mut p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--socket",
            &s,
            "--pythonpath",
            &d,
            "--module",
            "reload_app",
            "--processes",
            "2",
        ],
    );
    assert_eq!(http_get(port, "/").text(), "v1");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&sock).unwrap());
    write("version two");
    p.signal(libc::SIGHUP);
    p.wait_log("re-executing the master");
    p.wait_log("reusing the listening sockets of the previous master");
    let body = wait_for("the new code", || {
        let t = std::panic::catch_unwind(|| http_get(port, "/").text()).ok()?;
        (t != "v1").then_some(t)
    });
    assert_eq!(body, "version two");
    // Same master process, same UNIX socket file (not re-bound).
    assert!(p.child.try_wait().unwrap().is_none());
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&sock).unwrap()),
        inode
    );
    assert!(!p.log_text().contains("WSGID_INHERIT_FDS"));
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
}

#[test]
fn no_failed_requests_during_reloads() {
    let dir = TempDir::new("reload-load");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--pythonpath",
            &apps,
            "--module",
            "hello",
            "--processes",
            "2",
            "--disable-logging",
        ],
    );
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    // Requests answered so far: each reload starts and ends with requests in flight
    // (waited for below), instead of hoping the clients were fast enough.
    let served = std::sync::Arc::new(AtomicU32::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            let served = served.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u32, Vec::new());
                // Bounded: at most 100k requests or until told to stop.
                for _ in 0..100_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match std::panic::catch_unwind(|| http_get(port, "/")) {
                        Ok(r) if r.status == 200 && r.body == b"Hello, World!" => {
                            ok += 1;
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => failed.push(format!("status {}", r.status)),
                        Err(_) => failed.push("connection error".to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    // A worker-only reload (SIGHUP with lazy-apps is covered elsewhere) and a master
    // re-exec, both under load.
    let served_at_least = |n: u32| {
        wait_for(&format!("{n} requests served"), || {
            (served.load(Ordering::Relaxed) >= n).then_some(())
        })
    };
    for round in 1..=2 {
        served_at_least(served.load(Ordering::Relaxed) + 50);
        p.signal(libc::SIGHUP);
        let text = "reusing the listening sockets";
        let want = round;
        wait_for("the re-executed master", || {
            (p.log_text().matches(text).count() >= want
                && p.log_text().matches("ready:").count() > want)
                .then_some(())
        });
    }
    // And the re-executed master serves the clients that kept going through it.
    served_at_least(served.load(Ordering::Relaxed) + 50);
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (ok, failed) = c.join().unwrap();
        assert!(
            failed.is_empty(),
            "{} failed requests during reload: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        total += ok;
    }
    assert!(total >= 150, "only {total} requests");
    eprintln!("{total} requests, 0 failed, across 2 master re-execs");
    assert_eq!(
        p.log_text().matches("re-executing the master (pid").count(),
        2
    );
}
