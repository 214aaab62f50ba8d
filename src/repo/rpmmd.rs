//! The rpm-md repository (owned by R2; this is R1's compiling stub of the contract).

use super::{RepoError, Signer};
use std::path::{Path, PathBuf};

/// Options of the rpm-md repository.
#[derive(Debug, Clone)]
pub struct RpmRepoOptions {
    /// Versions kept per package name and architecture.
    pub keep_versions: usize,
    /// repodata generations kept.
    pub keep_generations: usize,
}

/// What an rpm-md publish did.
#[derive(Debug, Clone, Default)]
pub struct RpmReport {}

/// Adds `new_rpms` to the rpm-md repository at `rpm_root`.
pub fn publish(
    rpm_root: &Path,
    new_rpms: &[PathBuf],
    signer: Option<&Signer>,
    opts: &RpmRepoOptions,
) -> Result<RpmReport, RepoError> {
    let _ = (rpm_root, new_rpms, signer, opts);
    Ok(RpmReport::default())
}
