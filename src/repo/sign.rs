//! OpenPGP signing of repository metadata (InRelease, Release.gpg, repomd.xml.asc) and
//! of rpm packages, with rPGP (the `pgp` crate, the same copy the `rpm` crate signs with).

use super::RepoError;
use std::path::{Path, PathBuf};

/// An OpenPGP secret key loaded from a file (armored or binary), unlocked with a
/// passphrase taken from an environment variable named by the caller.
pub struct Signer {
    path: PathBuf,
}

impl Signer {
    /// Loads the secret key in `path`; the passphrase (if any) is read from the
    /// environment variable `passphrase_env`.
    pub fn from_file(path: &Path, passphrase_env: Option<&str>) -> Result<Signer, RepoError> {
        let _ = passphrase_env;
        Err(RepoError::Key {
            path: path.to_path_buf(),
            reason: "signing not implemented yet".into(),
        })
    }

    /// A detached, ASCII-armored signature of `data` (Release.gpg, repomd.xml.asc).
    pub fn detached_armored(&self, data: &[u8]) -> Result<String, RepoError> {
        let _ = data;
        Err(self.unimplemented())
    }

    /// `text` wrapped in a cleartext signature (InRelease).
    pub fn cleartext(&self, text: &str) -> Result<String, RepoError> {
        let _ = text;
        Err(self.unimplemented())
    }

    /// The public key, ASCII-armored (repo/wsgi-pack.asc, repomd.xml.key, `key export`).
    pub fn public_key_armored(&self) -> Result<String, RepoError> {
        Err(self.unimplemented())
    }

    /// A signer for `rpm::Package::sign`.
    pub fn rpm_signer(&self) -> Result<rpm::signature::pgp::Signer, RepoError> {
        Err(self.unimplemented())
    }

    fn unimplemented(&self) -> RepoError {
        RepoError::Key {
            path: self.path.clone(),
            reason: "signing not implemented yet".into(),
        }
    }
}
