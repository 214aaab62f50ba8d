//! HTTPS: the rustls server configuration of an `https-socket` (read by the master
//! before privileges are dropped) and the TLS layer of a connection.
//!
//! PEM parsing uses `rustls-pki-types`' `PemObject` (certificates: every
//! `CERTIFICATE` block, leaf first then chain; key: the first `PRIVATE KEY` (PKCS#8),
//! `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1) block). Crypto: rustls' `ring`
//! provider, TLS 1.2 and 1.3.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use wsgid::config::tls::TlsSpec;

/// A certificate or key that cannot be used; names the option, where it was set and
/// the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{origin}: option `{option}`: cannot read certificate file {path}: {message}")]
    Cert {
        origin: String,
        option: String,
        path: String,
        message: String,
    },
    #[error("{origin}: option `{option}`: cannot read private key file {path}: {message}")]
    Key {
        origin: String,
        option: String,
        path: String,
        message: String,
    },
    #[error(
        "{origin}: option `{option}`: certificate {cert} and key {key} cannot be used together: {message}"
    )]
    Config {
        origin: String,
        option: String,
        cert: String,
        key: String,
        message: String,
    },
}

fn pem_message(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(e) => e.to_string(),
        E::NoItemsFound => "no PEM block of the expected kind in the file".into(),
        other => format!("malformed PEM: {other:?}"),
    }
}

/// The PEM bytes of one `https-socket` as read from its files.
#[derive(Clone)]
pub struct Material {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// Reads the certificate and key files of `spec`; `io::ErrorKind` of a failure is
/// kept in the message and returned separately (PermissionDenied -> hand-over).
pub fn read_files(spec: &TlsSpec) -> Result<Material, Box<(io::ErrorKind, TlsError)>> {
    let origin = spec.origin.to_string();
    let cert = std::fs::read(&spec.cert).map_err(|e| {
        Box::new((
            e.kind(),
            TlsError::Cert {
                origin: origin.clone(),
                option: spec.option.clone(),
                path: spec.cert.display().to_string(),
                message: e.to_string(),
            },
        ))
    })?;
    let key = std::fs::read(&spec.key).map_err(|e| {
        Box::new((
            e.kind(),
            TlsError::Key {
                origin: origin.clone(),
                option: spec.option.clone(),
                path: spec.key.display().to_string(),
                message: e.to_string(),
            },
        ))
    })?;
    Ok(Material { cert, key })
}

/// Reads the PEM files of `spec` and builds the rustls configuration.
pub fn load(spec: &TlsSpec) -> Result<Arc<ServerConfig>, TlsError> {
    let m = read_files(spec).map_err(|b| b.1)?;
    build(spec, &m)
}

/// Builds the rustls configuration of `spec` from its PEM bytes (HTTP/1.1 ALPN, the
/// cipher suites of `spec.suites` or rustls' defaults).
pub fn build(spec: &TlsSpec, m: &Material) -> Result<Arc<ServerConfig>, TlsError> {
    let origin = spec.origin.to_string();
    let cert_err = |message: String| TlsError::Cert {
        origin: origin.clone(),
        option: spec.option.clone(),
        path: spec.cert.display().to_string(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&m.cert)
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(pem_message(e)))?;
    if certs.is_empty() {
        return Err(cert_err("no CERTIFICATE block in the file".into()));
    }
    let key_err = |message: String| TlsError::Key {
        origin: origin.clone(),
        option: spec.option.clone(),
        path: spec.key.display().to_string(),
        message,
    };
    let key = PrivateKeyDer::from_pem_slice(&m.key).map_err(|e| key_err(pem_message(e)))?;
    let mut provider = rustls::crypto::ring::default_provider();
    if !spec.suites.is_empty() {
        let all = provider.cipher_suites.clone();
        provider.cipher_suites = spec
            .suites
            .iter()
            .filter_map(|name| {
                all.iter()
                    .find(|s| s.suite().as_str() == Some(*name))
                    .copied()
            })
            .collect();
    }
    let conf_err = |message: String| TlsError::Config {
        origin: origin.clone(),
        option: spec.option.clone(),
        cert: spec.cert.display().to_string(),
        key: spec.key.display().to_string(),
        message,
    };
    let provider: Arc<CryptoProvider> = Arc::new(provider);
    // with_single_cert checks that the key belongs to the leaf certificate (a renewed
    // certificate with the old key is the usual mistake): refused at start-up rather
    // than failing every handshake.
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| conf_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                conf_err("the private key does not belong to the certificate".into())
            }
            other => conf_err(format!("unsupported certificate or key: {other}")),
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The cipher order given in the config wins (OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE).
    cfg.ignore_client_order = !spec.suites.is_empty();
    Ok(Arc::new(cfg))
}

/// recv/send on a raw descriptor, as `Read`/`Write` for rustls.
struct FdIo {
    fd: RawFd,
    flags: libc::c_int,
}

fn cvt(n: isize, nonblocking: bool) -> io::Result<usize> {
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock && !nonblocking {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "socket-timeout"));
        }
        return Err(e);
    }
    Ok(n as usize)
}

impl io::Read for FdIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is a live, writable slice of buf.len() bytes.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), self.flags) };
            match cvt(n, self.flags & libc::MSG_DONTWAIT != 0) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

impl io::Write for FdIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is a live slice; MSG_NOSIGNAL: EPIPE instead of SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.fd,
                    buf.as_ptr().cast(),
                    buf.len(),
                    libc::MSG_NOSIGNAL | self.flags,
                )
            };
            match cvt(n, self.flags & libc::MSG_DONTWAIT != 0) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tls_err(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

/// The TLS state of one connection.
pub struct Tls {
    conn: rustls::ServerConnection,
}

impl Tls {
    pub fn new(cfg: &Arc<ServerConfig>) -> io::Result<Tls> {
        Ok(Tls {
            conn: rustls::ServerConnection::new(cfg.clone()).map_err(tls_err)?,
        })
    }

    /// Sends every pending TLS record (blocking, bounded by socket-timeout per send).
    fn flush(&mut self, fd: RawFd) -> io::Result<()> {
        let mut io = FdIo { fd, flags: 0 };
        while self.conn.wants_write() {
            self.conn.write_tls(&mut io)?;
        }
        Ok(())
    }

    /// Reads TLS records once (blocking or not) and processes them. `Ok(false)` when
    /// the peer closed the TCP connection.
    fn read_records(&mut self, fd: RawFd, nonblocking: bool) -> io::Result<bool> {
        let mut io = FdIo {
            fd,
            flags: if nonblocking { libc::MSG_DONTWAIT } else { 0 },
        };
        let n = self.conn.read_tls(&mut io)?;
        if n == 0 {
            return Ok(false);
        }
        match self.conn.process_new_packets() {
            Ok(_) => {
                self.flush(fd)?;
                Ok(true)
            }
            Err(e) => {
                // Send the alert rustls queued (best effort), then give up.
                let _ = self.flush(fd);
                Err(tls_err(e))
            }
        }
    }

    /// Completes the handshake; the whole of it must finish before `deadline`
    /// (socket-timeout), each read is bounded by SO_RCVTIMEO as well.
    pub fn handshake(&mut self, fd: RawFd, deadline: std::time::Instant) -> io::Result<()> {
        self.handshake_inner(fd, deadline).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake not completed within socket-timeout",
                )
            } else {
                e
            }
        })
    }

    fn handshake_inner(&mut self, fd: RawFd, deadline: std::time::Instant) -> io::Result<()> {
        while self.conn.is_handshaking() {
            if std::time::Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake not completed within socket-timeout",
                ));
            }
            self.flush(fd)?;
            if !self.conn.is_handshaking() {
                break;
            }
            if !self.read_records(fd, false)? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during the TLS handshake",
                ));
            }
        }
        // TLS 1.3 session tickets and the last handshake flight.
        self.flush(fd)
    }

    /// Moves decrypted bytes into `out` (its spare capacity, at most `max`); reads
    /// records from the socket when none are buffered. `Ok(0)` at the end of the
    /// stream; a `WouldBlock` error when `nonblocking` and nothing is ready.
    pub fn recv(&mut self, fd: RawFd, out: &mut [u8], nonblocking: bool) -> io::Result<usize> {
        use std::io::Read;
        loop {
            match self.conn.reader().read(out) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Peer closed without close_notify: an end of stream for HTTP/1.1.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if !self.read_records(fd, nonblocking)? {
                return Ok(0);
            }
        }
    }

    /// Encrypts and sends all of `parts` (blocking, bounded by socket-timeout); the
    /// parts share TLS records (one flush unless rustls' buffer limit is reached).
    pub fn send(&mut self, fd: RawFd, parts: &[&[u8]]) -> io::Result<()> {
        use std::io::Write;
        for p in parts {
            let mut data = *p;
            while !data.is_empty() {
                let n = self.conn.writer().write(data)?;
                data = &data[n..];
                if n == 0 {
                    self.flush(fd)?;
                }
            }
        }
        self.flush(fd)
    }

    /// Sends close_notify without waiting (the connection is being closed).
    pub fn close(&mut self, fd: RawFd) {
        self.conn.send_close_notify();
        let mut io = FdIo {
            fd,
            flags: libc::MSG_DONTWAIT,
        };
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut io).is_err() {
                break;
            }
        }
    }
}

/// Hands the PEM bytes of every `https-socket` to a re-executed master (SIGHUP):
/// after the privilege drop it may not be able to read a root-only key again. One
/// memfd per socket (`path\0path\0certlen\n` + cert + key), listed in
/// [`INHERIT_ENV`] as `index:fd`. The descriptors survive exec (no CLOEXEC); workers
/// close them at start ([`close_handover`]). The variable is set with setenv only, so
/// `os.environ` does not show it.
pub const INHERIT_ENV: &str = "WSGID_INHERIT_TLS";

static HANDOVER: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());

/// Writes the hand-over memfds; the caller has no other threads (setenv).
pub fn stash(items: &[(usize, &TlsSpec, &Material)]) -> io::Result<()> {
    let mut list = Vec::new();
    let mut fds = HANDOVER.lock().unwrap_or_else(|p| p.into_inner());
    for (idx, spec, m) in items {
        // SAFETY: a NUL-terminated name; flags without MFD_CLOEXEC on purpose.
        let fd = unsafe { libc::memfd_create(c"wsgid-tls".as_ptr(), 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        fds.push(fd);
        let mut data = Vec::new();
        data.extend_from_slice(spec.cert.as_os_str().as_encoded_bytes());
        data.push(0);
        data.extend_from_slice(spec.key.as_os_str().as_encoded_bytes());
        data.push(0);
        data.extend_from_slice(format!("{}\n", m.cert.len()).as_bytes());
        data.extend_from_slice(&m.cert);
        data.extend_from_slice(&m.key);
        let mut off = 0;
        while off < data.len() {
            // SAFETY: writing from a live buffer to our memfd.
            let n = unsafe { libc::write(fd, data[off..].as_ptr().cast(), data.len() - off) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            off += n as usize;
        }
        list.push(format!("{idx}:{fd}"));
    }
    // SAFETY: the master has no other threads (the caller's contract; the master forks
    // its workers under the same assumption).
    unsafe {
        if list.is_empty() {
            std::env::remove_var(INHERIT_ENV);
        } else {
            std::env::set_var(INHERIT_ENV, list.join(","));
        }
    }
    Ok(())
}

/// Takes the hand-over of the previous master: for each socket index, the paths and
/// PEM bytes. The descriptors are closed and the variable removed.
pub fn take_handover() -> std::collections::HashMap<usize, (TlsSpecPaths, Material)> {
    let mut out = std::collections::HashMap::new();
    let Ok(v) = std::env::var(INHERIT_ENV) else {
        return out;
    };
    // SAFETY: single-threaded master at start-up.
    unsafe { std::env::remove_var(INHERIT_ENV) };
    for item in v.split(',') {
        let Some((idx, fd)) = item.split_once(':') else {
            continue;
        };
        let (Ok(idx), Ok(fd)) = (idx.parse::<usize>(), fd.parse::<RawFd>()) else {
            continue;
        };
        // SAFETY: the previous master handed this descriptor over; we own it now.
        let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut off = 0u64;
        loop {
            match std::os::unix::fs::FileExt::read_at(&file, &mut buf, off) {
                Ok(0) => break,
                Ok(n) => {
                    data.extend_from_slice(&buf[..n]);
                    off += n as u64;
                }
                Err(_) => break,
            }
        }
        let mut parts = data.splitn(3, |&b| b == 0);
        let (Some(cert_path), Some(key_path), Some(rest)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            continue;
        };
        let Some(cert_len) = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let body = &rest[nl + 1..];
        if body.len() < cert_len {
            continue;
        }
        out.insert(
            idx,
            (
                TlsSpecPaths {
                    cert: String::from_utf8_lossy(cert_path).into_owned(),
                    key: String::from_utf8_lossy(key_path).into_owned(),
                },
                Material {
                    cert: body[..cert_len].to_vec(),
                    key: body[cert_len..].to_vec(),
                },
            ),
        );
    }
    out
}

/// The files a handed-over [`Material`] was read from.
pub struct TlsSpecPaths {
    pub cert: String,
    pub key: String,
}

/// Workers never need the hand-over descriptors: closed right after fork.
pub fn close_handover() {
    let fds = HANDOVER.lock().unwrap_or_else(|p| p.into_inner());
    for &fd in fds.iter() {
        // SAFETY: closing descriptors this process created with memfd_create.
        unsafe { libc::close(fd) };
    }
}
