//! systemd integration: socket activation with the real `systemd-socket-activate`
//! (uwsgi over a UNIX socket, http and https over TCP; descriptors matched by address,
//! not bound again), and the sd_notify sequence READY/STATUS, RELOADING (SIGHUP),
//! READY again, STOPPING on a listener of our own.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;

use common::*;

const APP: &str = r#"
import json, os

def application(environ, start_response):
    body = json.dumps({
        "scheme": environ["wsgi.url_scheme"],
        "listen": [os.environ.get(k) for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")],
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"#;

/// A self-signed certificate for 127.0.0.1 (cert.pem, key.pem) made with openssl.
fn self_signed(dir: &Path) {
    let out = Command::new(tool("openssl"))
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The listening sockets of `pid` (inodes from /proc/PID/fd -> socket:[N]).
fn socket_inodes(pid: i32) -> Vec<(i32, u64)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        let Ok(t) = std::fs::read_link(e.path()) else {
            continue;
        };
        let t = t.display().to_string();
        if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
            v.push((
                e.file_name().to_string_lossy().parse().unwrap(),
                n.parse().unwrap(),
            ));
        }
    }
    v
}

/// Inode of a socket in /proc/net/{tcp,unix} for a local TCP port / a UNIX path.
fn listening_inode(port: Option<u16>, path: Option<&Path>) -> Option<u64> {
    if let Some(port) = port {
        let t = std::fs::read_to_string("/proc/net/tcp").unwrap();
        for l in t.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address 0100007F:PORT, st 0A = LISTEN, inode = field 9.
            if f[1] == format!("0100007F:{port:04X}") && f[3] == "0A" {
                return Some(f[9].parse().unwrap());
            }
        }
        return None;
    }
    let p = path.unwrap().display().to_string();
    let t = std::fs::read_to_string("/proc/net/unix").unwrap();
    for l in t.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 8 && f[7] == p {
            return Some(f[6].parse().unwrap());
        }
    }
    None
}

#[test]
fn socket_activation_uses_the_inherited_sockets_for_uwsgi_http_and_https() {
    let dir = TempDir::new("activate");
    self_signed(dir.path());
    std::fs::write(dir.join("app.py"), APP).unwrap();
    let sock = dir.join("app.sock");
    let (http, https, extra) = (free_port(), free_port(), free_port());
    let ini = dir.join("site.ini");
    std::fs::write(
        &ini,
        format!(
            "[uwsgi]\nwsgi-file = {d}/app.py\nsocket = {s}\nchmod-socket = 600\nvacuum = true\n\
             http-socket = 127.0.0.1:{http}\nhttps-socket = 127.0.0.1:{https},{d}/cert.pem,{d}/key.pem\n",
            d = dir.path().display(),
            s = sock.display()
        ),
    )
    .unwrap();
    let wsgid = wsgid_cmd();
    let mut cmd = Command::new(tool("systemd-socket-activate"));
    for l in [
        sock.display().to_string(),
        format!("127.0.0.1:{http}"),
        format!("127.0.0.1:{https}"),
        format!("127.0.0.1:{extra}"),
    ] {
        cmd.arg("-l").arg(l);
    }
    // systemd-socket-activate passes only LISTEN_* and the -E variables.
    for (k, v) in wsgid.get_envs() {
        if let (k, Some(v)) = (k.to_string_lossy(), v) {
            cmd.arg("-E").arg(format!("{k}={}", v.to_string_lossy()));
        }
    }
    cmd.arg("-E")
        .arg(format!("PATH={}", std::env::var("PATH").unwrap()));
    cmd.arg(wsgid.get_program());
    cmd.args(wsgid.get_args());
    cmd.arg("--ini").arg(&ini);
    let mut p = spawn(cmd, dir.join("wsgid.log"), libc::SIGTERM);
    // The activator made the UNIX socket (its mode, its inode) before wsgid runs.
    wait_for("the activator's UNIX socket", || {
        sock.exists().then_some(())
    });
    let before = std::fs::metadata(&sock).unwrap();
    // The first connection starts wsgid; the request waits in the backlog meanwhile.
    let (code, out) = curl(&[&format!("http://127.0.0.1:{http}/")]);
    assert_eq!(code, 0, "{}", p.log_text());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["scheme"], "http");
    // The variables were removed: the app (and its children) do not see them.
    assert_eq!(v["listen"], serde_json::json!([null, null, null]));
    p.wait_log("ready:");
    let (code, out) = curl(&["-k", &format!("https://127.0.0.1:{https}/")]);
    assert_eq!(code, 0, "{}", p.log_text());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["scheme"], "https");
    let raw = uwsgi_request(&sock, &[("REQUEST_METHOD", "GET"), ("PATH_INFO", "/")], b"");
    assert!(
        raw.starts_with(b"HTTP/1.0 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    let log = p.log_text();
    for (proto, addr) in [
        ("uwsgi", sock.display().to_string()),
        ("http", format!("127.0.0.1:{http}")),
        ("https", format!("127.0.0.1:{https}")),
    ] {
        assert!(
            log.contains(&format!(
                "{proto} socket received from systemd (socket activation) on {addr}"
            )),
            "{log}"
        );
    }
    assert!(
        log.contains(&format!("127.0.0.1:{extra}) matches no configured socket")),
        "{log}"
    );
    // Not bound again: the socket file is the activator's (same inode, mode kept
    // despite chmod-socket = 600), and wsgid's listeners are the inherited sockets.
    let after = std::fs::metadata(&sock).unwrap();
    assert_eq!(before.ino(), after.ino());
    assert_eq!(before.mode(), after.mode());
    assert_ne!(after.mode() & 0o777, 0o600);
    let fds = socket_inodes(p.pid());
    for inode in [
        listening_inode(None, Some(&sock)),
        listening_inode(Some(http), None),
        listening_inode(Some(https), None),
    ] {
        let inode = inode.expect("a listener");
        assert!(
            fds.iter().any(|(_, i)| *i == inode),
            "inode {inode} not in {fds:?}"
        );
    }
    // The unmatched descriptor was closed (the activator exec'd wsgid, so nothing else
    // holds it: the port does not listen any more).
    assert_eq!(listening_inode(Some(extra), None), None);
    // vacuum leaves systemd's socket file alone.
    p.signal(libc::SIGTERM);
    assert!(p.wait_exit().is_some());
    assert!(sock.exists(), "vacuum removed the socket unit's file");
}

#[test]
fn sd_notify_ready_reloading_ready_stopping() {
    let dir = TempDir::new("notify-seq");
    let nsock = dir.join("notify.sock");
    let listener = UnixDatagram::bind(&nsock).unwrap();
    listener.set_read_timeout(Some(WAIT)).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let app = apps_dir().join("hello.py").display().to_string();
    let mut cmd = wsgid_cmd();
    cmd.env("NOTIFY_SOCKET", &nsock)
        .args(["--http-socket", &addr, "--wsgi-file", &app]);
    let mut p = spawn(cmd, dir.join("wsgid.log"), libc::SIGTERM);
    let recv = || {
        let mut buf = [0u8; 512];
        let n = listener.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let m = recv();
    assert!(m.contains("READY=1") && m.contains("STATUS="), "{m}");
    // READY comes after the sockets are bound.
    assert_eq!(http_get(port, "/").status, 200);
    p.signal(libc::SIGHUP);
    assert!(recv().contains("RELOADING=1"));
    // The re-executed master reports READY again once it serves.
    let m = recv();
    assert!(m.contains("READY=1"), "{m}");
    assert_eq!(http_get(port, "/").status, 200);
    p.signal(libc::SIGTERM);
    assert!(recv().contains("STOPPING=1"));
    assert_eq!(p.wait_exit(), Some(0));
}
