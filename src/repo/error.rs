//! Errors of repository publishing. Each names the file (and field) at fault so the
//! message says what to fix; a publish that fails leaves the published tree unchanged.

use std::path::PathBuf;

/// Everything that can go wrong while publishing a repository or signing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// A file or directory could not be read, written or renamed.
    /// (The cause is in the message, not a `source()`, so `{:#}` prints it once.)
    #[error("{path}: {action}: {cause}")]
    Io {
        path: PathBuf,
        action: &'static str,
        cause: std::io::Error,
    },
    /// A package file is not a valid package (bad archive, missing control data).
    #[error("{path}: not a valid package: {reason}")]
    BadPackage { path: PathBuf, reason: String },
    /// The same name/version/architecture is already published with other content.
    #[error(
        "{path}: {name} {version} ({arch}) is already published with other content \
         (published sha256 {published}, new sha256 {new}); bump the version"
    )]
    Conflict {
        path: PathBuf,
        name: String,
        version: String,
        arch: String,
        published: String,
        new: String,
    },
    /// The signing key file is missing, unreadable or not an OpenPGP secret key.
    #[error("{path}: signing key: {reason}")]
    Key { path: PathBuf, reason: String },
    /// The passphrase does not unlock the key, or its environment variable is unset.
    #[error("{path}: signing key passphrase: {reason}")]
    Passphrase { path: PathBuf, reason: String },
    /// Creating a signature failed.
    #[error("signing {what}: {reason}")]
    Sign { what: String, reason: String },
    /// Another publish holds the repository lock.
    #[error("{path}: another publish is running (lock held for 5 s)")]
    Locked { path: PathBuf },
    /// A repository option is invalid (suite, component, architecture, keep count).
    #[error("{field}: {reason}")]
    Option { field: &'static str, reason: String },
    /// The private index of the repository is unreadable.
    #[error("{path}:{line}: index: {reason}")]
    Index {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    // rpm-md errors (R2)
    /// An rpm is already signed, by a key other than the repository's.
    #[error(
        "{path}: already signed by another key ({key}); publish the unsigned rpm \
         (rpmsign --delsign) or sign the repository with that key"
    )]
    ForeignSignature { path: PathBuf, key: String },
}

impl RepoError {
    /// An I/O error on `path` while doing `action`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        RepoError::Io {
            path: path.into(),
            action,
            cause: source,
        }
    }
}
