//! Package repositories: `wsgi-pack publish` adds built packages to an apt repository
//! (`<repo>/apt`) and an rpm-md repository (`<repo>/rpm`), signs their metadata with one
//! OpenPGP key and switches the new metadata in atomically. See ARCHITECTURE.md,
//! "Repositories".

// RepoError::Conflict carries both digests and the NEVRA for a complete message; errors
// are the cold path of a publish, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod apt;
pub mod atomic;
mod digest;
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
    /// Copy package files into the pool instead of hard-linking them (see
    /// ARCHITECTURE.md, "Pool files: hard links").
    pub copy: bool,
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
                copy: false,
            },
            keep_versions: 3,
            keep_generations: 5,
            copy: false,
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
    let mut span = Span::start();
    let signer = match &opts.key {
        Some(key) => Some(Signer::from_file(key, opts.passphrase_env.as_deref())?),
        None => None,
    };
    span.end("key loaded");
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
    apt_opts.copy = opts.copy;
    // A side without new packages is left alone (no new generation for mirrors to fetch).
    // Order: both sides are read and checked (nothing written; side by side, each on all
    // cores, so neither waits for the other's slowest package), then the rpm-md side is
    // published, then the apt side is written: bad input on either side leaves both
    // repositories unchanged, and no package is read twice.
    let rpm_root = opts.repo.join("rpm");
    let (apt_plan, rpm_prepared) = std::thread::scope(|scope| {
        let rpm = scope.spawn(|| {
            if rpms.is_empty() {
                Ok(None)
            } else {
                rpmmd::prepare_publish(&rpm_root, &rpms, signer.as_ref()).map(Some)
            }
        });
        // The apt side's pool directories are made as soon as its packages are checked,
        // while the rpm-md side may still be reading (they are removed again if anything
        // fails before the apt side is written).
        let apt = if debs.is_empty() {
            Ok(None)
        } else {
            apt::prepare(&opts.repo.join("apt"), &state, &debs, &apt_opts).map(|plan| {
                let dirs = plan.make_pool_dirs();
                Some((plan, dirs))
            })
        };
        let rpm = rpm.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (apt, rpm)
    });
    // The apt side's error first (as when the sides were checked one after the other).
    let (apt_plan, made_dirs) = match apt_plan? {
        Some((plan, dirs)) => (Some(plan), dirs),
        None => (None, Vec::new()),
    };
    // A failure on the rpm side removes the pool directories the apt check made.
    let undo_dirs = |e: RepoError| {
        apt::remove_dirs(&made_dirs);
        e
    };
    let rpm_prepared = rpm_prepared.map_err(undo_dirs)?;
    span.end("apt and rpm-md: packages read and checked");
    let rpm = match rpm_prepared {
        None => Ok(RpmReport::default()),
        Some(prepared) => rpmmd::publish_prepared(
            &rpm_root,
            prepared,
            signer.as_ref(),
            &RpmRepoOptions {
                keep_versions: opts.keep_versions,
                keep_generations: opts.keep_generations,
                copy: opts.copy,
            },
        ),
    };
    let rpm = rpm.map_err(undo_dirs)?;
    span.end("rpm-md: published");
    let apt = match apt_plan {
        Some(plan) => plan.commit(signer.as_ref())?,
        None => AptReport::default(),
    };
    span.end("apt: pool and metadata written");
    if let Some(signer) = &signer {
        let key_path = opts.repo.join("wsgi-pack.asc");
        let armored = signer.public_key_armored()?;
        if std::fs::read_to_string(&key_path).ok().as_deref() != Some(armored.as_str()) {
            index::write_atomic(&key_path, armored.as_bytes())?;
        }
    }
    Ok(PublishReport { apt, rpm })
}

/// Timing spans of a publish, printed to stderr when `WSGI_PACK_TIMINGS` is set (used to
/// profile the phases; off by default).
pub(crate) struct Span {
    on: bool,
    t: std::time::Instant,
}

impl Span {
    pub(crate) fn start() -> Span {
        Span {
            on: std::env::var_os("WSGI_PACK_TIMINGS").is_some(),
            t: std::time::Instant::now(),
        }
    }
    pub(crate) fn end(&mut self, what: &str) {
        if self.on {
            eprintln!("timing: {:>8.3} s  {what}", self.t.elapsed().as_secs_f64());
            self.t = std::time::Instant::now();
        }
    }
}

/// What identifies the contents of a package file as it was checked: a file replaced
/// (other inode) or rewritten (other size or mtime) since then differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileId {
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: index::mtime_ns(meta),
        }
    }
}

/// Puts the package file `src` (identified by `id` when it was checked) at `dest`: a
/// hard link unless `copy` (or the link fails: another file system, a file system
/// without links, a source that is not world-readable), else a copy. Returns whether it
/// linked and the metadata of the placed file. A source that is no longer the file that
/// was checked (replaced or rewritten in between) is an error and leaves nothing at
/// `dest`.
///
/// The common case is two system calls: `link(src, dest)` straight to the new name (a
/// link is atomic by itself: the name appears with the complete file or not at all, and
/// an existing name is never replaced by it) and one `stat` of the result. Anything else
/// (an existing `dest`, a failed link, `copy`) goes through a temporary name in `dest`'s
/// directory and a rename (`place_via_temp`).
pub(crate) fn place_package(
    src: &Path,
    dest: &Path,
    id: FileId,
    copy: bool,
) -> Result<(bool, std::fs::Metadata), RepoError> {
    if !copy {
        let mut linked = std::fs::hard_link(src, dest);
        if linked
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            && let Some(dir) = dest.parent()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, "creating", e))?;
            linked = std::fs::hard_link(src, dest);
        }
        if linked.is_ok() {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dest).map_err(|e| RepoError::io(dest, "reading", e));
            let meta = match meta {
                Ok(m) => m,
                Err(e) => {
                    let _ = std::fs::remove_file(dest);
                    return Err(e);
                }
            };
            if FileId::of(&meta) != id {
                let _ = std::fs::remove_file(dest);
                return Err(changed_while_published(src));
            }
            // The web server and mirrors must be able to read the pool: a link shares
            // the source's mode, so a source that is not world-readable is copied.
            if meta.permissions().mode() & 0o444 == 0o444 {
                return Ok((true, meta));
            }
            let _ = std::fs::remove_file(dest);
            return place_via_temp(src, dest, id, true);
        }
    }
    place_via_temp(src, dest, id, copy)
}

fn changed_while_published(src: &Path) -> RepoError {
    RepoError::io(
        src,
        "publishing",
        std::io::Error::other("the file changed while it was published"),
    )
}

/// `place_package` through a temporary name in `dest`'s directory and a rename.
fn place_via_temp(
    src: &Path,
    dest: &Path,
    id: FileId,
    copy: bool,
) -> Result<(bool, std::fs::Metadata), RepoError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, "creating", e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("pkg"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    // A source that is not world-readable is copied (the copy gets 0644): a link shares
    // the mode, and the web server and mirrors must be able to read the pool.
    let readable = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(src).is_ok_and(|m| m.permissions().mode() & 0o444 == 0o444)
    };
    let linked = !copy && readable && std::fs::hard_link(src, &tmp).is_ok();
    if !linked {
        use std::os::unix::fs::PermissionsExt;
        std::fs::copy(src, &tmp).map_err(|e| RepoError::io(&tmp, "copying", e))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| RepoError::io(&tmp, "setting the mode of", e))?;
    }
    // The link is the checked file (same inode, size, mtime); the copy's source still is.
    let now = std::fs::metadata(if linked { &tmp } else { src })
        .map(|m| FileId::of(&m))
        .map_err(|e| RepoError::io(src, "reading", e))?;
    let placed = std::fs::metadata(&tmp).map_err(|e| RepoError::io(&tmp, "reading", e))?;
    if now != id || placed.len() != id.size {
        let _ = std::fs::remove_file(&tmp);
        return Err(changed_while_published(src));
    }
    std::fs::rename(&tmp, dest).map_err(|e| RepoError::io(dest, "renaming into place", e))?;
    Ok((linked, placed))
}
