//! uwsgi packet: 4-byte header, then the vars block, read as the server reads it.
//!
//! Input: 2 bytes choosing `buffer-size` (as `resolve` allows: 512..=65535), then the
//! bytes a client would send. Checked: no panic; a refused header is refused for the
//! right reason; a parsed vars block's keys and values are slices of the block, cover it
//! exactly, and re-encode to the same bytes; a malformed block names an offset inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsgid::proto::uwsgi::{UwsgiError, check_header, encode, parse_header, parse_vars};

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    i.start >= o.start && i.end <= o.end
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let buffer_size = 512 + (u16::from_le_bytes([data[0], data[1]]) as usize % (65535 - 512 + 1));
    let pkt = &data[2..];

    // The vars parser alone, on arbitrary bytes.
    check_block(pkt);

    let Some(hdr) = pkt.get(..4) else { return };
    let h = parse_header([hdr[0], hdr[1], hdr[2], hdr[3]]);
    match check_header(&h, buffer_size) {
        Err(UwsgiError::Modifier(m)) => assert!(m != 0 && m == h.modifier1),
        Err(UwsgiError::TooLarge { size, limit }) => {
            assert_eq!(h.modifier1, 0);
            assert_eq!(size, h.datasize as usize);
            assert_eq!(limit, buffer_size);
            assert!(size > limit);
        }
        Err(e) => panic!("check_header gave an unexpected error: {e}"),
        Ok(()) => {
            assert_eq!(h.modifier1, 0);
            assert!(h.datasize as usize <= buffer_size);
            // The server reads exactly `datasize` bytes; a short read is a closed
            // connection, so only a complete block reaches parse_vars.
            if let Some(block) = pkt.get(4..4 + h.datasize as usize) {
                check_block(block);
            }
        }
    }
});

fn check_block(block: &[u8]) {
    match parse_vars(block) {
        Ok(vars) => {
            let mut total = 0usize;
            for (k, v) in &vars {
                assert!(
                    within(block, k) && within(block, v),
                    "var outside the block"
                );
                assert!(k.len() <= u16::MAX as usize && v.len() <= u16::MAX as usize);
                total += 4 + k.len() + v.len();
            }
            assert_eq!(total, block.len(), "vars do not cover the block exactly");
            // Round trip: re-encoding gives the block back; parsing that gives the vars.
            let pkt = encode(&vars);
            if block.len() <= u16::MAX as usize {
                assert_eq!(
                    &pkt[..4],
                    &[0, block.len() as u8, (block.len() >> 8) as u8, 0]
                );
            }
            assert_eq!(&pkt[4..], block, "re-encoded vars differ from the block");
            let again = parse_vars(&pkt[4..]).expect("re-encoded block must parse");
            assert_eq!(again, vars);
        }
        // `at` is where the cut field starts: the end of the block when a value is missing.
        Err(UwsgiError::Malformed(at)) => assert!(at <= block.len(), "offset {at} past the block"),
        Err(e) => panic!("parse_vars gave an unexpected error: {e}"),
    }
}
