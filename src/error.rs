//! Typed errors of the wsgi-pack library. Every error that comes from a definition
//! names the file, the line and the field, so the message says what to fix.

use std::path::PathBuf;

/// Where in an input file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (definition, distro file or template).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field (dotted TOML key), when known.
    pub field: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong while loading, rendering or building.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A TOML file did not parse or did not match the expected shape (unknown key,
    /// wrong type, missing field).
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    /// A value parsed but is not valid (bad version, bad name, unknown backend...).
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// A file named by a definition does not exist (after the build step).
    #[error("{at}: file {missing} does not exist{hint}")]
    MissingFile {
        at: Location,
        missing: PathBuf,
        hint: String,
    },
    /// A template failed to parse or render.
    #[error("{template}: template error: {message} (used by {definition})")]
    Template {
        template: String,
        definition: PathBuf,
        message: String,
    },
    /// The build step of a definition failed.
    #[error("{at}: build step `{command}` failed: {status}")]
    BuildStep {
        at: Location,
        command: String,
        status: String,
    },
    /// No definition or family matched a selection.
    #[error("{0}")]
    Selection(String),
    /// The .deb writer failed.
    #[error("{package}: .deb writer: {message}")]
    Deb { package: String, message: String },
    /// The .rpm writer failed.
    #[error("{package}: .rpm writer: {message}")]
    Rpm { package: String, message: String },
}

/// Result alias of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

/// Converts a byte offset in `text` into a 1-based line number.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
