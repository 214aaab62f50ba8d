//! Issue 5 operations: harakiri (through real nginx: 502; graceful signal first with
//! `harakiri-graceful-timeout`), `max-worker-lifetime`, `reload-on-rss`,
//! `processes = auto`. Worker pids and counters are read from the stats JSON.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// The pid in the app's "SLEEP START <q> pid <pid>" line.
fn sleeping_pid(p: &mut Proc, q: &str) -> i32 {
    let needle = format!("SLEEP START {q} pid ");
    p.wait_log(&needle);
    let log = p.log_text();
    let rest = &log[log.find(&needle).unwrap() + needle.len()..];
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn harakiri_through_nginx_gives_502_and_spares_the_other_worker() {
    let dir = TempDir::new("harakiri-nginx");
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let sport = free_port();
    let saddr = format!("127.0.0.1:{sport}");
    let apps = apps_dir().display().to_string();
    let mut w = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--chmod-socket",
            "666",
            "--processes",
            "2",
            "--harakiri",
            "2",
            "--harakiri-verbose",
            "--stats",
            &saddr,
            "--pythonpath",
            &apps,
            "--module",
            "faults",
        ],
    );
    let nport = free_port();
    let _n = start_nginx(
        &dir,
        nport,
        &format!(
            "location / {{ include /etc/nginx/uwsgi_params; uwsgi_read_timeout 30s; uwsgi_pass unix:{s}; }}"
        ),
    );
    let base = format!("http://127.0.0.1:{nport}");
    let before = worker_pids(sport);
    assert_eq!(before.len(), 2, "{before:?}");
    let url = format!("{base}/sleep?5");
    let slow = std::thread::spawn(move || curl_status(&url));
    let victim = sleeping_pid(&mut w, "5");
    // A parallel fast request is served by the other worker meanwhile.
    let (code, body, _) = curl_status(&format!("{base}/pid"));
    assert_eq!(code, 200);
    assert_ne!(
        body.parse::<i32>().unwrap(),
        victim,
        "served by the busy worker?"
    );
    let (code, _, took) = slow.join().unwrap();
    assert_eq!(code, 502, "nginx must answer 502 for the killed request");
    assert!(
        took < 4.5,
        "the 5 s request was killed only after {took:.2} s"
    );
    eprintln!("harakiri 2: the sleep(5) request ended with 502 after {took:.2} s");
    w.wait_log(&format!(
        "(pid: {victim}) ended (killed by signal 9), respawning"
    ));
    let log = w.log_text();
    assert!(
        log.contains("HARAKIRI ON WORKER")
            && log.contains(&format!(
                "(pid: {victim}) WAS managing request GET /sleep?5"
            )),
        "{log}"
    );
    // Respawned: a new pid in the victim's slot, the other worker untouched.
    let after = wait_for("the respawned worker", || {
        let p = worker_pids(sport);
        (p.len() == 2 && !p.contains(&i64::from(victim))).then_some(p)
    });
    let other: Vec<_> = before.iter().filter(|&&p| p != i64::from(victim)).collect();
    assert!(
        after.contains(other[0]),
        "the other worker was touched: {before:?} -> {after:?}"
    );
    let v = stats_json(sport).unwrap();
    let hk: i64 = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["harakiri_count"].as_i64().unwrap())
        .sum();
    assert_eq!(hk, 1, "{v}");
    // The next requests are served.
    for _ in 0..4 {
        assert_eq!(curl_status(&format!("{base}/pid")).0, 200);
    }
    let elog = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
    assert!(elog.contains("upstream prematurely closed"), "{elog}");
}

#[test]
fn harakiri_graceful_timeout_signals_first_then_kills() {
    let dir = TempDir::new("harakiri-graceful");
    let (mut p, port, sport) = start_with_stats(
        &dir,
        "faults",
        &[
            "--processes",
            "2",
            "--harakiri",
            "1",
            "--harakiri-graceful-timeout",
            "2",
            "--harakiri-graceful-signal",
            "SIGTERM",
        ],
    );
    // A request that ignores the graceful signal: SIGKILL 2 s after the signal.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(b"GET /sleep?30 HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let start = Instant::now();
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut s, &mut out);
        (out, start.elapsed())
    });
    let victim = sleeping_pid(&mut p, "30");
    p.wait_log("sending signal 15 to worker");
    p.wait_log(&format!(
        "(pid: {victim}) still running its request after its harakiri-graceful-timeout: SIGKILL"
    ));
    let (out, took) = slow.join().unwrap();
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(8),
        "harakiri 1 + graceful 2: the connection closed after {took:?}"
    );
    eprintln!("harakiri 1 + graceful timeout 2: killed after {took:?}");
    p.wait_log(&format!(
        "(pid: {victim}) ended (killed by signal 9) after harakiri, respawning"
    ));
    // A request that ends within the graceful timeout completes; the worker then
    // exits and is replaced.
    let r = std::thread::spawn(move || http_get(port, "/sleep?2.5"));
    let victim2 = sleeping_pid(&mut p, "2.5");
    let r = r.join().unwrap();
    assert_eq!((r.status, r.text()), (200, "slept".to_string()));
    p.wait_log(&format!(
        "(pid: {victim2}) ended (exit status 0) after harakiri, respawning"
    ));
    wait_for("2 workers without the victims", || {
        let w = worker_pids(sport);
        (w.len() == 2 && !w.contains(&i64::from(victim)) && !w.contains(&i64::from(victim2)))
            .then_some(())
    });
    assert_eq!(http_get(port, "/pid").status, 200);
}

#[test]
fn max_worker_lifetime_recycles_while_requests_keep_succeeding() {
    let dir = TempDir::new("lifetime");
    let (mut p, port, sport) = start_with_stats(
        &dir,
        "faults",
        &[
            "--processes",
            "2",
            "--max-worker-lifetime",
            "2",
            "--disable-logging",
        ],
    );
    let first = worker_pids(sport);
    assert_eq!(first.len(), 2);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u32, Vec::new());
                // Bounded: at most 50k requests or until told to stop.
                for _ in 0..50_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match std::panic::catch_unwind(|| http_get(port, "/pid")) {
                        Ok(r) if r.status == 200 => ok += 1,
                        Ok(r) => failed.push(format!("status {}", r.status)),
                        Err(_) => failed.push("connection error".into()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let start = Instant::now();
    let second = wait_for("both workers replaced", || {
        let w = worker_pids(sport);
        (w.len() == 2 && w.iter().all(|p| !first.contains(p))).then_some(w)
    });
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let (ok, failed) = c.join().unwrap();
        assert!(
            failed.is_empty(),
            "{} failed: {:?}",
            failed.len(),
            &failed[..failed.len().min(5)]
        );
        total += ok;
    }
    assert!(total > 20, "only {total} requests");
    eprintln!(
        "max-worker-lifetime 2: {first:?} -> {second:?} after {took:?}, {total} requests, 0 failed"
    );
    p.wait_log("worker 1 lifetime reached, it was running for 2 second(s)");
    p.wait_log("for max-worker-lifetime, respawning");
    let v = stats_json(sport).unwrap();
    let n: i64 = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["lifetime_recycles"].as_i64().unwrap())
        .sum();
    assert!(n >= 2, "{v}");
}

#[test]
fn reload_on_rss_recycles_a_growing_worker() {
    let dir = TempDir::new("rss");
    let (mut p, port, sport) = start_with_stats(
        &dir,
        "faults",
        &["--processes", "1", "--reload-on-rss", "80"],
    );
    let v = stats_json(sport).unwrap();
    let rss0 = v["workers"][0]["rss"].as_u64().unwrap();
    assert!(
        rss0 > 1 << 20 && rss0 < 80 << 20,
        "worker RSS at start: {rss0}"
    );
    let pid0: i64 = http_get(port, "/pid").text().parse().unwrap();
    // 20 MiB per request, at most 6 times (120 MiB): over the 80 MiB limit.
    for _ in 0..6 {
        let t = http_get(port, "/alloc?20").text();
        let pid: i64 = t.split_whitespace().next().unwrap().parse().unwrap();
        if pid != pid0 {
            break;
        }
    }
    p.wait_log(&format!("(pid: {pid0}) RSS"));
    let pid1 = wait_for("a recycled worker", || {
        let w = worker_pids(sport);
        (w.len() == 1 && w[0] != pid0).then(|| w[0])
    });
    let log = p.log_text();
    assert!(
        log.contains("> reload-on-rss 80 MiB: recycling gracefully"),
        "{log}"
    );
    p.wait_log(&format!(
        "(pid: {pid0}) ended (exit status 0) for reload-on-rss, respawning"
    ));
    let v = stats_json(sport).unwrap();
    assert_eq!(v["workers"][0]["rss_recycles"], 1, "{v}");
    assert_eq!(v["workers"][0]["pid"].as_i64().unwrap(), pid1);
    let rss1 = v["workers"][0]["rss"].as_u64().unwrap();
    assert!(rss1 < 80 << 20, "new worker RSS {rss1}");
    assert_eq!(http_get(port, "/pid").text(), pid1.to_string());
}

#[test]
fn processes_auto_resolves_from_the_machine_and_starts() {
    let dir = TempDir::new("auto");
    let (mut p, port, sport) = start_with_stats(
        &dir,
        "faults",
        &["--processes", "auto", "--disable-logging"],
    );
    p.wait_log("processes = auto: ");
    let (line, n) = number_after(&p.log_text(), "processes = auto: ");
    let n = n as usize;
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(n >= 1 && n <= 2 * cpus + 1, "{line}");
    let v = stats_json(sport).unwrap();
    assert_eq!(v["workers"].as_array().unwrap().len(), n, "{v}");
    wait_for("every auto worker", || {
        (worker_pids(sport).len() == n).then_some(())
    });
    assert_eq!(http_get(port, "/pid").status, 200);
    eprintln!("{line}");
    // `workers = auto` in an ini file too.
    let ini = dir.join("auto.ini");
    let port2 = free_port();
    std::fs::write(
        &ini,
        format!(
            "[uwsgi]\nhttp-socket = 127.0.0.1:{port2}\npythonpath = {}\nmodule = faults\nworkers = auto\n",
            apps_dir().display()
        ),
    )
    .unwrap();
    let mut p2 = start_wsgid(&dir, &["--ini", &ini.display().to_string()]);
    p2.wait_log(&format!("processes = auto: {n} worker(s)"));
    assert_eq!(http_get(port2, "/pid").status, 200);
}
