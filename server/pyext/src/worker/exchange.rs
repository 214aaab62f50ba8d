//! One request/response exchange on a connection: reading the request body (sized or
//! chunked, with `Expect: 100-continue`) and writing the response (status line, headers
//! sent with the first body byte, framing by Content-Length, chunked or close).
//!
//! Shared between the handler thread and the Python objects of the request
//! (`wsgi.input`, `start_response`, `write`) as `Arc<Mutex<Option<Exchange>>>`; the
//! handler takes it back when the request is over, so a leaked object only sees `None`.

use std::io;
use std::sync::{Arc, Mutex};

use wsgid::config::Proto;
use wsgid::proto::http::Chunked;

use super::conn::Conn;
use super::request::Body;

/// The shared handle.
pub type Shared = Arc<Mutex<Option<Exchange>>>;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Not decided yet (headers not sent).
    Undecided,
    /// Content-Length from the app (or computed): body as is.
    Length,
    /// Transfer-Encoding: chunked (HTTP/1.1, length unknown).
    Chunked,
    /// Delimited by closing the connection (uwsgi protocol, HTTP/1.0).
    Close,
    /// No body allowed (HEAD, 1xx, 204, 304): body bytes are dropped.
    None,
}

/// Response state.
pub struct Response {
    pub status: Option<String>,
    pub code: u16,
    pub headers: Vec<(String, String)>,
    pub headers_sent: bool,
    pub framing: Framing,
    pub body_bytes: u64,
    pub header_bytes: usize,
    /// The app's Content-Length, when it gave one: never more is sent, and fewer closes
    /// the connection (the client could not find the end of the body otherwise).
    pub declared: Option<u64>,
}

/// One exchange.
pub struct Exchange {
    pub conn: Conn,
    pub body: Body,
    /// Decoded body bytes not yet handed to the app (readline look-ahead).
    pub pending: Vec<u8>,
    pub continue_pending: bool,
    pub is_head: bool,
    pub keep_alive: bool,
    pub protocol: String,
    pub resp: Response,
}

impl Exchange {
    pub fn new(
        conn: Conn,
        body: Body,
        expect_continue: bool,
        is_head: bool,
        keep_alive: bool,
        protocol: String,
    ) -> Exchange {
        Exchange {
            conn,
            body,
            pending: Vec::new(),
            continue_pending: expect_continue,
            is_head,
            keep_alive,
            protocol,
            resp: Response {
                status: None,
                code: 0,
                headers: Vec::new(),
                headers_sent: false,
                framing: Framing::Undecided,
                body_bytes: 0,
                header_bytes: 0,
                declared: None,
            },
        }
    }

    /// Whether the body has been read to its end.
    pub fn body_done(&self) -> bool {
        self.pending.is_empty()
            && match &self.body {
                Body::Length(n) => *n == 0,
                Body::Chunked(c) => *c == Chunked::Done,
            }
    }

    fn send_continue(&mut self) -> io::Result<()> {
        if self.continue_pending {
            self.continue_pending = false;
            if !self.resp.headers_sent {
                self.conn.write_all(&[b"HTTP/1.1 100 Continue\r\n\r\n"])?;
            }
        }
        Ok(())
    }

    /// Appends up to `max` more decoded body bytes to `pending`; returns how many (0 at
    /// the end of the body).
    pub fn fill_body(&mut self, max: usize) -> io::Result<usize> {
        if max == 0 {
            return Ok(0);
        }
        self.send_continue()?;
        let before = self.pending.len();
        loop {
            match &mut self.body {
                Body::Length(0) => return Ok(0),
                Body::Length(left) => {
                    if self.conn.available().is_empty() && self.conn.read_more()? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "client closed the connection before the end of the body",
                        ));
                    }
                    let avail = self.conn.available();
                    let n = (avail.len() as u64).min(*left).min(max as u64) as usize;
                    self.pending.extend_from_slice(&avail[..n]);
                    *left -= n as u64;
                    self.conn.consume(n);
                    return Ok(n);
                }
                Body::Chunked(dec) => {
                    if *dec == Chunked::Done {
                        return Ok(0);
                    }
                    let used = dec
                        .decode(self.conn.available(), &mut self.pending, max)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    self.conn.consume(used);
                    let got = self.pending.len() - before;
                    if got > 0 || *dec == Chunked::Done {
                        return Ok(got);
                    }
                    if self.conn.read_more()? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "client closed the connection inside a chunked body",
                        ));
                    }
                }
            }
        }
    }

    /// Takes up to `size` bytes of body (`None`: all of it).
    pub fn read(&mut self, size: Option<usize>) -> io::Result<Vec<u8>> {
        let want = size.unwrap_or(usize::MAX);
        while self.pending.len() < want {
            let room = (want - self.pending.len()).min(1 << 20);
            if self.fill_body(room)? == 0 {
                break;
            }
        }
        let n = want.min(self.pending.len());
        Ok(self.pending.drain(..n).collect())
    }

    /// Takes one line (up to and including `\n`), at most `limit` bytes.
    pub fn readline(&mut self, limit: Option<usize>) -> io::Result<Vec<u8>> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut searched = 0;
        loop {
            if let Some(p) = self.pending[searched..].iter().position(|&b| b == b'\n') {
                let n = (searched + p + 1).min(limit);
                return Ok(self.pending.drain(..n).collect());
            }
            searched = self.pending.len();
            if self.pending.len() >= limit {
                return Ok(self.pending.drain(..limit).collect());
            }
            if self.fill_body(64 * 1024)? == 0 {
                let n = self.pending.len().min(limit);
                return Ok(self.pending.drain(..n).collect());
            }
        }
    }

    /// Reads and drops what is left of the body, up to `max` bytes; false if more is left
    /// (the connection must then be closed).
    pub fn drain_body(&mut self, max: u64) -> bool {
        if self.continue_pending {
            // The client waits for 100 Continue that never came: it may or may not send.
            return self.body_done();
        }
        let mut dropped = 0u64;
        while !self.body_done() {
            self.pending.clear();
            match self.fill_body(64 * 1024) {
                Ok(0) => break,
                Ok(n) => dropped += n as u64,
                Err(_) => return false,
            }
            if dropped > max {
                return false;
            }
        }
        self.pending.clear();
        self.body_done()
    }

    /// Builds the response head for a body whose total size is `known` (if known).
    fn head(&mut self, known: Option<u64>) -> Vec<u8> {
        let status = self
            .resp
            .status
            .clone()
            .unwrap_or_else(|| "200 OK".to_string());
        let code = self.resp.code;
        self.resp.declared = self.resp.headers.iter().find_map(|(n, v)| {
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<u64>().ok())
                .flatten()
        });
        let has_cl = self
            .resp
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
        let no_body = self.is_head || code < 200 || code == 204 || code == 304;
        let http = self.conn.proto == Proto::Http;
        let http11 = self.protocol == "HTTP/1.1";
        let mut extra: Option<String> = None;
        self.resp.framing = if has_cl {
            if no_body {
                Framing::None
            } else {
                Framing::Length
            }
        } else if !http {
            if no_body {
                Framing::None
            } else {
                Framing::Close
            }
        } else if no_body {
            if self.is_head
                && let Some(n) = known
            {
                extra = Some(format!("Content-Length: {n}\r\n"));
            }
            Framing::None
        } else if let Some(n) = known {
            extra = Some(format!("Content-Length: {n}\r\n"));
            Framing::Length
        } else if http11 {
            extra = Some("Transfer-Encoding: chunked\r\n".to_string());
            Framing::Chunked
        } else {
            Framing::Close
        };
        if self.resp.framing == Framing::Close {
            self.keep_alive = false;
        }
        if self
            .resp
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close"))
        {
            self.keep_alive = false;
        }
        let mut h = Vec::with_capacity(256);
        h.extend_from_slice(self.protocol.as_bytes());
        h.push(b' ');
        h.extend_from_slice(status.as_bytes());
        h.extend_from_slice(b"\r\n");
        for (n, v) in &self.resp.headers {
            h.extend_from_slice(n.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        if let Some(e) = extra {
            h.extend_from_slice(e.as_bytes());
        }
        if http {
            if !self.keep_alive && http11 {
                h.extend_from_slice(b"Connection: close\r\n");
            } else if self.keep_alive && !http11 {
                h.extend_from_slice(b"Connection: keep-alive\r\n");
            }
        }
        h.extend_from_slice(b"\r\n");
        self.resp.header_bytes = h.len();
        self.resp.headers_sent = true;
        // No 100 Continue once a final response went out.
        self.continue_pending = false;
        h
    }

    /// Sends `data` as body bytes (sending the head first if needed). `last`: this is the
    /// whole body, so Content-Length can be computed.
    pub fn send(&mut self, data: &[u8], last: bool) -> io::Result<()> {
        let head = if self.resp.headers_sent {
            None
        } else {
            Some(self.head(last.then_some(data.len() as u64)))
        };
        let head_ref: &[u8] = head.as_deref().unwrap_or(b"");
        match self.resp.framing {
            Framing::None => self.conn.write_all(&[head_ref]),
            Framing::Chunked if !data.is_empty() => {
                let size = format!("{:x}\r\n", data.len());
                self.resp.body_bytes += data.len() as u64;
                self.conn
                    .write_all(&[head_ref, size.as_bytes(), data, b"\r\n"])
            }
            Framing::Chunked => self.conn.write_all(&[head_ref]),
            Framing::Length => {
                let room = self
                    .resp
                    .declared
                    .map_or(u64::MAX, |d| d.saturating_sub(self.resp.body_bytes));
                let data = &data[..(data.len() as u64).min(room) as usize];
                self.resp.body_bytes += data.len() as u64;
                self.conn.write_all(&[head_ref, data])
            }
            _ => {
                self.resp.body_bytes += data.len() as u64;
                self.conn.write_all(&[head_ref, data])
            }
        }
    }

    /// Ends the response: head if nothing was sent, the last chunk if chunked.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.resp.headers_sent {
            return self.send(b"", true);
        }
        if self.resp.framing == Framing::Chunked {
            self.conn.write_all(&[b"0\r\n\r\n"])?;
        }
        if self.resp.framing == Framing::Length
            && self
                .resp
                .declared
                .is_some_and(|d| d != self.resp.body_bytes)
        {
            crate::log::info(&format!(
                "response shorter than its Content-Length ({} of {:?} bytes): closing the connection",
                self.resp.body_bytes, self.resp.declared
            ));
            self.keep_alive = false;
        }
        Ok(())
    }

    /// Sends the head for a file of `len` bytes (file_wrapper + sendfile).
    pub fn send_head_for_file(&mut self, len: u64) -> io::Result<()> {
        if self.resp.headers_sent {
            return Ok(());
        }
        let head = self.head(Some(len));
        self.conn.write_all(&[&head])
    }

    /// A plain error response (before any byte was sent), closing the connection.
    pub fn error_response(&mut self, code: u16, reason: &str) -> io::Result<()> {
        self.resp.status = Some(format!("{code} {reason}"));
        self.resp.code = code;
        self.resp.headers = vec![("Content-Type".into(), "text/plain".into())];
        self.keep_alive = false;
        self.send(reason.as_bytes(), true)
    }
}
