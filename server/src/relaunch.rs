//! What a SIGHUP re-exec of the master needs to start over "from scratch": the launcher
//! executable, its working directory, its arguments and the environment it was started
//! with, captured by the launcher BEFORE it applies `env =`, `home`/`virtualenv` and
//! `chdir`. The launcher hands them to the server in [`RELAUNCH_ENV`] (hex, so that any
//! byte string survives); the server removes the variable from its environment at start
//! (the app never sees it) and, on a reload, execs the launcher again with exactly that
//! environment and directory. So an `env` line removed from the ini is gone after the
//! reload, a changed one takes the new value, and a changed `home`/`chdir` applies.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// Environment variable carrying the encoded [`Relaunch`] from launcher to server.
pub const RELAUNCH_ENV: &str = "WSGID_RELAUNCH";

/// State a master hands to the master it re-executes, set in its C environment
/// (setenv) by the server itself: carried over from the CURRENT environment on a
/// relaunch (listening sockets are added separately, `WSGID_INHERIT_FDS`).
pub const HANDOVER: &[&str] = &["WSGID_INHERIT_TLS", "WSGID_ACTIVATED_FDS"];

/// Variables never captured as "original": they belong to one start only (the
/// hand-overs, and systemd's socket-activation variables, consumed at start).
const TRANSIENT: &[&str] = &[
    RELAUNCH_ENV,
    "WSGID_INHERIT_FDS",
    "WSGID_INHERIT_TLS",
    "WSGID_ACTIVATED_FDS",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// How the launcher was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relaunch {
    pub exe: PathBuf,
    pub cwd: PathBuf,
    pub args: Vec<OsString>,
    /// `KEY=VALUE` entries, in the original order.
    pub env: Vec<OsString>,
}

fn hex(out: &mut String, b: &[u8]) {
    const D: &[u8; 16] = b"0123456789abcdef";
    for &c in b {
        out.push(D[(c >> 4) as usize] as char);
        out.push(D[(c & 15) as usize] as char);
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return None;
    }
    let v = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.chunks(2)
        .map(|p| Some(v(p[0])? << 4 | v(p[1])?))
        .collect()
}

impl Relaunch {
    /// The current process's executable, directory, arguments and environment (minus
    /// the transient variables). Call it first thing in the launcher.
    pub fn capture() -> Option<Relaunch> {
        Some(Relaunch {
            exe: std::env::current_exe().ok()?,
            cwd: std::env::current_dir().ok()?,
            args: std::env::args_os().skip(1).collect(),
            env: std::env::vars_os()
                .filter(|(k, _)| !TRANSIENT.iter().any(|t| k == t))
                .map(|(k, v)| {
                    let mut kv = k;
                    kv.push("=");
                    kv.push(v);
                    kv
                })
                .collect(),
        })
    }

    /// `exe,cwd,N,arg1..argN,env...`, every field hex-encoded (comma never occurs in hex).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        hex(&mut s, self.exe.as_os_str().as_bytes());
        s.push(',');
        hex(&mut s, self.cwd.as_os_str().as_bytes());
        s.push(',');
        s.push_str(&self.args.len().to_string());
        for f in self.args.iter().chain(&self.env) {
            s.push(',');
            hex(&mut s, f.as_bytes());
        }
        s
    }

    /// The inverse of [`Relaunch::encode`]; None for anything malformed.
    pub fn decode(s: &str) -> Option<Relaunch> {
        let mut it = s.split(',');
        let field = |f: Option<&str>| unhex(f?).map(OsString::from_vec);
        let exe = PathBuf::from(field(it.next())?);
        let cwd = PathBuf::from(field(it.next())?);
        let n: usize = it.next()?.parse().ok()?;
        let mut args = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            args.push(field(it.next())?);
        }
        let mut env = Vec::new();
        for f in it {
            env.push(field(Some(f))?);
        }
        Some(Relaunch {
            exe,
            cwd,
            args,
            env,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_odd_bytes() {
        let r = Relaunch {
            exe: "/usr/bin/wsgid".into(),
            cwd: "/srv/a,b".into(),
            args: vec!["--ini".into(), OsString::from_vec(b"x\xff,=y".to_vec())],
            env: vec!["A=1".into(), "EMPTY=".into(), "B=a=b,c".into()],
        };
        assert_eq!(Relaunch::decode(&r.encode()), Some(r.clone()));
        let none = Relaunch {
            args: vec![],
            env: vec![],
            ..r
        };
        assert_eq!(Relaunch::decode(&none.encode()), Some(none));
    }

    #[test]
    fn malformed_is_refused() {
        for bad in ["", "zz,00,0", "00,00", "00,00,2,61", "00,00,x", "00,00,0,6"] {
            assert_eq!(Relaunch::decode(bad), None, "{bad:?}");
        }
    }
}
