//! Real nginx in front of wsgid: `uwsgi_pass` over a UNIX socket and over TCP.

mod common;

use common::*;

fn check_through(nport: u16) {
    let base = format!("http://127.0.0.1:{nport}");
    let (code, out) = curl(&[&format!("{base}/a%20b?q=1")]);
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("\"PATH_INFO\": [\"str\", \"/a b\"]"),
        "{text}"
    );
    assert!(
        text.contains("\"QUERY_STRING\": [\"str\", \"q=1\"]"),
        "{text}"
    );
    assert!(
        text.contains("\"REMOTE_ADDR\": [\"str\", \"127.0.0.1\"]"),
        "{text}"
    );
    let body = "z".repeat(100_000);
    let (code, out) = curl(&["--data-binary", &body, &format!("{base}/post")]);
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains(&format!("\"_body\": [\"bytes\", \"{body}\"]")),
        "body lost"
    );
    assert!(text.contains("\"CONTENT_LENGTH\": [\"str\", \"100000\"]"));
    // Chunked upload: nginx buffers it and passes CONTENT_LENGTH.
    let (code, out) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "abc",
        &format!("{base}/c"),
    ]);
    assert_eq!(code, 0);
    assert!(String::from_utf8_lossy(&out).contains("\"_body\": [\"bytes\", \"abc\"]"));
}

#[test]
fn nginx_uwsgi_pass_unix_socket() {
    let dir = TempDir::new("nginx-unix");
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let apps = apps_dir().display().to_string();
    let _w = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--chmod-socket",
            "666",
            "--processes",
            "2",
            "--pythonpath",
            &apps,
            "--module",
            "environ_dump",
        ],
    );
    let nport = free_port();
    let _n = start_nginx(
        &dir,
        nport,
        &format!("location / {{ include /etc/nginx/uwsgi_params; uwsgi_pass unix:{s}; }}"),
    );
    check_through(nport);
    for _ in 0..50 {
        let (code, _) = curl(&[&format!("http://127.0.0.1:{nport}/")]);
        assert_eq!(code, 0);
    }
}

#[test]
fn nginx_uwsgi_pass_tcp() {
    let dir = TempDir::new("nginx-tcp");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let _w = start_wsgid(
        &dir,
        &[
            "--socket",
            &addr,
            "--threads",
            "2",
            "--pythonpath",
            &apps,
            "--module",
            "environ_dump",
        ],
    );
    let nport = free_port();
    let _n = start_nginx(
        &dir,
        nport,
        &format!("location / {{ include /etc/nginx/uwsgi_params; uwsgi_pass {addr}; }}"),
    );
    check_through(nport);
}

#[test]
fn nginx_streams_and_big_bodies() {
    let dir = TempDir::new("nginx-big");
    let sock = dir.join("app.sock");
    let s = sock.display().to_string();
    let apps = apps_dir().display().to_string();
    let _w = start_wsgid(
        &dir,
        &[
            "--socket",
            &s,
            "--chmod-socket",
            "666",
            "--pythonpath",
            &apps,
            "--module",
            "big",
        ],
    );
    let nport = free_port();
    let _n = start_nginx(
        &dir,
        nport,
        &format!("location / {{ include /etc/nginx/uwsgi_params; uwsgi_pass unix:{s}; }}"),
    );
    let (code, out) = curl(&[&format!("http://127.0.0.1:{nport}/")]);
    assert_eq!(code, 0);
    assert_eq!(out.len(), 1 << 20);
}
