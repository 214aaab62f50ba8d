//! The scoreboard: per-worker and per-handler-thread ("core", uWSGI's word) state in
//! anonymous shared memory (`mmap(MAP_SHARED)` before the first fork), written by
//! workers and read by the master (harakiri, stats). Every field is an atomic, so no
//! lock is shared across processes.

use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes of "METHOD URI" kept per core for harakiri and stats.
pub const INFO_LEN: usize = 120;

/// Connections a handler thread may own above the even share before it stops accepting
/// (balanced accepting, [`Scoreboard::over_share`]).
pub const ACCEPT_SLACK: u64 = 1;

/// A thread in a request started this long ago (microseconds) cannot take new
/// connections off an over-share thread: the latter accepts again.
pub const STUCK_US: u64 = 100_000;

/// One worker process.
#[repr(C)]
pub struct WorkerSlot {
    pub pid: AtomicI32,
    pub requests: AtomicU64,
    pub respawns: AtomicU64,
    pub last_spawn: AtomicU64,
    pub harakiri_count: AtomicU64,
    /// End of the worker's last request (microseconds since the epoch; 0: none yet).
    /// The cheaper subsystem stops the worker idle the longest.
    pub last_active_us: AtomicU64,
}

/// One handler thread of a worker.
#[repr(C)]
pub struct CoreSlot {
    /// Start of the current request in microseconds since the epoch; 0 when idle.
    pub start_us: AtomicU64,
    pub requests: AtomicU64,
    /// Kept-alive connections the thread owns (watched by its epoll set, between
    /// requests); read by the other threads for balanced accepting.
    pub conns: AtomicU32,
    /// 1 while the thread accepts new connections, 0 while it only watches the
    /// listeners because it owns more than its share of connections (stats).
    pub accepting: AtomicU8,
    pub info_len: AtomicU32,
    pub info: [AtomicU8; INFO_LEN],
}

#[repr(C)]
struct Header {
    total_requests: AtomicU64,
}

/// The shared mapping.
pub struct Scoreboard {
    base: *mut u8,
    len: usize,
    workers: usize,
    threads: usize,
}

// SAFETY: the mapping is only accessed through atomics.
unsafe impl Send for Scoreboard {}
// SAFETY: as above.
unsafe impl Sync for Scoreboard {}

/// Microseconds since the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Scoreboard {
    fn workers_off() -> usize {
        std::mem::size_of::<Header>().next_multiple_of(64)
    }
    fn cores_off(&self) -> usize {
        (Self::workers_off() + self.workers * std::mem::size_of::<WorkerSlot>())
            .next_multiple_of(64)
    }

    /// Maps a zeroed scoreboard for `workers` x `threads`.
    pub fn new(workers: usize, threads: usize) -> std::io::Result<Scoreboard> {
        let mut s = Scoreboard {
            base: std::ptr::null_mut(),
            len: 0,
            workers,
            threads,
        };
        let len = s.cores_off() + workers * threads * std::mem::size_of::<CoreSlot>();
        // SAFETY: anonymous shared mapping; the result is checked. Zeroed memory is a
        // valid state for every atomic in the layout.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        s.base = p.cast();
        s.len = len;
        Ok(s)
    }

    pub fn workers(&self) -> usize {
        self.workers
    }
    pub fn threads(&self) -> usize {
        self.threads
    }

    fn header(&self) -> &Header {
        // SAFETY: offset 0 holds a Header inside the mapping (aligned: page start).
        unsafe { &*(self.base as *const Header) }
    }

    /// Worker `w` (0-based).
    pub fn worker(&self, w: usize) -> &WorkerSlot {
        assert!(w < self.workers);
        // SAFETY: in bounds (asserted); 64-byte aligned start, repr(C) slots of 8-byte
        // aligned size.
        unsafe {
            &*(self
                .base
                .add(Self::workers_off() + w * std::mem::size_of::<WorkerSlot>())
                as *const WorkerSlot)
        }
    }

    /// Core `t` of worker `w` (both 0-based).
    pub fn core(&self, w: usize, t: usize) -> &CoreSlot {
        assert!(w < self.workers && t < self.threads);
        // SAFETY: in bounds (asserted); alignment as for worker().
        unsafe {
            &*(self
                .base
                .add(self.cores_off() + (w * self.threads + t) * std::mem::size_of::<CoreSlot>())
                as *const CoreSlot)
        }
    }

    /// Balanced accepting: whether handler thread `t` of worker `w`, owning `mine`
    /// kept-alive connections, should stop accepting (and only watch the listeners). True when
    /// it owns more than its share (the live threads' connections divided evenly, rounded
    /// up, plus [`ACCEPT_SLACK`]) and another live thread owns fewer and can accept them:
    /// it is idle or its current request began less than [`STUCK_US`] ago. The thread
    /// owning the fewest connections is never over its share, so at least one thread
    /// always accepts; a thread in a long request does not count as relief,
    /// so connections are not left waiting behind it.
    pub fn over_share(&self, w: usize, t: usize, mine: u32) -> bool {
        // The share is at least 1: fewer connections are never over it (no scoreboard
        // reads for threads whose connections all close, as behind nginx).
        if u64::from(mine) <= 1 + ACCEPT_SLACK {
            return false;
        }
        let (mut total, mut live) = (u64::from(mine), 1u64);
        self.each_other_live_core(w, t, |c| {
            total += u64::from(c.conns.load(Ordering::Relaxed));
            live += 1;
        });
        if u64::from(mine) <= total.div_ceil(live) + ACCEPT_SLACK {
            return false;
        }
        let now = now_us();
        let mut relief = false;
        self.each_other_live_core(w, t, |c| {
            let start = c.start_us.load(Ordering::Relaxed);
            relief |= c.conns.load(Ordering::Relaxed) < mine
                && (start == 0 || now.saturating_sub(start) < STUCK_US);
        });
        relief
    }

    /// Calls `f` with every handler thread of a running worker (pid set by the master at
    /// fork, cleared at reap) except thread `t` of worker `w`.
    fn each_other_live_core(&self, w: usize, t: usize, mut f: impl FnMut(&CoreSlot)) {
        for i in 0..self.workers {
            if i != w && self.worker(i).pid.load(Ordering::Relaxed) == 0 {
                continue;
            }
            for j in 0..self.threads {
                if (i, j) != (w, t) {
                    f(self.core(i, j));
                }
            }
        }
    }

    /// Counts one request on the shared total; returns the new total.
    pub fn count_request(&self) -> u64 {
        self.header().total_requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn total_requests(&self) -> u64 {
        self.header().total_requests.load(Ordering::Relaxed)
    }
}

impl CoreSlot {
    /// Marks the core busy with `info` ("METHOD URI").
    pub fn begin(&self, info: &[u8]) {
        let n = info.len().min(INFO_LEN);
        for (slot, b) in self.info.iter().zip(&info[..n]) {
            slot.store(*b, Ordering::Relaxed);
        }
        self.info_len.store(n as u32, Ordering::Relaxed);
        self.start_us.store(now_us().max(1), Ordering::Release);
    }

    /// Marks the core idle.
    pub fn end(&self) {
        self.start_us.store(0, Ordering::Release);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The current request's "METHOD URI" (may be torn if read while it changes).
    pub fn info(&self) -> String {
        let n = (self.info_len.load(Ordering::Relaxed) as usize).min(INFO_LEN);
        let bytes: Vec<u8> = self.info[..n]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Scoreboard {
    fn drop(&mut self) {
        // SAFETY: base/len come from the successful mmap in new().
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}
