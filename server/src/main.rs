//! `wsgid`: the launcher binary. Parses the configuration, then execs python3 with the
//! `wsgid_py` extension (see `launcher`). Exit codes: 0 ok, 1 configuration or
//! environment error, 2 usage error.

use std::process::ExitCode;

use wsgid::config::cli::Mode;
use wsgid::config::options::{Kind, OPTIONS};
use wsgid::launcher;

fn help() {
    println!(
        "wsgid {} - a WSGI server for uWSGI-style deployments\n\n\
         usage: wsgid --ini FILE[:section] [--option value ...]\n\
         \x20      wsgid --check-config --ini FILE    parse and resolve, exit 0 or 1\n\
         \x20      wsgid --version\n\noptions (uWSGI names):",
        wsgid::VERSION
    );
    for o in OPTIONS {
        let status = match o.kind {
            Kind::NotYet => " [not implemented yet: error]",
            Kind::Warn => " [accepted, no effect: warning]",
            Kind::Noop => " [accepted, no effect]",
            _ => "",
        };
        let aliases = if o.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", o.aliases.join(", "))
        };
        println!("  --{}{aliases}: {}{status}", o.name, o.doc);
    }
}

fn main() -> ExitCode {
    // Before anything (the ini's env/home/chdir are applied only to the child command):
    // a SIGHUP reload re-execs this launcher with exactly this environment and directory.
    let relaunch = wsgid::relaunch::Relaunch::capture();
    let args = match launcher::string_args(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(bad) => {
            eprintln!("wsgid: error: argument {bad:?} is not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    let (inv, cfg) = match launcher::load(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("wsgid: error: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = match (inv.mode, cfg) {
        (Mode::Version, _) => {
            println!("wsgid {}", wsgid::VERSION);
            return ExitCode::SUCCESS;
        }
        (Mode::Help, _) => {
            help();
            return ExitCode::SUCCESS;
        }
        (_, None) => return ExitCode::from(2),
        (Mode::CheckConfig, Some(cfg)) => {
            for w in &cfg.warnings {
                eprintln!("wsgid: warning: {w}");
            }
            let checked = launcher::check_paths(&cfg)
                .and_then(|()| wsgid::privileges::plan(&cfg).map_err(Into::into))
                .and_then(|plan| launcher::find_python(&cfg).map(|py| (plan, py)))
                .and_then(|(plan, py)| launcher::find_extension().map(|ext| (plan, py, ext)));
            return match checked {
                Ok((plan, py, ext)) => {
                    println!("wsgid: configuration OK");
                    for s in &cfg.sockets {
                        match &s.tls {
                            // The files are read at start-up (as root, before the
                            // privilege drop), not here: check-config may run as the
                            // app user, who cannot read a root-only key.
                            Some(t) => println!(
                                "  socket Https {} cert {} key {} suites {}",
                                s.addr,
                                t.cert.display(),
                                t.key.display(),
                                if t.suites.is_empty() {
                                    "rustls defaults".to_string()
                                } else {
                                    t.suites.join(":")
                                }
                            ),
                            None => println!("  socket {:?} {}", s.proto, s.addr),
                        }
                    }
                    println!("  app {:?}", cfg.app);
                    println!(
                        "  processes {} threads {} listen {} socket-timeout {} buffer-size {}",
                        cfg.processes, cfg.threads, cfg.listen, cfg.socket_timeout, cfg.buffer_size
                    );
                    if let Some(c) = cfg.cheaper {
                        let (algo, unit) = match c.algo {
                            wsgid::config::CheaperAlgo::Spare => ("spare", " s"),
                            wsgid::config::CheaperAlgo::Backlog => ("backlog", " queued"),
                        };
                        println!(
                            "  cheaper {algo}: {}..{} workers (initial {}, step {}, overload {}{unit})",
                            c.min, cfg.processes, c.initial, c.step, c.overload
                        );
                    }
                    if let Some(how) = &cfg.processes_auto {
                        println!("  {how}");
                    }
                    for (name, v) in [
                        ("harakiri", cfg.harakiri),
                        ("harakiri-graceful-timeout", cfg.harakiri_graceful_timeout),
                        ("max-requests", cfg.max_requests),
                        ("max-worker-lifetime", cfg.max_worker_lifetime),
                        ("reload-on-rss", cfg.reload_on_rss),
                    ] {
                        if let Some(v) = v {
                            println!("  {name} {v}");
                        }
                    }
                    // SAFETY: geteuid has no preconditions.
                    let euid = unsafe { libc::geteuid() };
                    if euid == 0 {
                        println!("  privileges: {}", plan.summary());
                    } else {
                        println!(
                            "  privileges: not root (uid {euid}): uid/gid are not applied ({})",
                            plan.summary()
                        );
                    }
                    if let Err(e) = plan.check_root(euid) {
                        eprintln!("wsgid: warning: starting would fail: {e}");
                    } else if plan.serves_as_root(euid).is_some() {
                        eprintln!("wsgid: warning: allow-root: the workers would run as root");
                    }
                    println!("  python {}", py.display());
                    println!("  extension {}", ext.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("wsgid: error: {e}");
                    ExitCode::from(1)
                }
            };
        }
        (Mode::Run, Some(cfg)) => cfg,
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let prepared = launcher::check_paths(&cfg)
        .and_then(|()| {
            // Refuse before starting anything; the server checks again when it drops.
            let plan = wsgid::privileges::plan(&cfg)?;
            // SAFETY: geteuid has no preconditions.
            plan.check_root(unsafe { libc::geteuid() })?;
            Ok(())
        })
        .and_then(|()| launcher::find_python(&cfg))
        .and_then(|py| launcher::find_extension().map(|ext| (py, ext)));
    let (python, ext) = match prepared {
        Ok(x) => x,
        Err(e) => {
            eprintln!("wsgid: error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut cmd = launcher::command(&cfg, &python, &ext, &args, &cwd);
    // One environment string may not exceed 128 KiB (MAX_ARG_STRLEN): beyond that the
    // server would not start at all, so it falls back to re-executing the interpreter.
    if let Some(enc) = relaunch
        .map(|r| r.encode())
        .filter(|e| e.len() < 120 * 1024)
    {
        cmd.env(wsgid::relaunch::RELAUNCH_ENV, enc);
    }
    let e = launcher::exec(cmd, &python);
    eprintln!("wsgid: error: {e}");
    ExitCode::from(1)
}
