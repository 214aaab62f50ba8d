//! The launcher: `target/release/wsgid` / `/usr/bin/wsgid` is pure Rust. It parses and
//! resolves the configuration, picks a python3 and the `wsgid_py` extension, and execs
//! `python3 -c BOOT EXT ARGS...`; the extension then runs master and workers inside that
//! interpreter. See ARCHITECTURE.md ("abi3 extension + launcher") for why.
//!
//! Interpreter: `home`/`virtualenv`/`venv` -> `<home>/bin/python3`; else `$WSGID_PYTHON`;
//! else `python3` on PATH if >= [`MIN_PYTHON`]; else python3.14..python3.11 on PATH.
//! Extension: `$WSGID_PYEXT`; else `<exe dir>/libwsgid_py.so` (cargo target dir); else
//! `<exe dir>/../lib/wsgid/wsgid_py.abi3.so` (installed layout).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::cli::{Invocation, parse_args, split_ini_arg};
use crate::config::{Config, ConfigError, resolve};

/// Oldest CPython the abi3 extension supports (`abi3-py311`).
pub const MIN_PYTHON: (u32, u32) = (3, 11);

/// Interpreters tried on PATH after `python3`, newest first.
const PATH_FALLBACKS: &[&str] = &["python3.14", "python3.13", "python3.12", "python3.11"];

/// The Python code run by `python3 -c`: version check, load the extension by explicit
/// path (the file name does not matter), hand over the arguments.
pub const BOOT: &str = r#"# wsgid (a WSGI server; see wsgid --help)
import sys
if sys.version_info < (3, 11):
    sys.exit("wsgid: %s is Python %d.%d; wsgid needs Python >= 3.11 (set home/virtualenv or WSGID_PYTHON)" % ((sys.executable,) + tuple(sys.version_info[:2])))
import importlib.util
_p = sys.argv[1]
_args = sys.argv[2:]
_s = importlib.util.spec_from_file_location("wsgid_py", _p)
if _s is None:
    sys.exit("wsgid: cannot load the extension " + _p)
_m = importlib.util.module_from_spec(_s)
_s.loader.exec_module(_m)
sys.argv[:] = ["wsgid"]
sys.exit(_m.run(_args))
"#;

/// Everything that can stop the launcher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}: no python3 in this virtualenv (check `home`/`virtualenv`/`venv`)", path = path.display())]
    NoVenvPython { path: PathBuf },
    #[error("WSGID_PYTHON={path}: not an executable file", path = path.display())]
    BadEnvPython { path: PathBuf },
    #[error(
        "no Python >= {}.{} found: python3 on PATH is missing or too old and no python3.11+ is on PATH; install python3 (>= 3.11) or set WSGID_PYTHON",
        MIN_PYTHON.0, MIN_PYTHON.1
    )]
    NoPython,
    #[error(
        "wsgid's Python extension not found (looked at: {looked}); set WSGID_PYEXT or reinstall wsgid"
    )]
    NoExtension { looked: String },
    #[error("WSGID_PYEXT={path}: no such file", path = path.display())]
    BadEnvExtension { path: PathBuf },
    #[error("chdir {path}: {source}", path = path.display())]
    Chdir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wsgi-file {path}: no such file", path = path.display())]
    NoWsgiFile { path: PathBuf },
    #[error(transparent)]
    Privileges(#[from] crate::privileges::PrivError),
    #[error("chown-socket {spec}: {message}")]
    ChownOwner { spec: String, message: String },
    #[error("socket {path}: directory {dir} does not exist (create it, e.g. with RuntimeDirectory= in the unit)", path = path.display(), dir = dir.display())]
    NoSocketDir { path: PathBuf, dir: PathBuf },
    #[error("cannot run {python}: {source}", python = python.display())]
    Exec {
        python: PathBuf,
        source: std::io::Error,
    },
}

/// The host name (for `%h`).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Parses the command line with the real environment and file system.
pub fn load(args: &[String]) -> Result<(Invocation, Option<Config>), ConfigError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let env = |k: &str| std::env::var(k).ok();
    let read = |p: &Path| std::fs::read_to_string(p);
    let inv = parse_args(args, &cwd, &env, &read, &hostname())?;
    let cfg = match inv.mode {
        crate::config::cli::Mode::Run | crate::config::cli::Mode::CheckConfig => {
            Some(resolve(&inv.entries)?)
        }
        _ => None,
    };
    Ok((inv, cfg))
}

/// Which python3 runs the server.
pub fn find_python(cfg: &Config) -> Result<PathBuf, LaunchError> {
    if let Some(home) = &cfg.home {
        let p = home.join("bin/python3");
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LaunchError::NoVenvPython { path: p })
        };
    }
    if let Some(p) = std::env::var_os("WSGID_PYTHON").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LaunchError::BadEnvPython { path: p })
        };
    }
    if let Some(p) = which("python3").filter(|p| python_ok(p)) {
        return Ok(p);
    }
    PATH_FALLBACKS
        .iter()
        .filter_map(|n| which(n))
        .find(|p| python_ok(p))
        .ok_or(LaunchError::NoPython)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn python_ok(p: &Path) -> bool {
    let code = format!(
        "import sys; sys.exit(0 if sys.version_info[:2] >= ({}, {}) else 1)",
        MIN_PYTHON.0, MIN_PYTHON.1
    );
    Command::new(p)
        .args(["-c", &code])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where the extension is.
pub fn find_extension() -> Result<PathBuf, LaunchError> {
    if let Some(p) = std::env::var_os("WSGID_PYEXT").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LaunchError::BadEnvExtension { path: p })
        };
    }
    let exe = std::env::current_exe().ok();
    let dir = exe
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let candidates = [
        dir.join("libwsgid_py.so"),
        dir.join("../lib/wsgid/wsgid_py.abi3.so"),
    ];
    for c in &candidates {
        if c.is_file() {
            return Ok(c.clone());
        }
    }
    Err(LaunchError::NoExtension {
        looked: candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Whether a user (`user`) or group (`group`) name or number exists.
fn owner_exists(name: &str, group: bool) -> bool {
    if name.parse::<u32>().is_ok() {
        return true;
    }
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: NUL-terminated name; the returned pointer is only compared with NULL.
    unsafe {
        if group {
            !libc::getgrnam(c.as_ptr()).is_null()
        } else {
            !libc::getpwnam(c.as_ptr()).is_null()
        }
    }
}

/// Checks what can be checked without Python: directories and files the config names,
/// the owner of `chown-socket`.
pub fn check_paths(cfg: &Config) -> Result<(), LaunchError> {
    for s in &cfg.sockets {
        if let crate::config::BindAddr::Unix(p) = &s.addr {
            let dir = cfg
                .chdir
                .as_ref()
                .map_or(p.clone(), |d| d.join(p))
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                return Err(LaunchError::NoSocketDir {
                    path: p.clone(),
                    dir,
                });
            }
        }
    }
    if let Some(spec) = &cfg.chown_socket {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec.as_str(), None),
        };
        if !owner_exists(user, false) {
            return Err(LaunchError::ChownOwner {
                spec: spec.clone(),
                message: format!("no such user `{user}`"),
            });
        }
        if let Some(g) = group
            && !owner_exists(g, true)
        {
            return Err(LaunchError::ChownOwner {
                spec: spec.clone(),
                message: format!("no such group `{g}`"),
            });
        }
    }
    if let Some(d) = &cfg.chdir {
        std::fs::read_dir(d).map_err(|e| LaunchError::Chdir {
            path: d.clone(),
            source: e,
        })?;
    }
    if let crate::config::AppSpec::File { path, .. } = &cfg.app {
        // Only when `module` is not set (module wins); relative to chdir.
        let p = cfg.chdir.as_ref().map_or(path.clone(), |d| d.join(path));
        if !p.is_file() {
            return Err(LaunchError::NoWsgiFile { path: p });
        }
    }
    Ok(())
}

/// The arguments handed to the extension: `--ini` paths made absolute (the server runs
/// after `chdir`).
pub fn absolute_args(args: &[String], cwd: &Path) -> Vec<String> {
    let abs = |v: &str| -> String {
        let (f, s) = split_ini_arg(v);
        let p = cwd.join(f).display().to_string();
        if s == "uwsgi" && !v.ends_with(":uwsgi") {
            p
        } else {
            format!("{p}:{s}")
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--ini" && i + 1 < args.len() {
            out.push(a.clone());
            out.push(abs(&args[i + 1]));
            i += 2;
            continue;
        }
        if let Some(v) = a.strip_prefix("--ini=") {
            out.push(format!("--ini={}", abs(v)));
        } else if !a.starts_with('-') && a.ends_with(".ini") {
            out.push(abs(a));
        } else {
            out.push(a.clone());
        }
        i += 1;
    }
    out
}

/// Builds the command that runs the server (`python3 -c BOOT EXT ARGS...`) with the
/// config's `env` and `chdir` applied.
pub fn command(cfg: &Config, python: &Path, ext: &Path, args: &[String], cwd: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(BOOT).arg(ext);
    cmd.args(absolute_args(args, cwd));
    for (k, v) in &cfg.env {
        cmd.env(k, v);
    }
    if let Some(home) = &cfg.home {
        cmd.env("VIRTUAL_ENV", home);
    }
    if let Some(d) = &cfg.chdir {
        cmd.current_dir(d);
    }
    cmd
}

/// Replaces this process with the server. Returns only on failure.
pub fn exec(mut cmd: Command, python: &Path) -> LaunchError {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    LaunchError::Exec {
        python: python.to_path_buf(),
        source: e,
    }
}

/// `OsString` arguments to `String`s (non-UTF-8 arguments are refused by the caller).
pub fn string_args(args: impl Iterator<Item = OsString>) -> Result<Vec<String>, OsString> {
    args.map(|a| a.into_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_args_become_absolute() {
        let a: Vec<String> = [
            "--ini",
            "a.ini",
            "--ini=b.ini:s",
            "c.ini",
            "--socket",
            "x.sock",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            absolute_args(&a, Path::new("/w")),
            vec![
                "--ini",
                "/w/a.ini",
                "--ini=/w/b.ini:s",
                "/w/c.ini",
                "--socket",
                "x.sock"
            ]
        );
        let a = vec!["--ini".to_string(), "/abs/x.ini".to_string()];
        assert_eq!(absolute_args(&a, Path::new("/w"))[1], "/abs/x.ini");
    }
}
