//! Shared helpers of the repository tests (`tests/repo_*.rs`): a passphrase-protected
//! RSA 4096 key made once per test binary by the real `gpg --batch`, the `wsgi-pack`
//! binary, private copies of the install-test roots (chroot, /proc mounted, undone on
//! drop) and a snapshot of a directory tree to prove a failed publish changed nothing.
//! (R2's rpm helpers live beside this file as `rpm*.rs`.)
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The passphrase of the test key and the variable that carries it.
pub const PASSPHRASE: &str = "correct horse battery staple";
pub const PASSPHRASE_ENV: &str = "WSGI_PACK_TEST_PASSPHRASE";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsgi-pack"))
}

/// `wsgi-pack ARGS` with the passphrase variable set; returns (success, stdout+stderr).
pub fn wsgi_pack(args: &[&str]) -> (bool, String) {
    let out = Command::new(bin())
        .env(PASSPHRASE_ENV, PASSPHRASE)
        .args(args)
        .output()
        .expect("wsgi-pack could not be started");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A signing key: armored secret key file (passphrase-protected) and its fingerprint.
pub struct AptKey {
    pub secret: PathBuf,
    pub fingerprint: String,
}

/// The RSA 4096 key of this test binary, made by `gpg --batch` in a private GNUPGHOME
/// (the agent it starts is stopped again).
pub fn apt_key() -> &'static AptKey {
    static KEY: OnceLock<(tempfile::TempDir, AptKey)> = OnceLock::new();
    &KEY.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let home = dir.path().join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let gpg = |args: &[&str]| {
            let out = Command::new("gpg")
                .env("GNUPGHOME", &home)
                .args([
                    "--batch",
                    "--no-tty",
                    "--quiet",
                    "--pinentry-mode",
                    "loopback",
                ])
                .args(["--passphrase", PASSPHRASE])
                .args(args)
                .output()
                .expect("gpg could not be started (ci/prereqs.sh installs gnupg)");
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out
        };
        gpg(&[
            "--quick-gen-key",
            "wsgi-pack apt test <apt@example.invalid>",
            "rsa4096",
            "sign",
            "never",
        ]);
        let listing = gpg(&["--with-colons", "--list-secret-keys"]);
        let fingerprint = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("gpg listed no fingerprint")
            .to_owned();
        let secret = dir.path().join("secret.asc");
        let s = gpg(&["--armor", "--export-secret-keys", &fingerprint]);
        std::fs::write(&secret, &s.stdout).unwrap();
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &home)
            .args(["--kill", "all"])
            .status();
        (
            dir,
            AptKey {
                secret,
                fingerprint,
            },
        )
    })
    .1
}

/// Every entry under `dir` (relative path -> kind and content hash or link target).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(rel, format!("link {:?}", std::fs::read_link(&p).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, "dir".into());
                walk(base, &p, out);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.insert(
                    rel,
                    format!("file {:x}", <md5::Md5 as md5::Digest>::digest(&data)),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A private copy of a cached install-test root (`ci/roots/root.sh copy`), /proc
/// mounted; unmounted and removed on drop.
pub struct Root {
    pub work: tempfile::TempDir,
    pub path: PathBuf,
    proc_mounted: bool,
}

impl Root {
    pub fn copy(name: &str) -> Root {
        let work = tempfile::Builder::new()
            .prefix(&format!("wsgi-pack-repo-{name}."))
            .tempdir_in("/var/tmp")
            .unwrap();
        let path = work.path().join("root");
        let status = Command::new("bash")
            .arg(repo_root().join("ci/roots/root.sh"))
            .args(["copy", name])
            .arg(&path)
            .status()
            .expect("ci/roots/root.sh could not be started");
        assert!(
            status.success(),
            "root {name} could not be made (see above)"
        );
        let mut root = Root {
            work,
            path,
            proc_mounted: false,
        };
        let status = Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(root.path.join("proc"))
            .status()
            .expect("mount");
        assert!(status.success(), "mounting /proc in the root");
        root.proc_mounted = true;
        root
    }

    /// Runs a command in the root (clean environment); returns (success, output).
    pub fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("chroot")
            .arg(&self.path)
            .args([
                "/usr/bin/env",
                "-i",
                "HOME=/root",
                "LANG=C.UTF-8",
                "DEBIAN_FRONTEND=noninteractive",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            .args(args)
            .output()
            .expect("chroot could not be started");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("[{}] $ {}\n{text}", self.path.display(), args.join(" "));
        (out.status.success(), text)
    }

    /// A path inside the root.
    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p.trim_start_matches('/'))
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if self.proc_mounted {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.path.join("proc"))
                .status();
        }
        let _ = Command::new("rm")
            .args(["-rf", "--one-file-system"])
            .arg(self.work.path())
            .status();
    }
}
