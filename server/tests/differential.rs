//! wsgid against real uWSGI (Debian's uwsgi + uwsgi-plugin-python3), each behind its own
//! real nginx with `uwsgi_pass` over a UNIX socket: the same requests give the same
//! environ (keys, types, values) and the same responses.
//!
//! Differences that are expected, and why:
//! - `uwsgi.version`, `uwsgi.node`, `uwsgi.core` (uWSGI only): wsgid is not uWSGI and
//!   provides no `uwsgi` module; an app sniffing these would then `import uwsgi`.
//! - `wsgi.input_terminated` (wsgid only): wsgid's input returns b"" at the end of the
//!   body (also chunked), the condition the key announces (werkzeug reads it).
//! - object keys (`wsgi.input`, `wsgi.errors`, `wsgi.file_wrapper`): compared by role,
//!   not type name (uWSGI's are its own C types).
//! - `REMOTE_PORT`: nginx's ephemeral port, different per connection; type compared.
//! - `GET /raise` (the app raises before start_response): wsgid answers 500 and logs
//!   the traceback (PEP 3333 practice, issue 3); uWSGI closes the connection without a
//!   response, which nginx turns into 502.
//! - `GET /exc-info` (start_response called again with exc_info before any byte was
//!   sent): both answer the replacement 503, but uWSGI 2.0 prints the exception and
//!   drops the body; wsgid sends the body the app returned, as PEP 3333 specifies.
//! - `SERVER_PORT`: each side has its own nginx on its own port; each is checked
//!   against its nginx.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

const OBJECT_KEYS: &[&str] = &["wsgi.input", "wsgi.errors", "wsgi.file_wrapper"];
const UWSGI_ONLY: &[&str] = &["uwsgi.version", "uwsgi.node", "uwsgi.core"];
const WSGID_ONLY: &[&str] = &["wsgi.input_terminated"];

struct Side {
    _server: Proc,
    _nginx: Proc,
    port: u16,
    _dir: TempDir,
}

fn nginx_for(dir: &TempDir, sock: &str) -> (Proc, u16) {
    let port = free_port();
    let n = start_nginx(
        dir,
        port,
        &format!(
            "root /var/www/html; location / {{ include /etc/nginx/uwsgi_params; uwsgi_pass unix:{sock}; }}"
        ),
    );
    (n, port)
}

fn wsgid_side() -> Side {
    let dir = TempDir::new("diff-wsgid");
    let sock = dir.join("app.sock").display().to_string();
    let apps = apps_dir().display().to_string();
    let server = start_wsgid(
        &dir,
        &[
            "--socket",
            &sock,
            "--chmod-socket",
            "666",
            "--master",
            "--processes",
            "1",
            "--pythonpath",
            &apps,
            "--module",
            "diff_app",
        ],
    );
    let (nginx, port) = nginx_for(&dir, &sock);
    Side {
        _server: server,
        _nginx: nginx,
        port,
        _dir: dir,
    }
}

fn uwsgi_side() -> Side {
    let dir = TempDir::new("diff-uwsgi");
    let sock = dir.join("app.sock").display().to_string();
    let apps = apps_dir().display().to_string();
    assert!(
        std::path::Path::new("/usr/lib/uwsgi/plugins/python3_plugin.so").is_file(),
        "uWSGI's python3 plugin is missing: run `bash ci/prereqs.sh` (uwsgi-plugin-python3)"
    );
    let mut cmd = std::process::Command::new(tool("uwsgi"));
    cmd.args([
        "--plugin",
        "python3",
        "--master",
        "--processes",
        "1",
        "--die-on-term",
        "--socket",
        &sock,
        "--chmod-socket=666",
        "--pythonpath",
        &apps,
        "--module",
        "diff_app",
    ]);
    let mut server = spawn(cmd, dir.join("uwsgi.log"), libc::SIGTERM);
    server.wait_log("spawned uWSGI worker 1");
    wait_for("uWSGI's socket", || {
        std::os::unix::net::UnixStream::connect(&sock).ok()
    });
    let (nginx, port) = nginx_for(&dir, &sock);
    Side {
        _server: server,
        _nginx: nginx,
        port,
        _dir: dir,
    }
}

fn requests() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "GET / HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /a%20b/c%2Fd?x=1&y=%20&z HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /%7Euser/./x//y/../z?q=%E2%82%AC HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /caf%C3%A9 HTTP/1.1\r\nHost: example.org\r\nX-Custom: v1\r\nX-Multi: a\r\nX-Multi: b\r\nAccept-Language: de, en;q=0.5\r\nCookie: a=1; b=2\r\nConnection: close\r\n\r\n",
        "DELETE /item/7 HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "POST /form HTTP/1.1\r\nHost: example.org\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\nConnection: close\r\n\r\na=1&b=two%2",
        "PUT /json HTTP/1.1\r\nHost: example.org\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"k\": [1, 2]}",
        "POST /chunked HTTP/1.1\r\nHost: example.org\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "HEAD /hello HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /stream HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /big HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /raise HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /write HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /exc-info HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "GET /nothing-here HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // A header value with a non-ASCII (Latin-1) byte.
    v.push(b"GET /latin HTTP/1.1\r\nHost: example.org\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n".to_vec());
    v
}

fn environ(r: &Response) -> Option<BTreeMap<String, Value>> {
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    Some(v.as_object()?.clone().into_iter().collect())
}

#[test]
fn same_environ_and_responses_as_uwsgi() {
    let ours = wsgid_side();
    let theirs = uwsgi_side();
    let mut compared_envs = 0;
    let mut diffs: Vec<String> = Vec::new();
    for req in requests() {
        let what = String::from_utf8_lossy(&req[..req.iter().position(|&b| b == b'\r').unwrap()])
            .into_owned();
        let a = http_raw(ours.port, &req);
        let b = http_raw(theirs.port, &req);
        if what == "GET /raise HTTP/1.1" {
            assert_eq!((a.status, b.status), (500, 502), "{what}");
            continue;
        }
        assert_eq!(
            a.status, b.status,
            "{what}: status wsgid {} uWSGI {}",
            a.status, b.status
        );
        let dumps = environ(&a).is_some();
        for h in ["content-type", "content-length", "transfer-encoding"] {
            if dumps && h == "content-length" {
                // The dumps differ in the justified keys, so their lengths do.
                continue;
            }
            assert_eq!(
                a.header(h),
                b.header(h),
                "{what}: header {h}\nwsgid: {}\nuWSGI: {}",
                a.head,
                b.head
            );
        }
        match (environ(&a), environ(&b)) {
            (Some(ea), Some(eb)) => {
                compared_envs += 1;
                let keys: std::collections::BTreeSet<&String> =
                    ea.keys().chain(eb.keys()).collect();
                for k in keys {
                    if UWSGI_ONLY.contains(&k.as_str()) {
                        assert!(!ea.contains_key(k), "{k} must not be in wsgid's environ");
                        continue;
                    }
                    if WSGID_ONLY.contains(&k.as_str()) {
                        continue;
                    }
                    let (va, vb) = (ea.get(k), eb.get(k));
                    if va.is_none() || vb.is_none() {
                        diffs.push(format!(
                            "{what}: key {k} only in {}: {va:?} {vb:?}",
                            if va.is_some() { "wsgid" } else { "uWSGI" }
                        ));
                        continue;
                    }
                    let (va, vb) = (va.unwrap(), vb.unwrap());
                    if OBJECT_KEYS.contains(&k.as_str()) {
                        continue;
                    }
                    if k == "SERVER_PORT" {
                        assert_eq!(va[1], ours.port.to_string(), "{what}: {k}");
                        assert_eq!(vb[1], theirs.port.to_string(), "{what}: {k}");
                        continue;
                    }
                    if k == "REMOTE_PORT" {
                        assert_eq!(va[0], vb[0], "{what}: type of {k}");
                        continue;
                    }
                    if va != vb {
                        diffs.push(format!("{what}: {k}: wsgid {va} uWSGI {vb}"));
                    }
                }
            }
            (None, None) if what == "GET /exc-info HTTP/1.1" => {
                assert_eq!(
                    (a.text().as_str(), b.text().as_str()),
                    ("replaced", ""),
                    "{what}"
                );
            }
            (None, None) => assert_eq!(a.body, b.body, "{what}: body"),
            (x, y) => panic!(
                "{what}: only one side dumped an environ: {} / {}",
                x.is_some(),
                y.is_some()
            ),
        }
    }
    assert!(
        diffs.is_empty(),
        "environ differences:\n{}",
        diffs.join("\n")
    );
    assert!(compared_envs >= 8, "only {compared_envs} environs compared");
}

/// wsgid's effective value(s) for an option, in uWSGI's `--get` spelling; None when the
/// option has no effective value to compare (see `ini_files_resolve_like_uwsgi`).
fn effective(cfg: &wsgid::config::Config, name: &str) -> Option<Vec<String>> {
    use wsgid::config::{AppSpec, Proto};
    let socks = |p: Proto| {
        cfg.sockets
            .iter()
            .filter(|s| s.proto == p)
            .map(|s| s.text.clone())
            .collect()
    };
    Some(match name {
        "socket" => socks(Proto::Uwsgi),
        "http-socket" => socks(Proto::Http),
        "chown-socket" => vec![cfg.chown_socket.clone()?],
        "chmod-socket" => vec![format!("{:o}", cfg.chmod_socket?)],
        "socket-timeout" => vec![cfg.socket_timeout.to_string()],
        "processes" => vec![cfg.processes.to_string()],
        "threads" => vec![cfg.threads.to_string()],
        // uWSGI's --get prints only the first value of a repeated option.
        "env" => vec![cfg.env.first().map(|(k, v)| format!("{k}={v}"))?],
        "chdir" => vec![cfg.chdir.as_ref()?.display().to_string()],
        "venv" | "home" | "virtualenv" => vec![cfg.home.as_ref()?.display().to_string()],
        "stats" => vec![cfg.stats.clone()?],
        "module" | "wsgi" => match &cfg.app {
            AppSpec::Module { module, callable } => vec![format!("{module}:{callable}")],
            AppSpec::File { .. } => return None,
        },
        "callable" => match &cfg.app {
            AppSpec::Module { callable, .. } | AppSpec::File { callable, .. } => {
                vec![callable.clone()]
            }
        },
        _ => return None,
    })
}

/// The real ini files resolve to the values uWSGI reports (`uwsgi --ini F --get OPT`).
/// Not compared: `plugins` (ignored by wsgid: it is its own python3 plugin) and
/// `wsgi-file` when `module` is set (module wins in both servers; the file is unused).
#[test]
fn ini_files_resolve_like_uwsgi() {
    let uwsgi = tool("uwsgi");
    for file in [
        "gnuhealth-5.0.4-uwsgi_trytond.ini",
        "debian-tryton-server-uwsgi-6.0.29.ini",
    ] {
        let path = ini_dir().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let entries = wsgid::config::ini::parse_ini(&text, &path, "uwsgi", &|_| None, "h").unwrap();
        let raw: Vec<wsgid::config::RawEntry> = entries
            .iter()
            .map(|e| wsgid::config::RawEntry {
                name: e.key.clone(),
                value: e.value.clone(),
                origin: e.origin.clone(),
            })
            .collect();
        let cfg = wsgid::config::resolve(&raw).unwrap();
        let mut compared = 0;
        let mut names: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        names.dedup();
        for name in names {
            if name == "plugins" || name == "wsgi-file" {
                continue;
            }
            let ours = effective(&cfg, name)
                .unwrap_or_else(|| panic!("{file}: no comparison for `{name}`"));
            let out = std::process::Command::new(&uwsgi)
                .arg("--ini")
                .arg(&path)
                .args(["--get", name])
                .output()
                .unwrap();
            let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            let ours_cmp: Vec<String> = if name == "env" {
                ours
            } else {
                ours.into_iter().take(theirs.len().max(1)).collect()
            };
            assert_eq!(ours_cmp, theirs, "{file}: option {name}");
            compared += 1;
        }
        assert!(compared >= 6, "{file}: only {compared} options compared");
    }
}
