//! HTTP/1.x request side (RFC 9112): the request head (parsed by `httparse`), body
//! framing (Content-Length or chunked, §6), and a chunked-body decoder (§7.1).
//!
//! Pure functions over byte slices, so a fuzz target can call them directly.

/// Most request headers accepted (uWSGI's limit is similar: 64-100 by buffer size).
pub const MAX_HEADERS: usize = 100;

/// What is wrong with an HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("malformed request head: {0}")]
    Head(String),
    #[error("request head is over buffer-size {0}")]
    TooLarge(usize),
    #[error("unsupported HTTP version 1.{0}")]
    Version(u8),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("both Content-Length and Transfer-Encoding (request smuggling guard, RFC 9112 6.1)")]
    Conflict,
    #[error("unsupported Transfer-Encoding (only chunked is accepted)")]
    TransferEncoding,
    #[error("malformed chunked body")]
    Chunked,
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (`/path?query`).
    pub target: Vec<u8>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Header names as sent, values as bytes, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Exactly this many bytes (0 when no body).
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the connection stays open after the response (RFC 9112 9.3).
    pub fn keep_alive(&self) -> bool {
        let conn = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        let has = |t: &str| conn.split(',').any(|x| x.trim() == t);
        if self.minor == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }

    /// Whether the client sent `Expect: 100-continue`.
    pub fn expects_continue(&self) -> bool {
        self.minor >= 1
            && self
                .header("expect")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"))
    }

    /// The body framing (RFC 9112 6.3).
    pub fn body_kind(&self) -> Result<BodyKind, HttpError> {
        let mut te: Option<String> = None;
        let mut cl: Option<u64> = None;
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("transfer-encoding") {
                let v = String::from_utf8_lossy(v).to_ascii_lowercase();
                te = Some(match te {
                    Some(prev) => format!("{prev},{v}"),
                    None => v,
                });
            } else if n.eq_ignore_ascii_case("content-length") {
                let s = std::str::from_utf8(v).map_err(|_| HttpError::ContentLength)?;
                let s = s.trim();
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HttpError::ContentLength);
                }
                let n: u64 = s.parse().map_err(|_| HttpError::ContentLength)?;
                if cl.is_some_and(|prev| prev != n) {
                    return Err(HttpError::ContentLength);
                }
                cl = Some(n);
            }
        }
        match (te, cl) {
            (Some(_), Some(_)) => Err(HttpError::Conflict),
            (Some(te), None) => {
                let codings: Vec<&str> = te
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect();
                if codings == ["chunked"] {
                    Ok(BodyKind::Chunked)
                } else {
                    Err(HttpError::TransferEncoding)
                }
            }
            (None, Some(n)) => Ok(BodyKind::Length(n)),
            (None, None) => Ok(BodyKind::Length(0)),
        }
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete, read more;
/// `Ok(Some((head, n)))`: the head took `n` bytes. Leading empty lines are skipped
/// (RFC 9112 2.2). A head longer than `limit` bytes is refused.
pub fn parse_head(buf: &[u8], limit: usize) -> Result<Option<(Head, usize)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            if n > limit {
                return Err(HttpError::TooLarge(limit));
            }
            let minor = req.version.unwrap_or(1);
            if minor > 1 {
                return Err(HttpError::Version(minor));
            }
            let head = Head {
                method: req.method.unwrap_or("GET").to_string(),
                target: req.path.unwrap_or("/").as_bytes().to_vec(),
                minor,
                headers: req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, n)))
        }
        Ok(httparse::Status::Partial) => {
            if buf.len() > limit {
                Err(HttpError::TooLarge(limit))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(HttpError::Head(e.to_string())),
    }
}

/// Decoder state for a chunked body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Chunked {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// This many data bytes left in the current chunk.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Reading trailer lines after the last chunk.
    Trailer,
    /// The body is complete.
    Done,
}

/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE: usize = 4096;

impl Chunked {
    /// Decodes from `input`, appending body bytes to `out` (at most `max_out` new bytes).
    /// Returns the number of input bytes consumed; stops early when a line is incomplete
    /// (call again with more input) or when `max_out` is reached.
    pub fn decode(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_out: usize,
    ) -> Result<usize, HttpError> {
        let mut pos = 0;
        let start_len = out.len();
        loop {
            match self {
                Chunked::Done => return Ok(pos),
                Chunked::Size | Chunked::Trailer => {
                    let rest = &input[pos..];
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_LINE {
                            return Err(HttpError::Chunked);
                        }
                        return Ok(pos);
                    };
                    if nl > MAX_LINE {
                        return Err(HttpError::Chunked);
                    }
                    let line = &rest[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    pos += nl + 1;
                    if *self == Chunked::Trailer {
                        if line.is_empty() {
                            *self = Chunked::Done;
                        }
                        continue;
                    }
                    let size_part = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let size_str = std::str::from_utf8(size_part)
                        .map_err(|_| HttpError::Chunked)?
                        .trim_end_matches([' ', '\t']);
                    if size_str.is_empty()
                        || size_str.len() > 15
                        || !size_str.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        return Err(HttpError::Chunked);
                    }
                    let size = u64::from_str_radix(size_str, 16).map_err(|_| HttpError::Chunked)?;
                    *self = if size == 0 {
                        Chunked::Trailer
                    } else {
                        Chunked::Data(size)
                    };
                }
                Chunked::Data(left) => {
                    let room = max_out.saturating_sub(out.len() - start_len);
                    let avail = input.len() - pos;
                    if room == 0 || avail == 0 {
                        return Ok(pos);
                    }
                    let n = (*left).min(avail as u64).min(room as u64) as usize;
                    out.extend_from_slice(&input[pos..pos + n]);
                    pos += n;
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Chunked::DataEnd;
                    }
                }
                Chunked::DataEnd => {
                    let rest = &input[pos..];
                    if rest.starts_with(b"\r\n") {
                        pos += 2;
                    } else if rest.starts_with(b"\n") {
                        pos += 1;
                    } else if rest.is_empty() || rest == b"\r" {
                        return Ok(pos);
                    } else {
                        return Err(HttpError::Chunked);
                    }
                    *self = Chunked::Size;
                }
            }
        }
    }
}

/// Decodes `%XX` escapes (PATH_INFO is the decoded path, as in CGI and uWSGI); a `%`
/// not followed by two hex digits is kept as is.
pub fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"/a%20b%zz%4"), b"/a b%zz%4");
        assert_eq!(percent_decode(b"%C3%A9%"), "é%".as_bytes());
        assert_eq!(percent_decode(b"%41"), b"A");
    }

    #[test]
    fn head_and_framing() {
        let req = b"\r\nPOST /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello";
        let (h, n) = parse_head(req, 4096).unwrap().unwrap();
        assert_eq!(&req[n..], b"hello");
        assert_eq!(h.method, "POST");
        assert_eq!(h.target, b"/a%20b?x=1");
        assert_eq!(h.body_kind().unwrap(), BodyKind::Length(5));
        assert!(h.keep_alive());
        assert_eq!(h.headers.len(), 4);
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost:", 4096).unwrap(), None);
        let (h, _) = parse_head(b"GET / HTTP/1.0\r\n\r\n", 4096)
            .unwrap()
            .unwrap();
        assert!(!h.keep_alive());
        let (h, _) = parse_head(
            b"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n",
            4096,
        )
        .unwrap()
        .unwrap();
        assert!(!h.keep_alive());
    }

    #[test]
    fn refuses_bad_heads() {
        assert!(parse_head(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 4096).is_err());
        assert!(parse_head(b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", 4096).is_err());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(5000));
        assert_eq!(
            parse_head(big.as_bytes(), 4096),
            Err(HttpError::TooLarge(4096))
        );
        let h = |s: &str| parse_head(s.as_bytes(), 4096).unwrap().unwrap().0;
        assert_eq!(
            h("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .body_kind(),
            Err(HttpError::Conflict)
        );
        assert_eq!(
            h("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").body_kind(),
            Err(HttpError::ContentLength)
        );
        assert_eq!(
            h("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").body_kind(),
            Err(HttpError::ContentLength)
        );
        assert_eq!(
            h("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").body_kind(),
            Err(HttpError::TransferEncoding)
        );
        assert_eq!(
            h("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").body_kind(),
            Ok(BodyKind::Chunked)
        );
        assert!(h("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").expects_continue());
    }

    fn dechunk_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), HttpError> {
        let mut d = Chunked::default();
        let mut out = Vec::new();
        let mut fed = 0;
        let mut consumed = 0;
        while d != Chunked::Done {
            if fed < input.len() {
                fed = (fed + step).min(input.len());
            } else if consumed == fed {
                break;
            }
            let before = consumed;
            consumed += d.decode(&input[consumed..fed], &mut out, usize::MAX)?;
            if consumed == before && fed == input.len() && d != Chunked::Done {
                break;
            }
        }
        Ok((out, consumed))
    }

    #[test]
    fn chunked_decoding_any_split() {
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, used) = dechunk_all(body, step).unwrap();
            assert_eq!(out, b"hello world", "step {step}");
            assert_eq!(&body[used..], b"NEXT");
        }
    }

    #[test]
    fn chunked_limits_and_errors() {
        let mut d = Chunked::default();
        let mut out = Vec::new();
        let n = d
            .decode(b"a\r\n0123456789\r\n0\r\n\r\n", &mut out, 4)
            .unwrap();
        assert_eq!(out, b"0123");
        assert_eq!(n, 3 + 4);
        assert!(Chunked::default().decode(b"zz\r\n", &mut out, 10).is_err());
        assert!(
            Chunked::default()
                .decode(b"ffffffffffffffffff\r\n", &mut out, 10)
                .is_err()
        );
        assert!(
            Chunked::default()
                .decode(b"1\r\naXX", &mut out, 10)
                .is_err()
        );
        assert!(
            Chunked::default()
                .decode(&[b'1'; 5000], &mut out, 10)
                .is_err()
        );
    }
}
