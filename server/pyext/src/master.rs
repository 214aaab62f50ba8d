//! The master: binds sockets, loads the app (unless `lazy-apps`), forks workers with
//! Python's own `os.fork()` (GIL held, no other thread alive, so CPython's at-fork
//! handling is right), then waits on a signalfd: reaps and respawns workers, applies
//! harakiri (optionally graceful), recycles workers by age (`max-worker-lifetime`) and
//! memory (`reload-on-rss`), runs the cheaper algorithms (`spare`, `backlog`), serves
//! stats, reloads and stops.
//!
//! | signal          | wsgid                                   | uWSGI 2.0                      |
//! |-----------------|-----------------------------------------|--------------------------------|
//! | SIGHUP          | graceful reload of the workers          | graceful reload (whole master) |
//! | SIGINT, SIGQUIT | graceful stop, SIGKILL after reload-mercy | immediate kill                |
//! | SIGTERM         | graceful stop (as with die-on-term)     | brutal reload unless die-on-term |
//! | SIGCHLD         | reap, respawn unless stopping           | same                           |

use std::collections::HashMap;
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use wsgid::config::Config;

use crate::net::Listener;
use crate::py::environ::EnvConsts;
use crate::scoreboard::{Scoreboard, now_us};
use crate::worker::{self, Worker};

/// Process-wide state the master keeps.
pub struct Master {
    pub cfg: Arc<Config>,
    pub listeners: Vec<Listener>,
    pub app: Option<Py<PyAny>>,
    pub sb: Arc<Scoreboard>,
    /// pid -> worker index.
    pids: HashMap<i32, usize>,
    stats: Option<std::net::TcpListener>,
    stats_unix: Option<std::os::unix::net::UnixListener>,
    started: u64,
    /// Slots without a process by design (cheaper): shown as "cheap", not respawned.
    cheap: Vec<bool>,
    /// Slots whose worker was asked to stop by the cheaper subsystem (or a reload
    /// down to `cheaper-initial`): cheap once reaped, never respawned.
    retiring: Vec<bool>,
    /// The next cheaper cycle.
    cheaper_next: Instant,
    /// Consecutive cheaper cycles that found a spare idle worker.
    idle_cycles: u64,
    /// pid -> when it was forked (`max-worker-lifetime`).
    spawned_at: HashMap<i32, Instant>,
    /// Workers the master asked to stop and respawn (harakiri with
    /// `harakiri-graceful-timeout`, `max-worker-lifetime`, `reload-on-rss`):
    /// pid -> (SIGKILL deadline, reason).
    recycling: HashMap<i32, (Instant, Recycle)>,
    /// Per slot: workers recycled by `max-worker-lifetime` and by `reload-on-rss`.
    recycled: Vec<[u64; 2]>,
}

/// Why the master stops a worker and forks a new one in its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recycle {
    Harakiri,
    Lifetime,
    Rss,
}

/// (resident, virtual) bytes of `pid` from /proc/PID/statm.
fn proc_memory(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    let (size, resident) = (it.next()??, it.next()??);
    // SAFETY: sysconf has no memory arguments.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    Some((resident * page, size * page))
}

/// Connections waiting in the accept queue of a TCP listening socket (Linux
/// `TCP_INFO`: `tcpi_unacked` is the queue length of a socket in LISTEN state); None
/// for other sockets (UNIX).
pub fn listen_queue(fd: RawFd) -> Option<u32> {
    // SAFETY: getsockopt into a zeroed tcp_info of the given length.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let r = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (r == 0 && info.tcpi_state == 10/* TCP_LISTEN */).then_some(info.tcpi_unacked)
    }
}

/// Seconds between two cheaper cycles: `cheaper-overload` for `spare`, 1 s for
/// `backlog` (where `cheaper-overload` is a queue length), as uWSGI's master tick.
fn cheaper_period(ch: &wsgid::config::Cheaper) -> Duration {
    match ch.algo {
        wsgid::config::CheaperAlgo::Spare => Duration::from_secs(ch.overload),
        wsgid::config::CheaperAlgo::Backlog => Duration::from_secs(1),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Workers are stopping; `reexec`: then the master re-executes itself (SIGHUP
    /// without `lazy-apps`), otherwise it exits.
    Stopping {
        deadline: Instant,
        reexec: bool,
    },
}

/// How the launcher was started (see `wsgid::relaunch`), read once at start-up.
pub static RELAUNCH: std::sync::OnceLock<wsgid::relaunch::Relaunch> = std::sync::OnceLock::new();

/// execve(argv[0], argv, envp) with the default signal mask, after chdir(`cwd`) if
/// given. Returns only on failure (the directory is then restored).
fn exec_with(
    argv: &[std::ffi::CString],
    envp: &[std::ffi::CString],
    cwd: Option<&std::ffi::CStr>,
) -> std::io::Error {
    let old = std::env::current_dir().ok();
    if let Some(d) = cwd {
        // SAFETY: d is NUL-terminated.
        if unsafe { libc::chdir(d.as_ptr()) } != 0 {
            return std::io::Error::last_os_error();
        }
    }
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: restore the default signal mask for the new image, then execve with
    // NUL-terminated arrays of pointers into CStrings that outlive the call.
    // On failure the master's own mask is restored.
    let e = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut saved: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, &mut saved);
        libc::execve(argv_p[0], argv_p.as_ptr(), envp_p.as_ptr());
        let e = std::io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut());
        e
    };
    if let (Some(_), Some(o)) = (cwd, old) {
        let _ = std::env::set_current_dir(o);
    }
    e
}

/// Before a master re-exec: the launcher's `--check-config` on the (possibly edited) ini,
/// with the arguments, environment and directory the re-exec would use ([`RELAUNCH`]).
/// `Err` carries its complaint. Without [`RELAUNCH`] there is nothing to run: `Ok`. A
/// check that does not finish within 10 s is stopped and does not block the reload.
fn check_new_config() -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let Some(r) = RELAUNCH.get() else {
        return Ok(());
    };
    let mut cmd = std::process::Command::new(&r.exe);
    cmd.args(&r.args)
        .arg("--check-config")
        .env_clear()
        .current_dir(&r.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for kv in &r.env {
        let b = kv.as_bytes();
        if let Some(i) = b.iter().position(|&c| c == b'=') {
            cmd.env(
                std::ffi::OsStr::from_bytes(&b[..i]),
                std::ffi::OsStr::from_bytes(&b[i + 1..]),
            );
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("running {} --check-config: {e}", r.exe.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The master reaps children with waitpid(-1) only in its own loop, which is
        // here: this child is ours to wait for.
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(err.trim().replace('\n', "; "));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                crate::log::info("SIGHUP: --check-config did not finish in 10 s: reloading anyway");
                return Ok(());
            }
            Err(e) => return Err(format!("waiting for --check-config: {e}")),
        }
    }
}

/// Environment variable carrying the listening descriptors across a master re-exec.
pub const INHERIT_ENV: &str = "WSGID_INHERIT_FDS";

fn block_signals() -> std::io::Result<OwnedFd> {
    // SAFETY: sigset manipulation on a live local; signalfd creates a new descriptor.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [
            libc::SIGCHLD,
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
        ] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// `sd_notify(3)` without libsystemd: one datagram to $NOTIFY_SOCKET.
pub fn sd_notify(msg: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let p = path.to_string_lossy().into_owned();
    let r = if let Some(abs) = p.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())
            .and_then(|a| sock.send_to_addr(msg.as_bytes(), &a))
    } else {
        sock.send_to(msg.as_bytes(), &p)
    };
    if let Err(e) = r {
        crate::log::info(&format!("sd_notify to {p}: {e}"));
    }
}

impl Master {
    pub fn new(
        cfg: Arc<Config>,
        listeners: Vec<Listener>,
        app: Option<Py<PyAny>>,
    ) -> std::io::Result<Master> {
        let cfg_processes = cfg.processes as usize;
        let sb = Arc::new(Scoreboard::new(
            cfg.processes as usize,
            cfg.threads as usize,
        )?);
        let (mut stats, mut stats_unix) = (None, None);
        if let Some(s) = &cfg.stats {
            match wsgid::config::parse_bind(s) {
                Ok(wsgid::config::BindAddr::Tcp(a)) => {
                    let l = std::net::TcpListener::bind(a)?;
                    l.set_nonblocking(true)?;
                    stats = Some(l);
                }
                Ok(wsgid::config::BindAddr::Unix(p)) => {
                    let _ = std::fs::remove_file(&p);
                    let l = std::os::unix::net::UnixListener::bind(&p)?;
                    l.set_nonblocking(true)?;
                    stats_unix = Some(l);
                }
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        Ok(Master {
            cfg,
            listeners,
            app,
            sb,
            pids: HashMap::new(),
            stats,
            stats_unix,
            started: now_us(),
            cheap: vec![false; cfg_processes],
            retiring: vec![false; cfg_processes],
            cheaper_next: Instant::now(),
            idle_cycles: 0,
            spawned_at: HashMap::new(),
            recycling: HashMap::new(),
            recycled: vec![[0; 2]; cfg_processes],
        })
    }

    /// Forks worker `index`. In the child this never returns.
    fn spawn(&mut self, py: Python<'_>, index: usize, sigfd: RawFd) -> PyResult<()> {
        let os = py.import("os")?;
        let pid: i32 = os.call_method0("fork")?.extract()?;
        if pid > 0 {
            self.pids.insert(pid, index);
            self.spawned_at.insert(pid, Instant::now());
            self.cheap[index] = false;
            self.retiring[index] = false;
            let w = self.sb.worker(index);
            w.pid.store(pid, Ordering::Relaxed);
            w.respawns.fetch_add(1, Ordering::Relaxed);
            w.last_spawn.store(now_us() / 1_000_000, Ordering::Relaxed);
            for t in 0..self.sb.threads() {
                let c = self.sb.core(index, t);
                c.start_us.store(0, Ordering::Relaxed);
                c.conns.store(0, Ordering::Relaxed);
            }
            crate::log::info(&format!(
                "spawned worker {} (pid: {pid}, cores: {})",
                index + 1,
                self.cfg.threads
            ));
            return Ok(());
        }
        // Child.
        // SAFETY: closing the master's signalfd copy in the child.
        unsafe { libc::close(sigfd) };
        // Never unwind from the child into the master's code paths.
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.worker_main(py, index)))
                .unwrap_or(1);
        let _ = py
            .import("sys")
            .and_then(|s| s.getattr("stdout")?.call_method0("flush").map(|_| ()));
        let _ = py
            .import("sys")
            .and_then(|s| s.getattr("stderr")?.call_method0("flush").map(|_| ()));
        // SAFETY: ending the worker process without running the master's cleanup.
        unsafe { libc::_exit(code) }
    }

    fn worker_main(&mut self, py: Python<'_>, index: usize) -> i32 {
        crate::log::set_process_name(&format!("wsgid w{}", index + 1));
        let wake_r = match worker::install_signals() {
            Ok(fd) => fd,
            Err(e) => {
                crate::log::info(&format!("worker signals: {e}"));
                return 1;
            }
        };
        drop(self.stats.take());
        drop(self.stats_unix.take());
        let app = if self.cfg.lazy_apps {
            match crate::py::app::load(py, &self.cfg) {
                Ok(a) => Some(a),
                Err(e) => {
                    crate::log::info("cannot load the application (lazy-apps):");
                    e.display(py);
                    if self.cfg.need_app {
                        return 22;
                    }
                    None
                }
            }
        } else {
            self.app.as_ref().map(|a| a.clone_ref(py))
        };
        let consts = match EnvConsts::new(py, self.cfg.threads > 1, self.cfg.processes > 1) {
            Ok(c) => c,
            Err(e) => {
                e.display(py);
                return 1;
            }
        };
        let listeners = self.listeners.iter().map(|l| l.info()).collect();
        let w = Arc::new(Worker::new(
            self.cfg.clone(),
            listeners,
            app,
            consts,
            self.sb.clone(),
            index,
            wake_r,
        ));
        w.run(py);
        0
    }

    fn stats_json(&self) -> String {
        let mut workers = Vec::new();
        for i in 0..self.sb.workers() {
            let w = self.sb.worker(i);
            let busy = self.busy(i);
            let cheap = self.cheap[i];
            let cores: Vec<String> = (0..self.sb.threads())
                .map(|t| {
                    let c = self.sb.core(i, t);
                    format!(
                        "{{\"id\":{t},\"requests\":{},\"in_request\":{},\"connections\":{},\"accepting\":{}}}",
                        c.requests.load(Ordering::Relaxed),
                        u8::from(c.start_us.load(Ordering::Relaxed) != 0),
                        c.conns.load(Ordering::Relaxed),
                        c.accepting.load(Ordering::Relaxed)
                    )
                })
                .collect();
            let pid = w.pid.load(Ordering::Relaxed);
            let (rss, vsz) = if pid > 0 {
                proc_memory(pid).unwrap_or((0, 0))
            } else {
                (0, 0)
            };
            workers.push(format!(
                "{{\"id\":{},\"pid\":{},\"accepting\":{},\"requests\":{},\"status\":\"{}\",\"harakiri_count\":{},\"respawn_count\":{},\"last_spawn\":{},\"rss\":{rss},\"vsz\":{vsz},\"lifetime_recycles\":{},\"rss_recycles\":{},\"cores\":[{}]}}",
                i + 1,
                pid,
                u8::from(!cheap),
                w.requests.load(Ordering::Relaxed),
                if cheap {
                    "cheap"
                } else if busy {
                    "busy"
                } else {
                    "idle"
                },
                w.harakiri_count.load(Ordering::Relaxed),
                w.respawns.load(Ordering::Relaxed),
                w.last_spawn.load(Ordering::Relaxed),
                self.recycled[i][0],
                self.recycled[i][1],
                cores.join(",")
            ));
        }
        let sockets: Vec<String> = self
            .listeners
            .iter()
            .map(|l| {
                format!(
                    "{{\"name\":{:?},\"proto\":\"{}\",\"queue\":{},\"max_queue\":{}}}",
                    l.spec.text,
                    l.proto_name(),
                    listen_queue(l.fd()).unwrap_or(0),
                    self.cfg.listen
                )
            })
            .collect();
        format!(
            "{{\"version\":\"wsgid {}\",\"pid\":{},\"started_on\":{},\"total_requests\":{},\"sockets\":[{}],\"workers\":[{}]}}\n",
            wsgid::VERSION,
            std::process::id(),
            self.started / 1_000_000,
            self.sb.total_requests(),
            sockets.join(","),
            workers.join(",")
        )
    }

    /// Whether any handler thread of worker `i` is in a request (uWSGI's busy).
    fn busy(&self, i: usize) -> bool {
        (0..self.sb.threads()).any(|t| self.sb.core(i, t).start_us.load(Ordering::Relaxed) != 0)
    }

    /// Workers that run and are not being retired.
    fn running(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .pids
            .values()
            .copied()
            .filter(|&i| !self.retiring[i])
            .collect();
        v.sort_unstable();
        v
    }

    /// Spawns up to `n` workers into cheap slots; returns how many were forked.
    fn spawn_cheap(&mut self, py: Python<'_>, n: usize, sigfd: RawFd) -> usize {
        let free: Vec<usize> = (0..self.cheap.len())
            .filter(|&i| self.cheap[i])
            .take(n)
            .collect();
        let mut done = 0;
        for i in free {
            match self.spawn(py, i, sigfd) {
                Ok(()) => done += 1,
                Err(e) => crate::log::info(&format!("cannot spawn worker {}: {e}", i + 1)),
            }
        }
        done
    }

    /// One cycle of uWSGI's cheaper subsystem, `spare` algorithm, every
    /// `cheaper-overload` seconds: no idle worker -> spawn `cheaper-step` more (up to
    /// `processes`); a worker idle for the whole cycle while another one is idle too,
    /// for `cheaper-overload` cycles in a row -> stop the one idle the longest
    /// gracefully (never below `cheaper`). Reads only the scoreboard.
    fn cheaper_cycle(&mut self, py: Python<'_>, sigfd: RawFd) {
        let Some(ch) = self.cfg.cheaper else {
            return;
        };
        let now = Instant::now();
        if now < self.cheaper_next {
            return;
        }
        self.cheaper_next = now + cheaper_period(&ch);
        if ch.algo == wsgid::config::CheaperAlgo::Backlog {
            self.backlog_cycle(py, sigfd, &ch);
            return;
        }
        let running = self.running();
        let (min, max) = (ch.min as usize, self.cfg.processes as usize);
        if running.len() < min {
            self.idle_cycles = 0;
            self.spawn_cheap(py, min - running.len(), sigfd);
            return;
        }
        let not_busy: Vec<usize> = running.iter().copied().filter(|&i| !self.busy(i)).collect();
        if not_busy.is_empty() {
            self.idle_cycles = 0;
            if running.len() < max {
                let n = (ch.step as usize).min(max - running.len());
                crate::log::info(&format!(
                    "cheaper: all {} worker(s) busy, spawning {n} more",
                    running.len()
                ));
                self.spawn_cheap(py, n, sigfd);
            }
            return;
        }
        let now_us = now_us();
        let cycle_us = ch.overload * 1_000_000;
        let last = |i: usize| self.last_active_us(i);
        let candidate = not_busy
            .iter()
            .copied()
            .filter(|&i| now_us.saturating_sub(last(i)) >= cycle_us)
            .min_by_key(|&i| last(i));
        let Some(i) = candidate.filter(|_| running.len() > min && not_busy.len() >= 2) else {
            self.idle_cycles = 0;
            return;
        };
        self.retire_when_idle_long_enough(i, ch.overload, running.len(), ch.min, "cheaper:");
    }

    /// One cycle of uWSGI's `backlog` cheaper algorithm, every second: more than
    /// `cheaper-overload` connections waiting in the TCP listen queues -> spawn
    /// `cheaper-step` workers (up to `processes`); every queue empty for 3 cycles in a
    /// row while a worker (not the last spare) had no request for a cycle -> stop it
    /// gracefully (never below `cheaper`).
    fn backlog_cycle(&mut self, py: Python<'_>, sigfd: RawFd, ch: &wsgid::config::Cheaper) {
        let queue: u64 = self
            .listeners
            .iter()
            .filter_map(|l| listen_queue(l.fd()))
            .map(u64::from)
            .sum();
        let running = self.running();
        let (min, max) = (ch.min as usize, self.cfg.processes as usize);
        if running.len() < min {
            self.idle_cycles = 0;
            self.spawn_cheap(py, min - running.len(), sigfd);
            return;
        }
        if queue > ch.overload {
            self.idle_cycles = 0;
            if running.len() < max {
                let n = (ch.step as usize).min(max - running.len());
                crate::log::info(&format!(
                    "cheaper backlog: listen queue {queue} > cheaper-overload {}, spawning {n} more worker(s) ({} running)",
                    ch.overload,
                    running.len()
                ));
                self.spawn_cheap(py, n, sigfd);
            }
            return;
        }
        let now_us = now_us();
        let last = |i: usize| self.last_active_us(i);
        let not_busy: Vec<usize> = running.iter().copied().filter(|&i| !self.busy(i)).collect();
        let candidate = not_busy
            .iter()
            .copied()
            .filter(|&i| now_us.saturating_sub(last(i)) >= 1_000_000)
            .min_by_key(|&i| last(i));
        let Some(i) =
            candidate.filter(|_| queue == 0 && running.len() > min && not_busy.len() >= 2)
        else {
            self.idle_cycles = 0;
            return;
        };
        self.retire_when_idle_long_enough(
            i,
            3,
            running.len(),
            ch.min,
            "cheaper backlog: listen queues empty,",
        );
    }

    /// Last activity of worker `i` (us): the end of its last request, or its spawn if
    /// none since.
    fn last_active_us(&self, i: usize) -> u64 {
        let w = self.sb.worker(i);
        w.last_active_us
            .load(Ordering::Relaxed)
            .max(w.last_spawn.load(Ordering::Relaxed) * 1_000_000)
    }

    /// Counts one more idle cycle; after `cycles` in a row, stops idle worker `i`
    /// gracefully (its slot becomes cheap) and logs why, `what` first.
    fn retire_when_idle_long_enough(
        &mut self,
        i: usize,
        cycles: u64,
        running: usize,
        min: u32,
        what: &str,
    ) {
        self.idle_cycles += 1;
        if self.idle_cycles < cycles {
            return;
        }
        self.idle_cycles = 0;
        let pid = self.sb.worker(i).pid.load(Ordering::Relaxed);
        if pid <= 0 {
            return;
        }
        self.retiring[i] = true;
        crate::log::info(&format!(
            "{what} worker {} (pid: {pid}) idle for {} s, stopping it ({} running, cheaper {min})",
            i + 1,
            now_us().saturating_sub(self.last_active_us(i)) / 1_000_000,
            running - 1,
        ));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }

    /// Asks worker `pid` (slot `i`) to finish its request and exit; it is respawned
    /// when reaped, and SIGKILLed if still there after `grace`.
    fn recycle(&mut self, pid: i32, i: usize, why: Recycle, sig: libc::c_int, grace: Duration) {
        self.recycling.insert(pid, (Instant::now() + grace, why));
        match why {
            Recycle::Lifetime => self.recycled[i][0] += 1,
            Recycle::Rss => self.recycled[i][1] += 1,
            Recycle::Harakiri => {}
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, sig) };
    }

    /// `max-worker-lifetime` and `reload-on-rss`: graceful recycling of running
    /// workers (not cheaper-retiring ones, not those already being recycled); and
    /// SIGKILL for recycled workers past their deadline.
    fn recycle_checks(&mut self) {
        let now = Instant::now();
        let overdue: Vec<(i32, Recycle)> = self
            .recycling
            .iter()
            .filter(|(_, (deadline, _))| now >= *deadline)
            .map(|(&pid, &(_, why))| (pid, why))
            .collect();
        for (pid, why) in overdue {
            if let Some(&i) = self.pids.get(&pid) {
                crate::log::info(&format!(
                    "worker {} (pid: {pid}) still running {} after its {}: SIGKILL",
                    i + 1,
                    if why == Recycle::Harakiri {
                        "its request"
                    } else {
                        "a request"
                    },
                    match why {
                        Recycle::Harakiri => "harakiri-graceful-timeout",
                        _ => "worker-reload-mercy",
                    }
                ));
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            // Killed once; the entry goes when it is reaped.
            self.recycling
                .insert(pid, (now + Duration::from_secs(3600), why));
        }
        if self.cfg.max_worker_lifetime.is_none() && self.cfg.reload_on_rss.is_none() {
            return;
        }
        let mercy = Duration::from_secs(self.cfg.reload_mercy);
        let live: Vec<(i32, usize)> = self
            .pids
            .iter()
            .map(|(&p, &i)| (p, i))
            .filter(|&(p, i)| !self.retiring[i] && !self.recycling.contains_key(&p))
            .collect();
        for (pid, i) in live {
            if let (Some(limit), Some(at)) =
                (self.cfg.max_worker_lifetime, self.spawned_at.get(&pid))
            {
                let age = at.elapsed();
                if age >= Duration::from_secs(limit) {
                    // uWSGI's line, then wsgid's detail.
                    crate::log::info(&format!(
                        "worker {} lifetime reached, it was running for {} second(s)",
                        i + 1,
                        age.as_secs()
                    ));
                    crate::log::info(&format!(
                        "worker {} (pid: {pid}) max-worker-lifetime {limit} s: recycling gracefully",
                        i + 1
                    ));
                    self.recycle(pid, i, Recycle::Lifetime, libc::SIGTERM, mercy);
                    continue;
                }
            }
            if let Some(limit) = self.cfg.reload_on_rss
                && let Some((rss, _)) = proc_memory(pid)
                && rss > limit * 1024 * 1024
            {
                crate::log::info(&format!(
                    "worker {} (pid: {pid}) RSS {} MiB > reload-on-rss {limit} MiB: recycling gracefully",
                    i + 1,
                    rss / (1024 * 1024)
                ));
                self.recycle(pid, i, Recycle::Rss, libc::SIGTERM, mercy);
            }
        }
    }

    fn serve_stats(&self) {
        let body = self.stats_json();
        if let Some(l) = &self.stats {
            while let Ok((mut s, _)) = l.accept() {
                let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = s.write_all(body.as_bytes());
            }
        }
        if let Some(l) = &self.stats_unix {
            while let Ok((mut s, _)) = l.accept() {
                let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = s.write_all(body.as_bytes());
            }
        }
    }

    /// `harakiri`: a worker whose request runs longer than the limit is killed
    /// (SIGKILL), or with `harakiri-graceful-timeout` first sent
    /// `harakiri-graceful-signal` and SIGKILLed after that timeout (recycle_checks).
    fn harakiri(&mut self) {
        let Some(limit) = self.cfg.harakiri else {
            return;
        };
        let now = now_us();
        let mut hits = Vec::new();
        for (&pid, &i) in &self.pids {
            if self
                .recycling
                .get(&pid)
                .is_some_and(|(_, why)| *why == Recycle::Harakiri)
            {
                continue;
            }
            for t in 0..self.sb.threads() {
                let c = self.sb.core(i, t);
                let start = c.start_us.load(Ordering::Acquire);
                if start != 0 && now.saturating_sub(start) > limit * 1_000_000 {
                    let elapsed = now.saturating_sub(start);
                    crate::log::info(&format!(
                        "*** HARAKIRI ON WORKER {} (pid: {pid}, core: {t}) after {}.{:03} s (harakiri {limit}) ***",
                        i + 1,
                        elapsed / 1_000_000,
                        (elapsed % 1_000_000) / 1000,
                    ));
                    crate::log::info(&format!(
                        "HARAKIRI: worker {} (pid: {pid}) WAS managing request {} since {} s",
                        i + 1,
                        c.info(),
                        elapsed / 1_000_000
                    ));
                    self.sb
                        .worker(i)
                        .harakiri_count
                        .fetch_add(1, Ordering::Relaxed);
                    hits.push((pid, i, t));
                    break;
                }
            }
        }
        for (pid, i, t) in hits {
            if let Some(g) = self.cfg.harakiri_graceful_timeout {
                let sig = self.cfg.harakiri_graceful_signal;
                crate::log::info(&format!(
                    "HARAKIRI: sending signal {sig} to worker {} (pid: {pid}), SIGKILL in {g} s (harakiri-graceful-timeout)",
                    i + 1
                ));
                self.recycle(pid, i, Recycle::Harakiri, sig, Duration::from_secs(g));
            } else {
                self.sb.core(i, t).start_us.store(0, Ordering::Relaxed);
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    /// Re-executes the master, handing the listening sockets over in [`INHERIT_ENV`].
    /// Started by the launcher ([`RELAUNCH`] known): the launcher again, with the
    /// environment and directory it was first started with, so the (possibly edited)
    /// ini's `env`, `chdir`, `home`/`virtualenv` apply from scratch. Otherwise (or if
    /// that exec fails): the same interpreter and arguments (/proc/self/cmdline) with the
    /// current environment. Returns only on failure.
    fn reexec(&self, py: Python<'_>) -> std::io::Error {
        use std::ffi::CString;
        let mut fds = Vec::new();
        for l in &self.listeners {
            // SAFETY: clearing FD_CLOEXEC on our own listening descriptor.
            unsafe { libc::fcntl(l.fd(), libc::F_SETFD, 0) };
            fds.push(l.fd().to_string());
        }
        for name in ["stdout", "stderr"] {
            let _ = py
                .import("sys")
                .and_then(|s| s.getattr(name)?.call_method0("flush").map(|_| ()));
        }
        if let Some(r) = RELAUNCH.get() {
            use std::os::unix::ffi::OsStrExt;
            let c = |b: &[u8]| CString::new(b).ok();
            let argv: Option<Vec<CString>> = std::iter::once(r.exe.as_os_str())
                .chain(r.args.iter().map(|a| a.as_os_str()))
                .map(|a| c(a.as_bytes()))
                .collect();
            let mut envp: Vec<CString> = r.env.iter().filter_map(|e| c(e.as_bytes())).collect();
            for var in wsgid::relaunch::HANDOVER {
                if let Some(v) = std::env::var_os(var) {
                    let mut kv = std::ffi::OsString::from(var);
                    kv.push("=");
                    kv.push(v);
                    envp.extend(c(kv.as_bytes()));
                }
            }
            if let (Some(argv), Some(fdvar), Some(cwd)) = (
                argv,
                c(format!("{INHERIT_ENV}={}", fds.join(",")).as_bytes()),
                c(r.cwd.as_os_str().as_bytes()),
            ) {
                envp.push(fdvar);
                crate::log::info(&format!(
                    "re-executing the master (pid {}) through the launcher {}",
                    std::process::id(),
                    r.exe.display()
                ));
                let e = exec_with(&argv, &envp, Some(&cwd));
                crate::log::info(&format!(
                    "cannot re-execute the launcher {} ({e}): re-executing the interpreter",
                    r.exe.display()
                ));
            }
        }
        let cmdline = match std::fs::read("/proc/self/cmdline") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let argv: Vec<CString> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .filter_map(|a| CString::new(a).ok())
            .collect();
        if argv.is_empty() {
            return std::io::Error::other("empty /proc/self/cmdline");
        }
        let mut envp: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| k != INHERIT_ENV)
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend_from_slice(&v.into_encoded_bytes());
                CString::new(kv).ok()
            })
            .collect();
        if let Ok(c) = CString::new(format!("{INHERIT_ENV}={}", fds.join(","))) {
            envp.push(c);
        }
        crate::log::info(&format!(
            "re-executing the master (pid {})",
            std::process::id()
        ));
        exec_with(&argv, &envp, None)
    }

    fn signal_workers(&self, sig: libc::c_int) {
        for &pid in self.pids.keys() {
            // SAFETY: signalling our own children.
            unsafe { libc::kill(pid, sig) };
        }
    }

    /// The master loop. Returns the exit code.
    pub fn run(&mut self, py: Python<'_>) -> PyResult<i32> {
        crate::log::set_process_name("wsgid master");
        let sigfd =
            block_signals().map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
        let initial = self.cfg.cheaper.map_or(self.cfg.processes, |c| c.initial) as usize;
        for i in 0..self.cfg.processes as usize {
            if i < initial {
                self.spawn(py, i, sigfd.as_raw_fd())?;
            } else {
                self.cheap[i] = true;
            }
        }
        if let Some(ch) = self.cfg.cheaper {
            self.cheaper_next = Instant::now() + cheaper_period(&ch);
        }
        if let Some(how) = &self.cfg.processes_auto {
            crate::log::info(how);
        }
        sd_notify("READY=1\nSTATUS=serving");
        crate::log::info(&format!(
            "master (pid: {}) ready: {} worker(s) x {} thread(s){} on {}",
            std::process::id(),
            initial,
            self.cfg.threads,
            self.cfg.cheaper.map_or(String::new(), |c| format!(
                " (cheaper {}: {}..{} workers, step {}, {})",
                match c.algo {
                    wsgid::config::CheaperAlgo::Spare => "spare",
                    wsgid::config::CheaperAlgo::Backlog => "backlog",
                },
                c.min,
                self.cfg.processes,
                c.step,
                match c.algo {
                    wsgid::config::CheaperAlgo::Spare => format!("cycle {} s", c.overload),
                    wsgid::config::CheaperAlgo::Backlog =>
                        format!("spawn when a TCP listen queue > {}", c.overload),
                }
            )),
            self.listeners
                .iter()
                .map(|l| l.spec.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut state = State::Running;
        // Worker indexes to respawn once their old process is gone (reload).
        loop {
            if let State::Stopping { deadline, reexec } = state {
                if self.pids.is_empty() {
                    if reexec {
                        let e = self.reexec(py);
                        crate::log::info(&format!("cannot re-execute the master ({e}): stopping"));
                    }
                    break;
                }
                if Instant::now() >= deadline {
                    crate::log::info("workers did not stop within reload-mercy: killing them");
                    self.signal_workers(libc::SIGKILL);
                    state = State::Stopping {
                        deadline: Instant::now() + Duration::from_secs(3600),
                        reexec,
                    };
                }
            }
            let mut pfds = vec![libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if let Some(l) = &self.stats {
                pfds.push(libc::pollfd {
                    fd: l.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            if let Some(l) = &self.stats_unix {
                pfds.push(libc::pollfd {
                    fd: l.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            // 1 s tick (reap, recycling), 250 ms with harakiri or a recycle deadline
            // pending, shorter when a cheaper cycle is due sooner.
            let tick = if self.cfg.harakiri.is_some() || !self.recycling.is_empty() {
                250
            } else {
                1000
            };
            let timeout = if self.cfg.cheaper.is_some() && state == State::Running {
                self.cheaper_next
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .clamp(1, tick) as libc::c_int
            } else {
                tick as libc::c_int
            };
            let n = py.detach(|| {
                // SAFETY: pfds is a live array of the given length.
                unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) }
            });
            if n > 0 && pfds.len() > 1 {
                self.serve_stats();
            }
            // Signals.
            loop {
                // SAFETY: reading one signalfd_siginfo into a live local.
                let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                let r = unsafe {
                    libc::read(
                        sigfd.as_raw_fd(),
                        (&mut si as *mut libc::signalfd_siginfo).cast(),
                        std::mem::size_of::<libc::signalfd_siginfo>(),
                    )
                };
                if r <= 0 {
                    break;
                }
                match si.ssi_signo as i32 {
                    libc::SIGCHLD => {}
                    libc::SIGHUP if state == State::Running => {
                        sd_notify("RELOADING=1");
                        if self.cfg.lazy_apps {
                            crate::log::info("SIGHUP: gracefully reloading workers");
                            if let Some(ch) = self.cfg.cheaper {
                                // The reload restarts `cheaper-initial` workers: the
                                // others become cheap once they have stopped.
                                let running = self.running();
                                for &i in running.iter().skip(ch.initial as usize) {
                                    self.retiring[i] = true;
                                }
                                let missing = (ch.initial as usize).saturating_sub(running.len());
                                self.signal_workers(libc::SIGTERM);
                                self.spawn_cheap(py, missing, sigfd.as_raw_fd());
                                self.idle_cycles = 0;
                                self.cheaper_next = Instant::now() + cheaper_period(&ch);
                                continue;
                            }
                        } else {
                            if let Err(why) = check_new_config() {
                                // uWSGI would re-exec and die on a broken ini; keeping the
                                // running master is what a sysadmin's reload should do.
                                crate::log::info(&format!(
                                    "SIGHUP: the configuration does not load, not reloading (the running master keeps serving): {why}"
                                ));
                                sd_notify("READY=1");
                                continue;
                            }
                            // The app was imported by the master: reload the master too
                            // (as uWSGI), keeping the listening sockets.
                            crate::log::info(
                                "SIGHUP: gracefully reloading workers, then re-executing the master",
                            );
                            state = State::Stopping {
                                deadline: Instant::now()
                                    + Duration::from_secs(self.cfg.reload_mercy),
                                reexec: true,
                            };
                        }
                        self.signal_workers(libc::SIGTERM);
                    }
                    s @ (libc::SIGINT | libc::SIGQUIT | libc::SIGTERM) => {
                        if let State::Stopping {
                            deadline,
                            reexec: true,
                        } = state
                        {
                            crate::log::info(&format!("signal {s}: stopping instead of reloading"));
                            sd_notify("STOPPING=1");
                            state = State::Stopping {
                                deadline,
                                reexec: false,
                            };
                        } else if let State::Stopping { .. } = state {
                            if s == libc::SIGINT {
                                crate::log::info("second SIGINT: killing workers");
                                self.signal_workers(libc::SIGKILL);
                            }
                        } else {
                            crate::log::info(&format!(
                                "signal {s}: stopping gracefully (at most {} s)",
                                self.cfg.reload_mercy
                            ));
                            sd_notify("STOPPING=1");
                            state = State::Stopping {
                                deadline: Instant::now()
                                    + Duration::from_secs(self.cfg.reload_mercy),
                                reexec: false,
                            };
                            self.signal_workers(libc::SIGTERM);
                        }
                    }
                    _ => {}
                }
            }
            // Reap.
            loop {
                let mut status = 0;
                // SAFETY: waitpid with a live status out-parameter.
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                let Some(index) = self.pids.remove(&pid) else {
                    continue;
                };
                self.spawned_at.remove(&pid);
                let recycled = self.recycling.remove(&pid).map(|(_, why)| why);
                self.sb.worker(index).pid.store(0, Ordering::Relaxed);
                // A dead worker owns no connections (balanced accepting of the others).
                for t in 0..self.sb.threads() {
                    let c = self.sb.core(index, t);
                    c.conns.store(0, Ordering::Relaxed);
                    c.accepting.store(0, Ordering::Relaxed);
                }
                let how = if libc::WIFSIGNALED(status) {
                    format!("killed by signal {}", libc::WTERMSIG(status))
                } else {
                    format!("exit status {}", libc::WEXITSTATUS(status))
                };
                if state == State::Running && self.retiring[index] {
                    self.retiring[index] = false;
                    self.cheap[index] = true;
                    crate::log::info(&format!(
                        "worker {} (pid: {pid}) stopped by cheaper ({how}), slot now cheap",
                        index + 1
                    ));
                    continue;
                }
                if state == State::Running {
                    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 22 {
                        crate::log::info(&format!(
                            "worker {} (pid: {pid}) could not load the app (need-app): stopping",
                            index + 1
                        ));
                        state = State::Stopping {
                            deadline: Instant::now() + Duration::from_secs(self.cfg.reload_mercy),
                            reexec: false,
                        };
                        self.signal_workers(libc::SIGTERM);
                        continue;
                    }
                    crate::log::info(&format!(
                        "worker {} (pid: {pid}) ended ({how}){}, respawning",
                        index + 1,
                        match recycled {
                            Some(Recycle::Harakiri) => " after harakiri",
                            Some(Recycle::Lifetime) => " for max-worker-lifetime",
                            Some(Recycle::Rss) => " for reload-on-rss",
                            None => "",
                        }
                    ));
                    if let Err(e) = self.spawn(py, index, sigfd.as_raw_fd()) {
                        crate::log::info(&format!("cannot respawn worker {}: {e}", index + 1));
                    }
                } else {
                    crate::log::info(&format!(
                        "worker {} (pid: {pid}) stopped ({how})",
                        index + 1
                    ));
                }
            }
            if state == State::Running {
                self.harakiri();
                self.recycle_checks();
                self.cheaper_cycle(py, sigfd.as_raw_fd());
            }
        }
        if self.cfg.vacuum {
            crate::net::vacuum(&self.listeners);
            if let Some(p) = &self.cfg.pidfile {
                let _ = std::fs::remove_file(p);
            }
        }
        crate::log::info("master stopped");
        Ok(0)
    }
}
