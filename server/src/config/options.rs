//! The option table: every uWSGI option name wsgid accepts, in one place.
//!
//! Names, aliases and defaults follow uWSGI 2.0 (`uwsgi --help`, core/uwsgi.c
//! `uwsgi_base_options`, plugins/python/python_plugin.c). An option that is not in
//! this table is an error ("unknown option"), as with uWSGI's `strict` mode.

/// How an option's value is read and what wsgid does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A boolean (`true`/`1`/`yes`/`on`/`y`, `false`/`0`/`no`/`off`/`n`); on the command
    /// line it takes no separate argument (`--master`, or `--master=false`).
    Flag,
    /// A non-negative integer; the last value wins.
    Int,
    /// A string; the last value wins.
    Str,
    /// A repeatable string (`env`, `socket`, `pythonpath`): every value is kept.
    List,
    /// Accepted; cannot change what wsgid serves (cosmetic or tuning-only). Logged once
    /// as a warning so nobody believes it does something.
    Warn,
    /// Accepted silently: wsgid always behaves as this option asks (`enable-threads`,
    /// `thunder-lock`, `strict`, `plugins`).
    Noop,
    /// A uWSGI option wsgid does not implement yet: using it is an error naming it.
    NotYet,
}

/// One row of the table.
#[derive(Debug)]
pub struct OptSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub doc: &'static str,
}

macro_rules! opt {
    ($name:literal, [$($a:literal),*], $kind:ident, $doc:literal) => {
        OptSpec { name: $name, aliases: &[$($a),*], kind: Kind::$kind, doc: $doc }
    };
}

/// Every option wsgid knows. Keep sorted by area; `lookup` is a linear scan (~80 rows,
/// read once per config line).
pub const OPTIONS: &[OptSpec] = &[
    // sockets
    opt!(
        "socket",
        ["uwsgi-socket", "s"],
        List,
        "bind a uwsgi-protocol socket: /path, host:port, :port, [::]:port"
    ),
    opt!(
        "http-socket",
        [],
        List,
        "bind an HTTP/1.1 socket: host:port or /path"
    ),
    opt!(
        "https-socket",
        [],
        List,
        "bind an HTTP/1.1-over-TLS socket: addr,cert.pem,key.pem[,ciphers] (PEM; rustls)"
    ),
    opt!(
        "https",
        [],
        List,
        "same as https-socket in wsgid (uWSGI: an HTTPS router process in front of the workers)"
    ),
    opt!(
        "chmod-socket",
        [],
        Str,
        "permission bits of UNIX sockets (octal, default 666 when given without value)"
    ),
    opt!(
        "chown-socket",
        [],
        Str,
        "owner of UNIX sockets: user[:group]"
    ),
    opt!("listen", ["l"], Int, "listen(2) backlog (default 100)"),
    opt!(
        "vacuum",
        [],
        Flag,
        "remove UNIX sockets and the pidfile on exit"
    ),
    opt!(
        "socket-timeout",
        ["z"],
        Int,
        "seconds a socket read/write may block (default 4)"
    ),
    opt!(
        "buffer-size",
        ["b"],
        Int,
        "largest request head / uwsgi vars block in bytes (default 4096)"
    ),
    // processes
    opt!(
        "master",
        ["M"],
        Flag,
        "run a master process (wsgid always does)"
    ),
    opt!(
        "processes",
        ["workers", "p"],
        Int,
        "number of worker processes (default 1); `auto`: min(2 x CPUs + 1, available memory / 128 MiB)"
    ),
    opt!("threads", [], Int, "handler threads per worker (default 1)"),
    opt!(
        "lazy-apps",
        [],
        Flag,
        "load the application in each worker after fork"
    ),
    opt!(
        "need-app",
        [],
        Flag,
        "exit if the application cannot be loaded"
    ),
    opt!(
        "die-on-term",
        [],
        Flag,
        "SIGTERM stops wsgid (wsgid always does; see README)"
    ),
    opt!(
        "harakiri",
        ["t"],
        Int,
        "kill a worker whose request runs longer than N seconds"
    ),
    opt!(
        "harakiri-verbose",
        [],
        Noop,
        "log harakiri events verbosely (wsgid always does)"
    ),
    opt!(
        "harakiri-graceful-signal",
        [],
        Str,
        "signal sent first by harakiri when harakiri-graceful-timeout is set (default SIGTERM)"
    ),
    opt!(
        "cheaper",
        [],
        Int,
        "dynamic workers: keep at least N workers (0 = off; must be < processes)"
    ),
    opt!(
        "cheaper-initial",
        [],
        Int,
        "workers started at boot and reload (default: cheaper)"
    ),
    opt!(
        "cheaper-step",
        [],
        Int,
        "workers spawned at once when none is idle (default 1)"
    ),
    opt!(
        "cheaper-overload",
        [],
        Int,
        "seconds per cheaper cycle; idle cycles before stopping a worker (default 3)"
    ),
    opt!(
        "cheaper-algo",
        [],
        Str,
        "cheaper algorithm: `spare` (the default) or `backlog` (TCP listen queue > cheaper-overload)"
    ),
    opt!(
        "max-requests",
        ["R"],
        Int,
        "recycle a worker after N requests"
    ),
    opt!(
        "worker-reload-mercy",
        [],
        Int,
        "seconds a worker may take to stop gracefully (default 60)"
    ),
    opt!(
        "reload-mercy",
        [],
        Int,
        "seconds a graceful stop may take before workers are killed (default 60)"
    ),
    opt!("pidfile", [], Str, "write the master pid to this file"),
    // privileges (dropped after binding, before the app loads; see README)
    opt!(
        "uid",
        [],
        Str,
        "after binding, switch to this user (name or number) when started as root"
    ),
    opt!(
        "gid",
        [],
        Str,
        "after binding, switch to this group (name or number) when started as root"
    ),
    opt!(
        "no-initgroups",
        [],
        Flag,
        "do not take the uid user's supplementary groups (initgroups)"
    ),
    opt!(
        "allow-root",
        [],
        Flag,
        "wsgid only: allow serving as root (no `uid`); without it wsgid refuses"
    ),
    opt!(
        "stats",
        ["stats-server"],
        Str,
        "serve uWSGI-style stats JSON on this address"
    ),
    // application
    opt!(
        "module",
        ["wsgi", "w"],
        Str,
        "Python module of the app: pkg.mod or pkg.mod:callable"
    ),
    opt!(
        "wsgi-file",
        ["file"],
        Str,
        "Python file of the app (module wins when both are set)"
    ),
    opt!(
        "callable",
        [],
        Str,
        "name of the WSGI callable (default application)"
    ),
    opt!("chdir", [], Str, "change directory before loading the app"),
    opt!(
        "pythonpath",
        ["python-path", "pp"],
        List,
        "prepend a directory to sys.path"
    ),
    opt!(
        "home",
        ["virtualenv", "venv", "pyhome", "H"],
        Str,
        "virtualenv: runs <home>/bin/python3"
    ),
    opt!(
        "env",
        [],
        List,
        "set an environment variable NAME=value before Python starts"
    ),
    opt!(
        "enable-threads",
        [],
        Noop,
        "Python threads are always enabled in wsgid"
    ),
    opt!(
        "single-interpreter",
        [],
        Noop,
        "wsgid always uses one interpreter"
    ),
    opt!(
        "py-call-osafterfork",
        [],
        Noop,
        "wsgid forks with os.fork(), so after-fork hooks always run"
    ),
    // logging
    opt!("disable-logging", ["L"], Flag, "no request log lines"),
    opt!(
        "logto",
        [],
        Str,
        "append logs (stdout and stderr) to this file"
    ),
    opt!(
        "log-master",
        [],
        Noop,
        "logs are written directly; no log pipe is needed"
    ),
    // accepted, no effect on serving
    opt!(
        "plugins",
        ["plugin"],
        Noop,
        "uWSGI plugins: wsgid is its own python3 plugin"
    ),
    opt!("strict", [], Noop, "wsgid always rejects unknown options"),
    opt!(
        "thunder-lock",
        [],
        Noop,
        "wsgid uses EPOLLEXCLUSIVE to the same end"
    ),
    opt!(
        "auto-procname",
        [],
        Warn,
        "process titles are not changed by wsgid"
    ),
    opt!(
        "procname-prefix",
        [],
        Warn,
        "process titles are not changed by wsgid"
    ),
    opt!(
        "procname-prefix-spaced",
        [],
        Warn,
        "process titles are not changed by wsgid"
    ),
    opt!(
        "memory-report",
        [],
        Warn,
        "memory figures are not logged by wsgid"
    ),
    opt!(
        "offload-threads",
        [],
        Warn,
        "wsgid sends files with sendfile(2) from the handler thread"
    ),
    opt!(
        "post-buffering",
        [],
        Warn,
        "wsgid streams request bodies; no buffering is needed"
    ),
    opt!(
        "log-date",
        [],
        Warn,
        "request log lines always carry a date"
    ),
    opt!("hook-master-start", [], NotYet, "uWSGI hooks"),
    // not yet implemented: an error naming the option
    opt!(
        "harakiri-graceful-timeout",
        [],
        Int,
        "harakiri sends harakiri-graceful-signal first, SIGKILL after N more seconds"
    ),
    opt!(
        "max-worker-lifetime",
        [],
        Int,
        "recycle a worker gracefully after it ran N seconds"
    ),
    opt!(
        "reload-on-rss",
        [],
        Int,
        "recycle a worker gracefully once its RSS exceeds N MiB"
    ),
    opt!(
        "daemonize",
        ["d"],
        NotYet,
        "wsgid runs in the foreground (systemd)"
    ),
    opt!(
        "attach-daemon",
        [],
        NotYet,
        "external daemons managed by the master"
    ),
    opt!(
        "http",
        [],
        NotYet,
        "uWSGI's HTTP router process; use http-socket"
    ),
    opt!(
        "static-map",
        [],
        NotYet,
        "static files; let nginx serve them"
    ),
    opt!("add-header", [], NotYet, "extra response headers"),
    opt!(
        "manage-script-name",
        [],
        NotYet,
        "SCRIPT_NAME from mountpoints"
    ),
    opt!("mount", [], NotYet, "several apps by mountpoint"),
    opt!("touch-reload", [], NotYet, "reload when a file is touched"),
    opt!("py-autoreload", [], NotYet, "reload on source changes"),
    opt!("limit-post", [], NotYet, "limit request body size"),
    opt!("master-fifo", [], NotYet, "master FIFO commands"),
    opt!(
        "log-format",
        ["logformat"],
        NotYet,
        "custom request log format"
    ),
    opt!("req-logger", [], NotYet, "separate request logger"),
    opt!("logger", [], NotYet, "log plugins"),
    opt!(
        "ini",
        [],
        NotYet,
        "including an ini from an ini (use --ini on the command line)"
    ),
];

/// Finds the row for `name` (canonical name or alias).
pub fn lookup(name: &str) -> Option<&'static OptSpec> {
    OPTIONS
        .iter()
        .find(|o| o.name == name || o.aliases.contains(&name))
}

/// Parses a uWSGI boolean; `None` for anything else.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" | "y" | "on" | "enable" | "enabled" => Some(true),
        "false" | "0" | "no" | "n" | "off" | "disable" | "disabled" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut all: Vec<&str> = Vec::new();
        for o in OPTIONS {
            all.push(o.name);
            all.extend(o.aliases);
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(n, all.len(), "an option name or alias appears twice");
    }

    #[test]
    fn aliases_resolve() {
        assert_eq!(lookup("workers").unwrap().name, "processes");
        assert_eq!(lookup("venv").unwrap().name, "home");
        assert_eq!(lookup("wsgi").unwrap().name, "module");
        assert_eq!(lookup("uwsgi-socket").unwrap().name, "socket");
        assert!(lookup("no-such-thing").is_none());
    }

    #[test]
    fn booleans() {
        for t in ["true", "1", "Yes", "on", ""] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "0", "no", "OFF"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }
}
