//! The uwsgi wire protocol, request side (uWSGI docs "The uwsgi Protocol"; nginx
//! `ngx_http_uwsgi_module`): a 4-byte header `modifier1: u8, datasize: u16 LE,
//! modifier2: u8`, then `datasize` bytes of vars: repeated `u16 LE key length, key,
//! u16 LE value length, value`. The body (CONTENT_LENGTH bytes) follows. The response
//! is plain HTTP written by the server.
//!
//! Pure functions over byte slices, so a fuzz target can call them directly.

/// The 4-byte packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub modifier1: u8,
    pub datasize: u16,
    pub modifier2: u8,
}

/// What is wrong with a uwsgi request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UwsgiError {
    #[error("uwsgi vars block of {size} bytes is over buffer-size {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("uwsgi modifier1 {0} is not 0 (WSGI request); wsgid only serves WSGI requests")]
    Modifier(u8),
    #[error("uwsgi vars block is truncated or malformed at offset {0}")]
    Malformed(usize),
}

/// Decodes the 4-byte header.
pub fn parse_header(b: [u8; 4]) -> Header {
    Header {
        modifier1: b[0],
        datasize: u16::from_le_bytes([b[1], b[2]]),
        modifier2: b[3],
    }
}

/// Checks a header before the vars block is read: modifier1 must be 0 (Python/WSGI;
/// nginx sends 0 unless `uwsgi_modifier1` says otherwise) and the block must fit.
pub fn check_header(h: &Header, buffer_size: usize) -> Result<(), UwsgiError> {
    if h.modifier1 != 0 {
        return Err(UwsgiError::Modifier(h.modifier1));
    }
    if h.datasize as usize > buffer_size {
        return Err(UwsgiError::TooLarge {
            size: h.datasize as usize,
            limit: buffer_size,
        });
    }
    Ok(())
}

/// One key/value pair of a vars block.
pub type Var<'a> = (&'a [u8], &'a [u8]);

/// Splits a vars block into key/value pairs, in order.
pub fn parse_vars(block: &[u8]) -> Result<Vec<Var<'_>>, UwsgiError> {
    let mut out = Vec::with_capacity(32);
    let mut i = 0;
    let take = |i: &mut usize| -> Result<&[u8], UwsgiError> {
        let at = *i;
        let len_bytes = block.get(at..at + 2).ok_or(UwsgiError::Malformed(at))?;
        let len = u16::from_le_bytes([len_bytes[0], len_bytes[1]]) as usize;
        let s = block
            .get(at + 2..at + 2 + len)
            .ok_or(UwsgiError::Malformed(at))?;
        *i = at + 2 + len;
        Ok(s)
    };
    while i < block.len() {
        let k = take(&mut i)?;
        let v = take(&mut i)?;
        out.push((k, v));
    }
    Ok(out)
}

/// Encodes vars into a packet (header + block); used by tests and clients.
pub fn encode(vars: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut block = Vec::new();
    for (k, v) in vars {
        block.extend_from_slice(&(k.len() as u16).to_le_bytes());
        block.extend_from_slice(k);
        block.extend_from_slice(&(v.len() as u16).to_le_bytes());
        block.extend_from_slice(v);
    }
    let mut out = vec![0u8];
    out.extend_from_slice(&(block.len() as u16).to_le_bytes());
    out.push(0);
    out.extend_from_slice(&block);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let pkt = encode(&[
            (b"REQUEST_METHOD", b"GET"),
            (b"PATH_INFO", b"/"),
            (b"E", b""),
        ]);
        let h = parse_header([pkt[0], pkt[1], pkt[2], pkt[3]]);
        assert_eq!(h.modifier1, 0);
        assert_eq!(h.datasize as usize, pkt.len() - 4);
        check_header(&h, 4096).unwrap();
        let v = parse_vars(&pkt[4..]).unwrap();
        assert_eq!(
            v,
            vec![
                (&b"REQUEST_METHOD"[..], &b"GET"[..]),
                (b"PATH_INFO", b"/"),
                (b"E", b"")
            ]
        );
    }

    #[test]
    fn refuses_bad_input() {
        let h = parse_header([0, 0x10, 0x27, 0]);
        assert_eq!(
            check_header(&h, 4096),
            Err(UwsgiError::TooLarge {
                size: 10000,
                limit: 4096
            })
        );
        assert_eq!(
            check_header(&parse_header([5, 0, 0, 0]), 4096),
            Err(UwsgiError::Modifier(5))
        );
        assert!(parse_vars(&[3, 0, b'a']).is_err());
        assert!(parse_vars(&[1, 0, b'a']).is_err());
        assert!(parse_vars(&[1]).is_err());
        assert!(parse_vars(&[1, 0, b'a', 9, 0, b'x']).is_err());
        assert_eq!(parse_vars(&[]).unwrap(), vec![]);
    }
}
