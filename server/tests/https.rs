//! `https-socket` / `https`: certificates made here with the real `openssl` CLI (a root
//! CA, an intermediate, server certificates for RSA and EC keys in PKCS#1, PKCS#8 and
//! SEC1), real `curl --cacert` over TLS 1.2 and 1.3, the environ's scheme, a key
//! delivered through a systemd-style credentials directory, start-up errors, and a
//! plain-HTTP client on the TLS port.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(tool("openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Key kinds the server must read, with the PEM label each produces.
const KEYS: &[(&str, &str)] = &[
    ("rsa-pkcs1", "BEGIN RSA PRIVATE KEY"),
    ("rsa-pkcs8", "BEGIN PRIVATE KEY"),
    ("ec-sec1", "BEGIN EC PRIVATE KEY"),
    ("ec-pkcs8", "BEGIN PRIVATE KEY"),
];

/// A root CA (`ca.pem`, what clients trust) and an intermediate that signs the server
/// certificates.
fn make_ca(dir: &Path) {
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=wsgid test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            "/CN=wsgid test intermediate",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "int.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-out",
            "int.pem",
            "-days",
            "2",
            "-extfile",
            "ca.cnf",
            "-extensions",
            "ca",
        ],
    );
}

/// A server key of `kind` and its certificate (for 127.0.0.1 and localhost) signed by
/// the intermediate; returns (chain = leaf + intermediate, key).
fn make_server_cert(dir: &Path, kind: &str) -> (PathBuf, PathBuf) {
    let key = format!("{kind}.key");
    match kind {
        "rsa-pkcs1" => openssl(dir, &["genrsa", "-traditional", "-out", &key, "2048"]),
        "rsa-pkcs8" => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &key,
            ],
        ),
        "ec-sec1" => openssl(
            dir,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &key,
            ],
        ),
        "ec-pkcs8" => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        ),
        other => panic!("{other}"),
    }
    std::fs::write(
        dir.join("leaf.cnf"),
        "[leaf]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let csr = format!("{kind}.csr");
    let leaf = format!("{kind}.leaf.pem");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "int.pem",
            "-CAkey",
            "int.key",
            "-set_serial",
            &format!("{}", 100 + kind.len() + kind.as_bytes()[0] as usize),
            "-out",
            &leaf,
            "-days",
            "2",
            "-extfile",
            "leaf.cnf",
            "-extensions",
            "leaf",
        ],
    );
    let chain = dir.join(format!("{kind}.chain.pem"));
    let mut text = std::fs::read_to_string(dir.join(&leaf)).unwrap();
    text.push_str(&std::fs::read_to_string(dir.join("int.pem")).unwrap());
    std::fs::write(&chain, text).unwrap();
    (chain, dir.join(key))
}

/// `curl --cacert ca.pem` with `extra` args; returns (exit code, stdout).
fn curl_tls(dir: &Path, extra: &[&str]) -> (i32, Vec<u8>) {
    let ca = dir.join("ca.pem").display().to_string();
    let mut args = vec!["--cacert", ca.as_str()];
    args.extend_from_slice(extra);
    curl(&args)
}

fn environ_over(dir: &Path, port: u16, tls: &[&str]) -> Value {
    let url = format!("https://127.0.0.1:{port}/x?y=1");
    let mut args = tls.to_vec();
    args.push(&url);
    let (code, out) = curl_tls(dir, &args);
    assert_eq!(code, 0, "curl {args:?}: {}", String::from_utf8_lossy(&out));
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn rsa_and_ec_keys_in_every_pem_format_serve_over_tls12_and_tls13() {
    let dir = TempDir::new("https-keys");
    make_ca(dir.path());
    let mut sockets = Vec::new();
    for (kind, label) in KEYS {
        let (chain, key) = make_server_cert(dir.path(), kind);
        let pem = std::fs::read_to_string(&key).unwrap();
        assert!(pem.contains(label), "{kind}: openssl wrote {pem:.40}");
        sockets.push((
            *kind,
            free_port(),
            chain.display().to_string(),
            key.display().to_string(),
        ));
    }
    let mut args = vec![
        "--wsgi-file".to_string(),
        apps_dir().join("environ_dump.py").display().to_string(),
    ];
    for (i, (_, port, chain, key)) in sockets.iter().enumerate() {
        // Both spellings: `https` is the same as `https-socket` in wsgid.
        args.push(
            if i % 2 == 0 {
                "--https-socket"
            } else {
                "--https"
            }
            .into(),
        );
        args.push(format!("127.0.0.1:{port},{chain},{key}"));
    }
    let stats_port = free_port();
    let stats_addr = format!("127.0.0.1:{stats_port}");
    args.extend(["--stats".to_string(), stats_addr]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = start_wsgid(&dir, &args);
    p.wait_log("https socket bound on");
    // The stats name every TLS socket's protocol "https" (not the http it is built on).
    let stats = wait_for("the stats server", || stats_json(stats_port));
    let protos: Vec<&str> = stats["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["proto"].as_str().unwrap())
        .collect();
    assert_eq!(protos, vec!["https"; sockets.len()], "{stats}");
    for (kind, port, _, _) in &sockets {
        for tls in [&["--tlsv1.2", "--tls-max", "1.2"][..], &["--tlsv1.3"][..]] {
            let env = environ_over(dir.path(), *port, tls);
            assert_eq!(env["wsgi.url_scheme"][1], "https", "{kind} {tls:?}");
            assert_eq!(env["HTTPS"][1], "on", "{kind} {tls:?}");
            assert_eq!(env["PATH_INFO"][1], "/x");
            assert_eq!(env["QUERY_STRING"][1], "y=1");
            assert_eq!(env["SERVER_PORT"][1], port.to_string());
        }
        // The negotiated version is the one asked for (curl's report).
        for (tls, want) in [
            (&["--tlsv1.2", "--tls-max", "1.2"][..], "TLSv1.2"),
            (&["--tlsv1.3"][..], "TLSv1.3"),
        ] {
            let url = format!("https://localhost:{port}/");
            let mut a = tls.to_vec();
            a.extend_from_slice(&["-v", "-o", "/dev/null", &url]);
            let out = Command::new(tool("curl"))
                .args(["-sS", "--max-time", "30", "--cacert"])
                .arg(dir.join("ca.pem"))
                .args(&a)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{kind}: {err}");
            assert!(
                err.contains(&format!("SSL connection using {want}")),
                "{kind}: {err}"
            );
        }
    }
    // Keep-alive over TLS: two requests, one connection.
    let port = sockets[0].1;
    let url = format!("https://127.0.0.1:{port}/");
    let (code, out) = curl_tls(
        dir.path(),
        &[
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{num_connects} ",
            &url,
            &url,
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        "1 0",
        "second request reused the connection"
    );
    drop(p);
}

#[test]
fn cipher_list_restricts_tls12_suites_and_warns_about_unknown_ones() {
    let dir = TempDir::new("https-ciphers");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "rsa-pkcs8");
    let port = free_port();
    let value = format!(
        "127.0.0.1:{port},{},{},ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:!aNULL",
        chain.display(),
        key.display()
    );
    let app = apps_dir().join("hello.py").display().to_string();
    let mut p = start_wsgid(&dir, &["--wsgi-file", &app, "--https-socket", &value]);
    assert!(
        p.log_text().contains(
            "cipher suites not implemented by rustls are not offered: DHE-RSA-AES256-GCM-SHA384"
        ),
        "{}",
        p.log_text()
    );
    let url = format!("https://127.0.0.1:{port}/");
    let tls12 = ["--tlsv1.2", "--tls-max", "1.2"];
    let mut ok = tls12.to_vec();
    ok.extend_from_slice(&["--ciphers", "ECDHE-RSA-AES128-GCM-SHA256", &url]);
    assert_eq!(curl_tls(dir.path(), &ok).0, 0);
    let mut refused = tls12.to_vec();
    refused.extend_from_slice(&["--ciphers", "ECDHE-RSA-AES256-GCM-SHA384", &url]);
    assert_ne!(
        curl_tls(dir.path(), &refused).0,
        0,
        "a suite outside the list was accepted"
    );
    p.wait_log("TLS handshake with 127.0.0.1 failed");
    // TLS 1.3 is not restricted by an OpenSSL cipher list (as with OpenSSL).
    assert_eq!(curl_tls(dir.path(), &["--tlsv1.3", &url]).0, 0);
}

#[test]
fn key_from_a_credentials_directory_through_ini_variables() {
    let dir = TempDir::new("https-creds");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "ec-sec1");
    // What systemd's LoadCredential= makes: a directory with read-only copies.
    let creds = dir.join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::copy(&chain, creds.join("cert.pem")).unwrap();
    std::fs::copy(&key, creds.join("key.pem")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for f in ["cert.pem", "key.pem"] {
        std::fs::set_permissions(creds.join(f), std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let port = free_port();
    let ini = dir.join("site.ini");
    std::fs::write(
        &ini,
        format!(
            "[uwsgi]\nwsgi-file = {}\n\nhttps-socket = 127.0.0.1:{port},$(CREDENTIALS_DIRECTORY)/cert.pem,$(CREDENTIALS_DIRECTORY)/key.pem\n",
            apps_dir().join("environ_dump.py").display()
        ),
    )
    .unwrap();
    let ini_s = ini.display().to_string();
    let mut cmd = wsgid_cmd();
    cmd.env("CREDENTIALS_DIRECTORY", &creds);
    let p = start_wsgid_with(&dir, cmd, &["--ini", &ini_s]);
    let env = environ_over(dir.path(), port, &[]);
    assert_eq!(env["wsgi.url_scheme"][1], "https");
    drop(p);
    // Outside systemd (variable unset): a clear error naming it and the line.
    let out = wsgid_cmd()
        .env_remove("CREDENTIALS_DIRECTORY")
        .args(["--ini", &ini_s])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("{ini_s}:4")) && err.contains("`CREDENTIALS_DIRECTORY`"),
        "{err}"
    );
}

#[test]
fn root_only_key_is_read_before_privileges_are_dropped() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (the key is readable by root only)");
        return;
    }
    let dir = TempDir::new("https-root");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "rsa-pkcs1");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let port = free_port();
    let value = format!("127.0.0.1:{port},{},{}", chain.display(), key.display());
    let app = apps_dir().join("environ_dump.py").display().to_string();
    let mut cmd = wsgid_cmd_plain();
    cmd.args(["--uid", "nobody", "--gid", "nogroup"]);
    let mut p = start_wsgid_with(&dir, cmd, &["--wsgi-file", &app, "--https-socket", &value]);
    p.wait_log("privileges dropped");
    let env = environ_over(dir.path(), port, &[]);
    assert_eq!(env["HTTPS"][1], "on");
    // SIGHUP re-executes the master as nobody: it cannot read the key any more and
    // uses the bytes the previous master handed over (memfd), and keeps serving.
    p.signal(libc::SIGHUP);
    wait_for("the re-executed master", || {
        let t = p.log_text();
        (t.matches("ready:").count() >= 2).then_some(())
    });
    let log = p.log_text();
    assert!(
        log.contains("Permission denied")
            && log.contains("using the certificate and key the previous master read"),
        "{log}"
    );
    let env = environ_over(dir.path(), port, &[]);
    assert_eq!(env["HTTPS"][1], "on");
    // Workers do not keep the hand-over descriptor (memfd "wsgid-tls").
    let workers = std::fs::read_to_string(format!("/proc/{}/task/{}/children", p.pid(), p.pid()))
        .unwrap_or_default();
    assert!(
        !workers.trim().is_empty(),
        "no worker found under the master"
    );
    for w in workers.split_whitespace() {
        for e in std::fs::read_dir(format!("/proc/{w}/fd"))
            .unwrap()
            .flatten()
        {
            let t = std::fs::read_link(e.path()).unwrap_or_default();
            assert!(
                !t.display().to_string().contains("wsgid-tls"),
                "worker {w} holds {t:?}"
            );
        }
    }
}

fn start_error(args: &[&str]) -> String {
    let dir = TempDir::new("https-err");
    let out = wsgid_cmd()
        .current_dir(dir.path())
        .args(args)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "started with {args:?}");
    let mut t = String::from_utf8_lossy(&out.stdout).into_owned();
    t.push_str(&String::from_utf8_lossy(&out.stderr));
    t
}

#[test]
fn wrong_certificate_path_or_mismatched_key_is_a_clear_startup_error() {
    let dir = TempDir::new("https-bad");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "ec-pkcs8");
    let (_, other_key) = make_server_cert(dir.path(), "rsa-pkcs8");
    let app = apps_dir().join("hello.py").display().to_string();
    let port = free_port();
    let missing = dir.join("nope/cert.pem");
    let v = format!("127.0.0.1:{port},{},{}", missing.display(), key.display());
    let t = start_error(&["--wsgi-file", &app, "--https-socket", &v]);
    assert!(
        t.contains("option `https-socket`")
            && t.contains(&format!(
                "cannot read certificate file {}",
                missing.display()
            ))
            && t.contains("No such file or directory"),
        "{t}"
    );
    let v = format!(
        "127.0.0.1:{port},{},{}",
        chain.display(),
        other_key.display()
    );
    let t = start_error(&["--wsgi-file", &app, "--https", &v]);
    assert!(
        t.contains("option `https`")
            && t.contains("the private key does not belong to the certificate"),
        "{t}"
    );
    // A key file given as the certificate: no CERTIFICATE block.
    let v = format!("127.0.0.1:{port},{},{}", key.display(), key.display());
    let t = start_error(&["--wsgi-file", &app, "--https-socket", &v]);
    assert!(
        t.contains("cannot read certificate file") && t.contains("no CERTIFICATE block"),
        "{t}"
    );
    // Cipher strings naming nothing rustls implements: a config error with the option.
    let v = format!(
        "127.0.0.1:{port},{},{},AES128-SHA",
        chain.display(),
        key.display()
    );
    let t = start_error(&["--wsgi-file", &app, "--https-socket", &v]);
    assert!(
        t.contains("`https-socket`") && t.contains("no cipher suite"),
        "{t}"
    );
}

#[test]
fn plain_http_and_stalled_handshakes_on_the_tls_port_do_not_stop_the_server() {
    let dir = TempDir::new("https-plain");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "ec-sec1");
    let port = free_port();
    let value = format!("127.0.0.1:{port},{},{}", chain.display(), key.display());
    let app = apps_dir().join("hello.py").display().to_string();
    let mut p = start_wsgid(
        &dir,
        &[
            "--wsgi-file",
            &app,
            "--https-socket",
            &value,
            "--socket-timeout",
            "2",
        ],
    );
    let url = format!("https://127.0.0.1:{port}/");
    // Plain HTTP: no HTTP answer, the connection is closed, the failure logged.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    p.wait_log("TLS handshake with 127.0.0.1 failed");
    assert_eq!(curl_tls(dir.path(), &[&url]).0, 0, "TLS after plain HTTP");
    // A client that starts a handshake and stalls is dropped after socket-timeout.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&[0x16, 0x03, 0x01]).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "stalled handshake held for {took:?} (socket-timeout 2)"
    );
    wait_for("the timeout log line", || {
        p.log_text()
            .contains("TLS handshake not completed within socket-timeout")
            .then_some(())
    });
    assert_eq!(
        curl_tls(dir.path(), &[&url]).0,
        0,
        "TLS after a stalled handshake"
    );
    assert!(p.child.try_wait().unwrap().is_none(), "server exited");
    // Pipelining: two requests in one TLS write; the second one is decrypted together
    // with the first and must not wait for an epoll event that never comes.
    // `timeout`: a server that never closes fails the test instead of hanging it.
    let mut sc = Command::new(tool("timeout"))
        .arg("30")
        .arg(tool("openssl"))
        .args(["s_client", "-quiet", "-ign_eof", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    sc.stdin
        .take()
        .unwrap()
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = sc.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
}

#[test]
fn large_bodies_file_wrapper_and_uploads_over_tls() {
    let dir = TempDir::new("https-big");
    make_ca(dir.path());
    let (chain, key) = make_server_cert(dir.path(), "ec-pkcs8");
    let (big_port, files_port, echo_port) = (free_port(), free_port(), free_port());
    let sock = |port: u16| format!("127.0.0.1:{port},{},{}", chain.display(), key.display());
    let apps = apps_dir().display().to_string();
    // A 3 MiB file served through wsgi.file_wrapper (sendfile on plain sockets, pread +
    // TLS records here).
    let file = dir.join("data.bin");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let mut cmd = wsgid_cmd();
    cmd.env("WSGID_TEST_FILE", &file);
    let _files = start_wsgid_with(
        &dir,
        cmd,
        &[
            "--pythonpath",
            &apps,
            "--module",
            "files",
            "--https-socket",
            &sock(files_port),
        ],
    );
    let (code, out) = curl_tls(dir.path(), &[&format!("https://127.0.0.1:{files_port}/f")]);
    assert_eq!(code, 0);
    assert!(
        out == data,
        "file_wrapper body differs ({} bytes)",
        out.len()
    );
    let _big = start_wsgid(
        &dir,
        &[
            "--pythonpath",
            &apps,
            "--module",
            "big",
            "--https-socket",
            &sock(big_port),
        ],
    );
    let (code, out) = curl_tls(dir.path(), &[&format!("https://127.0.0.1:{big_port}/")]);
    assert_eq!((code, out.len()), (0, 1024 * 1024));
    // A 2 MiB upload, chunked (curl -T - sends Transfer-Encoding: chunked) and sized.
    let _echo = start_wsgid(
        &dir,
        &[
            "--wsgi-file",
            &apps_dir().join("environ_dump.py").display().to_string(),
            "--https-socket",
            &sock(echo_port),
        ],
    );
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, vec![b'u'; 2 * 1024 * 1024]).unwrap();
    let url = format!("https://127.0.0.1:{echo_port}/up");
    for args in [
        vec![
            "--data-binary".to_string(),
            format!("@{}", upload.display()),
        ],
        vec![
            "-H".to_string(),
            "Transfer-Encoding: chunked".to_string(),
            "--data-binary".to_string(),
            format!("@{}", upload.display()),
        ],
    ] {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.push(&url);
        let (code, out) = curl_tls(dir.path(), &a);
        assert_eq!(code, 0);
        let env: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            env["_body"][1].as_str().unwrap().len(),
            2 * 1024 * 1024,
            "{args:?}"
        );
    }
}
