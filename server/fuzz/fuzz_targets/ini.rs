//! uWSGI ini text -> `--ini` on the command line -> parse_ini -> resolve, with a fake
//! file reader, environment and host name: no file system access.
//!
//! Checked: no panic; every entry comes from a line of the text, with a non-empty,
//! trimmed name without `=`; a resolved config keeps the invariants resolve promises.
//! Address options whose host is a name (not an IP literal or a UNIX path) are left out
//! before resolve: resolving them would ask the system resolver (I/O), not the parser.
#![no_main]

use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wsgid::config::options::lookup;
use wsgid::config::{Origin, cli::parse_args, resolve};

const PATH: &str = "/etc/app/site.ini";

/// Whether `parse_bind` would answer without a name lookup.
fn pure_addr(part: &str) -> bool {
    let t = part.trim();
    if t.is_empty() || t.starts_with('@') || t.contains('/') || !t.contains(':') {
        return true;
    }
    let Some((host, _)) = t.rsplit_once(':') else {
        return true;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.is_empty() || host.parse::<IpAddr>().is_ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `%(a)%(a)` on every line doubles the value each line, as in uWSGI: bounded here
    // so a run measures the parser, not the allocator.
    if text.matches("%(").count() > 16 {
        return;
    }
    let lines = text.lines().count();
    let args = vec!["--ini".to_string(), PATH.to_string()];
    let env = |k: &str| (k == "HOME").then(|| "/home/fuzz".to_string());
    let read = |p: &Path| {
        assert_eq!(p, Path::new(PATH), "the parser asked for another file");
        Ok(text.to_string())
    };
    let Ok(inv) = parse_args(&args, Path::new("/"), &env, &read, "fuzzhost") else {
        return;
    };
    for e in &inv.entries {
        assert!(!e.name.is_empty() && !e.name.contains('='));
        assert_eq!(e.name.trim(), e.name);
        match &e.origin {
            Origin::File { path, line } => {
                assert_eq!(path, Path::new(PATH));
                assert!(*line >= 1 && *line <= lines, "line {line} of {lines}");
            }
            o => panic!("ini entry with origin {o:?}"),
        }
    }
    let entries: Vec<_> = inv
        .entries
        .into_iter()
        .filter(|e| match lookup(&e.name).map(|s| s.name) {
            Some("socket" | "http-socket") => e.value.split(',').all(pure_addr),
            // addr,cert,key[,ciphers]: only the first field is an address.
            Some("https-socket" | "https") => pure_addr(e.value.split(',').next().unwrap_or("")),
            Some("stats") => pure_addr(&e.value),
            _ => true,
        })
        .collect();
    if let Ok(c) = resolve(&entries) {
        assert!((512..=65535).contains(&c.buffer_size));
        assert!((1..=1024).contains(&c.processes) && (1..=256).contains(&c.threads));
        if let Some(ch) = c.cheaper {
            assert!(
                ch.min >= 1 && ch.min < c.processes,
                "{ch:?} with {}",
                c.processes
            );
            assert!(ch.min <= ch.initial && ch.initial <= c.processes, "{ch:?}");
        }
        assert!(c.chmod_socket.is_none_or(|m| m <= 0o7777));
    }
});
