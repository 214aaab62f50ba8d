//! Real applications: Flask, trytond 7.0 on SQLite (JSON-RPC version, login, an
//! authenticated search_read), and GNU Health's own uwsgi_trytond.ini with only its paths
//! changed, behind real nginx over a UNIX socket.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

fn rpc(port: u16, path: &str, body: &Value, session: Option<&str>) -> Value {
    let body = body.to_string();
    let auth = session
        .map(|s| format!("Authorization: Session {s}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let r = http_raw(port, req.as_bytes());
    assert_eq!(r.status, 200, "{path} {body}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// trytond.conf + an initialised SQLite database `test` (admin password "admin").
fn trytond_db(dir: &TempDir) -> std::path::PathBuf {
    let venv = venv();
    let conf = dir.join("trytond.conf");
    std::fs::write(
        &conf,
        format!(
            "[database]\nuri = sqlite://\npath = {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("pw"), "admin\n").unwrap();
    std::fs::write(dir.join("test.sqlite"), "").unwrap();
    let out = Command::new(venv.join("bin/trytond-admin"))
        .args([
            "-c",
            &conf.display().to_string(),
            "-d",
            "test",
            "--all",
            "--email",
            "a@example.invalid",
        ])
        .env("TRYTONPASSFILE", dir.join("pw"))
        .output()
        .expect("trytond-admin (run `bash ci/prereqs.sh`)");
    assert!(
        out.status.success(),
        "trytond-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    conf
}

fn tryton_calls(port: u16, prefix: &str) {
    let v = rpc(
        port,
        &format!("{prefix}/"),
        &json!({"method": "common.server.version", "params": [], "id": 1}),
        None,
    );
    assert!(v["result"].as_str().unwrap().starts_with("7.0."), "{v}");
    let v = rpc(
        port,
        &format!("{prefix}/test/"),
        &json!({"method": "common.db.login", "params": ["admin", {"password": "admin"}, "en"], "id": 2}),
        None,
    );
    let uid = v["result"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("login failed: {v}"));
    let key = v["result"][1].as_str().unwrap();
    let session = base64(&format!("admin:{uid}:{key}"));
    let v = rpc(
        port,
        &format!("{prefix}/test/"),
        &json!({"method": "model.ir.model.search_read", "params": [[], 0, 20, null, ["model", "name"], {}], "id": 3}),
        Some(&session),
    );
    let rows = v["result"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r["model"].is_string()));
}

#[test]
fn flask_app() {
    let dir = TempDir::new("flask");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let venv = venv().display().to_string();
    let _p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--venv",
            &venv,
            "--pythonpath",
            &apps,
            "--module",
            "flask_app:app",
            "--processes",
            "2",
            "--threads",
            "2",
        ],
    );
    assert_eq!(http_get(port, "/").text(), "hello from flask");
    let r = http_get(port, "/json/w%C3%A9?a=1");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v, json!({"name": "wé", "args": {"a": "1"}}));
    let url = format!("http://127.0.0.1:{port}/post");
    let (code, out) = curl(&["-d", "k=v&x=y", &url]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["form"], json!({"k": "v", "x": "y"}));
    let (code, out) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        "chunked body!",
        &url,
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["length"], 13, "{v}");
    let r = http_raw(port, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.text(), "line 0\nline 1\nline 2\n");
    assert_eq!(http_get(port, "/missing").status, 404);
}

#[test]
fn trytond_sqlite_json_rpc() {
    let dir = TempDir::new("trytond");
    let conf = trytond_db(&dir);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let venv = venv().display().to_string();
    let env = format!("TRYTOND_CONFIG={}", conf.display());
    let _p = start_wsgid(
        &dir,
        &[
            "--http-socket",
            &addr,
            "--venv",
            &venv,
            "--env",
            &env,
            "--module",
            "trytond.application:app",
            "--processes",
            "2",
            "--master",
        ],
    );
    tryton_calls(port, "");
}

/// GNU Health's ini, paths moved into `dir` (and the stats port made free: a fixed
/// 9191 would collide with parallel tests).
fn gnuhealth_ini(dir: &TempDir, venv: &Path, stats_port: u16) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(ini_dir().join("gnuhealth-5.0.4-uwsgi_trytond.ini")).unwrap();
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let text = text
        .replace("/opt/gnuhealth/venv", &venv.display().to_string())
        .replace("/opt/gnuhealth", &dir.path().display().to_string())
        .replace("gnuhealth:uwsginginx", &format!("{uid}:{gid}"))
        .replace("127.0.0.1:9191", &format!("127.0.0.1:{stats_port}"));
    let p = dir.join("etc/uwsgi_trytond.ini");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn gnuhealth_ini_behind_nginx() {
    let dir = TempDir::new("gnuhealth");
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("var/run")).unwrap();
    let conf = trytond_db(&dir);
    std::fs::rename(&conf, dir.join("etc/trytond.conf")).unwrap();
    std::fs::write(
        dir.join("etc/gnuhealth_log.conf"),
        "[formatters]\nkeys=simple\n[handlers]\nkeys=console\n[loggers]\nkeys=root\n\
         [formatter_simple]\nformat=%(asctime)s %(levelname)s %(name)s %(message)s\n\
         [handler_console]\nclass=StreamHandler\nformatter=simple\nargs=(sys.stderr,)\n\
         [logger_root]\nlevel=WARNING\nhandlers=console\n",
    )
    .unwrap();
    let stats_port = free_port();
    let ini = gnuhealth_ini(&dir, &venv(), stats_port);
    let p = start_wsgid(&dir, &["--ini", &ini.display().to_string()]);
    let sock = dir.join("var/run/gnuhealth.sckt");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o660, "chmod-socket = 660");
    // Root's nginx workers run as nobody: give them the socket as GNU Health's group would.
    let s = sock.display().to_string();
    // SAFETY: chmod on a path we own, as the uwsginginx group membership would allow.
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let nport = free_port();
    let _n = start_nginx(
        &dir,
        nport,
        &format!(
            "location / {{ proxy_set_header X-Real-IP $remote_addr; include /etc/nginx/uwsgi_params; uwsgi_pass unix://{s}; }}"
        ),
    );
    tryton_calls(nport, "");
    // stats = addr serves JSON with the workers (counters land just after each response).
    let v = wait_for("stats to count 3 requests", || {
        let mut st = std::net::TcpStream::connect(("127.0.0.1", stats_port)).ok()?;
        st.set_read_timeout(Some(WAIT)).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut st, &mut out).ok()?;
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        (v["total_requests"].as_u64()? >= 3).then_some(v)
    });
    assert_eq!(v["workers"].as_array().unwrap().len(), 1);
    assert_eq!(v["workers"][0]["requests"], 3, "{v}");
    drop(p);
}

/// Debian's tryton-server-uwsgi ini (threads = 4, PYTHONOPTIMIZE, an empty
/// TRYTOND_DATABASE_URI) with its addresses moved to free loopback ports and its config
/// path into the temp dir.
#[test]
fn debian_tryton_ini_runs() {
    let dir = TempDir::new("debian-ini");
    let conf = trytond_db(&dir);
    let (hport, uport) = (free_port(), free_port());
    let text =
        std::fs::read_to_string(ini_dir().join("debian-tryton-server-uwsgi-6.0.29.ini")).unwrap();
    let text = text
        .replace("0.0.0.0:8000", &format!("127.0.0.1:{hport}"))
        .replace("0.0.0.0:8001", &format!("127.0.0.1:{uport}"))
        .replace("/etc/tryton/trytond.conf", &conf.display().to_string());
    let ini = dir.join("uwsgi.ini");
    std::fs::write(&ini, text).unwrap();
    let venv = venv().display().to_string();
    // Debian's python3 has trytond installed system-wide; here it is in the test venv.
    let p = start_wsgid(
        &dir,
        &["--ini", &ini.display().to_string(), "--venv", &venv],
    );
    assert!(
        p.log_text().contains("1 worker(s) x 4 thread(s)"),
        "{}",
        p.log_text()
    );
    tryton_calls(hport, "");
}
