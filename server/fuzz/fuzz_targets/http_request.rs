//! HTTP/1.x request side: the request head (httparse), body framing and the chunked
//! decoder, over arbitrary bytes and arbitrary read boundaries.
//!
//! Input: 4 control bytes (head limit, a split point, the chunk-decoder output budget,
//! the read size), then the bytes a client would send. Checked: no panic; a parsed head
//! is within the input and the limit; a head cut before its end is reported incomplete
//! (or too large), never different; the framing is consistent with the headers; the
//! chunked decoder gives the same body, state and consumed count whether it gets the
//! input at once or in pieces with a small output budget, and never consumes more
//! than it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsgid::proto::http::{BodyKind, Chunked, HttpError, parse_head, percent_decode};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // buffer-size is 512..=65535 in a resolved config; small limits reach TooLarge.
    let limit = 16 + data[0] as usize * 16;
    let split_sel = data[1] as usize;
    let budget = 1 + data[2] as usize;
    let step = 1 + data[3] as usize % 64;
    let input = &data[4..];

    // The chunked decoder alone, on arbitrary bytes (a request that says chunked).
    check_chunked(input, budget, step);

    let full = parse_head(input, limit);
    let split = if input.is_empty() {
        0
    } else {
        split_sel % (input.len() + 1)
    };
    let prefix = parse_head(&input[..split], limit);

    match &full {
        Ok(Some((head, n))) => {
            let n = *n;
            assert!(
                n > 0 && n <= input.len() && n <= limit,
                "head length {n} out of range"
            );
            assert!(head.minor <= 1);
            // A reader that got only `split` bytes: incomplete, or the same head.
            match &prefix {
                Ok(None) => assert!(split < n, "complete head reported incomplete"),
                Ok(Some((h2, n2))) => {
                    assert_eq!(*n2, n, "prefix parse took a different length");
                    assert_eq!(h2, head, "prefix parse gave a different head");
                }
                Err(e) => panic!("prefix of a valid head refused: {e}"),
            }
            let _ = head.keep_alive();
            let _ = head.expects_continue();
            let _ = head.header("host");
            assert!(percent_decode(&head.target).len() <= head.target.len());
            let te = head
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
            let cl = head
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
            match head.body_kind() {
                Ok(BodyKind::Chunked) => {
                    assert!(te && !cl);
                    check_chunked(&input[n..], budget, step);
                }
                Ok(BodyKind::Length(len)) => {
                    assert!(!te);
                    if !cl {
                        assert_eq!(len, 0);
                    }
                }
                Err(HttpError::Conflict) => assert!(te && cl),
                Err(HttpError::TransferEncoding) => assert!(te),
                Err(HttpError::ContentLength) => assert!(cl),
                Err(e) => panic!("body_kind gave an unexpected error: {e}"),
            }
        }
        Ok(None) => {
            assert!(input.len() <= limit);
            // Less of an incomplete head is still incomplete (or refused as httparse
            // refuses it; never complete).
            assert!(
                !matches!(prefix, Ok(Some(_))),
                "prefix complete, whole incomplete"
            );
        }
        Err(HttpError::TooLarge(l)) => assert_eq!(*l, limit),
        Err(HttpError::Head(_) | HttpError::Version(_)) => {}
        Err(e) => panic!("parse_head gave an unexpected error: {e}"),
    }
});

/// Decodes `input` at once, then again fed `step` bytes at a time with `budget` bytes of
/// output per call (the server's loop: keep what was not consumed, read more, retry).
fn check_chunked(input: &[u8], budget: usize, step: usize) {
    let mut one = Chunked::default();
    let mut one_out = Vec::new();
    let one_res = one.decode(input, &mut one_out, usize::MAX);
    if let Ok(n) = one_res {
        assert!(n <= input.len());
        assert!(one_out.len() <= n);
    }

    let mut st = Chunked::default();
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0usize;
    let mut consumed = 0usize;
    let res: Result<(), HttpError> = 'outer: loop {
        if fed < input.len() {
            let end = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..end]);
            fed = end;
        }
        // Drain what can be decoded from what has arrived.
        loop {
            let before = out.len();
            match st.decode(&pending, &mut out, budget) {
                Err(e) => break 'outer Err(e),
                Ok(n) => {
                    assert!(n <= pending.len(), "consumed more than given");
                    assert!(out.len() - before <= budget, "output over the budget");
                    pending.drain(..n);
                    consumed += n;
                    if st == Chunked::Done || (n == 0 && out.len() == before) {
                        break;
                    }
                }
            }
        }
        if st == Chunked::Done || fed == input.len() {
            break Ok(());
        }
    };

    match (one_res, res) {
        (Ok(n), Ok(())) => {
            assert_eq!(one_out, out, "body differs when decoded in pieces");
            assert_eq!(one, st, "state differs when decoded in pieces");
            assert_eq!(n, consumed, "consumed count differs when decoded in pieces");
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("at once: {a:?}, in pieces: {b:?}"),
    }
}
