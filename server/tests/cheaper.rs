//! uWSGI's cheaper subsystem (`cheaper-algo = spare`): workers between `cheaper` and
//! `processes`, read back from the stats JSON (cheaped slots have `"status": "cheap"`).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::*;
use serde_json::Value;

/// (live workers, cheap slots) from a stats answer.
fn counts(v: &Value) -> (usize, usize) {
    let w = v["workers"].as_array().unwrap();
    let cheap = w.iter().filter(|w| w["status"] == "cheap").count();
    for s in w.iter().filter(|w| w["status"] == "cheap") {
        assert_eq!(s["pid"], 0, "a cheap slot has no process: {v}");
        assert_eq!(s["accepting"], 0, "{v}");
    }
    (w.len() - cheap, cheap)
}

fn start(dir: &TempDir, extra: &[&str]) -> (Proc, u16, u16) {
    let mut args = vec!["--disable-logging"];
    args.extend_from_slice(extra);
    start_with_stats(dir, "boom", &args)
}

#[test]
fn spare_scales_up_under_load_and_back_down_when_idle() {
    let dir = TempDir::new("cheaper");
    let (mut p, port, sport) = start(
        &dir,
        &[
            "--processes",
            "4",
            "--cheaper",
            "1",
            "--cheaper-overload",
            "1",
            "--cheaper-algo",
            "spare",
        ],
    );
    assert!(
        p.log_text().contains("ready: 1 worker(s)"),
        "{}",
        p.log_text()
    );
    let v = stats_json(sport).unwrap();
    assert_eq!(
        v["workers"].as_array().unwrap().len(),
        4,
        "all slots listed: {v}"
    );
    assert_eq!(counts(&v), (1, 3), "{v}");

    // Bounded load from wrk: 6 connections of 60 ms requests, at most 20 s; stopped with
    // SIGINT (wrk then prints its totals) once the stats show the growth.
    let url = format!("http://127.0.0.1:{port}/sleep?0.06");
    let wrk = Command::new(tool("wrk"))
        .args(["-t2", "-c6", "-d20s", "--timeout", "10s", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wrk");
    let grown = wait_for("more than 1 worker under load", || {
        let v = stats_json(sport)?;
        let (live, _) = counts(&v);
        (live > 1).then_some(live)
    });
    eprintln!("{grown} workers under load");
    // SAFETY: kill(2) on the pid of our own child.
    unsafe { libc::kill(wrk.id() as i32, libc::SIGINT) };
    let out = wrk.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "errors under load: {text}"
    );
    let ok: u64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("wrk printed no total: {text}"));
    assert!(ok > 0);
    // Idle: one worker at a time is stopped, down to `cheaper`.
    let start = Instant::now();
    let v = wait_for("the workers to fall back to 1", || {
        let v = stats_json(sport)?;
        (counts(&v) == (1, 3)).then_some(v)
    });
    eprintln!("back to 1 worker in {:?}", start.elapsed());
    // total_requests counts every request served, whichever slot served it (wrk does not
    // count the at most 6 requests in flight when it was stopped).
    let total = v["total_requests"].as_u64().unwrap();
    assert!(
        (ok..=ok + 6).contains(&total),
        "wrk {ok}, server {total}: {v}"
    );
    let log = p.log_text();
    assert!(
        log.contains("cheaper: all 1 worker(s) busy, spawning 1 more"),
        "{log}"
    );
    assert!(log.contains("stopped by cheaper"), "{log}");
    assert!(
        !log.contains("respawning"),
        "cheaped workers are not respawned: {log}"
    );
    // The survivor serves.
    assert_eq!(http_get(port, "/sleep?0").text(), "slept");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
}

/// With cheaped slots: a crashed worker is respawned, max-requests recycles, a lazy-apps
/// SIGHUP restarts `cheaper-initial` workers, harakiri kills and respawns.
#[test]
fn cheaped_slots_with_respawn_max_requests_reload_and_harakiri() {
    let dir = TempDir::new("cheaper-proc");
    // A long cycle: nothing is cheaped or spawned by the algorithm during this test.
    let (mut p, port, sport) = start(
        &dir,
        &[
            "--processes",
            "3",
            "--cheaper",
            "1",
            "--cheaper-initial",
            "2",
            "--cheaper-overload",
            "600",
            "--max-requests",
            "50",
            "--harakiri",
            "1",
            "--lazy-apps",
        ],
    );
    let pids = |v: &Value| -> Vec<i64> {
        v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["status"] != "cheap")
            .map(|w| w["pid"].as_i64().unwrap())
            .collect()
    };
    let v = stats_json(sport).unwrap();
    assert_eq!(counts(&v), (2, 1), "cheaper-initial = 2: {v}");
    assert_eq!(v["workers"][2]["status"], "cheap", "{v}");
    let before = pids(&v);

    // A crash is respawned in its slot, not cheaped.
    let victim = before[0] as i32;
    // SAFETY: signalling a worker of our own server.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    p.wait_log(&format!(
        "(pid: {victim}) ended (killed by signal 9), respawning"
    ));
    let v = wait_for("the respawned worker", || {
        let v = stats_json(sport)?;
        let now = pids(&v);
        (now.len() == 2 && now.iter().all(|&q| q > 0) && !now.contains(&(victim as i64)))
            .then_some(v)
    });
    assert_eq!(counts(&v), (2, 1), "{v}");

    // Harakiri: a request longer than 1 s kills its worker, which is respawned.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /sleep?3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    p.wait_log("HARAKIRI ON WORKER");
    wait_for("2 workers after harakiri", || {
        let v = stats_json(sport)?;
        let now = pids(&v);
        (counts(&v) == (2, 1) && now.iter().all(|&q| q > 0)).then_some(())
    });
    drop(s);

    // max-requests recycles a worker (respawned, not cheaped).
    let mut seen = 0;
    while !p.log_text().contains("reached max-requests") {
        assert!(seen < 200, "max-requests never reached");
        assert_eq!(http_get(port, "/pid").status, 200);
        seen += 1;
    }
    p.wait_log("(exit status 0), respawning");
    wait_for("2 workers after max-requests", || {
        let v = stats_json(sport)?;
        let now = pids(&v);
        (counts(&v) == (2, 1) && now.iter().all(|&q| q > 0)).then_some(())
    });

    // A lazy-apps reload restarts `cheaper-initial` (2) workers with new pids.
    let v = stats_json(sport).unwrap();
    let old = pids(&v);
    p.signal(libc::SIGHUP);
    p.wait_log("SIGHUP: gracefully reloading workers");
    let v = wait_for("2 new workers after SIGHUP", || {
        let v = stats_json(sport)?;
        let now = pids(&v);
        (now.len() == 2 && now.iter().all(|&q| q > 0 && !old.contains(&q))).then_some(v)
    });
    assert_eq!(counts(&v), (2, 1), "{v}");
    assert_eq!(http_get(port, "/sleep?0").text(), "slept");
    assert!(
        !p.log_text().contains("stopped by cheaper"),
        "{}",
        p.log_text()
    );
}

#[test]
fn cheaper_config_errors() {
    let run = |args: &[&str]| {
        let out = wsgid_cmd()
            .args([
                "--check-config",
                "--http-socket",
                "127.0.0.1:1",
                "--module",
                "x",
            ])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&["--processes", "4", "--cheaper", "4"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("`cheaper`") && err.contains("lower than `processes` (4)"),
        "{err}"
    );
    let (code, _, err) = run(&["--cheaper", "1"]);
    assert_eq!(code, 1, "processes defaults to 1");
    assert!(err.contains("lower than `processes` (1)"), "{err}");
    let (code, _, err) = run(&[
        "--processes",
        "4",
        "--cheaper",
        "1",
        "--cheaper-algo",
        "busyness",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("`cheaper-algo`") && err.contains("spare") && err.contains("backlog"),
        "{err}"
    );
    // backlog measures TCP listen queues: with only a UNIX socket it is an error.
    let out = wsgid_cmd()
        .args([
            "--check-config",
            "--socket",
            "/tmp/wsgid-never.sock",
            "--module",
            "x",
            "--processes",
            "4",
            "--cheaper",
            "1",
            "--cheaper-algo",
            "backlog",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("command line argument ")
            && err.contains("`cheaper-algo`")
            && err.contains("TCP"),
        "{err}"
    );
    let (code, out, err) = run(&[
        "--processes",
        "4",
        "--cheaper",
        "1",
        "--cheaper-algo",
        "backlog",
        "--cheaper-overload",
        "8",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cheaper backlog: 1..4 workers (initial 1, step 1, overload 8 queued)"),
        "{out}"
    );
    let (code, out, err) = run(&["--processes", "4", "--cheaper", "1", "--cheaper-step", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cheaper spare: 1..4 workers (initial 1, step 2, overload 3 s)"),
        "{out}"
    );
}

/// `cheaper-algo = backlog`: connections waiting in the TCP listen queue (more than
/// `cheaper-overload`) add workers; empty queues stop them again.
#[test]
fn backlog_scales_up_with_the_listen_queue_and_down_when_empty() {
    let dir = TempDir::new("cheaper-backlog");
    let (mut p, port, sport) = start(
        &dir,
        &[
            "--processes",
            "3",
            "--cheaper",
            "1",
            "--cheaper-algo",
            "backlog",
            "--cheaper-overload",
            "2",
        ],
    );
    assert!(
        p.log_text().contains("ready: 1 worker(s)"),
        "{}",
        p.log_text()
    );
    let send = |path: &'static str| {
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(WAIT)).unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .unwrap();
            read_response(&mut s, &mut Vec::new(), false)
        })
    };
    // The only worker is busy for 3 s; 6 more requests wait in the listen queue.
    let busy = send("/sleep?3");
    p.wait_log("SLEEP START 3");
    let queued: Vec<_> = (0..6).map(|_| send("/sleep?1")).collect();
    p.wait_log("cheaper backlog: listen queue ");
    let (line, q) = number_after(&p.log_text(), "cheaper backlog: listen queue ");
    assert!(q > 2, "{line}");
    let up = wait_for("more workers", || {
        let v = stats_json(sport)?;
        (counts(&v).0 >= 2).then_some(v)
    });
    eprintln!("backlog: {line}; live workers then: {}", counts(&up).0);
    for t in queued.into_iter().chain([busy]) {
        let r = t.join().unwrap();
        assert_eq!((r.status, r.text()), (200, "slept".to_string()));
    }
    // Queues empty: back to `cheaper` (1 worker), 3 idle cycles per stop.
    let start = Instant::now();
    wait_for("the workers to be cheaped", || {
        let v = stats_json(sport)?;
        (counts(&v) == (1, 2)).then_some(())
    });
    eprintln!(
        "backlog: back to 1 worker {:?} after the load",
        start.elapsed()
    );
    assert!(
        p.log_text()
            .contains("cheaper backlog: listen queues empty")
    );
    assert_eq!(http_get(port, "/write").status, 200);
}
