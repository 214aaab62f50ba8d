//! The resolved model every renderer and builder sees: `raw` (serde, file-shaped)
//! -> `resolve` (defaults, validation, spans -> lines) -> these types.

pub mod raw;
pub mod resolve;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use resolve::{load_definition, load_family};

/// Package format of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Deb,
    Rpm,
}

impl Format {
    /// File extension of the package.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
        }
    }
}

/// Server backend of an instance (a closed set: an unknown name is an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Our Rust server, `/usr/bin/wsgid`.
    Wsgid,
    /// The distribution's uWSGI with its python3 plugin.
    Uwsgi,
    /// gunicorn (HTTP only): the virtualenv's own `bin/gunicorn` when the instance
    /// has a virtualenv, else the family's; configured by a generated Python file.
    Gunicorn,
}

impl Backend {
    /// Every backend, in a fixed order.
    pub const ALL: [Backend; 3] = [Backend::Wsgid, Backend::Uwsgi, Backend::Gunicorn];

    /// The name used in package names and definitions.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Wsgid => "wsgid",
            Backend::Uwsgi => "uwsgi",
            Backend::Gunicorn => "gunicorn",
        }
    }

    /// Parses a definition's backend name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s)
    }

    /// systemd `KillSignal=`: both stop gracefully-but-now on SIGQUIT. uWSGI 2.0
    /// treats SIGTERM as "brutal reload" (not stop) unless `die-on-term`; SIGQUIT is
    /// its shutdown (src: uWSGI docs "Managing the uWSGI server", signals table;
    /// GNU Health 5.0 `etc/gnuhealth.service` uses `KillSignal=SIGQUIT`). gunicorn's
    /// graceful stop is SIGTERM; its SIGQUIT is the quick one (src: gunicorn docs
    /// "Signal Handling", master process).
    pub fn kill_signal(self) -> &'static str {
        match self {
            Backend::Wsgid | Backend::Uwsgi => "SIGQUIT",
            Backend::Gunicorn => "SIGTERM",
        }
    }

    /// systemd `NotifyAccess=`: uWSGI notifies from the master but GNU Health's unit
    /// uses `all`; wsgid and gunicorn (its arbiter) notify from the main process.
    pub fn notify_access(self) -> &'static str {
        match self {
            Backend::Wsgid | Backend::Gunicorn => "main",
            Backend::Uwsgi => "all",
        }
    }

    /// uWSGI needs `plugins = python3` (Debian/SUSE/EPEL build Python as a plugin).
    pub fn ini_plugin(self) -> Option<&'static str> {
        match self {
            Backend::Wsgid | Backend::Gunicorn => None,
            Backend::Uwsgi => Some("python3"),
        }
    }

    /// Whether the backend reads the instance ini (uWSGI format); gunicorn reads a
    /// generated Python settings file instead.
    pub fn reads_ini(self) -> bool {
        !matches!(self, Backend::Gunicorn)
    }

    /// Whether the backend speaks the uwsgi protocol (nginx `uwsgi_pass`); gunicorn
    /// speaks HTTP only (nginx `proxy_pass`).
    pub fn speaks_uwsgi(self) -> bool {
        !matches!(self, Backend::Gunicorn)
    }

    /// Whether the backend has `--check-config` to run in postinst/%post. gunicorn's
    /// `--check-config` imports the application, which at install time is often not
    /// configured yet (trytond without its database config): not run.
    pub fn check_config(self) -> bool {
        matches!(self, Backend::Wsgid)
    }
}

/// How the instance is reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Connection {
    /// UNIX socket in the runtime directory, mode 0660, group = socket group.
    Unix { path: String },
    /// uwsgi protocol over TCP.
    Uwsgi {
        bind: String,
        port: u16,
        /// `bind:port`, an IPv6 address in brackets (`[::1]:3031`).
        address: String,
    },
    /// HTTPS served by the backend itself.
    Https {
        bind: String,
        port: u16,
        /// `bind:port`, an IPv6 address in brackets.
        address: String,
        cert: String,
        key: String,
    },
}

/// Package metadata common to all definitions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackageMeta {
    pub name: String,
    pub version: String,
    pub revision: u32,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub maintainer: String,
    pub homepage: Option<String>,
    pub section: String,
    pub group: String,
    pub changelog: String,
    pub comment: String,
}

/// An artifact of the build step.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Artifact {
    pub source: PathBuf,
    pub source_line: usize,
    pub dest: String,
    pub mode: u32,
}

/// A man page rendered from a template.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Manpage {
    pub template: String,
    pub dest: String,
}

/// The build step of a server package.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuildStep {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub target_dir: PathBuf,
    pub remap_paths: bool,
    pub artifacts: Vec<Artifact>,
    pub manpages: Vec<Manpage>,
    pub line: usize,
}

/// Nginx snippet settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Nginx {
    pub server_name: String,
    pub listen: u16,
    pub client_max_body_size: String,
    pub read_timeout: u32,
}

/// A resolved app instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    pub name: String,
    pub title: String,
    pub backends: Vec<Backend>,
    pub user: String,
    pub home: String,
    pub socket_group: String,
    pub venv: Option<String>,
    pub module: String,
    pub chdir: Option<String>,
    pub pythonpath: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub harakiri: u32,
    pub socket_timeout: u32,
    pub listen_backlog: u32,
    pub workers_min: u32,
    pub workers_max: u32,
    pub read_write_paths: Vec<String>,
    pub protect_home: bool,
    pub connection: Connection,
    pub nginx: Nginx,
    pub ini_extra: BTreeMap<String, String>,
    /// `/etc/wsgid/<name>.ini`
    pub ini_path: String,
    /// `/etc/wsgid/<name>.gunicorn.conf.py` (the gunicorn backend's settings)
    pub gunicorn_conf_path: String,
    /// `<name>-wsgi.service`
    pub unit: String,
    /// `<name>-wsgi`
    pub runtime_dir: String,
}

/// What a definition describes.
#[derive(Debug, Clone)]
pub enum Kind {
    Server(BuildStep),
    Instance(Box<Instance>),
}

/// A resolved definition file.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Path relative to the project root (for headers and messages).
    pub path: PathBuf,
    pub meta: PackageMeta,
    pub kind: Kind,
    /// Extra dependencies per family.
    pub depends: BTreeMap<String, Vec<String>>,
}

impl Definition {
    /// The packages this definition yields: `(package name, backend)`.
    pub fn packages(&self) -> Vec<(String, Option<Backend>)> {
        match &self.kind {
            Kind::Server(_) => vec![(self.meta.name.clone(), None)],
            Kind::Instance(i) => i
                .backends
                .iter()
                .map(|b| (format!("{}-{}", i.name, b.name()), Some(*b)))
                .collect(),
        }
    }
}

/// Payload compression of a family's packages (`ALGORITHM:LEVEL` in `[archive]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Compression {
    Xz(u32),
    Gzip(u32),
    Zstd(i32),
}

impl Compression {
    /// Parses `xz:6`, `gzip:1`, `zstd:3`.
    pub fn parse(s: &str) -> Option<Self> {
        let (alg, level) = s.split_once(':')?;
        match alg {
            "xz" => level.parse().ok().filter(|l| *l <= 9).map(Self::Xz),
            "gzip" => level
                .parse()
                .ok()
                .filter(|l| (1..=9).contains(l))
                .map(Self::Gzip),
            "zstd" => level
                .parse()
                .ok()
                .filter(|l| (1..=22).contains(l))
                .map(Self::Zstd),
            _ => None,
        }
    }

    /// Whether `format`'s writer supports it: the deb writer offers xz 0..9 (liblzma)
    /// and gzip 1..9 (parallel gzip); Debian 12's lintian rejects zstd members
    /// (`malformed-deb-archive`); the rpm crate is built with zstd and gzip only (its
    /// xz's liblzma-sys clashes with xz2's lzma-sys: both link "lzma").
    pub fn supported_by(self, format: Format) -> bool {
        match format {
            Format::Deb => matches!(self, Self::Xz(_) | Self::Gzip(_)),
            Format::Rpm => matches!(self, Self::Zstd(_) | Self::Gzip(_)),
        }
    }
}

/// Account tool of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountTool {
    /// Debian's `adduser --system` (Depends: adduser).
    Adduser,
    /// shadow's `groupadd -r`/`useradd -r`/`usermod -a -G`, guarded by `getent`.
    Shadow,
}

/// Service enabling policy of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnablePolicy {
    /// deb-systemd-helper enable on install, restart on upgrade (dh_installsystemd).
    Debhelper,
    /// `systemctl preset` on first install, with a shipped vendor preset file.
    Preset,
}

/// Per-family facts for one backend.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FamilyBackend {
    pub exec: String,
    pub requires: Vec<String>,
}

/// One OS family, loaded from `distros/NAME.toml`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Family {
    pub name: String,
    pub format: Format,
    pub build_by_default: bool,
    pub release_suffix: String,
    pub os_release_ids: Vec<String>,
    pub unit_dir: String,
    pub sysusers_dir: String,
    pub preset_dir: Option<String>,
    pub nginx_site_dir: String,
    pub nginx_site_name: String,
    pub nologin: String,
    pub account_tool: AccountTool,
    pub web_user: String,
    pub web_user_candidates: Vec<String>,
    pub account_requires: Vec<String>,
    pub enable: EnablePolicy,
    pub preset_priority: u32,
    pub privilege_drop: String,
    pub privilege_drop_fallback: String,
    pub python: String,
    pub set_wsgid_python: bool,
    pub python_requires: Vec<String>,
    pub config_new_suffix: String,
    pub config_saved_suffix: String,
    pub compression: Compression,
    pub backends: BTreeMap<String, FamilyBackend>,
    /// The file it came from.
    pub path: PathBuf,
}

impl Family {
    /// Facts for `backend`, if this family supports it.
    pub fn backend(&self, backend: Backend) -> Option<&FamilyBackend> {
        self.backends.get(backend.name())
    }

    /// The nginx snippet path of `instance`.
    pub fn nginx_site_path(&self, instance: &str) -> String {
        format!(
            "{}/{}",
            self.nginx_site_dir,
            self.nginx_site_name.replace("{instance}", instance)
        )
    }

    /// The package architecture name for a binary package on this host, or the
    /// architecture-independent name. Src: Debian Policy §5.6.8 / dpkg-architecture
    /// (amd64, arm64, all); rpm `rpmrc` arch names (x86_64, aarch64, noarch).
    pub fn arch(&self, binary: bool) -> &'static str {
        const ARCHES: &[(&str, &str, &str)] = &[
            // (Rust target_arch, Debian, RPM)
            ("x86_64", "amd64", "x86_64"),
            ("aarch64", "arm64", "aarch64"),
            ("powerpc64", "ppc64el", "ppc64le"),
            ("s390x", "s390x", "s390x"),
        ];
        let host = std::env::consts::ARCH;
        let row = ARCHES.iter().find(|r| r.0 == host);
        match (self.format, binary) {
            (Format::Deb, false) => "all",
            (Format::Rpm, false) => "noarch",
            (Format::Deb, true) => row.map_or("amd64", |r| r.1),
            (Format::Rpm, true) => row.map_or("x86_64", |r| r.2),
        }
    }
}
