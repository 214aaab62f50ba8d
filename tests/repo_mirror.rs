//! Mirror safety, for real: the main thread mirrors the tree with the documented rsync
//! recipe (ARCHITECTURE.md, "Mirroring") into a mirror directory 10 times and copies the
//! mirror after every pass; each pass starts together with two publishes of new versions
//! (a .deb and an .rpm each) in another thread. Every snapshot must then pass `apt-get update` in the
//! Debian 12 root (signature checking on) and `zypper refresh` with gpgcheck in the
//! openSUSE Leap stand-in root: no snapshot may hold an index newer than its files.

mod repo_support;
#[path = "repo_support/rpmbuild.rs"]
mod rpmbuild;
#[path = "repo_support/rpmkey.rs"]
mod rpmkey;

use repo_support::Root;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wsgi_pack::repo::{PublishOptions, publish};

/// Mirror passes, each followed by a snapshot copy.
const SNAPSHOTS: usize = 10;
/// Publishes started with each mirror pass.
const PER_PASS: usize = 2;
const PUBLISHES: usize = 1 + SNAPSHOTS * PER_PASS;

fn sh(cmd: &mut Command) -> (i32, String) {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not be started: {e}"));
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// A tiny Architecture: all .deb of `mirrortest` version `1.0.<i>`.
fn build_deb(out: &Path, i: usize) -> PathBuf {
    let tree = out.join(format!("deb-{i}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/share/mirrortest")).unwrap();
    std::fs::write(tree.join("usr/share/mirrortest/version"), format!("{i}\n")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: mirrortest\nVersion: 1.0.{i}\nArchitecture: all\n\
             Maintainer: Tester <tester@example.invalid>\nSection: misc\nPriority: optional\n\
             Description: mirror test package\n one version per publish\n"
        ),
    )
    .unwrap();
    let deb = out.join(format!("mirrortest_1.0.{i}_all.deb"));
    let (rc, text) = sh(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&tree)
        .arg(&deb));
    assert_eq!(rc, 0, "dpkg-deb: {text}");
    deb
}

fn build_rpm(out: &Path, i: usize) -> PathBuf {
    rpmbuild::build_rpm(
        &out.join(format!("rpm-{i}")),
        &format!(
            "Name: mirrortest\nVersion: 1.0.{i}\nRelease: 1\nSummary: mirror test package\n\
             License: MIT\nBuildArch: noarch\n%description\none version per publish\n\
             %install\nmkdir -p %{{buildroot}}/usr/share/mirrortest\n\
             echo {i} > %{{buildroot}}/usr/share/mirrortest/version\n\
             %files\n/usr/share/mirrortest/version\n"
        ),
    )
}

/// The mirror recipe of ARCHITECTURE.md ("Mirroring"): stage 1 copies everything
/// except the two index symlinks (`apt/dists/<codename>`, `rpm/repodata`), i.e. pool,
/// Packages and all metadata generations, and deletes nothing; stage 2 copies the index
/// symlinks (and any generation that appeared meanwhile) and deletes what the source
/// dropped. Exit status 24 (a generation was pruned while being copied) means: run the
/// recipe again. Returns the number of passes.
fn mirror(src: &Path, dst: &Path) -> usize {
    std::fs::create_dir_all(dst).unwrap();
    for pass in 1..=5 {
        let (rc1, t1) = sh(Command::new("rsync")
            .args([
                "-a",
                "--exclude=/.wsgi-pack",
                "--exclude=/apt/dists/[!.]*",
                "--exclude=/rpm/repodata",
            ])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())));
        let (rc2, t2) = sh(Command::new("rsync")
            .args(["-a", "--delete-after", "--exclude=/.wsgi-pack"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())));
        match (rc1, rc2) {
            (0, 0) => return pass,
            (0 | 24, 0 | 24) => println!("mirror pass {pass}: files vanished, again"),
            _ => panic!("rsync failed: stage 1 {rc1}: {t1}\nstage 2 {rc2}: {t2}"),
        }
    }
    panic!("the mirror recipe did not converge in 5 passes");
}

#[test]
fn rsync_snapshots_taken_during_publishes_pass_apt_get_update_and_zypper_refresh() {
    let key = rpmkey::repo_key();
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let pkgs = work.path().join("pkgs");
    let builds: Vec<(PathBuf, PathBuf)> = (0..PUBLISHES)
        .map(|i| (build_deb(&pkgs, i), build_rpm(&pkgs, i)))
        .collect();
    let src = work.path().join("repo");
    let opts = PublishOptions {
        repo: src.clone(),
        key: Some(key.secret.clone()),
        passphrase_env: None,
        keep_versions: 2,
        keep_generations: 3,
        ..PublishOptions::default()
    };
    // The first publish before mirroring starts: the mirror always has a repository.
    publish(&[builds[0].0.clone(), builds[0].1.clone()], &opts).expect("first publish");

    let deb12 = Root::copy("deb12");
    let snaps = deb12.join("/srv/snap");
    let dst = work.path().join("mirror");
    // Lock-step start, free-running inside: before each mirror pass the main thread tells
    // the publisher to publish the next PER_PASS versions, so every pass runs while
    // publishes do (their interleaving with rsync is left to the scheduler).
    let published = Arc::new(AtomicUsize::new(1));
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let publisher = {
        let (published, opts) = (published.clone(), opts.clone());
        let builds = builds.clone();
        std::thread::spawn(move || {
            let mut next = builds.iter().skip(1);
            while go_rx.recv().is_ok() {
                for (deb, rpm) in next.by_ref().take(PER_PASS) {
                    publish(&[deb.clone(), rpm.clone()], &opts).expect("publish during mirroring");
                    published.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut passes = 0;
    let mut overlapped = 0;
    for taken in 0..SNAPSHOTS {
        assert!(Instant::now() < deadline, "mirroring took over 300 s");
        let before = published.load(Ordering::SeqCst);
        go.send(()).expect("publisher thread alive");
        passes += mirror(&src, &dst);
        let after = published.load(Ordering::SeqCst);
        overlapped += usize::from(after > before);
        let snap = snaps.join(taken.to_string());
        std::fs::create_dir_all(&snaps).unwrap();
        let (rc, text) = sh(Command::new("cp").arg("-a").arg(&dst).arg(&snap));
        assert_eq!(rc, 0, "cp: {text}");
        println!("snapshot {taken}: publishes {before} -> {after} during its mirror pass");
    }
    drop(go);
    publisher.join().expect("publisher thread");
    println!(
        "{SNAPSHOTS} snapshots ({overlapped} with a publish finishing during the pass) in {passes} recipe passes"
    );
    assert!(
        overlapped > 0,
        "no publish finished during any mirror pass: the test proved nothing"
    );

    // apt: each snapshot as the only source of a fresh client.
    let keyring = deb12.join("/etc/apt/keyrings/wsgi-pack.asc");
    std::fs::create_dir_all(keyring.parent().unwrap()).unwrap();
    std::fs::copy(&key.public, &keyring).unwrap();
    let _ = std::fs::remove_file(deb12.join("/etc/apt/sources.list"));
    let _ = std::fs::remove_dir_all(deb12.join("/etc/apt/sources.list.d"));
    std::fs::create_dir_all(deb12.join("/etc/apt/sources.list.d")).unwrap();
    let mut versions = Vec::new();
    for k in 0..SNAPSHOTS {
        let _ = std::fs::remove_dir_all(deb12.join("/var/lib/apt/lists"));
        std::fs::create_dir_all(deb12.join("/var/lib/apt/lists/partial")).unwrap();
        std::fs::write(
            deb12.join("/etc/apt/sources.list.d/mirror.list"),
            format!(
                "deb [signed-by=/etc/apt/keyrings/wsgi-pack.asc] file:/srv/snap/{k}/apt stable main\n"
            ),
        )
        .unwrap();
        let (ok, out) = deb12.run(&["apt-get", "-q", "update"]);
        assert!(ok, "snapshot {k}: apt-get update failed:\n{out}");
        for bad in ["W:", "E:", "NO_PUBKEY", "not signed"] {
            assert!(
                !out.contains(bad),
                "snapshot {k}: apt-get update said {bad:?}:\n{out}"
            );
        }
        let (ok, out) = deb12.run(&["apt-cache", "policy", "mirrortest"]);
        assert!(ok && out.contains("Candidate: 1.0."), "snapshot {k}: {out}");
        versions.push(
            out.lines()
                .find(|l| l.contains("Candidate:"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
        );
    }
    println!("apt candidates per snapshot: {versions:?}");

    // zypper (gpgcheck on, key imported) on each snapshot.
    let suse = Root::copy("suse156");
    let (rc, text) = sh(Command::new("rpm")
        .arg("--root")
        .arg(&suse.path)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", "--import"])
        .arg(&key.public));
    assert_eq!(rc, 0, "rpm --import: {text}");
    for k in 0..SNAPSHOTS {
        let url = format!("dir:{}", snaps.join(k.to_string()).join("rpm").display());
        let alias = format!("snap{k}");
        let zyp = |args: &[&str]| {
            sh(Command::new("zypper")
                .arg("--root")
                .arg(&suse.path)
                .args(["--non-interactive", "--no-color"])
                .args(args))
        };
        let (rc, text) = zyp(&["addrepo", "--gpgcheck", &url, &alias]);
        assert_eq!(rc, 0, "addrepo: {text}");
        let (rc, text) = zyp(&["refresh", "--repo", &alias]);
        assert_eq!(rc, 0, "snapshot {k}: zypper refresh failed:\n{text}");
        let (rc, text) = zyp(&["search", "-s", "--repo", &alias, "mirrortest"]);
        assert!(
            rc == 0 && text.contains("mirrortest"),
            "snapshot {k}: {text}"
        );
        let (rc, text) = zyp(&["removerepo", &alias]);
        assert_eq!(rc, 0, "{text}");
    }
}
