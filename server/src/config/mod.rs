//! Configuration: raw options (command line and uWSGI ini files, in order) resolved into
//! one [`Config`] with uWSGI 2.0's defaults.
//!
//! Layers: [`cli::parse_args`] / [`ini::parse_ini`] give [`RawEntry`]s (no meaning yet);
//! [`resolve`] looks each one up in [`options::OPTIONS`], checks its value and builds the
//! model the launcher and the server read. No I/O in `resolve`, except that
//! `processes = auto` reads the machine (CPU count, available memory: `sysinfo`).

pub mod cli;
pub mod ini;
pub mod options;
pub mod tls;

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use options::{Kind, lookup, parse_bool};

/// Where a raw option came from: a line of an ini file or a command-line argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File { path: PathBuf, line: usize },
    Arg { index: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Arg { index } => write!(f, "command line argument {index}"),
        }
    }
}

/// One option as written, before it is given meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub name: String,
    pub value: String,
    pub origin: Origin,
}

/// Everything that can be wrong with a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{origin}: {message}")]
    Syntax { origin: Origin, message: String },
    #[error("{path}: no [{section}] section (wsgid reads the `uwsgi` section unless FILE:section is given)", path = path.display())]
    NoSection { path: PathBuf, section: String },
    #[error("cannot read {path}: {source}", path = path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin}: unknown option `{name}` (check the spelling; wsgid --help lists the options)"
    )]
    Unknown { name: String, origin: Origin },
    #[error(
        "{origin}: option `{name}` is not implemented by wsgid yet ({doc}); remove it or run uWSGI"
    )]
    NotYet {
        name: String,
        doc: &'static str,
        origin: Origin,
    },
    #[error("{origin}: option `{name}`: invalid value `{value}`: {expected}")]
    Value {
        name: String,
        value: String,
        expected: String,
        origin: Origin,
    },
    #[error(
        "no socket to serve: set `socket` (uwsgi protocol), `http-socket` or `https-socket` in the ini or on the command line"
    )]
    NoSocket,
    #[error(
        "no application: set `module` (or `wsgi`) or `wsgi-file` in the ini or on the command line"
    )]
    NoApp,
}

/// The wire protocol spoken on a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// uWSGI's binary protocol (nginx `uwsgi_pass`); response is plain HTTP.
    Uwsgi,
    /// HTTP/1.1 (`http-socket`).
    Http,
}

/// Where a socket binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl fmt::Display for BindAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindAddr::Unix(p) => write!(f, "{}", p.display()),
            BindAddr::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// One socket to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    pub addr: BindAddr,
    pub proto: Proto,
    /// As written in the config (used in logs and stats).
    pub text: String,
    /// `https-socket`/`https`: HTTP/1.1 over TLS with this certificate and key.
    pub tls: Option<tls::TlsSpec>,
}

/// How to find the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSpec {
    /// `module = pkg.mod[:callable]`.
    Module { module: String, callable: String },
    /// `wsgi-file = path`.
    File { path: PathBuf, callable: String },
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub sockets: Vec<SocketSpec>,
    pub chmod_socket: Option<u32>,
    pub chown_socket: Option<String>,
    pub listen: i32,
    pub vacuum: bool,
    pub processes: u32,
    pub threads: u32,
    pub lazy_apps: bool,
    pub need_app: bool,
    pub die_on_term: bool,
    pub harakiri: Option<u64>,
    /// `harakiri-graceful-timeout`: harakiri sends `harakiri_graceful_signal` first and
    /// SIGKILL only after this many more seconds.
    pub harakiri_graceful_timeout: Option<u64>,
    /// `harakiri-graceful-signal` (default SIGTERM).
    pub harakiri_graceful_signal: i32,
    pub max_requests: Option<u64>,
    /// `max-worker-lifetime`: seconds after which a worker is recycled gracefully.
    pub max_worker_lifetime: Option<u64>,
    /// `reload-on-rss`: MiB of resident memory above which a worker is recycled.
    pub reload_on_rss: Option<u64>,
    /// `processes = auto`: how the number was computed (logged at start).
    pub processes_auto: Option<String>,
    /// `cheaper` (spare algorithm): None = every `processes` worker always runs.
    pub cheaper: Option<Cheaper>,
    pub reload_mercy: u64,
    pub pidfile: Option<PathBuf>,
    pub stats: Option<String>,
    pub app: AppSpec,
    pub chdir: Option<PathBuf>,
    pub pythonpath: Vec<PathBuf>,
    pub home: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub socket_timeout: u64,
    pub buffer_size: usize,
    pub disable_logging: bool,
    pub logto: Option<PathBuf>,
    /// `uid`: user name or number to switch to after binding (with where it was set).
    pub uid: Option<(String, Origin)>,
    /// `gid`: group name or number to switch to after binding.
    pub gid: Option<(String, Origin)>,
    /// `no-initgroups`: supplementary groups are not taken from the `uid` user.
    pub no_initgroups: bool,
    /// `allow-root` (wsgid's own): serving as root without `uid` is allowed.
    pub allow_root: bool,
    /// Warnings about accepted options that have no effect (`Kind::Warn`).
    pub warnings: Vec<String>,
}

/// uWSGI's cheaper subsystem with the `spare` algorithm: between `min` and
/// `processes` workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cheaper {
    /// `cheaper`: workers always kept (>= 1, < processes).
    pub min: u32,
    /// `cheaper-initial`: workers started at boot and on a reload (min..=processes).
    pub initial: u32,
    /// `cheaper-step`: workers spawned at once when none is idle (>= 1).
    pub step: u32,
    /// `cheaper-overload`: `spare`: seconds per cycle, and idle cycles before one
    /// worker stops; `backlog`: the listen queue length above which workers are added.
    pub overload: u64,
    /// `cheaper-algo`.
    pub algo: CheaperAlgo,
}

/// uWSGI's cheaper algorithms wsgid implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheaperAlgo {
    /// Add workers when none is idle, stop idle ones (uWSGI's default).
    Spare,
    /// Add workers when a TCP listen queue holds more than `cheaper-overload`
    /// connections (Linux `TCP_INFO`); stop an idle one when every queue is empty.
    Backlog,
}

/// Per-worker resident memory assumed by `processes = auto` (a trytond or Flask worker
/// with its imports is 40-150 MiB).
pub const AUTO_WORKER_MIB: u64 = 128;

/// `processes = auto`: min(2 x cpus + 1, available memory / [`AUTO_WORKER_MIB`]),
/// at least 1, at most 1024.
pub fn auto_processes(cpus: usize, available_bytes: u64) -> u32 {
    let by_cpu = (cpus.max(1) as u64) * 2 + 1;
    let by_mem = available_bytes / (AUTO_WORKER_MIB * 1024 * 1024);
    by_cpu.min(by_mem).clamp(1, 1024) as u32
}

/// Reads the machine (sysinfo) for `processes = auto`: (workers, explanation).
fn machine_processes() -> (u32, String) {
    let mut sys = sysinfo::System::new();
    sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    sys.refresh_memory();
    // Logical CPUs of the machine, fewer when the affinity mask (taskset, systemd
    // CPUAffinity=) allows fewer.
    let mut cpus = sys.cpus().len().max(1);
    if let Ok(n) = std::thread::available_parallelism() {
        cpus = cpus.min(n.get());
    }
    // Available memory, or what the cgroup (systemd MemoryMax=) still allows if less.
    let mut avail = sys.available_memory();
    if let Some(cg) = sys.cgroup_limits() {
        avail = avail.min(cg.free_memory);
    }
    let n = auto_processes(cpus, avail);
    (
        n,
        format!(
            "processes = auto: {n} worker(s) = min(2 x {cpus} CPUs + 1, {} MiB available / {AUTO_WORKER_MIB} MiB per worker)",
            avail / (1024 * 1024)
        ),
    )
}

/// A signal by number (1-64) or name (`SIGTERM`, `TERM`, `term`).
pub fn parse_signal(text: &str) -> Option<i32> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ABRT" => libc::SIGABRT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        _ => return None,
    })
}

/// Parses a socket address as uWSGI does: a path (contains `/` or no `:`), `@name`
/// (abstract, refused), `host:port`, `:port` (all interfaces), `[v6]:port`.
pub fn parse_bind(text: &str) -> Result<BindAddr, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty address".into());
    }
    if t.starts_with('@') {
        return Err("abstract UNIX sockets are not supported by wsgid".into());
    }
    if t.contains('/') || !t.contains(':') {
        return Ok(BindAddr::Unix(PathBuf::from(t)));
    }
    let (host, port) = t.rsplit_once(':').ok_or("expected host:port")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` resolves to no address"))?;
    Ok(BindAddr::Tcp(addr))
}

fn int<T: std::str::FromStr>(e: &RawEntry, name: &str) -> Result<T, ConfigError> {
    e.value.trim().parse().map_err(|_| ConfigError::Value {
        name: name.to_string(),
        value: e.value.clone(),
        expected: "a non-negative integer".into(),
        origin: e.origin.clone(),
    })
}

/// Resolves raw options into a [`Config`]: applies uWSGI's defaults, checks values,
/// refuses unknown and not-yet-implemented options with their origin.
pub fn resolve(entries: &[RawEntry]) -> Result<Config, ConfigError> {
    let mut c = Config {
        sockets: Vec::new(),
        chmod_socket: None,
        chown_socket: None,
        listen: 100,
        vacuum: false,
        processes: 1,
        threads: 1,
        lazy_apps: false,
        need_app: false,
        die_on_term: false,
        harakiri: None,
        harakiri_graceful_timeout: None,
        harakiri_graceful_signal: libc::SIGTERM,
        max_requests: None,
        max_worker_lifetime: None,
        reload_on_rss: None,
        processes_auto: None,
        cheaper: None,
        reload_mercy: 60,
        pidfile: None,
        stats: None,
        app: AppSpec::Module {
            module: String::new(),
            callable: String::new(),
        },
        chdir: None,
        pythonpath: Vec::new(),
        home: None,
        env: Vec::new(),
        socket_timeout: 4,
        buffer_size: 4096,
        disable_logging: false,
        logto: None,
        uid: None,
        gid: None,
        no_initgroups: false,
        allow_root: false,
        warnings: Vec::new(),
    };
    let mut module: Option<String> = None;
    let mut wsgi_file: Option<String> = None;
    let mut callable: Option<String> = None;
    // cheaper options: (value, origin) as given; checked against `processes` at the end.
    let mut cheaper: Option<(u32, Origin)> = None;
    let mut cheaper_initial: Option<(u32, Origin)> = None;
    let mut cheaper_step = 1u32;
    let mut cheaper_overload = 3u64;
    let mut cheaper_algo: (CheaperAlgo, Option<Origin>) = (CheaperAlgo::Spare, None);
    for e in entries {
        let Some(spec) = lookup(&e.name) else {
            return Err(ConfigError::Unknown {
                name: e.name.clone(),
                origin: e.origin.clone(),
            });
        };
        let name = spec.name;
        let flag = || {
            parse_bool(&e.value).ok_or_else(|| ConfigError::Value {
                name: name.to_string(),
                value: e.value.clone(),
                expected: "a boolean (true/false, yes/no, on/off, 1/0)".into(),
                origin: e.origin.clone(),
            })
        };
        let bad = |expected: String| ConfigError::Value {
            name: name.to_string(),
            value: e.value.clone(),
            expected,
            origin: e.origin.clone(),
        };
        match spec.kind {
            Kind::NotYet => {
                return Err(ConfigError::NotYet {
                    name: name.to_string(),
                    doc: spec.doc,
                    origin: e.origin.clone(),
                });
            }
            Kind::Noop => continue,
            Kind::Warn => {
                c.warnings.push(format!(
                    "{}: option `{name}` has no effect in wsgid ({})",
                    e.origin, spec.doc
                ));
                continue;
            }
            _ => {}
        }
        match name {
            "socket" | "http-socket" => {
                let proto = if name == "socket" {
                    Proto::Uwsgi
                } else {
                    Proto::Http
                };
                for part in e.value.split(',').filter(|p| !p.trim().is_empty()) {
                    let addr = parse_bind(part).map_err(bad)?;
                    c.sockets.push(SocketSpec {
                        addr,
                        proto,
                        text: part.trim().to_string(),
                        tls: None,
                    });
                }
            }
            "https-socket" | "https" => {
                let (addr, spec, warnings) =
                    tls::parse_https_value(name, &e.value, &e.origin).map_err(bad)?;
                let addr = parse_bind(&addr).map_err(bad)?;
                c.warnings.extend(warnings);
                c.sockets.push(SocketSpec {
                    addr,
                    proto: Proto::Http,
                    text: e.value.split(',').next().unwrap_or("").trim().to_string(),
                    tls: Some(spec),
                });
            }
            "chmod-socket" => {
                let v = e.value.trim();
                let mode =
                    if parse_bool(v) == Some(true) && !v.chars().all(|ch| ch.is_ascii_digit()) {
                        0o666
                    } else {
                        u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| bad("octal permission bits such as 660".into()))?
                    };
                c.chmod_socket = Some(mode);
            }
            "chown-socket" => c.chown_socket = Some(e.value.trim().to_string()),
            "listen" => c.listen = int(e, name)?,
            "vacuum" => c.vacuum = flag()?,
            "socket-timeout" => c.socket_timeout = int(e, name)?,
            "buffer-size" => {
                let n: usize = int(e, name)?;
                if !(512..=65535).contains(&n) {
                    return Err(bad("a size between 512 and 65535 bytes".into()));
                }
                c.buffer_size = n;
            }
            "master" => {
                flag()?;
            }
            "processes" if e.value.trim().eq_ignore_ascii_case("auto") => {
                let (n, how) = machine_processes();
                c.processes = n;
                c.processes_auto = Some(how);
            }
            "processes" => {
                let n: u32 = int(e, name)
                    .map_err(|_| bad("a number between 1 and 1024, or `auto`".into()))?;
                if n == 0 || n > 1024 {
                    return Err(bad("between 1 and 1024".into()));
                }
                c.processes = n;
            }
            "threads" => {
                let n: u32 = int(e, name)?;
                if n == 0 || n > 256 {
                    return Err(bad("between 1 and 256".into()));
                }
                c.threads = n;
            }
            "lazy-apps" => c.lazy_apps = flag()?,
            "need-app" => c.need_app = flag()?,
            "die-on-term" => c.die_on_term = flag()?,
            "harakiri" => {
                let n: u64 = int(e, name)?;
                c.harakiri = (n > 0).then_some(n);
            }
            "max-requests" => {
                let n: u64 = int(e, name)?;
                c.max_requests = (n > 0).then_some(n);
            }
            "harakiri-graceful-timeout" => {
                let n: u64 = int(e, name)?;
                c.harakiri_graceful_timeout = (n > 0).then_some(n);
            }
            "harakiri-graceful-signal" => {
                c.harakiri_graceful_signal = parse_signal(&e.value).ok_or_else(|| {
                    bad("a signal name (SIGTERM, TERM, SIGUSR1, ...) or number 1-64".into())
                })?;
            }
            "max-worker-lifetime" => {
                let n: u64 = int(e, name)?;
                c.max_worker_lifetime = (n > 0).then_some(n);
            }
            "reload-on-rss" => {
                let n: u64 = int(e, name)?;
                c.reload_on_rss = (n > 0).then_some(n);
            }
            "cheaper" => cheaper = Some((int(e, name)?, e.origin.clone())),
            "cheaper-initial" => cheaper_initial = Some((int(e, name)?, e.origin.clone())),
            "cheaper-step" => {
                cheaper_step = int(e, name)?;
                if cheaper_step == 0 {
                    return Err(bad("at least 1".into()));
                }
            }
            "cheaper-overload" => {
                cheaper_overload = int(e, name)?;
                if cheaper_overload == 0 {
                    return Err(bad("at least 1 (seconds)".into()));
                }
            }
            "cheaper-algo" => {
                let algo = match e.value.trim() {
                    "" | "spare" => CheaperAlgo::Spare,
                    "backlog" => CheaperAlgo::Backlog,
                    _ => {
                        return Err(bad(
                            "wsgid implements the `spare` (uWSGI's default) and `backlog` cheaper algorithms"
                                .into(),
                        ));
                    }
                };
                cheaper_algo = (algo, Some(e.origin.clone()));
            }
            "worker-reload-mercy" | "reload-mercy" => c.reload_mercy = int(e, name)?,
            "pidfile" => c.pidfile = Some(PathBuf::from(e.value.trim())),
            "stats" => {
                let v = e.value.trim();
                parse_bind(v).map_err(bad)?;
                c.stats = Some(v.to_string());
            }
            "module" => module = Some(e.value.trim().to_string()),
            "wsgi-file" => wsgi_file = Some(e.value.trim().to_string()),
            "callable" => callable = Some(e.value.trim().to_string()),
            "chdir" => c.chdir = Some(PathBuf::from(e.value.trim())),
            "pythonpath" => c.pythonpath.push(PathBuf::from(e.value.trim())),
            "home" => c.home = Some(PathBuf::from(e.value.trim())),
            "env" => {
                let v = e.value.trim();
                let (k, val) = v.split_once('=').unwrap_or((v, ""));
                if k.is_empty() || k.contains('\0') || val.contains('\0') {
                    return Err(bad("NAME=value".into()));
                }
                c.env.push((k.to_string(), val.to_string()));
            }
            "disable-logging" => c.disable_logging = flag()?,
            "logto" => c.logto = Some(PathBuf::from(e.value.trim())),
            "uid" | "gid" => {
                let v = e.value.trim();
                if v.is_empty() || v.contains('\0') {
                    return Err(bad("a user or group name or number".into()));
                }
                let slot = if name == "uid" {
                    &mut c.uid
                } else {
                    &mut c.gid
                };
                *slot = Some((v.to_string(), e.origin.clone()));
            }
            "no-initgroups" => c.no_initgroups = flag()?,
            "allow-root" => c.allow_root = flag()?,
            other => {
                // A row in OPTIONS without a resolver arm is a bug in this file.
                return Err(ConfigError::NotYet {
                    name: other.to_string(),
                    doc: spec.doc,
                    origin: e.origin.clone(),
                });
            }
        }
    }
    // uWSGI: `cheaper = 0` disables it; `cheaper` must be lower than `processes`.
    if let Some((min, origin)) = cheaper.filter(|(n, _)| *n > 0) {
        if min >= c.processes {
            return Err(ConfigError::Value {
                name: "cheaper".into(),
                value: min.to_string(),
                expected: format!(
                    "must be lower than `processes` ({}): cheaper is the minimum number of running workers, processes the maximum",
                    c.processes
                ),
                origin,
            });
        }
        let initial = match cheaper_initial {
            Some((n, origin)) if n > 0 => {
                if n < min || n > c.processes {
                    return Err(ConfigError::Value {
                        name: "cheaper-initial".into(),
                        value: n.to_string(),
                        expected: format!(
                            "between `cheaper` ({min}) and `processes` ({})",
                            c.processes
                        ),
                        origin,
                    });
                }
                n
            }
            _ => min,
        };
        // `backlog` reads the accept queue of TCP listeners (TCP_INFO); a UNIX
        // socket's queue is not measurable that way, so it could never scale up.
        if cheaper_algo.0 == CheaperAlgo::Backlog
            && !c.sockets.iter().any(|s| matches!(s.addr, BindAddr::Tcp(_)))
        {
            return Err(ConfigError::Value {
                name: "cheaper-algo".into(),
                value: "backlog".into(),
                expected: "the `backlog` algorithm measures TCP listen queues and needs at least one TCP `socket`/`http-socket` (UNIX socket queues are not measurable); use `spare`".into(),
                origin: cheaper_algo.1.clone().unwrap_or(origin),
            });
        }
        c.cheaper = Some(Cheaper {
            min,
            initial,
            step: cheaper_step,
            overload: cheaper_overload,
            algo: cheaper_algo.0,
        });
    }
    let callable_or = |c: Option<String>| c.unwrap_or_else(|| "application".to_string());
    // uWSGI: `module` wins over `wsgi-file`; `module = a.b:c` names the callable too.
    c.app = match (module, wsgi_file) {
        (Some(m), _) if !m.is_empty() => match m.split_once(':') {
            Some((m, cal)) if !cal.is_empty() => AppSpec::Module {
                module: m.to_string(),
                callable: cal.to_string(),
            },
            _ => AppSpec::Module {
                module: m.trim_end_matches(':').to_string(),
                callable: callable_or(callable),
            },
        },
        (_, Some(f)) if !f.is_empty() => AppSpec::File {
            path: PathBuf::from(f),
            callable: callable_or(callable),
        },
        _ => return Err(ConfigError::NoApp),
    };
    if c.sockets.is_empty() {
        return Err(ConfigError::NoSocket);
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Vec<RawEntry> {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (n, v))| RawEntry {
                name: n.to_string(),
                value: v.to_string(),
                origin: Origin::File {
                    path: "/x.ini".into(),
                    line: i + 1,
                },
            })
            .collect()
    }

    /// Parses `text` as the ini file `path` (no placeholders from the environment) and
    /// resolves it.
    fn resolve_ini_text(text: &str, path: &str) -> Config {
        let entries =
            ini::parse_ini(text, std::path::Path::new(path), "uwsgi", &|_| None, "h").unwrap();
        let raw: Vec<RawEntry> = entries
            .into_iter()
            .map(|e| RawEntry {
                name: e.key,
                value: e.value,
                origin: e.origin,
            })
            .collect();
        resolve(&raw).unwrap()
    }

    #[test]
    fn gnuhealth_ini_resolves() {
        let text = include_str!("../../tests/ini/gnuhealth-5.0.4-uwsgi_trytond.ini");
        let c = resolve_ini_text(text, "/opt/x.ini");
        assert_eq!(
            c.app,
            AppSpec::Module {
                module: "trytond.application".into(),
                callable: "app".into()
            }
        );
        assert_eq!(c.chmod_socket, Some(0o660));
        assert_eq!(c.socket_timeout, 60);
        assert_eq!(c.home, Some("/opt/gnuhealth/venv".into()));
        assert_eq!(c.env.len(), 2);
        assert_eq!(c.stats.as_deref(), Some("127.0.0.1:9191"));
        assert_eq!(
            c.sockets[0].addr,
            BindAddr::Unix("/opt/gnuhealth/var/run/gnuhealth.sckt".into())
        );
    }

    #[test]
    fn debian_ini_resolves() {
        let text = include_str!("../../tests/ini/debian-tryton-server-uwsgi-6.0.29.ini");
        let c = resolve_ini_text(text, "/etc/tryton/uwsgi.ini");
        assert_eq!(c.threads, 4);
        assert_eq!(c.sockets.len(), 2);
        assert_eq!(c.sockets[0].proto, Proto::Http);
        assert_eq!(c.env[1], ("TRYTOND_DATABASE_URI".into(), "".into()));
    }

    #[test]
    fn defaults_and_module_wins() {
        let c = resolve(&raw(&[
            ("wsgi-file", "/a.py"),
            ("http-socket", ":8080"),
            ("module", "app"),
        ]))
        .unwrap();
        assert_eq!(
            c.app,
            AppSpec::Module {
                module: "app".into(),
                callable: "application".into()
            }
        );
        assert_eq!(c.listen, 100);
        assert_eq!(c.socket_timeout, 4);
        assert_eq!(c.buffer_size, 4096);
        assert_eq!(
            c.sockets[0].addr,
            BindAddr::Tcp("0.0.0.0:8080".parse().unwrap())
        );
        let c = resolve(&raw(&[("wsgi-file", "/a.py"), ("socket", "[::1]:3031")])).unwrap();
        assert!(matches!(c.app, AppSpec::File { .. }));
        assert_eq!(
            c.sockets[0].addr,
            BindAddr::Tcp("[::1]:3031".parse().unwrap())
        );
    }

    #[test]
    fn errors_name_the_option_and_line() {
        let e = resolve(&raw(&[
            ("module", "a"),
            ("socket", "/s"),
            ("daemonize", "x"),
        ]))
        .unwrap_err();
        let m = e.to_string();
        assert!(m.contains("/x.ini:3") && m.contains("daemonize"), "{m}");
        let e = resolve(&raw(&[("module", "a"), ("https-socket", ":8443,/c.pem")])).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("/x.ini:2") && m.contains("`https-socket`"),
            "{m}"
        );
        let e = resolve(&raw(&[("processes", "two")])).unwrap_err();
        assert!(e.to_string().contains("/x.ini:1"), "{e}");
        assert!(matches!(
            resolve(&raw(&[("nonsense", "1")])),
            Err(ConfigError::Unknown { .. })
        ));
        assert!(matches!(
            resolve(&raw(&[("socket", "/s")])),
            Err(ConfigError::NoApp)
        ));
        assert!(matches!(
            resolve(&raw(&[("module", "a")])),
            Err(ConfigError::NoSocket)
        ));
        assert!(resolve(&raw(&[("module", "a"), ("socket", "h:notaport")])).is_err());
        assert!(
            resolve(&raw(&[
                ("module", "a"),
                ("socket", "/s"),
                ("chmod-socket", "999")
            ]))
            .is_err()
        );
        assert!(
            resolve(&raw(&[
                ("module", "a"),
                ("socket", "/s"),
                ("master", "perhaps")
            ]))
            .is_err()
        );
    }

    #[test]
    fn every_table_row_resolves_or_errors_cleanly() {
        for o in options::OPTIONS {
            let v = match o.kind {
                Kind::Int if o.name == "buffer-size" => "8192",
                Kind::Int => "2",
                Kind::Flag => "true",
                _ if o.name == "chmod-socket" => "660",
                _ if o.name == "cheaper-algo" => "spare",
                _ if o.name == "harakiri-graceful-signal" => "SIGTERM",
                _ if o.name.starts_with("https") => "127.0.0.1:8443,/c.pem,/k.pem,HIGH",
                _ => "/tmp/x",
            };
            let r = resolve(&raw(&[
                ("module", "a"),
                ("socket", "/s"),
                ("processes", "4"),
                (o.name, v),
            ]));
            match o.kind {
                Kind::NotYet => assert!(matches!(r, Err(ConfigError::NotYet { .. })), "{}", o.name),
                _ => assert!(r.is_ok(), "{}: {:?}", o.name, r),
            }
        }
    }

    #[test]
    fn cheaper_resolves_with_defaults_and_limits() {
        let base = [("module", "a"), ("socket", "/s"), ("processes", "4")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            resolve(&raw(&v))
        };
        assert_eq!(with(&[]).unwrap().cheaper, None);
        assert_eq!(with(&[("cheaper", "0")]).unwrap().cheaper, None);
        assert_eq!(
            with(&[("cheaper", "1")]).unwrap().cheaper,
            Some(Cheaper {
                min: 1,
                initial: 1,
                step: 1,
                overload: 3,
                algo: CheaperAlgo::Spare,
            })
        );
        assert_eq!(
            with(&[
                ("cheaper-algo", "spare"),
                ("cheaper", "2"),
                ("cheaper-initial", "3"),
                ("cheaper-step", "2"),
                ("cheaper-overload", "1"),
            ])
            .unwrap()
            .cheaper,
            Some(Cheaper {
                min: 2,
                initial: 3,
                step: 2,
                overload: 1,
                algo: CheaperAlgo::Spare,
            })
        );
        // cheaper >= processes: an error naming the option and its line.
        let e = with(&[("cheaper", "4")]).unwrap_err().to_string();
        assert!(
            e.contains("/x.ini:4")
                && e.contains("`cheaper`")
                && e.contains("lower than `processes` (4)"),
            "{e}"
        );
        let e = with(&[("cheaper", "1"), ("cheaper-initial", "5")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/x.ini:5") && e.contains("`cheaper-initial`"),
            "{e}"
        );
        // backlog on UNIX sockets only: an error naming the option and its line.
        let e = with(&[("cheaper", "1"), ("cheaper-algo", "backlog")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/x.ini:5") && e.contains("`cheaper-algo`") && e.contains("TCP"),
            "{e}"
        );
        let e = with(&[("cheaper-algo", "busyness")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`cheaper-algo`") && e.contains("backlog"), "{e}");
        let c = resolve(&raw(&[
            ("module", "a"),
            ("socket", "127.0.0.1:3031"),
            ("processes", "4"),
            ("cheaper", "1"),
            ("cheaper-algo", "backlog"),
        ]))
        .unwrap();
        assert_eq!(c.cheaper.unwrap().algo, CheaperAlgo::Backlog);
        assert!(with(&[("cheaper-step", "0")]).is_err());
        assert!(with(&[("cheaper-overload", "0")]).is_err());
    }

    #[test]
    fn recycling_options_and_signals() {
        let c = resolve(&raw(&[
            ("module", "a"),
            ("socket", "/s"),
            ("harakiri", "2"),
            ("harakiri-graceful-timeout", "3"),
            ("harakiri-graceful-signal", "SIGUSR1"),
            ("max-worker-lifetime", "60"),
            ("reload-on-rss", "256"),
        ]))
        .unwrap();
        assert_eq!(c.harakiri, Some(2));
        assert_eq!(c.harakiri_graceful_timeout, Some(3));
        assert_eq!(c.harakiri_graceful_signal, libc::SIGUSR1);
        assert_eq!(c.max_worker_lifetime, Some(60));
        assert_eq!(c.reload_on_rss, Some(256));
        assert_eq!(parse_signal("term"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("SIGNOPE"), None);
        let e = resolve(&raw(&[
            ("module", "a"),
            ("socket", "/s"),
            ("harakiri-graceful-signal", "SIGNOPE"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/x.ini:3") && e.contains("harakiri-graceful-signal"),
            "{e}"
        );
    }

    #[test]
    fn processes_auto() {
        const MIB: u64 = 1024 * 1024;
        // CPU-bound: 2 CPUs, plenty of memory -> 5.
        assert_eq!(auto_processes(2, 64 * 1024 * MIB), 5);
        // Memory-bound: 16 CPUs, 512 MiB available -> 4 workers of 128 MiB.
        assert_eq!(auto_processes(16, 512 * MIB), 4);
        // Never below 1.
        assert_eq!(auto_processes(0, 0), 1);
        for v in ["auto", "AUTO"] {
            let c = resolve(&raw(&[("module", "a"), ("socket", "/s"), ("workers", v)])).unwrap();
            assert!((1..=1024).contains(&c.processes), "{}", c.processes);
            assert!(c.processes_auto.as_deref().unwrap().contains("CPUs"));
        }
        let e = resolve(&raw(&[
            ("module", "a"),
            ("socket", "/s"),
            ("processes", "many"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("/x.ini:3") && e.contains("auto"), "{e}");
    }
}
