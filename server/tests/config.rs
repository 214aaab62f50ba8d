//! The launcher's command line: --version, --check-config, errors that name the file,
//! line and option, and the real ini files (GNU Health, Debian) with paths changed.

mod common;

use common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    // Without --allow-root: argument numbers in errors are the test's own.
    let out = wsgid_cmd_plain().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// GNU Health's ini with its /opt/gnuhealth paths moved into `dir`.
pub fn gnuhealth_ini(dir: &TempDir, venv: &std::path::Path) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(ini_dir().join("gnuhealth-5.0.4-uwsgi_trytond.ini")).unwrap();
    let text = text
        .replace("/opt/gnuhealth/venv", &venv.display().to_string())
        .replace("/opt/gnuhealth", &dir.path().display().to_string())
        .replace("gnuhealth:uwsginginx", "root:root");
    let p = dir.join("uwsgi_trytond.ini");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("wsgid {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--socket (also uwsgi-socket, s)"));
}

#[test]
fn check_config_gnuhealth_ini() {
    let dir = TempDir::new("cfg-gh");
    let venv = venv();
    let ini = gnuhealth_ini(&dir, &venv);
    // The socket's directory must exist (GNU Health's unit has RuntimeDirectory=).
    let (code, _, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("var/run does not exist"), "{err}");
    std::fs::create_dir_all(dir.join("var/run")).unwrap();
    let (code, out, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("configuration OK"), "{out}");
    assert!(
        out.contains("trytond.application"),
        "module wins over wsgi-file: {out}"
    );
    assert!(
        out.contains(&format!("python {}/bin/python3", venv.display())),
        "{out}"
    );
}

#[test]
fn check_config_debian_ini() {
    let dir = TempDir::new("cfg-deb");
    let ini = ini_dir().join("debian-tryton-server-uwsgi-6.0.29.ini");
    let (code, out, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("processes 1 threads 4"), "{out}");
    drop(dir);
}

#[test]
fn errors_name_file_line_and_option() {
    let dir = TempDir::new("cfg-bad");
    let ini = dir.join("bad.ini");
    std::fs::write(
        &ini,
        "[uwsgi]\nsocket = /tmp/x.sock\nmodule = app\n\nharakiri-graceful-timeout = soon\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{}:5", ini.display()))
            && err.contains("harakiri-graceful-timeout")
            && err.contains("`soon`"),
        "{err}"
    );
    // A uWSGI option wsgid does not implement: an error naming file:line and option.
    std::fs::write(
        &ini,
        "[uwsgi]\nsocket = /tmp/x.sock\nmodule = app\nmaster-fifo = /tmp/f\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{}:4", ini.display()))
            && err.contains("`master-fifo` is not implemented"),
        "{err}"
    );
    std::fs::write(&ini, "[uwsgi]\nsocket = /tmp/x.sock\nmodul = app\n").unwrap();
    let (code, _, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(":3") && err.contains("unknown option `modul`"),
        "{err}"
    );
    std::fs::write(
        &ini,
        "[uwsgi]\nsocket = /tmp/x.sock\nmodule = app\nprocesses = many\n",
    )
    .unwrap();
    let (code, _, err) = run(&["--check-config", "--ini", &ini.display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains(":4") && err.contains("processes"), "{err}");
    let (code, _, err) = run(&[
        "--check-config",
        "--socket",
        "/tmp/x",
        "--module",
        "a",
        "--https",
        "x",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("command line argument 6") && err.contains("https"),
        "{err}"
    );
    let (code, _, err) = run(&["--check-config", "--ini", "/nonexistent/x.ini"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/x.ini"), "{err}");
    // chown-socket owners must exist (install scripts learn it before starting).
    let (code, _, err) = run(&[
        "--check-config",
        "--socket",
        "/tmp/x.sock",
        "--module",
        "a",
        "--chown-socket",
        "root:no-such-group-x",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("chown-socket") && err.contains("no such group `no-such-group-x`"),
        "{err}"
    );
    // A virtualenv without python is a clear error.
    let (code, _, err) = run(&[
        "--check-config",
        "--socket",
        "/tmp/x",
        "--module",
        "a",
        "--venv",
        "/nonexistent",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/bin/python3"), "{err}");
}

#[test]
fn bind_errors_are_reported() {
    let apps = apps_dir();
    // A missing socket directory is found before Python starts.
    let out = wsgid_cmd()
        .args([
            "--socket",
            "/nonexistent-dir/x.sock",
            "--module",
            "hello",
            "--pythonpath",
        ])
        .arg(&apps)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("directory /nonexistent-dir does not exist"),
        "{err}"
    );
    // An address in use is a bind error naming the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = wsgid_cmd()
        .args(["--http-socket", &addr, "--module", "hello", "--pythonpath"])
        .arg(&apps)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot bind {addr}")), "{err}");
}
