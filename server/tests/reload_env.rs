//! A SIGHUP reload re-executes the master through the launcher with the environment and
//! directory wsgid was first started with, so the edited ini's `env` and `chdir` apply
//! from scratch: a changed `env` line takes its new value, a removed one is gone. An
//! edited ini that does not load is refused before the re-exec: the running master stays.

mod common;

use common::*;

#[test]
fn sighup_applies_the_edited_ini_env_and_chdir_from_scratch() {
    let dir = TempDir::new("reload-env");
    std::fs::write(
        dir.join("env_app.py"),
        "import os\n\
         def application(e, sr):\n\
         \x20   sr('200 OK', [('Content-Type', 'text/plain')])\n\
         \x20   v = ' '.join('%s=%s' % (k, os.environ.get(k, '-')) for k in ('FOO', 'BAR', 'KEEP', 'WSGID_RELAUNCH'))\n\
         \x20   return [('%s cwd=%s' % (v, os.path.basename(os.getcwd()))).encode()]\n",
    )
    .unwrap();
    for d in ["one", "two"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    let port = free_port();
    let ini = dir.join("app.ini");
    let write_ini = |env: &str, chdir: &str| {
        std::fs::write(
            &ini,
            format!(
                "[uwsgi]\nhttp-socket = 127.0.0.1:{port}\npythonpath = {}\nmodule = env_app\n\
                 processes = 1\nchdir = {}\n{env}",
                dir.path().display(),
                dir.join(chdir).display()
            ),
        )
        .unwrap()
    };
    write_ini("env = FOO=1\nenv = BAR=gone-after-reload\n", "one");
    let mut cmd = wsgid_cmd();
    cmd.env("KEEP", "from-the-caller")
        .env_remove("FOO")
        .env_remove("BAR");
    let ini_s = ini.display().to_string();
    let mut p = start_wsgid_with(&dir, cmd, &["--ini", &ini_s]);
    assert_eq!(
        http_get(port, "/").text(),
        "FOO=1 BAR=gone-after-reload KEEP=from-the-caller WSGID_RELAUNCH=- cwd=one"
    );
    write_ini("env = FOO=2\n", "two");
    p.signal(libc::SIGHUP);
    p.wait_log("through the launcher");
    let body = wait_for("the reloaded environment", || {
        let t = std::panic::catch_unwind(|| http_get(port, "/").text()).ok()?;
        t.starts_with("FOO=2").then_some(t)
    });
    assert_eq!(
        body,
        "FOO=2 BAR=- KEEP=from-the-caller WSGID_RELAUNCH=- cwd=two"
    );
    assert!(p.child.try_wait().unwrap().is_none(), "same master process");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
}

#[test]
fn sighup_with_an_ini_that_does_not_load_keeps_the_running_master() {
    let dir = TempDir::new("reload-broken");
    std::fs::write(
        dir.join("env_app.py"),
        "import os\n\
         def application(e, sr):\n\
         \x20   sr('200 OK', [('Content-Type', 'text/plain')])\n\
         \x20   return [('FOO=%s pid=%d' % (os.environ.get('FOO', '-'), os.getppid())).encode()]\n",
    )
    .unwrap();
    let port = free_port();
    let ini = dir.join("app.ini");
    let write_ini = |extra: &str| {
        std::fs::write(
            &ini,
            format!(
                "[uwsgi]\nmaster = true\nhttp-socket = 127.0.0.1:{port}\npythonpath = {}\n\
                 module = env_app\nprocesses = 1\n{extra}",
                dir.path().display()
            ),
        )
        .unwrap()
    };
    write_ini("env = FOO=1\n");
    let ini_s = ini.display().to_string();
    let mut p = start_wsgid_with(&dir, wsgid_cmd(), &["--ini", &ini_s]);
    let before = http_get(port, "/").text();
    assert!(before.starts_with("FOO=1 "), "{before}");
    // An edit with a typo: the reload is refused, the running master keeps serving.
    write_ini("env = FOO=2\nprocesses-typo = 3\n");
    p.signal(libc::SIGHUP);
    p.wait_log("the configuration does not load, not reloading");
    let log = p.log_text();
    assert!(
        log.contains("processes-typo"),
        "the complaint names the option: {log}"
    );
    assert!(!log.contains("re-executing the master"), "{log}");
    assert_eq!(
        http_get(port, "/").text(),
        before,
        "same master, same worker, old env"
    );
    // Fixed: the next SIGHUP reloads with the new value.
    write_ini("env = FOO=2\n");
    p.signal(libc::SIGHUP);
    p.wait_log("through the launcher");
    let body = wait_for("the reloaded environment", || {
        let t = std::panic::catch_unwind(|| http_get(port, "/").text()).ok()?;
        t.starts_with("FOO=2").then_some(t)
    });
    assert!(body.starts_with("FOO=2 "), "{body}");
    assert!(p.child.try_wait().unwrap().is_none(), "same master process");
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(), Some(0));
}
