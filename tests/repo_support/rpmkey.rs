//! Test signing keys for the rpm-md tests: RSA 4096 made by the real `gpg --batch` in a
//! temporary GNUPGHOME, the secret key exported (armored, no passphrase) to a file; the
//! gpg-agent gpg started is stopped before returning. Keys are made once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One generated key: its files live as long as the test binary.
pub struct TestKey {
    /// Armored secret key (input of `Signer::from_file`).
    pub secret: PathBuf,
    /// Armored public key (`rpm --import`).
    pub public: PathBuf,
    /// Fingerprint (upper-case hex).
    pub fingerprint: String,
}

fn gpg(home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(["--batch", "--no-tty", "--quiet"])
        .args(args)
        .output()
        .expect("gpg could not be started (ci/prereqs.sh installs gnupg)");
    assert!(
        out.status.success(),
        "gpg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes an RSA 4096 signing key named `uid` in `dir` (with a private GNUPGHOME).
pub fn make_key(dir: &Path, uid: &str) -> TestKey {
    let home = dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let params = dir.join("key-params");
    std::fs::write(
        &params,
        format!(
            "Key-Type: RSA\nKey-Length: 4096\nKey-Usage: sign\nName-Real: {uid}\n\
             Name-Email: repo@example.invalid\nExpire-Date: 0\n%no-protection\n%commit\n"
        ),
    )
    .unwrap();
    gpg(&home, &["--gen-key", params.to_str().unwrap()]);
    let listing = gpg(&home, &["--with-colons", "--list-secret-keys"]);
    let fingerprint = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("gpg listed no fingerprint")
        .to_owned();
    let secret = dir.join("secret.asc");
    let public = dir.join("public.asc");
    let s = gpg(&home, &["--armor", "--export-secret-keys", &fingerprint]);
    std::fs::write(&secret, &s.stdout).unwrap();
    let p = gpg(&home, &["--armor", "--export", &fingerprint]);
    std::fs::write(&public, &p.stdout).unwrap();
    // gpg started an agent for this home: stop it.
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "all"])
        .status();
    TestKey {
        secret,
        public,
        fingerprint,
    }
}

/// The repository key of this test binary (made on first use).
pub fn repo_key() -> &'static TestKey {
    static KEY: OnceLock<(tempfile::TempDir, TestKey)> = OnceLock::new();
    &KEY.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let key = make_key(dir.path(), "wsgi-pack test repository");
        (dir, key)
    })
    .1
}

/// A second, unrelated key (an rpm signed by it must be refused).
pub fn other_key() -> &'static TestKey {
    static KEY: OnceLock<(tempfile::TempDir, TestKey)> = OnceLock::new();
    &KEY.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let key = make_key(dir.path(), "someone else");
        (dir, key)
    })
    .1
}
