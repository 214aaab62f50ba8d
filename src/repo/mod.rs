//! Package repositories: `wsgi-pack publish` adds built packages to an apt repository
//! (`<repo>/apt`) and an rpm-md repository (`<repo>/rpm`), signs their metadata with one
//! OpenPGP key and switches the new metadata in atomically. See ARCHITECTURE.md,
//! "Repositories".

// RepoError::Conflict carries both digests and the NEVRA for a complete message; errors
// are the cold path of a publish, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod apt;
pub mod atomic;
pub mod error;
pub mod index;
pub mod rpmmd;
pub mod sign;

pub use apt::{AptOptions, AptReport};
pub use error::RepoError;
pub use rpmmd::{RpmRepoOptions, RpmReport};
pub use sign::Signer;

use std::path::{Path, PathBuf};

/// Options of one publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Repository root (default `repo/`).
    pub repo: PathBuf,
    /// Secret key file; None publishes unsigned metadata (only for tests of the layout).
    pub key: Option<PathBuf>,
    /// Environment variable holding the key's passphrase.
    pub passphrase_env: Option<String>,
    /// apt options (suite, component, retention).
    pub apt: AptOptions,
    /// Versions kept per package (both repositories).
    pub keep_versions: usize,
    /// Metadata generations kept (both repositories).
    pub keep_generations: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            repo: PathBuf::from("repo"),
            key: None,
            passphrase_env: None,
            apt: AptOptions {
                suite: "stable".into(),
                codename: None,
                component: "main".into(),
                architectures: vec!["amd64".into()],
                origin: "wsgi-pack".into(),
                label: "wsgi-pack".into(),
                keep_versions: 3,
                keep_generations: 5,
            },
            keep_versions: 3,
            keep_generations: 5,
        }
    }
}

/// What a publish did.
#[derive(Debug)]
pub struct PublishReport {
    /// The apt side.
    pub apt: AptReport,
    /// The rpm-md side.
    pub rpm: RpmReport,
}

/// Package files (`*.deb`, `*.rpm`) in `dist` (a directory, not recursive) or `dist`
/// itself when it is a file.
pub fn collect_packages(dist: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), RepoError> {
    let mut files = Vec::new();
    let meta = std::fs::metadata(dist).map_err(|e| RepoError::io(dist, "reading", e))?;
    if meta.is_file() {
        files.push(dist.to_path_buf());
    } else {
        for entry in std::fs::read_dir(dist).map_err(|e| RepoError::io(dist, "listing", e))? {
            let entry = entry.map_err(|e| RepoError::io(dist, "listing", e))?;
            files.push(entry.path());
        }
    }
    files.sort();
    let debs = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .cloned()
        .collect();
    let rpms = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .cloned()
        .collect();
    Ok((debs, rpms))
}

/// An exclusive lock on `<repo>/.wsgi-pack/lock` (flock), released on drop.
pub struct Lock {
    _file: std::fs::File,
}

impl Lock {
    /// How long a publish waits for another one to finish before it gives up. Not zero:
    /// a child that another thread of this process forked (and that has not exec'ed yet)
    /// briefly shares the lock's open file, so a publish right after the previous one
    /// could find the lock still held for a moment (seen under load in tests/repo_mirror.rs).
    pub const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

    /// Takes the publish lock of `repo`, waiting at most [`Lock::WAIT`] if another
    /// publish holds it.
    pub fn take(repo: &Path) -> Result<Lock, RepoError> {
        use std::os::fd::AsRawFd;
        let state = repo.join(".wsgi-pack");
        std::fs::create_dir_all(&state).map_err(|e| RepoError::io(&state, "creating", e))?;
        let path = state.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| RepoError::io(&path, "opening", e))?;
        let deadline = std::time::Instant::now() + Self::WAIT;
        loop {
            // SAFETY: flock on a file descriptor we own; no memory is involved.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(RepoError::io(&path, "locking", err));
            }
            if std::time::Instant::now() >= deadline {
                return Err(RepoError::Locked { path });
            }
            // flock has no timeout: poll (a publish takes seconds at most).
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Publishes `packages` (.deb and .rpm files) into the repositories under `opts.repo`.
/// The key is loaded (and its passphrase tried) and every package read before anything
/// is written; a failure leaves the published tree unchanged.
pub fn publish(packages: &[PathBuf], opts: &PublishOptions) -> Result<PublishReport, RepoError> {
    let signer = match &opts.key {
        Some(key) => Some(Signer::from_file(key, opts.passphrase_env.as_deref())?),
        None => None,
    };
    let _lock = Lock::take(&opts.repo)?;
    let debs: Vec<PathBuf> = packages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .cloned()
        .collect();
    let rpms: Vec<PathBuf> = packages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .cloned()
        .collect();
    let state = opts.repo.join(".wsgi-pack");
    let mut apt_opts = opts.apt.clone();
    apt_opts.keep_versions = opts.keep_versions;
    apt_opts.keep_generations = opts.keep_generations;
    // A side without new packages is left alone (no new generation for mirrors to fetch).
    // Order: the apt side is checked (nothing written), then the rpm-md side is checked
    // and published, then the apt side is written: bad input on either side leaves both
    // repositories unchanged, and no package is read twice.
    let apt_plan = if debs.is_empty() {
        None
    } else {
        Some(apt::prepare(
            &opts.repo.join("apt"),
            &state,
            &debs,
            &apt_opts,
        )?)
    };
    let rpm = if rpms.is_empty() {
        RpmReport::default()
    } else {
        rpmmd::publish(
            &opts.repo.join("rpm"),
            &rpms,
            signer.as_ref(),
            &RpmRepoOptions {
                keep_versions: opts.keep_versions,
                keep_generations: opts.keep_generations,
            },
        )?
    };
    let apt = match apt_plan {
        Some(plan) => plan.commit(signer.as_ref())?,
        None => AptReport::default(),
    };
    if let Some(signer) = &signer {
        let key_path = opts.repo.join("wsgi-pack.asc");
        let armored = signer.public_key_armored()?;
        if std::fs::read_to_string(&key_path).ok().as_deref() != Some(armored.as_str()) {
            index::write_atomic(&key_path, armored.as_bytes())?;
        }
    }
    Ok(PublishReport { apt, rpm })
}
