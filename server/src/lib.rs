//! wsgid: a WSGI server for uWSGI-style deployments.
//!
//! This crate is pure Rust (no Python): the configuration model ([`config`]), the wire
//! protocol parsers ([`proto`]) and the launcher ([`launcher`]) that picks a python3
//! and runs the server inside it through the `wsgid_py` extension (crate `wsgid-py`).

pub mod config;
pub mod launcher;
pub mod privileges;
pub mod proto;
pub mod relaunch;

/// The version printed by `wsgid --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
