//! Raw serde layer: mirrors `packaging/*.toml` and `distros/*.toml` exactly.
//! `deny_unknown_fields` everywhere, no defaults, no I/O: `resolve` does the rest.
//! Fields whose value is validated later keep their span (`Spanned`) so that a
//! validation error can name the line.

use serde::Deserialize;
use serde_spanned::Spanned;
use std::collections::BTreeMap;

/// One package definition (`packaging/NAME.toml`): either a server package with
/// `[build]` or an app instance with `[instance]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefinition {
    pub package: RawPackage,
    pub build: Option<RawBuild>,
    pub instance: Option<RawInstance>,
    /// Extra dependencies per family name (`debian = ["foo (>= 1)"]`).
    pub depends: Option<BTreeMap<String, Vec<String>>>,
}

/// `[package]`: metadata shared by both formats.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackage {
    pub name: Spanned<String>,
    pub version: Spanned<String>,
    pub revision: Option<Spanned<u32>>,
    pub summary: String,
    pub description: String,
    pub license: Option<String>,
    pub maintainer: Option<String>,
    pub homepage: Option<String>,
    /// Debian section.
    pub section: Option<String>,
    /// RPM group.
    pub group: Option<String>,
    /// Changelog text of this revision (one entry; reproducible date = SOURCE_DATE_EPOCH).
    pub changelog: Option<String>,
    /// Header comment of every generated file; `{definition}`, `{template}`,
    /// `{package}` are replaced.
    pub comment: Option<String>,
}

/// `[build]`: the step that produces the artifacts of a server package.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    pub command: Vec<String>,
    pub env: Option<BTreeMap<String, String>>,
    /// Relative to the project root; given to the step as CARGO_TARGET_DIR.
    pub target_dir: Option<String>,
    /// Remap the project root and CARGO_HOME out of the binaries (default true).
    pub remap_paths: Option<bool>,
    pub artifact: Vec<RawArtifact>,
    /// Man pages rendered from a template: `[[build.manpage]]`.
    pub manpage: Option<Vec<RawManpage>>,
}

/// `[[build.artifact]]`: one file the build step produces.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArtifact {
    /// Relative to the target dir.
    pub source: Spanned<String>,
    pub dest: Spanned<String>,
    /// Octal string, e.g. "0755".
    pub mode: Spanned<String>,
}

/// `[[build.manpage]]`: a man page rendered from a template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManpage {
    pub template: Spanned<String>,
    /// e.g. "/usr/share/man/man1/wsgid.1" (compressed with gzip on install).
    pub dest: Spanned<String>,
}

/// `[instance]`: one WSGI app instance (the seed's `uwsgi_instances` entry).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    pub backends: Option<Vec<Spanned<String>>>,
    pub title: Option<String>,
    pub user: Option<Spanned<String>>,
    pub home: Option<String>,
    pub socket_group: Option<Spanned<String>>,
    pub venv: Option<String>,
    pub module: Spanned<String>,
    pub chdir: Option<String>,
    pub pythonpath: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub harakiri: Option<Spanned<u32>>,
    pub socket_timeout: Option<u32>,
    pub listen_backlog: Option<u32>,
    pub workers: Option<RawWorkers>,
    pub read_write_paths: Option<Vec<String>>,
    pub connection: Option<RawConnection>,
    pub nginx: Option<RawNginx>,
    /// Extra ini lines, verbatim `key = value` pairs, sorted by key.
    pub ini_extra: Option<BTreeMap<String, String>>,
}

/// `[instance.workers]`: dynamic worker count (uWSGI `cheaper` .. `processes`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkers {
    pub min: Option<Spanned<u32>>,
    pub max: Option<Spanned<u32>>,
}

/// `[instance.connection]`: how nginx (or a client) reaches the instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnection {
    /// "unix" (default), "uwsgi" (uwsgi protocol over TCP) or "https".
    pub method: Option<Spanned<String>>,
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
}

/// `[instance.nginx]`: the shipped, not enabled, site snippet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNginx {
    pub server_name: Option<String>,
    pub listen: Option<u16>,
    pub client_max_body_size: Option<String>,
    /// Extra seconds on top of harakiri for `uwsgi_read_timeout`.
    pub read_timeout_margin: Option<u32>,
}

/// One OS family (`distros/NAME.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFamily {
    pub name: Spanned<String>,
    pub format: Spanned<String>,
    pub build_by_default: bool,
    pub release_suffix: String,
    pub os_release_ids: Vec<String>,
    pub paths: RawFamilyPaths,
    pub accounts: RawAccounts,
    pub services: RawServices,
    pub privilege_drop: RawPrivilegeDrop,
    pub python: RawPython,
    pub config_files: RawConfigFiles,
    pub archive: RawArchive,
    pub backend: BTreeMap<String, RawFamilyBackend>,
}

/// `[archive]`: payload compression, `ALGORITHM:LEVEL`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArchive {
    pub compression: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFamilyPaths {
    pub unit_dir: String,
    pub sysusers_dir: String,
    pub preset_dir: Option<String>,
    pub nginx_site_dir: String,
    /// File name of the snippet; `{instance}` is replaced.
    pub nginx_site_name: String,
    pub nologin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccounts {
    /// "adduser" or "shadow".
    pub tool: Spanned<String>,
    pub web_user: String,
    /// Users probed, in order, when the web user is not the family's default.
    pub web_user_candidates: Vec<String>,
    /// Dependencies the account handling needs.
    pub requires: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServices {
    /// "debhelper" (enable on install) or "preset" (vendor preset file).
    pub enable: Spanned<String>,
    pub preset_priority: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivilegeDrop {
    pub primary: String,
    pub fallback: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPython {
    pub interpreter: String,
    /// Set `Environment=WSGID_PYTHON=` in wsgid units without a venv.
    pub set_wsgid_python: bool,
    pub requires: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfigFiles {
    /// Suffix dpkg/rpm give the packaged version when the local one was edited.
    pub new_suffix: String,
    pub saved_suffix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFamilyBackend {
    pub exec: String,
    pub requires: Vec<String>,
}
