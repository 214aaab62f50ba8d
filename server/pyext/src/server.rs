//! Server start-up inside the python process: config, logging target, sys.path,
//! sockets, pidfile, stats socket, privilege drop (`uid`/`gid`), application (before
//! fork unless `lazy-apps`), then the master.

use std::os::fd::AsRawFd;
use std::sync::Arc;

use pyo3::prelude::*;

use crate::master::Master;

fn fail(msg: &str) -> PyResult<i32> {
    crate::log::line(&format!("wsgid: error: {msg}"));
    Ok(1)
}

/// `logto`: appends stdout and stderr to the file.
fn redirect_logs(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // SAFETY: dup2 onto the standard descriptors; f stays valid during the calls.
    unsafe {
        if libc::dup2(f.as_raw_fd(), 1) < 0 || libc::dup2(f.as_raw_fd(), 2) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Listener descriptors that came from systemd, handed to a re-executed master.
const ACTIVATED_ENV: &str = "WSGID_ACTIVATED_FDS";

/// Starts the server; returns the process exit code.
pub fn run(py: Python<'_>, args: &[String]) -> PyResult<i32> {
    let cfg = match wsgid::launcher::load(args) {
        Ok((_, Some(cfg))) => Arc::new(cfg),
        Ok((_, None)) => return fail("nothing to run"),
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(p) = &cfg.logto
        && let Err(e) = redirect_logs(p)
    {
        // After a re-exec of a master that dropped root, the file may not be writable
        // any more, but stdout/stderr still point at it (inherited).
        if std::env::var_os(crate::master::INHERIT_ENV).is_none() {
            return fail(&format!("logto {}: {e}", p.display()));
        }
    }
    let plan = match wsgid::privileges::plan(&cfg) {
        Ok(p) => p,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &cfg.warnings {
        crate::log::info(&format!("warning: {w}"));
    }
    crate::log::info(&format!(
        "wsgid {} starting (python {}, pid {})",
        wsgid::VERSION,
        Python::version_str()
            .split_whitespace()
            .next()
            .unwrap_or("?"),
        std::process::id()
    ));
    crate::py::app::add_pythonpath(py, &cfg)?;
    if let Some(r) = std::env::var(wsgid::relaunch::RELAUNCH_ENV)
        .ok()
        .and_then(|v| wsgid::relaunch::Relaunch::decode(&v))
    {
        let _ = crate::master::RELAUNCH.set(r);
    }
    // Launcher-to-server only: the app, its subprocesses and the workers never see it.
    py.import("os")?
        .getattr("environ")?
        .call_method1("pop", (wsgid::relaunch::RELAUNCH_ENV, py.None()))?;
    let inherited = crate::net::inherit(&cfg, std::env::var(crate::master::INHERIT_ENV).ok());
    // systemd socket activation: descriptors matched to the configured sockets by
    // address; the rest are refused with a warning.
    let mut activated = crate::net::activated_sockets();
    let was_activated: Vec<String> = std::env::var(ACTIVATED_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    // The variables must not reach the app, its children or a later exec.
    let environ = py.import("os")?.getattr("environ")?;
    for var in [
        crate::master::INHERIT_ENV,
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
    ] {
        environ.call_method1("pop", (var, py.None()))?;
    }
    let listeners = match inherited {
        Some(l) => {
            crate::log::info("reusing the listening sockets of the previous master");
            l
        }
        None => match crate::net::bind_all(&cfg, &mut activated) {
            Ok(l) => l,
            Err(e) => return fail(&e.to_string()),
        },
    };
    for s in activated {
        // Not closing it would leave connections queued where no worker accepts.
        crate::log::info(&format!(
            "warning: socket-activated descriptor {} ({}) matches no configured socket: closed (add it to the ini as socket/http-socket/https-socket)",
            std::os::fd::AsRawFd::as_raw_fd(&s),
            crate::net::addr_text(&s)
        ));
    }
    let mut listeners = listeners;
    for l in &mut listeners {
        // A re-executed master learns which inherited sockets came from systemd.
        l.activated |= was_activated.contains(&l.fd().to_string());
    }
    let activated_fds: Vec<String> = listeners
        .iter()
        .filter(|l| l.activated)
        .map(|l| l.fd().to_string())
        .collect();
    // SAFETY: the master has no other threads yet (nothing forked or spawned).
    unsafe {
        if activated_fds.is_empty() {
            std::env::remove_var(ACTIVATED_ENV);
        } else {
            // Only for the next exec of the master (SIGHUP): os.environ does not show
            // it, so `vacuum` keeps skipping systemd's sockets after a reload.
            std::env::set_var(ACTIVATED_ENV, activated_fds.join(","));
        }
    }
    // Certificates and keys are read now, before privileges are dropped (as uWSGI), so
    // keys only root can read work when wsgid starts as root. A master re-executed
    // after the drop (SIGHUP) that cannot read them any more uses the bytes the
    // previous master handed over.
    let handed = crate::tls::take_handover();
    let mut materials = Vec::new();
    for (idx, l) in listeners.iter_mut().enumerate() {
        if let Some(spec) = l.spec.tls.clone() {
            let m = match crate::tls::read_files(&spec) {
                Ok(m) => m,
                Err(b) => match handed.get(&idx) {
                    Some((paths, m))
                        if b.0 == std::io::ErrorKind::PermissionDenied
                            && paths.cert == spec.cert.display().to_string()
                            && paths.key == spec.key.display().to_string() =>
                    {
                        crate::log::info(&format!(
                            "{}: using the certificate and key the previous master read (restart to load new files)",
                            b.1
                        ));
                        m.clone()
                    }
                    _ => return fail(&b.1.to_string()),
                },
            };
            match crate::tls::build(&spec, &m) {
                Ok(c) => l.tls = Some(c),
                Err(e) => return fail(&e.to_string()),
            }
            materials.push((idx, spec, m));
        }
        crate::log::info(&format!(
            "{} socket {} {} (fd {})",
            l.proto_name(),
            if l.activated {
                "received from systemd (socket activation) on"
            } else {
                "bound on"
            },
            l.spec.addr,
            l.fd()
        ));
    }
    let pid_text = format!("{}\n", std::process::id());
    if let Some(p) = &cfg.pidfile
        && let Err(e) = std::fs::write(p, &pid_text)
    {
        // A re-exec keeps the pid: a pidfile written before root was dropped is right.
        if std::fs::read_to_string(p).ok().as_deref() != Some(pid_text.as_str()) {
            return fail(&format!("pidfile {}: {e}", p.display()));
        }
    }
    // Stats socket and scoreboard: opened as root, like the sockets.
    let mut master = match Master::new(cfg.clone(), listeners, None) {
        Ok(m) => m,
        Err(e) => return fail(&format!("master: {e}")),
    };
    // uWSGI's order: bind (chown/chmod), then drop root, then load the app and fork.
    match wsgid::privileges::drop_privileges(&plan) {
        Ok(wsgid::privileges::Dropped::Switched { uid, gid, groups }) => {
            crate::log::info(&format!(
                "privileges dropped: uid {uid} gid {gid} groups {groups:?} ({})",
                plan.summary()
            ));
            if gid == 0 {
                crate::log::info(
                    "warning: `uid` without `gid`: the group stays root (0), as in uWSGI; set `gid`",
                );
            }
        }
        Ok(wsgid::privileges::Dropped::StayedRoot) => {
            let bar = "!".repeat(78);
            crate::log::info(&bar);
            crate::log::info(
                "WARNING: allow-root is set: the application and the workers run as ROOT.",
            );
            crate::log::info(
                "WARNING: set `uid`/`gid` to an unprivileged account to drop root after binding.",
            );
            crate::log::info(&bar);
        }
        Ok(wsgid::privileges::Dropped::NotRoot { uid, gid }) => {
            if plan.uid.as_ref().is_some_and(|u| u.0 != uid)
                || plan.gid.as_ref().is_some_and(|g| g.0 != gid)
            {
                crate::log::info(&format!(
                    "not running as root (uid {uid} gid {gid}): uid/gid not applied"
                ));
            }
        }
        Err(e) => {
            if cfg.vacuum {
                crate::net::vacuum(&master.listeners);
            }
            return fail(&e.to_string());
        }
    }
    let app = if cfg.lazy_apps {
        None
    } else {
        match crate::py::app::load(py, &cfg) {
            Ok(a) => {
                crate::log::info(&format!("application loaded: {:?}", cfg.app));
                Some(a)
            }
            Err(e) => {
                crate::log::info("cannot load the application:");
                e.display(py);
                if cfg.need_app {
                    crate::log::info("need-app is set: exiting");
                    if cfg.vacuum {
                        crate::net::vacuum(&master.listeners);
                    }
                    return Ok(22);
                }
                None
            }
        }
    };
    // After the app import: a program the app execs while importing does not inherit
    // the hand-over descriptors.
    let items: Vec<_> = materials.iter().map(|(i, s, m)| (*i, s, m)).collect();
    if let Err(e) = crate::tls::stash(&items) {
        crate::log::info(&format!(
            "warning: cannot keep the TLS keys for a reload (memfd: {e}); a SIGHUP re-reads the files"
        ));
    }
    drop(materials);
    master.app = app;
    master.run(py)
}
