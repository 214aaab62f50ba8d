//! Reading one request head from a connection: an HTTP/1.x head (http-socket) or a uwsgi
//! packet (socket), turned into CGI variables (PEP 3333 / CGI 1.1 names) and a body
//! framing. Parsing itself is in `wsgid::proto`.

use std::io;
use std::time::{Duration, Instant};

use wsgid::config::Proto;
use wsgid::proto::{http, uwsgi};

use super::conn::Conn;

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// This many bytes are left.
    Length(u64),
    /// Chunked coding, decoder state.
    Chunked(http::Chunked),
}

/// A request head, decoded.
pub struct Request {
    /// CGI variables as (name, raw value) in wire order; `UWSGI_*` magic vars removed.
    pub vars: Vec<(String, Vec<u8>)>,
    /// Size of the vars as received (for the log line).
    pub vars_bytes: usize,
    pub method: String,
    pub uri: Vec<u8>,
    pub protocol: String,
    pub body: Body,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// `wsgi.url_scheme` is https (uwsgi: nginx's `HTTPS` var is on/1).
    pub https: bool,
    pub remote_addr: String,
}

/// Why no request could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("connection closed in the middle of a request head")]
    Truncated,
    #[error("bad HTTP request: {0}")]
    Http(#[from] http::HttpError),
    #[error("bad uwsgi request: {0}")]
    Uwsgi(#[from] uwsgi::UwsgiError),
}

/// Whether a complete head is already buffered (so no socket wait is needed).
pub fn head_buffered(conn: &Conn, buffer_size: usize) -> bool {
    let b = conn.available();
    match conn.proto {
        Proto::Http => b.windows(4).any(|w| w == b"\r\n\r\n") || b.windows(2).any(|w| w == b"\n\n"),
        Proto::Uwsgi => {
            b.len() >= 4
                && b.len() >= 4 + (u16::from_le_bytes([b[1], b[2]]) as usize).min(buffer_size)
        }
    }
}

/// Reads a request head; `Ok(None)` when the peer closed before sending a byte. The
/// whole head must arrive within `timeout` (a client trickling bytes cannot hold a
/// handler thread longer).
pub fn read(
    conn: &mut Conn,
    buffer_size: usize,
    timeout: Duration,
) -> Result<Option<Request>, ReadError> {
    let deadline = Instant::now() + timeout;
    match conn.proto {
        Proto::Http => read_http(conn, buffer_size, deadline),
        Proto::Uwsgi => read_uwsgi(conn, buffer_size, deadline),
    }
}

fn fill(conn: &mut Conn, deadline: Instant) -> Result<bool, ReadError> {
    if Instant::now() > deadline {
        return Err(ReadError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "request head not received within socket-timeout",
        )));
    }
    let had = conn.available().len();
    let n = conn.read_more()?;
    if n == 0 {
        return if had == 0 {
            Ok(false)
        } else {
            Err(ReadError::Truncated)
        };
    }
    Ok(true)
}

fn read_http(
    conn: &mut Conn,
    buffer_size: usize,
    deadline: Instant,
) -> Result<Option<Request>, ReadError> {
    let (head, used) = loop {
        if let Some(x) = http::parse_head(conn.available(), buffer_size)? {
            break x;
        }
        if !fill(conn, deadline)? {
            return Ok(None);
        }
    };
    conn.consume(used);
    let body = match head.body_kind()? {
        http::BodyKind::Length(n) => Body::Length(n),
        http::BodyKind::Chunked => Body::Chunked(http::Chunked::default()),
    };
    // absolute-form (RFC 9112 3.2.2, "GET http://host/p HTTP/1.1"): the path starts
    // after the authority.
    let origin: &[u8] = {
        let t = &head.target[..];
        let lower = t.to_ascii_lowercase();
        match [&b"http://"[..], b"https://"]
            .iter()
            .find(|p| lower.starts_with(p))
        {
            Some(p) => {
                let rest = &t[p.len()..];
                match rest.iter().position(|&b| b == b'/' || b == b'?') {
                    Some(i) => &rest[i..],
                    None => b"/",
                }
            }
            None => t,
        }
    };
    let (path, query) = match origin.iter().position(|&b| b == b'?') {
        Some(q) => (&origin[..q], &origin[q + 1..]),
        None => (origin, &b""[..]),
    };
    let protocol = format!("HTTP/1.{}", head.minor);
    let mut vars: Vec<(String, Vec<u8>)> = Vec::with_capacity(head.headers.len() + 12);
    vars.push(("REQUEST_METHOD".into(), head.method.as_bytes().to_vec()));
    vars.push(("REQUEST_URI".into(), head.target.clone()));
    vars.push(("PATH_INFO".into(), http::percent_decode(path)));
    vars.push(("QUERY_STRING".into(), query.to_vec()));
    vars.push(("SERVER_PROTOCOL".into(), protocol.as_bytes().to_vec()));
    vars.push(("SCRIPT_NAME".into(), Vec::new()));
    let https = conn.is_tls();
    if https {
        // As uWSGI's https-socket (and nginx's uwsgi_params): HTTPS=on.
        vars.push(("HTTPS".into(), b"on".to_vec()));
    }
    let host = head.header("host").map(|h| h.to_vec());
    let (sname, sport) = match &host {
        Some(h) => {
            let h = String::from_utf8_lossy(h).into_owned();
            match h.rsplit_once(':') {
                Some((n, p)) if !n.ends_with(']') || n.starts_with('[') => {
                    if p.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
                        (n.to_string(), p.to_string())
                    } else {
                        (h.clone(), conn.peer.server_port.clone())
                    }
                }
                _ => (h.clone(), conn.peer.server_port.clone()),
            }
        }
        None => (conn.peer.server_addr.clone(), conn.peer.server_port.clone()),
    };
    vars.push(("SERVER_NAME".into(), sname.into_bytes()));
    let sport = if sport.is_empty() {
        if https { "443" } else { "80" }.to_string()
    } else {
        sport
    };
    vars.push(("SERVER_PORT".into(), sport.into_bytes()));
    vars.push((
        "REMOTE_ADDR".into(),
        conn.peer.remote_addr.as_bytes().to_vec(),
    ));
    vars.push((
        "REMOTE_PORT".into(),
        conn.peer.remote_port.as_bytes().to_vec(),
    ));
    let size = used;
    for (name, value) in &head.headers {
        if name.contains('_') {
            // Like nginx's default (underscores_in_headers off): `X_A` would alias `X-A`.
            continue;
        }
        let key = if name.eq_ignore_ascii_case("content-type") {
            "CONTENT_TYPE".to_string()
        } else if name.eq_ignore_ascii_case("content-length") {
            "CONTENT_LENGTH".to_string()
        } else {
            let mut k = String::with_capacity(name.len() + 5);
            k.push_str("HTTP_");
            for c in name.chars() {
                k.push(if c == '-' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                });
            }
            k
        };
        if let Some(prev) = vars.iter_mut().find(|(k, _)| *k == key) {
            // RFC 9110 5.3: repeated fields combine with ", ".
            prev.1.extend_from_slice(b", ");
            prev.1.extend_from_slice(value);
        } else {
            vars.push((key, value.clone()));
        }
    }
    Ok(Some(Request {
        vars_bytes: size,
        keep_alive: head.keep_alive(),
        expect_continue: head.expects_continue(),
        method: head.method.clone(),
        uri: head.target.clone(),
        protocol,
        body,
        https,
        remote_addr: conn.peer.remote_addr.clone(),
        vars,
    }))
}

fn read_uwsgi(
    conn: &mut Conn,
    buffer_size: usize,
    deadline: Instant,
) -> Result<Option<Request>, ReadError> {
    while conn.available().len() < 4 {
        if !fill(conn, deadline)? {
            return Ok(None);
        }
    }
    let a = conn.available();
    let h = uwsgi::parse_header([a[0], a[1], a[2], a[3]]);
    uwsgi::check_header(&h, buffer_size)?;
    let total = 4 + h.datasize as usize;
    while conn.available().len() < total {
        if !fill(conn, deadline)? {
            return Err(ReadError::Truncated);
        }
    }
    let block = &conn.available()[4..total];
    let pairs = uwsgi::parse_vars(block)?;
    let mut vars: Vec<(String, Vec<u8>)> = Vec::with_capacity(pairs.len() + 2);
    let mut method = String::new();
    let mut uri = Vec::new();
    let mut protocol = "HTTP/1.0".to_string();
    let mut content_length: u64 = 0;
    let mut https = false;
    let mut remote_addr = String::new();
    for (k, v) in pairs {
        let key = String::from_utf8_lossy(k).into_owned();
        if key.starts_with("UWSGI_") {
            // uWSGI's "magic" vars can load apps or change the scheme/mountpoint: every
            // process able to reach the socket could steer the server. Ignored.
            crate::log::info(&format!(
                "ignoring uwsgi magic variable {key} (not supported)"
            ));
            continue;
        }
        match key.as_str() {
            "REQUEST_METHOD" => method = String::from_utf8_lossy(v).into_owned(),
            "REQUEST_URI" => uri = v.to_vec(),
            "SERVER_PROTOCOL" => protocol = String::from_utf8_lossy(v).into_owned(),
            "CONTENT_LENGTH" => {
                content_length = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0)
            }
            "HTTPS" => https = matches!(v, b"on" | b"1" | b"ON" | b"On"),
            "REMOTE_ADDR" => remote_addr = String::from_utf8_lossy(v).into_owned(),
            _ => {}
        }
        vars.push((key, v.to_vec()));
    }
    // Like uWSGI, no SCRIPT_NAME is added when nginx sends none (PEP 3333 allows
    // omitting empty CGI variables).
    conn.consume(total);
    if method.is_empty() {
        method = "GET".into();
    }
    Ok(Some(Request {
        vars,
        vars_bytes: h.datasize as usize,
        method,
        uri,
        protocol,
        body: Body::Length(content_length),
        keep_alive: false,
        expect_continue: false,
        https,
        remote_addr,
    }))
}
