//! A client connection: a blocking socket (SO_RCVTIMEO/SO_SNDTIMEO = `socket-timeout`)
//! with a read buffer. Readiness is learnt from epoll; probes use `MSG_DONTWAIT`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use wsgid::config::Proto;

/// Address facts the environ needs.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    pub remote_addr: String,
    pub remote_port: String,
    pub server_addr: String,
    pub server_port: String,
}

/// One accepted connection.
pub struct Conn {
    fd: OwnedFd,
    pub proto: Proto,
    /// `https-socket`: the TLS layer every read and write goes through.
    tls: Option<Box<crate::tls::Tls>>,
    pub peer: Peer,
    buf: Vec<u8>,
    pos: usize,
}

const READ_CHUNK: usize = 16 * 1024;

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            // SO_RCVTIMEO / SO_SNDTIMEO expired on a blocking socket.
            return Err(io::Error::new(io::ErrorKind::TimedOut, "socket-timeout"));
        }
        Err(e)
    } else {
        Ok(n as usize)
    }
}

fn sockaddr_text(ss: &libc::sockaddr_storage) -> (String, String) {
    match ss.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: family says this is a sockaddr_in.
            let a = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            (ip.to_string(), u16::from_be(a.sin_port).to_string())
        }
        libc::AF_INET6 => {
            // SAFETY: family says this is a sockaddr_in6.
            let a = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            let ip = ip
                .to_ipv4_mapped()
                .map_or_else(|| ip.to_string(), |v4| v4.to_string());
            (ip, u16::from_be(a.sin6_port).to_string())
        }
        _ => (String::new(), String::new()),
    }
}

/// A listening socket as a worker sees it: descriptor, protocol, local address.
#[derive(Debug, Clone)]
pub struct ListenInfo {
    pub fd: RawFd,
    pub proto: Proto,
    /// Local address and port (for SERVER_NAME/SERVER_PORT without a Host header).
    pub server_addr: String,
    pub server_port: String,
    /// `https-socket`: TLS configuration.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// Accepts one connection from a non-blocking listener; `Ok(None)` when none is pending.
/// Timeouts (`SO_RCVTIMEO`/`SO_SNDTIMEO`) and `TCP_NODELAY` are inherited from the
/// listener (Linux copies them to accepted sockets), so no per-connection setsockopt.
pub fn accept(l: &ListenInfo) -> io::Result<Option<Conn>> {
    // SAFETY: zeroed sockaddr_storage is a valid out-parameter.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: pointers to live locals with the right sizes.
    let fd = unsafe {
        libc::accept4(
            l.fd,
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ if e.raw_os_error() == Some(libc::ECONNABORTED) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: accept4 returned a new descriptor we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let (remote_addr, remote_port) = sockaddr_text(&ss);
    let tls = match &l.tls {
        Some(cfg) => Some(Box::new(crate::tls::Tls::new(cfg)?)),
        None => None,
    };
    Ok(Some(Conn {
        fd,
        proto: l.proto,
        tls,
        peer: Peer {
            remote_addr,
            remote_port,
            server_addr: l.server_addr.clone(),
            server_port: l.server_port.clone(),
        },
        buf: take_buf(),
        pos: 0,
    }))
}

impl Conn {
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the connection is HTTPS (`wsgi.url_scheme`, `HTTPS=on`).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// HTTPS: completes the TLS handshake within `timeout` (no-op otherwise).
    pub fn handshake(&mut self, timeout: std::time::Duration) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        match &mut self.tls {
            Some(t) => t.handshake(fd, std::time::Instant::now() + timeout),
            None => Ok(()),
        }
    }

    /// Buffered bytes not yet consumed.
    pub fn available(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    fn recv(&mut self, flags: libc::c_int) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let len = self.buf.len();
        self.buf.reserve(READ_CHUNK);
        let spare = self.buf.capacity() - len;
        if let Some(t) = &mut self.tls {
            let fd = self.fd.as_raw_fd();
            // SAFETY: the spare capacity is zeroed first, so it is initialised memory.
            let out = unsafe {
                std::ptr::write_bytes(self.buf.as_mut_ptr().add(len), 0, spare);
                std::slice::from_raw_parts_mut(self.buf.as_mut_ptr().add(len), spare)
            };
            let n = t
                .recv(fd, out, flags & libc::MSG_DONTWAIT != 0)
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // Same meaning as for plain sockets: nothing ready / timed out.
                        io::Error::new(io::ErrorKind::TimedOut, "socket-timeout")
                    } else {
                        e
                    }
                })?;
            // SAFETY: recv filled n <= spare bytes after len.
            unsafe { self.buf.set_len(len + n) };
            return Ok(n);
        }
        loop {
            // SAFETY: writes at most `spare` bytes into the vector's spare capacity.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().add(len).cast(),
                    spare,
                    flags,
                )
            };
            match cvt(n) {
                Ok(n) => {
                    // SAFETY: recv initialised n bytes after len.
                    unsafe { self.buf.set_len(len + n) };
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Blocking read of more bytes (bounded by socket-timeout); 0 at EOF.
    pub fn read_more(&mut self) -> io::Result<usize> {
        self.recv(0)
    }

    /// Non-blocking probe: `Ok(None)` when nothing is ready.
    pub fn try_read_more(&mut self) -> io::Result<Option<usize>> {
        match self.recv(libc::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes all of `parts` (blocking, bounded by socket-timeout).
    pub fn write_all(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        if let Some(t) = &mut self.tls {
            return t.send(self.fd.as_raw_fd(), parts);
        }
        let mut idx = 0;
        let mut off = 0;
        while idx < parts.len() {
            if parts[idx].len() == off {
                idx += 1;
                off = 0;
                continue;
            }
            let mut iov: Vec<libc::iovec> = Vec::with_capacity(parts.len() - idx);
            for (k, p) in parts[idx..].iter().enumerate() {
                let s = if k == 0 { &p[off..] } else { &p[..] };
                if !s.is_empty() {
                    iov.push(libc::iovec {
                        iov_base: s.as_ptr() as *mut libc::c_void,
                        iov_len: s.len(),
                    });
                }
            }
            // SAFETY: msghdr over live iovecs; MSG_NOSIGNAL: EPIPE instead of SIGPIPE.
            let n = unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = iov.as_mut_ptr();
                msg.msg_iovlen = iov.len() as _;
                libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
            };
            let mut n = match cvt(n) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            while n > 0 && idx < parts.len() {
                let left = parts[idx].len() - off;
                if n >= left {
                    n -= left;
                    idx += 1;
                    off = 0;
                } else {
                    off += n;
                    n = 0;
                }
            }
        }
        Ok(())
    }

    /// Sends `len` bytes of `file_fd` from `offset` with sendfile(2).
    pub fn sendfile(&mut self, file_fd: RawFd, mut offset: i64, mut len: u64) -> io::Result<u64> {
        let mut sent = 0;
        if self.tls.is_some() {
            // TLS: the bytes must be encrypted in user space; pread + write.
            let mut chunk = vec![0u8; 64 * 1024];
            while len > 0 {
                let want = (len as usize).min(chunk.len());
                // SAFETY: chunk is a live buffer of at least `want` bytes.
                let n = unsafe { libc::pread(file_fd, chunk.as_mut_ptr().cast(), want, offset) };
                let n = match cvt(n) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.write_all(&[&chunk[..n]])?;
                offset += n as i64;
                sent += n as u64;
                len -= n as u64;
            }
            return Ok(sent);
        }
        while len > 0 {
            let chunk = len.min(1 << 30) as usize;
            // SAFETY: both descriptors are valid; offset points to a live local.
            let n = unsafe { libc::sendfile(self.fd.as_raw_fd(), file_fd, &mut offset, chunk) };
            match cvt(n) {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    len -= n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

// Read buffers are recycled per handler thread: a fresh 16 KiB allocation per connection
// is a "large" malloc that makes glibc consolidate its fast bins every time (measured:
// ~5% of a worker's CPU in malloc/free on the closing-connection paths).
thread_local! {
    static BUF_POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}
const POOL_MAX: usize = 64;

fn take_buf() -> Vec<u8> {
    BUF_POOL
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(READ_CHUNK))
}

impl Drop for Conn {
    fn drop(&mut self) {
        // HTTPS: tell the client the close is intended (close_notify), without waiting.
        if let Some(t) = &mut self.tls {
            t.close(self.fd.as_raw_fd());
        }
        let mut b = std::mem::take(&mut self.buf);
        // Only ordinary buffers come back (a large body may have grown one).
        if b.capacity() >= READ_CHUNK && b.capacity() <= 4 * READ_CHUNK {
            b.clear();
            let _ = BUF_POOL.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < POOL_MAX {
                    p.push(b);
                }
            });
        }
    }
}
