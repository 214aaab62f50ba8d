//! Server start-up inside the python process: config, logging target, sys.path,
//! sockets, pidfile, application (before fork unless `lazy-apps`), then the master.

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
        return fail(&format!("logto {}: {e}", p.display()));
    }
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
    let inherited = crate::net::inherit(&cfg, std::env::var(crate::master::INHERIT_ENV).ok());
    // The variable must not reach the app or a later exec.
    py.import("os")?
        .getattr("environ")?
        .call_method1("pop", (crate::master::INHERIT_ENV, py.None()))?;
    let listeners = match inherited {
        Some(l) => {
            crate::log::info("reusing the listening sockets of the previous master");
            l
        }
        None => match crate::net::bind_all(&cfg) {
            Ok(l) => l,
            Err(e) => return fail(&e.to_string()),
        },
    };
    for l in &listeners {
        crate::log::info(&format!(
            "{} socket bound on {} (fd {})",
            match l.proto() {
                wsgid::config::Proto::Http => "http",
                wsgid::config::Proto::Uwsgi => "uwsgi",
            },
            l.spec.addr,
            l.fd()
        ));
    }
    if let Some(p) = &cfg.pidfile
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        return fail(&format!("pidfile {}: {e}", p.display()));
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
                        crate::net::vacuum(&listeners);
                    }
                    return Ok(22);
                }
                None
            }
        }
    };
    let mut master = match Master::new(cfg.clone(), listeners, app) {
        Ok(m) => m,
        Err(e) => return fail(&format!("master: {e}")),
    };
    master.run(py)
}
