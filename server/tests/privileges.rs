//! `uid`/`gid`: started as root, wsgid binds (and chowns) its socket, then drops to
//! nobody/nogroup before the app loads and the workers fork; serving as root without
//! `uid` is refused unless `allow-root`; a SIGHUP re-exec after the drop keeps
//! serving. The root-only tests skip (with a note) when the suite does not run as root.

mod common;

use std::path::Path;

use common::*;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The number of a user or group, from `getent`.
fn ids(name: &str, group: bool) -> u32 {
    let out = std::process::Command::new("getent")
        .arg(if group { "group" } else { "passwd" })
        .arg(name)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':')
        .nth(2)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("getent {name}: {line:?}"))
}

/// (real, effective, saved, fs) uids and gids and the supplementary groups of a process.
fn proc_ids(pid: i64) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| -> Vec<u32> {
        st.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or("")
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    (field("Uid:"), field("Gid:"), field("Groups:"))
}

const APP: &str = r#"import os
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("uid=%d euid=%d gid=%d egid=%d" % (os.getuid(), os.geteuid(), os.getgid(), os.getegid())).encode()]
"#;

fn write_app(dir: &TempDir) {
    std::fs::write(dir.join("privapp.py"), APP).unwrap();
}

#[test]
fn drops_to_nobody_after_binding() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let (nobody, nogroup) = (ids("nobody", false), ids("nogroup", true));
    let dir = TempDir::new("priv");
    write_app(&dir);
    let sock = dir.join("app.sock");
    let sport = free_port();
    let saddr = format!("127.0.0.1:{sport}");
    let d = dir.path().display().to_string();
    let s = sock.display().to_string();
    let mut p = start_wsgid_with(
        &dir,
        wsgid_cmd_plain(),
        &[
            "--socket",
            &s,
            "--chown-socket",
            "nobody:nogroup",
            "--chmod-socket",
            "660",
            "--uid",
            "nobody",
            "--gid",
            "nogroup",
            "--processes",
            "2",
            "--stats",
            &saddr,
            "--module",
            "privapp",
            "--pythonpath",
            &d,
        ],
    );
    let log = p.log_text();
    assert!(log.contains("privileges dropped"), "{log}");
    assert!(!log.contains("allow-root"), "{log}");
    // The socket belongs to nobody:nogroup (chowned as root, before the drop).
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(&sock).unwrap();
    assert_eq!((m.uid(), m.gid()), (nobody, nogroup));
    // A request succeeds; the app runs unprivileged.
    let out = uwsgi_request(
        Path::new(&s),
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let want = format!("uid={nobody} euid={nobody} gid={nogroup} egid={nogroup}");
    assert!(text.ends_with(&want), "{text}");
    // Master and workers: every uid and gid (real, effective, saved, fs) unprivileged,
    // no supplementary group but nobody's own (initgroups).
    let v = wait_for("stats with 2 worker pids", || {
        let v = stats_json(sport)?;
        let pids: Vec<i64> = v["workers"]
            .as_array()?
            .iter()
            .filter_map(|w| w["pid"].as_i64())
            .filter(|p| *p > 0)
            .collect();
        (pids.len() == 2).then_some(pids)
    });
    let mut all = v;
    all.push(p.pid() as i64);
    // The launcher execs python3: the test's child is the master.
    for pid in all {
        let (u, g, groups) = proc_ids(pid);
        assert!(u.iter().all(|x| *x == nobody), "pid {pid} Uid: {u:?}");
        assert!(g.iter().all(|x| *x == nogroup), "pid {pid} Gid: {g:?}");
        assert!(
            groups.iter().all(|x| *x == nogroup),
            "pid {pid} Groups: {groups:?}"
        );
    }
    p.signal(libc::SIGTERM);
    assert!(p.wait_exit().is_some(), "wsgid did not stop");
}

#[test]
fn unknown_user_or_group_is_a_startup_error() {
    let dir = TempDir::new("privbad");
    let ini = dir.join("bad.ini");
    std::fs::write(
        &ini,
        "[uwsgi]\nhttp-socket = 127.0.0.1:1\nmodule = hello\nuid = no-such-user-wsgid\n",
    )
    .unwrap();
    let i = ini.display().to_string();
    for mode in [&["--check-config"][..], &[][..]] {
        let out = wsgid_cmd_plain()
            .args(mode)
            .args(["--ini", &i])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("{i}:4: uid `no-such-user-wsgid`: no such user")),
            "{err}"
        );
    }
    std::fs::write(
        &ini,
        "[uwsgi]\nhttp-socket = 127.0.0.1:1\nmodule = hello\nuid = nobody\ngid = no-such-group-wsgid\n",
    )
    .unwrap();
    let out = wsgid_cmd_plain()
        .args(["--check-config", "--ini", &i])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{i}:5")) && err.contains("gid `no-such-group-wsgid`: no such group"),
        "{err}"
    );
}

#[test]
fn check_config_reports_the_switch() {
    let apps = apps_dir().display().to_string();
    let out = wsgid_cmd_plain()
        .args([
            "--check-config",
            "--http-socket",
            "127.0.0.1:1",
            "--module",
            "hello",
            "--pythonpath",
            &apps,
            "--uid",
            "nobody",
            "--gid",
            "nogroup",
        ])
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{so}");
    let nobody = ids("nobody", false);
    assert!(
        so.contains(&format!("uid {nobody} (nobody)")) && so.contains("(nogroup)"),
        "{so}"
    );
}

#[test]
fn root_without_uid_is_refused_unless_allowed() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = TempDir::new("privroot");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let apps = apps_dir().display().to_string();
    let args = [
        "--http-socket",
        addr.as_str(),
        "--module",
        "hello",
        "--pythonpath",
        apps.as_str(),
    ];
    let out = wsgid_cmd_plain().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to run as root")
            && err.contains("`uid`")
            && err.contains("allow-root"),
        "{err}"
    );
    // Nothing listens: it stopped before binding.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    // `uid = root` is the same.
    let out = wsgid_cmd_plain()
        .args(args)
        .args(["--uid", "root"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // With the opt-in it serves, as root, after a loud warning.
    let mut cmd = wsgid_cmd_plain();
    cmd.arg("--allow-root");
    let mut p = start_wsgid_with(&dir, cmd, &args);
    let log = p.log_text();
    assert!(
        log.contains("WARNING: allow-root is set: the application and the workers run as ROOT"),
        "{log}"
    );
    assert_eq!(http_get(port, "/").status, 200);
    let (u, _, _) = proc_ids(p.pid() as i64);
    assert_eq!(u[1], 0);
    p.signal(libc::SIGTERM);
    assert!(p.wait_exit().is_some(), "wsgid did not stop");
}

#[test]
fn reload_after_the_drop_keeps_serving() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let nobody = ids("nobody", false);
    let dir = TempDir::new("privhup");
    write_app(&dir);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = dir.path().display().to_string();
    // logto and pidfile are created by root before the drop; the re-executed
    // (unprivileged) master cannot reopen them and must keep what it inherited.
    let logto = dir.join("server.log");
    let pidfile = dir.join("wsgid.pid");
    let mut cmd = wsgid_cmd_plain();
    cmd.args([
        "--http-socket",
        &addr,
        "--uid",
        "nobody",
        "--gid",
        "nogroup",
        "--module",
        "privapp",
        "--pythonpath",
        &d,
        "--logto",
    ])
    .arg(&logto)
    .arg("--pidfile")
    .arg(&pidfile);
    let p = spawn(cmd, dir.join("launcher.log"), libc::SIGTERM);
    let readies = || {
        std::fs::read_to_string(&logto)
            .unwrap_or_default()
            .matches("ready:")
            .count()
    };
    wait_for("first ready", || (readies() >= 1).then_some(()));
    let body = |r: Response| String::from_utf8_lossy(&r.body).into_owned();
    assert!(body(http_get(port, "/")).starts_with(&format!("uid={nobody} ")));
    p.signal(libc::SIGHUP);
    wait_for("ready after the re-exec", || (readies() >= 2).then_some(()));
    let log = std::fs::read_to_string(&logto).unwrap();
    assert!(log.contains("re-executing the master"), "{log}");
    let r = http_get(port, "/");
    assert_eq!(r.status, 200, "{log}");
    assert!(body(r).starts_with(&format!("uid={nobody} ")));
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        p.pid().to_string()
    );
    let (u, _, _) = proc_ids(p.pid() as i64);
    assert!(u.iter().all(|x| *x == nobody), "{u:?}");
}

#[test]
fn uid_without_gid_keeps_the_group_and_warns() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let nobody = ids("nobody", false);
    let dir = TempDir::new("privuid");
    write_app(&dir);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = dir.path().display().to_string();
    let p = start_wsgid_with(
        &dir,
        wsgid_cmd_plain(),
        &[
            "--http-socket",
            &addr,
            "--uid",
            "nobody",
            "--module",
            "privapp",
            "--pythonpath",
            &d,
        ],
    );
    let log = p.log_text();
    assert!(log.contains("`uid` without `gid`"), "{log}");
    let r = http_get(port, "/");
    let text = String::from_utf8_lossy(&r.body).into_owned();
    // uWSGI: uid and gid are independent, so the group stays root's; the
    // supplementary groups are initgroups(nobody, 0): only 0 and nobody's groups.
    assert_eq!(text, format!("uid={nobody} euid={nobody} gid=0 egid=0"));
    let nogroup = ids("nogroup", true);
    let (_, _, groups) = proc_ids(p.pid() as i64);
    assert!(
        groups.iter().all(|g| *g == 0 || *g == nogroup),
        "{groups:?}"
    );
}
