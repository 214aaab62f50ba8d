//! The apt repository made by `wsgi-pack publish`, checked by the real tools: apt in the
//! Debian 12 and Debian 13 install-test roots (signature checking on, `signed-by=` the
//! exported key; Debian 13's apt verifies with sqv), apt-ftparchive's Packages fields,
//! bad input that must leave the published tree unchanged, and incremental publishing
//! with retention and kept by-hash files.

#[path = "install_support/mod.rs"]
mod install_support;
mod repo_support;

use repo_support::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The .deb files of a dist directory.
fn debs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .deb in {}", dir.display());
    v
}

/// `wsgi-pack publish` of `files` into `repo`, signed with the test key.
fn publish(repo: &Path, files: &[PathBuf], extra: &[&str]) -> (bool, String) {
    let key = apt_key();
    let mut args: Vec<String> = vec![
        "publish".into(),
        "--repo".into(),
        repo.display().to_string(),
        "--key".into(),
        key.secret.display().to_string(),
        "--passphrase-env".into(),
        PASSPHRASE_ENV.into(),
    ];
    for f in files {
        args.push("--dist".into());
        args.push(f.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    wsgi_pack(&refs)
}

fn publish_ok(repo: &Path, files: &[PathBuf], extra: &[&str]) -> String {
    let (ok, out) = publish(repo, files, extra);
    assert!(ok, "publish failed:\n{out}");
    out
}

/// Parses a Packages file into Package/Version -> fields.
fn parse_packages(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
        let mut fields = BTreeMap::new();
        let mut last = String::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                let v: &mut String = fields.get_mut(&last).unwrap();
                v.push('\n');
                v.push_str(line);
            } else if let Some((k, v)) = line.split_once(':') {
                last = k.to_string();
                fields.insert(last.clone(), v.trim().to_string());
            }
        }
        let key = format!("{} {}", fields["Package"], fields["Version"]);
        out.insert(key, fields);
    }
    out
}

fn dpkg_version(root: &Root, package: &str) -> String {
    let (ok, out) = root.run(&["dpkg-query", "-W", "-f=${Version}", package]);
    assert!(ok, "dpkg-query {package}: {out}");
    out.trim().to_string()
}

/// apt in a root: update, install, upgrade to a newer publish, and a tampered Packages
/// file rejected.
fn apt_cycle(root_name: &str) {
    let v1 = debs(&install_support::v1());
    let v2 = debs(&install_support::v2());
    let root = Root::copy(root_name);
    let repo = root.join("/srv/repo");
    publish_ok(&repo, &v1, &[]);
    // The exported key (the file users install) is the one apt trusts.
    let keyring = root.join("/etc/apt/keyrings/wsgi-pack.asc");
    std::fs::create_dir_all(keyring.parent().unwrap()).unwrap();
    let (ok, out) = wsgi_pack(&[
        "key",
        "export",
        "--key",
        apt_key().secret.to_str().unwrap(),
        "--passphrase-env",
        PASSPHRASE_ENV,
        "--out",
        keyring.to_str().unwrap(),
    ]);
    assert!(ok, "key export: {out}");
    assert_eq!(
        std::fs::read(&keyring).unwrap(),
        std::fs::read(repo.join("wsgi-pack.asc")).unwrap(),
        "exported key differs from the published repo/wsgi-pack.asc"
    );
    // Without the passphrase, export reads the public part only: same key.
    let (ok, out) = wsgi_pack(&["key", "export", "--key", apt_key().secret.to_str().unwrap()]);
    assert!(ok, "key export without passphrase: {out}");
    assert_eq!(out.as_bytes(), std::fs::read(&keyring).unwrap());
    // Dependencies from the distribution first (a minbase root has no python3), then
    // only our repository, so every line apt prints below is about it.
    if !root.join("/usr/bin/python3").exists() {
        let (ok, out) = root.run(&["apt-get", "-q", "update"]);
        assert!(ok, "apt-get update (distribution): {out}");
        let (ok, out) = root.run(&[
            "apt-get",
            "-q",
            "-y",
            "-o",
            "Dpkg::Use-Pty=0",
            "install",
            "python3",
            "adduser",
        ]);
        assert!(
            ok,
            "installing python3 and adduser from the distribution: {out}"
        );
    }
    let _ = std::fs::remove_file(root.join("/etc/apt/sources.list"));
    let _ = std::fs::remove_dir_all(root.join("/etc/apt/sources.list.d"));
    std::fs::create_dir_all(root.join("/etc/apt/sources.list.d")).unwrap();
    std::fs::write(
        root.join("/etc/apt/sources.list.d/wsgi-pack.list"),
        "deb [signed-by=/etc/apt/keyrings/wsgi-pack.asc] file:/srv/repo/apt stable main\n",
    )
    .unwrap();
    // Packages.xz first: it is the chunked, concatenated-streams file (see ARCHITECTURE.md).
    let apt = |args: &[&str]| {
        let mut all = vec![
            "apt-get",
            "-q",
            "-y",
            "-o",
            "Dpkg::Use-Pty=0",
            "-o",
            "Acquire::CompressionTypes::Order::=xz",
        ];
        all.extend_from_slice(args);
        root.run(&all)
    };

    let (ok, out) = apt(&["update"]);
    assert!(ok, "apt-get update failed:\n{out}");
    for bad in ["W:", "E:", "NO_PUBKEY", "not signed", "insecure"] {
        assert!(!out.contains(bad), "apt-get update said {bad:?}:\n{out}");
    }
    let (ok, out) = apt(&["install", "wsgid", "gnuhealth-wsgid"]);
    assert!(ok, "apt-get install failed:\n{out}");
    assert_eq!(dpkg_version(&root, "wsgid"), "0.1.0-1");
    assert_eq!(dpkg_version(&root, "gnuhealth-wsgid"), "0.1.0-1");

    // A newer version published later arrives with apt-get upgrade.
    publish_ok(&repo, &v2, &[]);
    let (ok, out) = apt(&["update"]);
    assert!(
        ok && !out.contains("W:"),
        "apt-get update (v2) failed:\n{out}"
    );
    let (ok, out) = apt(&["upgrade"]);
    assert!(ok, "apt-get upgrade failed:\n{out}");
    assert_eq!(dpkg_version(&root, "wsgid"), "0.1.1-1");
    assert_eq!(dpkg_version(&root, "gnuhealth-wsgid"), "0.1.1-1");

    // A tampered Packages file (and its compressed forms) is rejected: apt checks it
    // against the signed InRelease.
    let dir = repo.join("apt/dists/stable/main/binary-amd64");
    let text = std::fs::read_to_string(dir.join("Packages")).unwrap();
    let tampered = text.replacen("Version: 0.1.1-1", "Version: 9.9.9-1", 1);
    assert_ne!(text, tampered);
    // Written in place: the by-hash links (same inode) carry the tampered text too.
    std::fs::write(dir.join("Packages"), &tampered).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, tampered.as_bytes()).unwrap();
    std::fs::write(dir.join("Packages.gz"), gz.finish().unwrap()).unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    std::io::Write::write_all(&mut xz, tampered.as_bytes()).unwrap();
    std::fs::write(dir.join("Packages.xz"), xz.finish().unwrap()).unwrap();
    let (ok, _) = root.run(&["sh", "-c", "rm -rf /var/lib/apt/lists/*"]);
    assert!(ok);
    let (ok, out) = apt(&["update"]);
    assert!(
        !ok && (out.contains("Hash Sum mismatch") || out.contains("unexpected size")),
        "apt-get update accepted a tampered Packages file:\n{out}"
    );

    // A tampered InRelease (signed text changed) is rejected by the signature check.
    let inrelease = repo.join("apt/dists/stable/InRelease");
    let text = std::fs::read_to_string(&inrelease).unwrap();
    std::fs::write(
        &inrelease,
        text.replacen("Label: wsgi-pack", "Label: evil", 1),
    )
    .unwrap();
    let (ok, _) = root.run(&["sh", "-c", "rm -rf /var/lib/apt/lists/*"]);
    assert!(ok);
    let (ok, out) = apt(&["update"]);
    assert!(
        !ok || out.contains("W:") || out.contains("E:"),
        "apt-get update accepted a tampered InRelease:\n{out}"
    );
    assert!(
        out.contains("BADSIG")
            || out.contains("signatures were invalid")
            || out.contains("not signed")
            || out.contains("Bad signature"),
        "apt-get update did not report the bad signature:\n{out}"
    );
}

#[test]
fn debian12_apt_update_install_upgrade_and_tampering() {
    apt_cycle("deb12-serve");
}

#[test]
fn debian13_apt_update_install_upgrade_and_tampering() {
    // Debian 13's apt verifies with sqv (Sequoia) when it is installed, as in this root.
    let root = std::process::Command::new("bash")
        .arg(repo_root().join("ci/roots/root.sh"))
        .args(["ensure", "deb13"])
        .output()
        .unwrap();
    let path = String::from_utf8_lossy(&root.stdout).trim().to_string();
    assert!(
        Path::new(&path).join("usr/bin/sqv").is_file(),
        "no sqv in the Debian 13 root {path}"
    );
    apt_cycle("deb13");
}

/// Packages fields equal apt-ftparchive's for the same pool (apart from order).
#[test]
fn packages_fields_match_apt_ftparchive() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let input = debs(&install_support::v1());
    publish_ok(&repo, &input, &[]);
    let apt_root = repo.join("apt");
    let out = Command::new("apt-ftparchive")
        .args([
            "-o",
            "APT::FTPArchive::SHA1=false",
            "-o",
            "APT::FTPArchive::SHA512=false",
            "packages",
            "pool",
        ])
        .current_dir(&apt_root)
        .output()
        .expect("apt-ftparchive (apt-utils, ci/prereqs.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = parse_packages(&String::from_utf8_lossy(&out.stdout));
    let got = parse_packages(
        &std::fs::read_to_string(apt_root.join("dists/stable/main/binary-amd64/Packages")).unwrap(),
    );
    assert_eq!(want.len(), input.len(), "{want:#?}");
    assert!(
        input.len() >= 7,
        "expected every .deb of dist/, got {input:?}"
    );
    assert_eq!(got, want);
    // Release lists every index with its SHA256 and the by-hash file exists.
    let release = std::fs::read_to_string(apt_root.join("dists/stable/Release")).unwrap();
    assert!(release.contains("Acquire-By-Hash: yes"), "{release}");
    for name in ["Packages", "Packages.gz", "Packages.xz"] {
        let path = apt_root.join("dists/stable/main/binary-amd64").join(name);
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            std::fs::read(&path).unwrap(),
        ));
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(
            release.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f == [
                    sha.as_str(),
                    &size.to_string(),
                    &format!("main/binary-amd64/{name}"),
                ]
            }),
            "{name} ({sha} {size}) not in Release:\n{release}"
        );
        assert!(
            apt_root
                .join("dists/stable/main/binary-amd64/by-hash/SHA256")
                .join(&sha)
                .is_file()
        );
    }
}

/// Corrupt package, conflicting content, missing key, wrong passphrase, concurrent
/// publish: a clear error and the published tree unchanged.
#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let v1 = debs(&install_support::v1());
    publish_ok(&repo, &v1, &[]);
    let before = snapshot(&repo);
    let wsgid = v1
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("wsgid_")
        })
        .unwrap()
        .clone();
    let v2 = debs(&install_support::v2());

    // A truncated .deb (with a new version, so it would otherwise be added).
    let truncated = t.path().join("truncated").join("wsgid_0.1.1-1_amd64.deb");
    std::fs::create_dir_all(truncated.parent().unwrap()).unwrap();
    let data = std::fs::read(
        v2.iter()
            .find(|p| p.to_str().unwrap().contains("/wsgid_"))
            .unwrap(),
    )
    .unwrap();
    std::fs::write(&truncated, &data[..data.len() / 2]).unwrap();
    let (ok, out) = publish(&repo, &[v2[0].clone(), truncated.clone()], &[]);
    assert!(
        !ok && out.contains("not a valid package") && out.contains("truncated"),
        "{out}"
    );
    assert_eq!(snapshot(&repo), before, "tree changed by a corrupt package");

    // Good .debs with a corrupt .rpm: neither side changes (both are checked first).
    let bad_rpm = t.path().join("truncated").join("wsgid-0.1.1-1.x86_64.rpm");
    let rpm_src = install_support::v2().join("wsgid-0.1.1-1.x86_64.rpm");
    let data = std::fs::read(&rpm_src).unwrap();
    std::fs::write(&bad_rpm, &data[..data.len() / 3]).unwrap();
    let mut with_rpm = v2.clone();
    with_rpm.push(bad_rpm);
    let (ok, out) = publish(&repo, &with_rpm, &[]);
    assert!(!ok && out.contains("wsgid-0.1.1-1.x86_64.rpm"), "{out}");
    assert_eq!(snapshot(&repo), before, "tree changed by a corrupt rpm");

    // Same name, version and architecture, other content.
    let x = t.path().join("x");
    let st = Command::new("dpkg-deb")
        .arg("-R")
        .arg(&wsgid)
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::write(x.join("usr/share/doc/wsgid-extra"), "other content\n").unwrap();
    let rebuilt = t.path().join("rebuilt").join("wsgid_0.1.0-1_amd64.deb");
    std::fs::create_dir_all(rebuilt.parent().unwrap()).unwrap();
    let st = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&x)
        .arg(&rebuilt)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (ok, out) = publish(&repo, &[rebuilt], &[]);
    assert!(
        !ok && out.contains("wsgid 0.1.0-1 (amd64) is already published with other content"),
        "{out}"
    );
    assert_eq!(
        snapshot(&repo),
        before,
        "tree changed by a conflicting package"
    );

    // Missing key file.
    let (ok, out) = wsgi_pack(&[
        "publish",
        "--repo",
        repo.to_str().unwrap(),
        "--key",
        "/nonexistent/key.asc",
        "--dist",
        v2[0].to_str().unwrap(),
    ]);
    assert!(
        !ok && out.contains("/nonexistent/key.asc: signing key: file does not exist"),
        "{out}"
    );
    // Not a key.
    let (ok, out) = wsgi_pack(&[
        "publish",
        "--repo",
        repo.to_str().unwrap(),
        "--key",
        wsgid.to_str().unwrap(),
        "--dist",
        v2[0].to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("not an OpenPGP secret key"), "{out}");
    // A weak key (RSA 1024, made by gpg) is refused with the reason.
    let weak = t.path().join("weak");
    std::fs::create_dir_all(&weak).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&weak, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg")
            .env("GNUPGHOME", &weak)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    gpg(&[
        "--quick-gen-key",
        "weak <weak@example.invalid>",
        "rsa1024",
        "sign",
        "never",
    ]);
    let weak_key = t.path().join("weak.asc");
    std::fs::write(&weak_key, gpg(&["--armor", "--export-secret-keys"])).unwrap();
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &weak)
        .args(["--kill", "all"])
        .status();
    let (ok, out) = wsgi_pack(&[
        "publish",
        "--repo",
        repo.to_str().unwrap(),
        "--key",
        weak_key.to_str().unwrap(),
        "--dist",
        v2[0].to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("RSA key of 1024 bits"), "{out}");
    // Wrong passphrase and none.
    for (env, want) in [
        (Some("wrong"), "does not unlock the key"),
        (None, "passphrase-protected"),
    ] {
        let mut cmd = Command::new(bin());
        cmd.args(["publish", "--repo"])
            .arg(&repo)
            .arg("--key")
            .arg(&apt_key().secret)
            .arg("--dist")
            .arg(&v2[0]);
        if let Some(p) = env {
            cmd.env("WRONG_PASS", p)
                .args(["--passphrase-env", "WRONG_PASS"]);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && text.contains(want), "{text}");
    }
    // A publish while another holds the lock.
    let lock = wsgi_pack::repo::Lock::take(&repo).unwrap();
    let (ok, out) = publish(&repo, &v2, &[]);
    assert!(!ok && out.contains("another publish is running"), "{out}");
    drop(lock);
    assert_eq!(snapshot(&repo), before, "tree changed by a refused publish");
    // And the same publish then succeeds.
    publish_ok(&repo, &v2, &[]);
}

/// Adding packages re-reads none of the published ones; retention keeps N versions;
/// old by-hash files stay for mirrors; pool files of retired versions are deleted only
/// after keep-generations publishes.
#[test]
fn incremental_publish_retention_and_kept_by_hash() {
    use wsgi_pack::repo::{PublishOptions, publish as lib_publish};
    let t = tempfile::tempdir().unwrap();
    let mut opts = PublishOptions {
        repo: t.path().join("repo"),
        key: Some(apt_key().secret.clone()),
        passphrase_env: Some(PASSPHRASE_ENV.into()),
        keep_versions: 1,
        keep_generations: 3,
        ..Default::default()
    };
    // SAFETY: tests of this binary read this variable only; set before any thread uses it.
    unsafe { std::env::set_var(PASSPHRASE_ENV, PASSPHRASE) };
    let v1 = debs(&install_support::v1());
    let v2 = debs(&install_support::v2());
    let r1 = lib_publish(&v1, &opts).unwrap();
    assert_eq!(r1.apt.added.len(), v1.len());
    let apt = opts.repo.join("apt");
    let by_hash = |gen_link: &Path| -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(gen_link.join("main/binary-amd64/by-hash/SHA256"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect();
        v.sort();
        v
    };
    let first_hashes = by_hash(&apt.join("dists/stable"));
    assert_eq!(first_hashes.len(), 3);

    let r2 = lib_publish(&v2, &opts).unwrap();
    assert_eq!(r2.apt.added.len(), v2.len());
    assert_eq!(r2.apt.rehashed, 0, "published packages were re-read");
    assert_eq!(r2.apt.retired.len(), v1.len(), "{:?}", r2.apt.retired);
    assert_eq!(r2.apt.total, v2.len());
    let packages =
        std::fs::read_to_string(apt.join("dists/stable/main/binary-amd64/Packages")).unwrap();
    assert!(!packages.contains("Version: 0.1.0-1") && packages.contains("Version: 0.1.1-1"));
    // The first generation's indexes are still reachable by hash.
    let now = by_hash(&apt.join("dists/stable"));
    for h in &first_hashes {
        assert!(
            now.contains(h),
            "by-hash {h} of the previous publish dropped"
        );
    }
    // Retired pool files stay until keep_generations publishes later.
    let old_pool = apt.join("pool/main/w/wsgid/wsgid_0.1.0-1_amd64.deb");
    assert!(old_pool.is_file());
    opts.apt.component = "contrib".into();
    let r3 = lib_publish(&v2[..1], &opts).unwrap();
    assert!(r3.apt.deleted.is_empty());
    let release = std::fs::read_to_string(apt.join("dists/stable/Release")).unwrap();
    assert!(release.contains("Components: contrib main"), "{release}");
    // Publishing what is already there makes no new generation.
    let link = std::fs::read_link(apt.join("dists/stable")).unwrap();
    let same = lib_publish(&v2[..1], &opts).unwrap();
    assert_eq!(same.apt.unchanged, 1);
    assert_eq!(std::fs::read_link(apt.join("dists/stable")).unwrap(), link);
    opts.apt.component = "non-free".into();
    let r4 = lib_publish(&v2[1..2], &opts).unwrap();
    assert!(r4.apt.deleted.is_empty() && old_pool.is_file());
    opts.apt.component = "extra".into();
    let r5 = lib_publish(&v2[2..3], &opts).unwrap();
    assert_eq!(r5.apt.deleted.len(), v1.len(), "{:?}", r5.apt.deleted);
    assert!(!old_pool.exists());
    // Generations beyond keep_generations are pruned.
    let gens = std::fs::read_dir(apt.join("dists"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".stable."))
        .count();
    assert_eq!(gens, 3);
}
