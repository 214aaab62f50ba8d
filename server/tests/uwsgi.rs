//! uwsgi protocol on UNIX and TCP sockets: raw packets, socket permissions, vacuum,
//! magic variables, oversized vars blocks.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use common::*;

fn vars<'a>(
    method: &'a str,
    path: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("REQUEST_METHOD", method),
        ("REQUEST_URI", path),
        ("PATH_INFO", path),
        ("QUERY_STRING", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
        ("REMOTE_ADDR", "10.0.0.1"),
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn hello_over_unix_socket_with_chmod_and_vacuum() {
    let dir = TempDir::new("uwsgi-unix");
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let apps = apps_dir().display().to_string();
    let mut p = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--chmod-socket",
            "660",
            "--vacuum",
            "--pythonpath",
            &apps,
            "--module",
            "hello",
        ],
    );
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let out = uwsgi_request(&sock, &vars("GET", "/", &[]), b"");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello, World!"), "{text}");
    p.wait_log("10.0.0.1 () {");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
    assert!(!sock.exists(), "vacuum did not remove the socket");
}

#[test]
fn bodies_magic_vars_and_limits() {
    let dir = TempDir::new("uwsgi-body");
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let apps = apps_dir().display().to_string();
    let mut p = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--pythonpath",
            &apps,
            "--module",
            "environ_dump",
            "--processes",
            "2",
        ],
    );
    let body = b"x=1&y=2";
    let out = uwsgi_request(
        &sock,
        &vars(
            "POST",
            "/p",
            &[
                ("CONTENT_LENGTH", "7"),
                ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
                ("HTTPS", "on"),
                ("UWSGI_SCRIPT", "evil:app"),
                ("UWSGI_SCHEME", "gopher"),
            ],
        ),
        body,
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(
        text.contains("\"_body\": [\"bytes\", \"x=1&y=2\"]"),
        "{text}"
    );
    assert!(
        text.contains("\"CONTENT_LENGTH\": [\"str\", \"7\"]"),
        "{text}"
    );
    assert!(
        text.contains("\"wsgi.url_scheme\": [\"str\", \"https\"]"),
        "{text}"
    );
    assert!(
        !text.contains("SCRIPT_NAME"),
        "not added when nginx sends none, as uWSGI: {text}"
    );
    assert!(
        !text.contains("UWSGI_"),
        "magic vars reached the app: {text}"
    );
    assert!(
        p.log_text()
            .contains("ignoring uwsgi magic variable UWSGI_SCRIPT")
    );
    // A vars block over buffer-size (4096) is refused and logged; the server goes on.
    let long = "v".repeat(5000);
    let out = uwsgi_request(&sock, &vars("GET", "/", &[("HTTP_X_LONG", &long)]), b"");
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    // A malformed block and a wrong modifier1 too.
    let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(&[0, 3, 0, 0, 9, 0, b'a']).unwrap();
    let mut o = Vec::new();
    let _ = c.read_to_end(&mut o);
    assert!(o.is_empty());
    let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(&[30, 0, 0, 0]).unwrap();
    let mut o = Vec::new();
    let _ = c.read_to_end(&mut o);
    assert!(o.is_empty());
    p.wait_log("over buffer-size 4096");
    p.wait_log("modifier1 30");
    let out = uwsgi_request(&sock, &vars("GET", "/", &[]), b"");
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200 OK"));
}

#[test]
fn uwsgi_over_tcp_and_several_sockets() {
    let dir = TempDir::new("uwsgi-tcp");
    let port = free_port();
    let hport = free_port();
    let addr = format!("127.0.0.1:{port}");
    let haddr = format!("127.0.0.1:{hport}");
    let apps = apps_dir().display().to_string();
    let _p = start_wsgid(
        &dir,
        &[
            "--socket",
            &addr,
            "--http-socket",
            &haddr,
            "--pythonpath",
            &apps,
            "--module",
            "hello",
        ],
    );
    let v: Vec<(&[u8], &[u8])> = vars("GET", "/", &[])
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&wsgid::proto::uwsgi::encode(&v)).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(out.ends_with(b"Hello, World!"));
    assert_eq!(http_get(hport, "/").body, b"Hello, World!");
}

#[test]
fn chown_socket_by_user_and_group_name() {
    let dir = TempDir::new("uwsgi-chown");
    // SAFETY: getuid/getgid cannot fail; getpwuid/getgrgid return static records or NULL.
    let (uid, gid, user, group) = unsafe {
        let (uid, gid) = (libc::getuid(), libc::getgid());
        let pw = libc::getpwuid(uid);
        let gr = libc::getgrgid(gid);
        assert!(!pw.is_null() && !gr.is_null());
        (
            uid,
            gid,
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
            std::ffi::CStr::from_ptr((*gr).gr_name)
                .to_string_lossy()
                .into_owned(),
        )
    };
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let owner = format!("{user}:{group}");
    let apps = apps_dir().display().to_string();
    let _p = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--chown-socket",
            &owner,
            "--pythonpath",
            &apps,
            "--module",
            "hello",
        ],
    );
    let md = std::fs::metadata(&sock).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&md),
            std::os::unix::fs::MetadataExt::gid(&md)
        ),
        (uid, gid)
    );
    // An unknown owner is a clear start-up error.
    let out = wsgid_cmd()
        .args([
            "--socket",
            &dir.join("b.sock").display().to_string(),
            "--chown-socket",
            "no-such-user-x:root",
            "--pythonpath",
            &apps,
            "--module",
            "hello",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such user `no-such-user-x`"));
}
