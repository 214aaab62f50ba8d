//! wsgi-pack: builds native .deb and .rpm packages for wsgid and its WSGI app
//! instances from declarative TOML (`packaging/`, `distros/`) and tera templates
//! (`templates/`). Data flow: raw TOML -> `model::resolve` -> `render::plan`
//! (one `PackagePlan` per package and family) -> `deb::write` / `rpm::write`.

pub mod content;
pub mod deb;
pub mod epoch;
pub mod error;
pub mod listener;
pub mod model;
pub mod packager;
pub mod project;
pub mod render;
pub mod repo;
pub mod rpm;

pub use error::{Error, Result};
pub use listener::{Event, Listener, Silent};
pub use packager::{Packager, packager};
pub use project::{BuildOptions, Project};
