//! Listening sockets: bound by the master before fork and shared by every worker.
//!
//! UNIX sockets: a stale socket file is removed first (as uWSGI does), then
//! `chmod-socket` and `chown-socket` are applied; `vacuum` removes them on exit.
//! Listeners are non-blocking (workers accept from epoll) and close-on-exec.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};
use wsgid::config::{BindAddr, Config, Proto, SocketSpec};

/// A bound, listening socket.
#[derive(Debug)]
pub struct Listener {
    pub socket: Socket,
    pub spec: SocketSpec,
    /// `https-socket`: the TLS configuration (read by the master before privileges
    /// are dropped, [`Listener::load_tls`]).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Received from systemd (socket activation): not bound, chmod-ed or vacuumed
    /// by wsgid, the socket unit owns it.
    pub activated: bool,
}

impl Listener {
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// What a worker needs to accept on this listener.
    pub fn info(&self) -> crate::worker::conn::ListenInfo {
        let (server_addr, server_port) =
            match self.socket.local_addr().ok().and_then(|a| a.as_socket()) {
                Some(a) => (a.ip().to_canonical().to_string(), a.port().to_string()),
                None => (String::new(), String::new()),
            };
        crate::worker::conn::ListenInfo {
            fd: self.fd(),
            proto: self.proto(),
            server_addr,
            server_port,
            tls: self.tls.clone(),
        }
    }

    /// The protocol name for logs and stats: uwsgi, http or https.
    pub fn proto_name(&self) -> &'static str {
        match (self.proto(), self.spec.tls.is_some()) {
            (_, true) => "https",
            (Proto::Http, false) => "http",
            (Proto::Uwsgi, false) => "uwsgi",
        }
    }
    pub fn proto(&self) -> Proto {
        self.spec.proto
    }
}

/// Binding failed.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("chmod-socket {path}: {source}", path = path.display())]
    Chmod {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("chown-socket {spec}: {message}")]
    Chown { spec: String, message: String },
}

fn bind_err(addr: &str) -> impl Fn(std::io::Error) -> BindError + '_ {
    move |e| BindError::Bind {
        addr: addr.to_string(),
        source: e,
    }
}

/// Binds one address with `listen` as the backlog. Accepted sockets inherit the
/// `socket-timeout` send/receive timeouts and (TCP) `TCP_NODELAY` from the listener; TCP
/// listeners use `TCP_DEFER_ACCEPT` (as uWSGI does) so that accept wakes a worker only
/// when the request has started to arrive.
pub fn bind(addr: &BindAddr, backlog: i32, timeout_s: u64) -> Result<Socket, std::io::Error> {
    let sock = match addr {
        BindAddr::Unix(path) => {
            if let Ok(md) = std::fs::symlink_metadata(path)
                && md.file_type().is_socket()
            {
                std::fs::remove_file(path)?;
            }
            let s = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
            s.bind(&SockAddr::unix(path)?)?;
            s
        }
        BindAddr::Tcp(sa) => {
            let s = Socket::new(Domain::for_address(*sa), Type::STREAM.cloexec(), None)?;
            s.set_reuse_address(true)?;
            s.bind(&(*sa).into())?;
            s
        }
    };
    configure(&sock, addr, timeout_s)?;
    sock.listen(backlog)?;
    Ok(sock)
}

/// What every listener gets, bound here or received from systemd: socket-timeout
/// (inherited by accepted sockets), TCP_NODELAY and TCP_DEFER_ACCEPT on TCP, non-blocking.
fn configure(sock: &Socket, addr: &BindAddr, timeout_s: u64) -> Result<(), std::io::Error> {
    match addr {
        BindAddr::Unix(_) => {}
        BindAddr::Tcp(_) => {
            let s = sock;
            s.set_tcp_nodelay(true)?;
            let secs = timeout_s.clamp(1, i32::MAX as u64) as libc::c_int;
            // SAFETY: setsockopt on our socket with a live c_int.
            let r = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_DEFER_ACCEPT,
                    (&secs as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    let t = Some(std::time::Duration::from_secs(timeout_s.max(1)));
    sock.set_read_timeout(t)?;
    sock.set_write_timeout(t)?;
    sock.set_nonblocking(true)?;
    Ok(())
}

/// Binds every socket of the configuration, applying chmod/chown to UNIX sockets. A
/// socket whose address matches one of `activated` (systemd socket activation) uses
/// that descriptor instead: no bind, no chmod/chown (the socket unit set them).
pub fn bind_all(cfg: &Config, activated: &mut Vec<Socket>) -> Result<Vec<Listener>, BindError> {
    let mut out = Vec::new();
    for spec in &cfg.sockets {
        if let Some(i) = activated.iter().position(|s| same_addr(s, &spec.addr)) {
            let socket = activated.swap_remove(i);
            configure(&socket, &spec.addr, cfg.socket_timeout).map_err(bind_err(&spec.text))?;
            out.push(Listener {
                socket,
                spec: spec.clone(),
                tls: None,
                activated: true,
            });
            continue;
        }
        let socket =
            bind(&spec.addr, cfg.listen, cfg.socket_timeout).map_err(bind_err(&spec.text))?;
        if let BindAddr::Unix(path) = &spec.addr {
            if let Some(mode) = cfg.chmod_socket {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
                    |e| BindError::Chmod {
                        path: path.clone(),
                        source: e,
                    },
                )?;
            }
            if let Some(owner) = &cfg.chown_socket {
                chown(path, owner)?;
            }
        }
        out.push(Listener {
            socket,
            spec: spec.clone(),
            tls: None,
            activated: false,
        });
    }
    Ok(out)
}

fn lookup_uid(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam takes a NUL-terminated string and returns NULL or a pointer to a
    // static struct; the master has no other threads, so the static is not raced.
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    // SAFETY: checked non-NULL above.
    (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
}

fn lookup_gid(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let c = CString::new(name).ok()?;
    // SAFETY: as in lookup_uid, for getgrnam.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    // SAFETY: checked non-NULL above.
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

/// `chown-socket = user[:group]`.
fn chown(path: &Path, spec: &str) -> Result<(), BindError> {
    let err = |message: String| BindError::Chown {
        spec: spec.to_string(),
        message,
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let uid = lookup_uid(user).ok_or_else(|| err(format!("no such user `{user}`")))?;
    let gid = match group {
        Some(g) => Some(lookup_gid(g).ok_or_else(|| err(format!("no such group `{g}`")))?),
        None => None,
    };
    std::os::unix::fs::chown(path, Some(uid), gid)
        .map_err(|e| err(format!("{}: {e}", path.display())))
}

/// The listeners handed over by a re-executing master (`fds` = "3,4"), if they match
/// the configuration's sockets one for one (same order, same addresses); otherwise the
/// descriptors are closed and None is returned (the caller binds afresh).
pub fn inherit(cfg: &Config, fds: Option<String>) -> Option<Vec<Listener>> {
    use std::os::fd::FromRawFd;
    let fds: Vec<RawFd> = fds?
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .collect();
    let sockets: Vec<Socket> = fds
        .iter()
        // SAFETY: the previous master handed these descriptors to us; nothing else in
        // this process owns them.
        .map(|&fd| unsafe { Socket::from_raw_fd(fd) })
        .collect();
    if sockets.len() != cfg.sockets.len() {
        return None;
    }
    let mut out = Vec::new();
    for (socket, spec) in sockets.into_iter().zip(&cfg.sockets) {
        if !same_addr(&socket, &spec.addr) {
            return None;
        }
        // SAFETY: setting FD_CLOEXEC again on our descriptor.
        unsafe { libc::fcntl(socket.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        out.push(Listener {
            socket,
            spec: spec.clone(),
            tls: None,
            activated: false,
        });
    }
    Some(out)
}

/// Whether `socket` is bound to `addr` (getsockname, as uWSGI matches inherited
/// sockets).
fn same_addr(socket: &Socket, addr: &BindAddr) -> bool {
    let Ok(local) = socket.local_addr() else {
        return false;
    };
    match addr {
        BindAddr::Tcp(a) => local.as_socket() == Some(*a),
        BindAddr::Unix(p) => local.as_pathname() == Some(p.as_path()),
    }
}

/// systemd socket activation (sd_listen_fds(3)): the listening descriptors passed as
/// 3..3+`LISTEN_FDS` when `LISTEN_PID` is this process. Every returned socket is made
/// close-on-exec. The caller removes the variables from the environment.
pub fn activated_sockets() -> Vec<Socket> {
    use std::os::fd::FromRawFd;
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let n: RawFd = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    if !pid_ok || n <= 0 {
        return Vec::new();
    }
    (3..3 + n.min(1024))
        .filter_map(|fd| {
            // SAFETY: F_GETFD only checks that the descriptor is open.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                return None;
            }
            // SAFETY: systemd passed this descriptor to us (LISTEN_PID is our pid);
            // nothing else in this process owns it.
            let s = unsafe { Socket::from_raw_fd(fd) };
            // SAFETY: setting FD_CLOEXEC on our own descriptor.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            Some(s)
        })
        .collect()
}

/// A socket's local address for logs.
pub fn addr_text(socket: &Socket) -> String {
    match socket.local_addr() {
        Ok(a) => match (a.as_socket(), a.as_pathname()) {
            (Some(s), _) => s.to_string(),
            (None, Some(p)) => p.display().to_string(),
            _ => "(unnamed)".into(),
        },
        Err(e) => format!("(getsockname: {e})"),
    }
}

/// `vacuum`: removes the UNIX socket files (not those of systemd's socket units).
pub fn vacuum(listeners: &[Listener]) {
    for l in listeners.iter().filter(|l| !l.activated) {
        if let BindAddr::Unix(p) = &l.spec.addr {
            let _ = std::fs::remove_file(p);
        }
    }
}
