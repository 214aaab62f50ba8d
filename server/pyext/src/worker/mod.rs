//! A worker process: `threads` handler threads, each with its own epoll loop over the
//! shared listening sockets (EPOLLEXCLUSIVE, non-blocking accept) and the keep-alive
//! connections it owns. A ready request is served with blocking I/O bounded by
//! `socket-timeout`; the GIL is held only around the application call/iteration.
//!
//! Signals (SIGTERM, SIGHUP, SIGINT, SIGQUIT): graceful stop; in-flight requests finish,
//! idle connections are closed, the process exits 0 and the master decides what next.

pub mod conn;
pub mod exchange;
pub mod handle;
pub mod request;

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use wsgid::config::{Config, Proto};

use crate::py::environ::EnvConsts;
use crate::scoreboard::Scoreboard;
use conn::Conn;

/// Connections accepted per listener wake-up at most (see `thread_loop`).
const ACCEPT_BATCH: usize = 8;

static STOP: AtomicBool = AtomicBool::new(false);
static WAKE_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    let fd = WAKE_W.load(Ordering::SeqCst);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Asks this worker to stop gracefully (max-requests reached).
fn request_stop() {
    on_stop_signal(0);
}

/// Everything the handler threads of a worker share.
pub struct Worker {
    pub cfg: Arc<Config>,
    pub listeners: Vec<conn::ListenInfo>,
    pub app: Option<Py<PyAny>>,
    pub consts: EnvConsts,
    pub sb: Arc<Scoreboard>,
    /// 0-based worker index (log and stats say index + 1).
    pub index: usize,
    pub pid: u32,
    pub requests: AtomicU64,
    wake_r: RawFd,
}

/// Installs the worker's signal handlers and wake-up pipe; unblocks signals.
pub fn install_signals() -> std::io::Result<RawFd> {
    // The TLS hand-over of the master (for its own re-exec) is not for workers.
    crate::tls::close_handover();
    let mut fds = [0; 2];
    // SAFETY: fds is a live two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    WAKE_W.store(fds[1], Ordering::SeqCst);
    // SAFETY: plain sigaction setup with a handler that only touches atomics and write(2).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_stop_signal as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        for s in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGCHLD, &dfl, std::ptr::null_mut());
        // The master dies -> we stop too (no orphans serving stale code).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    Ok(fds[0])
}

impl Worker {
    pub fn new(
        cfg: Arc<Config>,
        listeners: Vec<conn::ListenInfo>,
        app: Option<Py<PyAny>>,
        consts: EnvConsts,
        sb: Arc<Scoreboard>,
        index: usize,
        wake_r: RawFd,
    ) -> Worker {
        Worker {
            cfg,
            listeners,
            app,
            consts,
            sb,
            index,
            pid: std::process::id(),
            requests: AtomicU64::new(0),
            wake_r,
        }
    }

    /// Runs the handler threads until a stop signal; the caller holds the GIL.
    pub fn run(self: Arc<Self>, py: Python<'_>) {
        let n = self.cfg.threads as usize;
        py.detach(|| {
            let mut handles = Vec::new();
            for t in 1..n {
                let w = self.clone();
                match std::thread::Builder::new()
                    .name(format!("wsgid-core-{t}"))
                    .spawn(move || {
                        // One Python thread state for the thread's whole life: requests
                        // re-attach to it (no per-request PyGILState create/destroy, and
                        // threading.local survives between requests, as in uWSGI).
                        Python::attach(|py| py.detach(|| w.thread_loop(t)))
                    }) {
                    Ok(h) => handles.push(h),
                    Err(e) => crate::log::info(&format!("cannot start handler thread {t}: {e}")),
                }
            }
            self.thread_loop(0);
            for h in handles {
                let _ = h.join();
            }
        });
    }

    fn thread_loop(&self, core: usize) {
        // SAFETY: epoll_create1 has no memory arguments.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            crate::log::info(&format!(
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            ));
            return;
        }
        const WAKE: u64 = u64::MAX;
        const LISTEN_BASE: u64 = 1 << 40;
        let add = |fd: RawFd, events: u32, data: u64| {
            let mut ev = libc::epoll_event { events, u64: data };
            // SAFETY: ep and fd are valid; ev is a live local.
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) }
        };
        add(self.wake_r, libc::EPOLLIN as u32, WAKE);
        // Balanced accepting: a thread takes its share of the new connections (one
        // exclusive wake-up per arrival among the accepting threads) only while it does
        // not own more than its share of the kept-alive connections (scoreboard). Over
        // its share, it only watches the listeners (edge-triggered, not exclusive): every
        // arrival wakes it to look at its share again, and it accepts nothing.
        let listen = |accepting: bool, first: bool| {
            let events = if accepting {
                libc::EPOLLIN | libc::EPOLLEXCLUSIVE
            } else {
                libc::EPOLLIN | libc::EPOLLET
            };
            for (i, l) in self.listeners.iter().enumerate() {
                if !first {
                    // EPOLLEXCLUSIVE cannot be modified: delete and add again.
                    // SAFETY: ep and l.fd are valid; DEL ignores the event argument.
                    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_DEL, l.fd, std::ptr::null_mut()) };
                }
                add(l.fd, events as u32, LISTEN_BASE + i as u64);
            }
        };
        let slot = self.sb.core(self.index, core);
        slot.conns.store(0, Ordering::Relaxed);
        slot.accepting.store(1, Ordering::Relaxed);
        listen(true, true);
        let mut listening = true;
        // Kept-alive connections owned by this thread, with their last activity.
        let mut conns: HashMap<RawFd, (Conn, Instant)> = HashMap::new();
        let idle_limit = Duration::from_secs(self.cfg.socket_timeout.max(1));
        let mut last_sweep = Instant::now();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
        while !STOP.load(Ordering::Relaxed) {
            if !conns.is_empty() && last_sweep.elapsed() >= Duration::from_secs(1) {
                // Idle keep-alive connections are closed after socket-timeout.
                last_sweep = Instant::now();
                conns.retain(|_, (_, at)| at.elapsed() < idle_limit);
            }
            let over = self.over_share(core, conns.len());
            if over == listening {
                listening = !over;
                listen(listening, false);
                slot.accepting.store(u8::from(listening), Ordering::Relaxed);
            }
            // Not accepting, the thread also looks at its share again soon without an
            // arrival: a thread that took over accepting may get stuck in a long request.
            let wait_ms = if conns.is_empty() {
                -1
            } else if listening {
                1000
            } else {
                100
            };
            // SAFETY: events is a live buffer of the given length.
            let n =
                unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, wait_ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                crate::log::info(&format!("epoll_wait: {e}"));
                break;
            }
            for ev in &events[..n as usize] {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                let data = ev.u64;
                if data == WAKE {
                    continue;
                }
                if data >= LISTEN_BASE {
                    if !listening {
                        // An arrival seen while over its share: the loop looks again.
                        continue;
                    }
                    // Connections queued meanwhile are accepted without another
                    // epoll_wait (bounded, so owned keep-alive connections and the other
                    // listeners are not starved).
                    for _ in 0..ACCEPT_BATCH {
                        match conn::accept(&self.listeners[(data - LISTEN_BASE) as usize]) {
                            Ok(Some(mut c)) => {
                                // HTTPS: the handshake, bounded by socket-timeout. A failure
                                // (plain HTTP on the TLS port, no common suite, a client that
                                // rejects the certificate) costs this connection only.
                                if let Err(e) = c.handshake(idle_limit) {
                                    crate::log::info(&format!(
                                        "TLS handshake with {} failed: {e}",
                                        if c.peer.remote_addr.is_empty() {
                                            "unix socket client"
                                        } else {
                                            &c.peer.remote_addr
                                        }
                                    ));
                                } else if let Some(c) = self.serve(c, core) {
                                    add(c.fd(), libc::EPOLLIN as u32, c.fd() as u64);
                                    conns.insert(c.fd(), (c, Instant::now()));
                                    // Over its share: the rest of the queue is left
                                    // to the other threads.
                                    if self.over_share(core, conns.len()) {
                                        break;
                                    }
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                // EMFILE/ENFILE/ENOBUFS: the listener stays readable; back
                                // off briefly instead of spinning (and flooding the log).
                                crate::log::info(&format!("accept: {e}"));
                                std::thread::sleep(Duration::from_millis(50));
                                break;
                            }
                        }
                        if STOP.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    continue;
                }
                let fd = data as RawFd;
                if let Some((c, _)) = conns.remove(&fd) {
                    match self.serve(c, core) {
                        Some(c) => {
                            conns.insert(fd, (c, Instant::now()));
                        }
                        None => {
                            // Closed (the fd left epoll when it was closed).
                        }
                    }
                }
            }
        }
        // Graceful stop: idle keep-alive connections are closed.
        drop(conns);
        slot.conns.store(0, Ordering::Relaxed);
        slot.accepting.store(0, Ordering::Relaxed);
        // SAFETY: ep is our epoll descriptor.
        unsafe { libc::close(ep) };
    }

    /// Publishes the number of kept-alive connections this thread owns on the scoreboard
    /// and tells whether it is over its share of them (balanced accepting).
    fn over_share(&self, core: usize, owned: usize) -> bool {
        let mine = owned.min(u32::MAX as usize) as u32;
        let slot = self.sb.core(self.index, core);
        if slot.conns.load(Ordering::Relaxed) != mine {
            slot.conns.store(mine, Ordering::Relaxed);
        }
        self.sb.over_share(self.index, core, mine)
    }

    /// Serves requests on `c` while they are ready. Returns the connection if it stays
    /// open and idle (to be watched by epoll), None if it was closed.
    fn serve(&self, mut c: Conn, core: usize) -> Option<Conn> {
        // A connection this thread accepted (or found readable) is served even if a stop
        // was asked meanwhile: the stop only ends it between requests.
        let mut answered = false;
        loop {
            if !request::head_buffered(&c, self.cfg.buffer_size) {
                // After a response, the client's next request has rarely arrived yet (it
                // has to read the response first): a read here would mostly fail with
                // EAGAIN, one wasted syscall per kept-alive request. Epoll (level-
                // triggered) reports the socket once it is readable. Not so for TLS: the
                // TLS layer may hold decrypted bytes that epoll cannot see.
                if answered && !c.is_tls() {
                    return Some(c);
                }
                match c.try_read_more() {
                    Ok(None) => return Some(c),
                    Ok(Some(0)) => return None,
                    Ok(Some(_)) => {}
                    Err(_) => return None,
                }
            }
            let started = Instant::now();
            let req = match request::read(
                &mut c,
                self.cfg.buffer_size,
                Duration::from_secs(self.cfg.socket_timeout.max(1)),
            ) {
                Ok(Some(r)) => r,
                Ok(None) => return None,
                Err(e) => {
                    crate::log::info(&format!(
                        "{} request refused from {}: {e}",
                        if c.proto == Proto::Http {
                            "HTTP"
                        } else {
                            "uwsgi"
                        },
                        if c.peer.remote_addr.is_empty() {
                            "unix socket"
                        } else {
                            &c.peer.remote_addr
                        }
                    ));
                    if c.proto == Proto::Http
                        && matches!(
                            e,
                            request::ReadError::Http(_) | request::ReadError::Truncated
                        )
                    {
                        let _ = c.write_all(&[b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nBad Request\n"]);
                    }
                    return None;
                }
            };
            let slot = self.sb.core(self.index, core);
            let mut info = Vec::with_capacity(req.method.len() + 1 + req.uri.len());
            info.extend_from_slice(req.method.as_bytes());
            info.push(b' ');
            info.extend_from_slice(&req.uri);
            slot.begin(&info);
            // A bug here must cost one connection, not the handler thread.
            let outcome = Python::attach(|py| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handle::handle(py, self.app.as_ref(), &self.consts, &req, c)
                }))
            });
            slot.end();
            let outcome = match outcome {
                Ok(o) => o,
                Err(_) => {
                    crate::log::info(
                        "internal error (panic) while serving a request: connection closed",
                    );
                    handle::Outcome {
                        status: 500,
                        body_bytes: 0,
                        headers: 0,
                        header_bytes: 0,
                        conn: None,
                    }
                }
            };
            let wreq = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
            let ws = self.sb.worker(self.index);
            ws.requests.store(wreq, Ordering::Relaxed);
            ws.last_active_us
                .store(crate::scoreboard::now_us(), Ordering::Relaxed);
            let total = self.sb.count_request();
            if !self.cfg.disable_logging {
                crate::log::request(&crate::log::RequestLog {
                    pid: self.pid,
                    worker_requests: wreq,
                    total_requests: total,
                    remote_addr: &req.remote_addr,
                    vars: req.vars.len(),
                    vars_bytes: req.vars_bytes,
                    method: &req.method,
                    uri: &req.uri,
                    body_bytes: outcome.body_bytes,
                    msecs: started.elapsed().as_millis(),
                    protocol: &req.protocol,
                    status: outcome.status,
                    headers: outcome.headers,
                    header_bytes: outcome.header_bytes,
                    core,
                });
            }
            if self.cfg.max_requests.is_some_and(|m| wreq >= m) {
                crate::log::info(&format!(
                    "worker {} (pid {}) reached max-requests {}, recycling",
                    self.index + 1,
                    self.pid,
                    wreq
                ));
                request_stop();
            }
            c = outcome.conn?;
            if STOP.load(Ordering::Relaxed) {
                return None;
            }
            answered = true;
        }
    }
}
