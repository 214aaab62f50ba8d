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

/// Reads the PEM files of `spec` and builds the rustls configuration (HTTP/1.1 ALPN,
/// the cipher suites of `spec.suites` or rustls' defaults).
pub fn load(spec: &TlsSpec) -> Result<Arc<ServerConfig>, TlsError> {
    let origin = spec.origin.to_string();
    let cert_err = |message: String| TlsError::Cert {
        origin: origin.clone(),
        option: spec.option.clone(),
        path: spec.cert.display().to_string(),
        message,
    };
    // Open first so a missing file reads "No such file or directory", not "no items".
    std::fs::File::open(&spec.cert).map_err(|e| cert_err(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&spec.cert)
        .map_err(|e| cert_err(pem_message(e)))?
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
    std::fs::File::open(&spec.key).map_err(|e| key_err(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&spec.key).map_err(|e| key_err(pem_message(e)))?;
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
