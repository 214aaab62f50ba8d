//! Log output: one `write(2)` per line on fd 2 (journald, or the `logto` file that the
//! master dup2()s onto fds 1 and 2), so lines from several workers never interleave.
//! The request line follows uWSGI 2.0's default format (core/logging.c).

use std::fmt::Write as _;

/// Writes `line` (a newline is appended) to stderr in one syscall.
pub fn line(line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    write_stderr(&buf);
}

/// Writes `buf` (a whole line, newline included) to fd 2 in one syscall if possible.
fn write_stderr(buf: &[u8]) {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: writes from a live buffer within its bounds.
        let n = unsafe { libc::write(2, buf[off..].as_ptr().cast(), buf.len() - off) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        off += n as usize;
    }
}

/// `wsgid: ...` diagnostic line.
pub fn info(msg: &str) {
    line(&format!("wsgid: {msg}"));
}

/// The local time as C `ctime` prints it, without the newline: `Wed Nov 25 05:21:18 2026`.
pub fn ctime_now() -> String {
    // SAFETY: time(NULL) is always safe (vDSO).
    let t = unsafe { libc::time(std::ptr::null_mut()) };
    // The text changes once a second: formatted once per second per thread.
    thread_local! {
        static LAST: std::cell::RefCell<(libc::time_t, String)> = const { std::cell::RefCell::new((-1, String::new())) };
    }
    if let Ok(Some(s)) = LAST.try_with(|l| {
        let l = l.borrow();
        (l.0 == t).then(|| l.1.clone())
    }) {
        return s;
    }
    let s = format_ctime(t);
    let _ = LAST.try_with(|l| *l.borrow_mut() = (t, s.clone()));
    s
}

fn format_ctime(t: libc::time_t) -> String {
    // SAFETY: zeroed tm is a valid out-parameter for localtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to live locals.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return String::new();
    }
    let mut buf = [0u8; 64];
    let fmt = c"%a %b %e %H:%M:%S %Y";
    // SAFETY: buf is 64 bytes; the format is NUL-terminated; tm was filled above.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// What one request log line reports.
pub struct RequestLog<'a> {
    pub pid: u32,
    pub worker_requests: u64,
    pub total_requests: u64,
    pub remote_addr: &'a str,
    pub vars: usize,
    pub vars_bytes: usize,
    pub method: &'a str,
    pub uri: &'a [u8],
    pub body_bytes: u64,
    pub msecs: u128,
    pub protocol: &'a str,
    pub status: u16,
    pub headers: usize,
    pub header_bytes: usize,
    pub core: usize,
}

/// `[pid: 123|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 400 bytes} [date] GET / =>
/// generated 13 bytes in 0 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)`
pub fn request(r: &RequestLog<'_>) {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        "[pid: {}|app: 0|req: {}/{}] {} () {{{} vars in {} bytes}} [{}] {} {} => generated {} bytes in {} msecs ({} {}) {} headers in {} bytes (1 switches on core {})",
        r.pid,
        r.worker_requests,
        r.total_requests,
        r.remote_addr,
        r.vars,
        r.vars_bytes,
        ctime_now(),
        r.method,
        String::from_utf8_lossy(r.uri),
        r.body_bytes,
        r.msecs,
        r.protocol,
        r.status,
        r.headers,
        r.header_bytes,
        r.core
    );
    s.push('\n');
    write_stderr(s.as_bytes());
}

/// Sets the thread name the kernel shows in `ps -o comm`, `top` (15 bytes at most).
pub fn set_process_name(name: &str) {
    let mut b: Vec<u8> = name.bytes().filter(|&c| c != 0).take(15).collect();
    b.push(0);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, b.as_ptr() as libc::c_ulong, 0, 0, 0) };
}
