//! rpm-md repository (`wsgi_pack::repo::rpmmd::publish`): metadata equal to createrepo_c's
//! on the same rpms, rpm signatures `rpm -K` accepts with the imported key, refused inputs
//! leave the tree unchanged, the index spares unchanged rpms, retention and generations,
//! and a real consumer: zypper (gpgcheck on) installs and updates from the published
//! repository in the openSUSE Leap stand-in root.

mod install_support;
#[path = "repo_support/rpmbuild.rs"]
mod rpmbuild;
#[path = "repo_support/rpmkey.rs"]
mod rpmkey;

use rpmbuild::{build_rpm, feature_spec, normalise, repomd_location};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use wsgi_pack::repo::{RepoError, RpmRepoOptions, Signer, rpmmd};

fn signer() -> Signer {
    Signer::from_file(&rpmkey::repo_key().secret, None).expect("test key loads")
}

fn opts(keep_versions: usize, keep_generations: usize) -> RpmRepoOptions {
    RpmRepoOptions {
        keep_versions,
        keep_generations,
        copy: false,
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Every file, directory and symlink under `dir` with its content hash / target.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if ft.is_dir() {
                out.insert(rel, "dir".into());
                stack.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.insert(
                    rel,
                    format!("{:x}", <md5::Md5 as md5::Digest>::digest(&data)),
                );
            }
        }
    }
    out
}

fn run(cmd: &mut Command) -> (bool, String) {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} could not be started: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let text: String = text
        .lines()
        .filter(|l| !l.contains("use Alien"))
        .map(|l| format!("{l}\n"))
        .collect();
    (o.status.success(), text)
}

fn rpms_in(dir: &Path) -> Vec<PathBuf> {
    rpmbuild::list_rpms(dir)
}

/// The file stand-ins of the install cycle (`ci/install/rpm-standins.sh`): base-standin
/// and nginx, built by rpmbuild for the capabilities of `ours`.
fn standins(out: &Path, ours: &[PathBuf]) -> Vec<PathBuf> {
    let (ok, text) = run(Command::new("bash")
        .arg(install_support::repo().join("ci/install/rpm-standins.sh"))
        .arg(out)
        .args(ours));
    assert!(ok, "rpm-standins.sh failed:\n{text}");
    rpms_in(out)
}

fn assert_same_lines(what: &str, ours: &[String], theirs: &[String]) {
    if ours != theirs {
        panic!(
            "{what} differs from createrepo_c's ({} vs {} packages):\n{}",
            ours.len(),
            theirs.len(),
            rpmbuild::diff(ours, theirs)
        );
    }
}

#[test]
fn metadata_matches_createrepo_c_on_the_same_rpms() {
    let work = tmp();
    let input = work.path().join("in");
    let mut rpms = rpms_in(&install_support::v1());
    rpms.extend(rpms_in(&install_support::v2()));
    rpms.extend(standins(&input.join("standins"), &rpms.clone()));
    rpms.push(build_rpm(
        &input.join("feature"),
        &feature_spec("featurepkg", 3, "Test <package> & \"quotes\""),
    ));
    let repo = work.path().join("repo/rpm");
    let s = signer();
    let report = rpmmd::publish(&repo, &rpms, Some(&s), &opts(0, 3)).unwrap();
    assert_eq!(report.added.len(), rpms.len(), "{report:?}");
    assert_eq!(report.packages, rpms.len());

    // createrepo_c on the very files we published (signed, in Packages/<arch>/).
    let cr = work.path().join("createrepo");
    std::fs::create_dir_all(&cr).unwrap();
    let (ok, text) = run(Command::new("createrepo_c")
        .args(["-q", "--no-database", "--outputdir"])
        .arg(&cr)
        .arg(&repo));
    assert!(ok, "createrepo_c failed:\n{text}");
    let theirs_repo = cr.clone();
    for kind in ["primary", "filelists", "other"] {
        let ours = normalise(&repomd_location(&repo, kind), kind);
        let theirs = normalise(&repomd_location(&theirs_repo, kind), kind);
        assert_eq!(ours.len(), rpms.len(), "{kind}: one entry per rpm");
        assert_same_lines(kind, &ours, &theirs);
        println!(
            "{kind}: {} packages identical to createrepo_c's",
            ours.len()
        );
    }
    // The feature package kept what createrepo_c keeps (not only "both agree").
    let primary = normalise(&repomd_location(&repo, "primary"), "primary");
    let feature = primary
        .iter()
        .find(|l| l.contains("\"name\": \"featurepkg\""))
        .unwrap();
    assert!(
        feature.contains(r#"\"pre\": \"1\""#),
        "pre-requires: {feature}"
    );
    assert!(
        feature.contains("GLIBC_2.14"),
        "highest libc.so.6 kept: {feature}"
    );
    assert!(
        !feature.contains("GLIBC_2.2.5"),
        "lower libc.so.6 dropped: {feature}"
    );
    assert!(
        !feature.contains("rpmlib("),
        "rpmlib() requires dropped: {feature}"
    );
    assert!(
        !feature.contains("/var/lib/feature/state"),
        "ghost outside primary dirs: {feature}"
    );
    assert!(
        feature.contains(r#"["", "/usr/bin/featuretool"]"#),
        "{feature}"
    );
    assert!(
        !feature.contains("/usr/share/feature/data.txt"),
        "primary files only: {feature}"
    );

    // repomd.xml: signature by the repository key, checksums of the data files.
    let rd = repo.join("repodata");
    let repomd = std::fs::read(rd.join("repomd.xml")).unwrap();
    let gnupg = work.path().join("verify-gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    let (ok, text) = run(Command::new("gpgv")
        .arg("--keyring")
        .arg(dearmor(
            &rpmkey::repo_key().public,
            &work.path().join("key.gpg"),
        ))
        .arg(rd.join("repomd.xml.asc"))
        .arg(rd.join("repomd.xml")));
    assert!(ok, "gpgv rejects repomd.xml.asc:\n{text}");
    let repomd = String::from_utf8(repomd).unwrap();
    for kind in ["primary", "filelists", "other"] {
        let f = repomd_location(&repo, kind);
        let data = std::fs::read(&f).unwrap();
        let sha = sha256(&data);
        assert!(f.file_name().unwrap().to_str().unwrap().starts_with(&sha));
        assert!(repomd.contains(&format!("<checksum type=\"sha256\">{sha}</checksum>")));
        assert!(repomd.contains(&format!("<size>{}</size>", data.len())));
    }
    assert!(
        std::fs::read_to_string(rd.join("repomd.xml.key"))
            .unwrap()
            .contains("BEGIN PGP PUBLIC KEY BLOCK")
    );
}

fn sha256(data: &[u8]) -> String {
    let o = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8_lossy(&o.stdout)[..64].to_owned()
}

fn dearmor(asc: &Path, out: &Path) -> PathBuf {
    let (ok, text) = run(Command::new("gpg")
        .args(["--batch", "--yes", "--dearmor", "--output"])
        .arg(out)
        .arg(asc));
    assert!(ok, "gpg --dearmor: {text}");
    out.to_path_buf()
}

fn rpm_k(db: &Path, file: &Path) -> (bool, String) {
    run(Command::new("rpm")
        .arg("--dbpath")
        .arg(db)
        .arg("-K")
        .arg(file))
}

#[test]
fn published_rpms_carry_a_signature_rpm_checks_with_the_imported_key() {
    let work = tmp();
    let rpm = build_rpm(
        &work.path().join("in"),
        &feature_spec("sigpkg", 1, "signed"),
    );
    let repo = work.path().join("repo/rpm");
    rpmmd::publish(
        &repo,
        std::slice::from_ref(&rpm),
        Some(&signer()),
        &opts(3, 3),
    )
    .unwrap();
    let published = repo.join("Packages/noarch/sigpkg-1.2-1.noarch.rpm");
    assert!(published.is_file());
    // Readable by a web server user (and kept so by mirrors): 0644, not a temp file's 0600.
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            published.clone(),
            repo.join("repodata/repomd.xml"),
            repomd_location(&repo, "primary"),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{}", f.display());
        }
    }

    let db = work.path().join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    // Before the import: rpm sees a signature by an unknown key.
    let (ok, text) = rpm_k(&db, &published);
    println!("rpm -K before import: {text}");
    assert!(
        !ok,
        "rpm -K accepted a signature of a key it does not have:\n{text}"
    );
    let (ok, text) = run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        // The key as published (repomd.xml.key, what users import), not gpg's export.
        .arg(repo.join("repodata/repomd.xml.key")));
    assert!(ok, "rpm --import: {text}");
    let (ok, text) = rpm_k(&db, &published);
    println!("rpm -K after import: {text}");
    assert!(ok && text.contains("signatures OK"), "rpm -K:\n{text}");
    // The unsigned input has no signature to check.
    let (_, text) = rpm_k(&db, &rpm);
    assert!(
        !text.contains("signatures OK"),
        "input was unsigned: {text}"
    );
    // The key rpm used is ours: RSA 4096 (older rpm accepts RSA).
    let (ok, text) = run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .args(["-qp", "--qf", "%{RSAHEADER:pgpsig}\n"])
        .arg(&published));
    assert!(ok, "{text}");
    let fpr = &rpmkey::repo_key().fingerprint.to_lowercase();
    println!("signature: {text}");
    assert!(text.starts_with("RSA/SHA"), "{text}");
    assert!(
        text.contains(&fpr[fpr.len() - 16..]),
        "key id of {fpr} in {text}"
    );
}

#[test]
fn refused_inputs_name_the_file_and_leave_the_tree_unchanged() {
    let work = tmp();
    let input = work.path().join("in");
    let good = build_rpm(&input.join("a"), &feature_spec("refpkg", 1, "first build"));
    let root = work.path().join("repo");
    let repo = root.join("rpm");
    let s = signer();
    rpmmd::publish(&repo, std::slice::from_ref(&good), Some(&s), &opts(3, 3)).unwrap();
    let before = snapshot(&root);

    // Truncated.
    let data = std::fs::read(&good).unwrap();
    let truncated = input.join("truncated-1-1.noarch.rpm");
    std::fs::write(&truncated, &data[..data.len() * 2 / 3]).unwrap();
    // Payload cut short by a few bytes (the headers parse; the digest does not match).
    let short = input.join("short-1-1.noarch.rpm");
    std::fs::write(&short, &data[..data.len() - 7]).unwrap();
    // Same NEVRA, other content.
    let rebuilt = build_rpm(&input.join("b"), &feature_spec("refpkg", 1, "second build"));
    // Signed by another key.
    let other_repo = work.path().join("other/rpm");
    let other = Signer::from_file(&rpmkey::other_key().secret, None).unwrap();
    let foreign_in = build_rpm(&input.join("c"), &feature_spec("foreignpkg", 1, "theirs"));
    rpmmd::publish(&other_repo, &[foreign_in], Some(&other), &opts(3, 3)).unwrap();
    let foreign = other_repo.join("Packages/noarch/foreignpkg-1.2-1.noarch.rpm");
    // Not an rpm at all.
    let garbage = input.join("garbage.rpm");
    std::fs::write(&garbage, b"not an rpm\n").unwrap();

    let fresh = build_rpm(&input.join("d"), &feature_spec("freshpkg", 1, "fine"));
    for (bad, what) in [
        (&truncated, "corrupt or truncated"),
        (&short, "corrupt or truncated"),
        (&rebuilt, "already published with other content"),
        (&foreign, "already signed by another key"),
        (&garbage, "not a readable rpm"),
    ] {
        // `check` (what `repo::publish` runs before either side) finds the same error.
        let checked = rpmmd::check(&repo, &[fresh.clone(), bad.clone()], Some(&s), &opts(3, 3))
            .expect_err("check accepted a bad rpm");
        assert_eq!(checked.to_string(), {
            let e = rpmmd::check(&repo, std::slice::from_ref(bad), Some(&s), &opts(3, 3));
            e.unwrap_err().to_string()
        });
        // The good rpm next to the bad one must not be published either.
        let err = rpmmd::publish(&repo, &[fresh.clone(), bad.clone()], Some(&s), &opts(3, 3))
            .expect_err("a bad rpm was accepted");
        let msg = err.to_string();
        println!("{msg}");
        assert!(msg.contains(what), "{msg}");
        assert!(
            msg.contains(&bad.display().to_string()),
            "names the file: {msg}"
        );
        match (&err, what) {
            (RepoError::Conflict { .. }, "already published with other content")
            | (RepoError::ForeignSignature { .. }, _)
            | (RepoError::BadPackage { .. }, _) => {}
            _ => panic!("unexpected error kind {err:?}"),
        }
        assert_eq!(snapshot(&root), before, "the tree changed after: {msg}");
    }
    // check of good rpms writes nothing either.
    rpmmd::check(&repo, std::slice::from_ref(&fresh), Some(&s), &opts(3, 3)).unwrap();
    assert_eq!(snapshot(&root), before, "check wrote something");
    // The very same rpm again is not an error and adds nothing.
    let r = rpmmd::publish(&repo, &[good], Some(&s), &opts(3, 3)).unwrap();
    assert!(
        r.added.is_empty() && r.already_published.len() == 1,
        "{r:?}"
    );
}

#[test]
fn index_spares_unchanged_rpms_and_retention_deletes_only_after_generations() {
    let work = tmp();
    let input = work.path().join("in");
    let root = work.path().join("repo");
    let repo = root.join("rpm");
    let s = signer();
    let o = opts(2, 2);
    let r1 = build_rpm(&input.join("1"), &feature_spec("keeppkg", 1, "one"));
    let r2 = build_rpm(&input.join("2"), &feature_spec("keeppkg", 2, "two"));
    let r3 = build_rpm(&input.join("3"), &feature_spec("keeppkg", 3, "three"));
    let other = build_rpm(&input.join("x"), &feature_spec("otherpkg", 1, "other"));

    let r = rpmmd::publish(&repo, &[r1, other], Some(&s), &o).unwrap();
    assert_eq!((r.headers_read, r.packages), (2, 2), "{r:?}");
    let before = snapshot(&root);
    let r = rpmmd::publish(&repo, &[], Some(&s), &o).unwrap();
    assert_eq!(
        (r.headers_read, r.packages),
        (0, 2),
        "nothing re-read: {r:?}"
    );
    assert_eq!(
        snapshot(&root),
        before,
        "a publish without changes keeps the generation"
    );
    assert!(root.join(".wsgi-pack/rpm-index.tsv").is_file());

    let r = rpmmd::publish(&repo, &[r2], Some(&s), &o).unwrap();
    assert_eq!((r.headers_read, r.packages), (1, 3), "{r:?}");
    let r = rpmmd::publish(&repo, &[r3], Some(&s), &o).unwrap();
    assert_eq!(r.packages, 3, "keep_versions=2 per name: {r:?}");
    assert_eq!(r.retired, vec!["keeppkg-2:1.2-1.noarch".to_owned()]);
    let oldest = repo.join("Packages/noarch/keeppkg-1.2-1.noarch.rpm");
    assert!(
        oldest.is_file(),
        "still listed by the previous generation: kept"
    );
    let listed = normalise(&repomd_location(&repo, "primary"), "primary");
    assert!(
        listed
            .iter()
            .all(|l| !l.contains("keeppkg-1.2-1.noarch.rpm"))
    );
    assert!(
        listed
            .iter()
            .any(|l| l.contains("keeppkg-1.2-3.noarch.rpm"))
    );

    // A changed file (same size, new mtime) is read again.
    let other_file = repo.join("Packages/noarch/otherpkg-1.2-1.noarch.rpm");
    let f = std::fs::File::options()
        .write(true)
        .open(&other_file)
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let r = rpmmd::publish(&repo, &[], Some(&s), &o).unwrap();
    assert_eq!(r.headers_read, 1, "{r:?}");
    assert!(r.deleted.is_empty(), "{r:?}");
    let r4 = build_rpm(&input.join("y"), &feature_spec("otherpkg", 2, "other two"));
    let r = rpmmd::publish(&repo, &[r4], Some(&s), &o).unwrap();
    assert_eq!(
        r.deleted,
        vec![oldest.clone()],
        "deleted {} publishes later",
        2
    );
    assert!(!oldest.exists());

    // keep_generations=2: two generation directories, repodata points at the newest.
    let gens: Vec<String> = std::fs::read_dir(&repo)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".repodata."))
        .collect();
    assert_eq!(gens.len(), 2, "{gens:?}");
    let target = std::fs::read_link(repo.join("repodata")).unwrap();
    assert_eq!(target, PathBuf::from(r.repodata.file_name().unwrap()));
    // The repodata createrepo_c reads back is consistent (its own check of checksums).
    std::fs::create_dir_all(work.path().join("check")).unwrap();
    let (ok, text) = run(Command::new("createrepo_c")
        .args(["-q", "--update", "--no-database", "--outputdir"])
        .arg(work.path().join("check"))
        .arg(&repo));
    assert!(ok, "{text}");
}

// --- zypper in the openSUSE Leap 15.6 stand-in root ---------------------------------

/// A private copy of a cached root with /proc mounted; unmounted and removed on drop.
struct Root {
    dir: tempfile::TempDir,
    proc_mounted: bool,
}

impl Root {
    fn new(name: &str) -> Root {
        let dir = tempfile::tempdir_in("/var/tmp").unwrap();
        let r = dir.path().join("root");
        let (ok, text) = run(Command::new("bash")
            .arg(install_support::repo().join("ci/roots/root.sh"))
            .args(["copy", name])
            .arg(&r));
        assert!(ok, "root {name}: {text}");
        let mut root = Root {
            dir,
            proc_mounted: false,
        };
        let (ok, text) = run(Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(r.join("proc")));
        assert!(ok, "mount proc: {text}");
        root.proc_mounted = true;
        root
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if self.proc_mounted {
            let p = self.path().join("proc");
            let ok = Command::new("umount")
                .arg(&p)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&p).status();
            }
        }
    }
}

fn zypper(r: &Path, args: &[&str]) -> (bool, String) {
    run(Command::new("zypper")
        .arg("--root")
        .arg(r)
        .args(["--non-interactive", "--no-color"])
        .args(args))
}

fn rpm_q(r: &Path, name: &str) -> String {
    let (_, text) = run(Command::new("rpm").arg("--root").arg(r).args([
        "--dbpath",
        "/usr/lib/sysimage/rpm",
        "-q",
        "--qf",
        "%{VERSION}-%{RELEASE}",
        name,
    ]));
    text.trim().to_owned()
}

fn ours(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    rpms_in(dir)
        .into_iter()
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy().into_owned();
            names.iter().any(|n| {
                f.strip_prefix(n)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            })
        })
        .collect()
}

#[test]
fn zypper_with_gpgcheck_installs_and_updates_from_the_published_repository() {
    let names = ["wsgid", "gnuhealth-wsgid"];
    let v1 = ours(&install_support::v1(), &names);
    let v2 = ours(&install_support::v2(), &names);
    assert_eq!((v1.len(), v2.len()), (2, 2), "{v1:?} {v2:?}");
    let root = Root::new("suse156");
    let r = root.path();
    // rpm runs scriptlets with its own PATH: the install cycle's stand-in for systemctl
    // (systemd is not running in the root) wraps the real one in place.
    let sc = r.join("usr/bin/systemctl");
    std::fs::rename(&sc, r.join("usr/bin/systemctl.real")).unwrap();
    std::fs::copy(
        install_support::repo().join("ci/install/standins/log-exec"),
        &sc,
    )
    .unwrap();

    let work = tmp();
    let mut all = v1.clone();
    all.extend(v2.iter().cloned());
    let extra = standins(&work.path().join("standins"), &all);
    let repo = work.path().join("repo/rpm");
    let s = signer();
    let mut first = v1.clone();
    first.extend(extra);
    rpmmd::publish(&repo, &first, Some(&s), &opts(3, 3)).unwrap();

    let url = format!("dir:{}", repo.display());
    let (ok, text) = zypper(&r, &["addrepo", "--gpgcheck", &url, "published"]);
    assert!(ok, "addrepo: {text}");
    // Without the key, a non-interactive refresh refuses the signed repomd.xml.
    let (ok, text) = zypper(&r, &["refresh"]);
    println!("refresh without the key:\n{text}");
    assert!(
        !ok && text.contains("Signature verification failed for repomd.xml"),
        "zypper trusted a repository signed by an unknown key:\n{text}"
    );
    let (ok, text) = run(Command::new("rpm")
        .arg("--root")
        .arg(&r)
        .args(["--dbpath", "/usr/lib/sysimage/rpm", "--import"])
        .arg(repo.join("repodata/repomd.xml.key")));
    assert!(ok, "rpm --import: {text}");
    let (ok, text) = zypper(&r, &["refresh"]);
    println!("refresh:\n{text}");
    assert!(ok, "zypper refresh with the key: {text}");
    let (ok, text) = zypper(&r, &["install", "wsgid", "gnuhealth-wsgid"]);
    println!("install:\n{text}");
    assert!(ok, "zypper install: {text}");
    let old = rpm_q(&r, "gnuhealth-wsgid");
    let old_wsgid = rpm_q(&r, "wsgid");
    assert!(old.starts_with(|c: char| c.is_ascii_digit()), "{old}");

    // The newer build, published into the same repository.
    let rep = rpmmd::publish(&repo, &v2, Some(&s), &opts(3, 3)).unwrap();
    assert_eq!(rep.added.len(), 2, "{rep:?}");
    let (ok, text) = zypper(&r, &["refresh"]);
    assert!(ok, "refresh after the second publish: {text}");
    let (ok, text) = zypper(&r, &["update"]);
    println!("update:\n{text}");
    assert!(ok, "zypper update: {text}");
    let new = rpm_q(&r, "gnuhealth-wsgid");
    let new_wsgid = rpm_q(&r, "wsgid");
    println!("gnuhealth-wsgid {old} -> {new}, wsgid {old_wsgid} -> {new_wsgid}");
    assert_ne!(old, new, "zypper update did not pick up the new version");
    assert_ne!(old_wsgid, new_wsgid);
    // zypper checked the installed rpms' signatures with the imported key.
    let (ok, text) = run(Command::new("rpm").arg("--root").arg(&r).args([
        "--dbpath",
        "/usr/lib/sysimage/rpm",
        "-q",
        "--qf",
        "%{RSAHEADER:pgpsig}\n",
        "wsgid",
    ]));
    assert!(
        ok && text.starts_with("RSA/SHA"),
        "installed wsgid signature: {text}"
    );
}

// --- dnf (Debian's dnf 4) --------------------------------------------------------------

/// `dnf` against the published repository only, in an empty install root, with
/// gpgcheck and repo_gpgcheck on and `gpgkey` = `key`.
fn dnf(work: &Path, repo: &Path, key: &Path, args: &[&str]) -> (bool, String) {
    // A fresh install root (and so key ring and cache) per call.
    let root = tempfile::tempdir_in(work).unwrap().keep();
    std::fs::create_dir_all(&root).unwrap();
    run(Command::new("dnf")
        .arg("--installroot")
        .arg(&root)
        .args([
            "-y",
            "-q",
            "--releasever=1",
            "--setopt=reposdir=/nonexistent",
            "--setopt=published.gpgcheck=1",
            "--setopt=published.repo_gpgcheck=1",
            // dnf 4 skips a repository it cannot use unless told otherwise.
            "--setopt=published.skip_if_unavailable=False",
        ])
        .arg(format!(
            "--setopt=published.gpgkey=file://{}",
            key.display()
        ))
        .arg(format!(
            "--repofrompath=published,file://{}",
            repo.display()
        ))
        // Cache and key ring inside the temporary root (dnf's cachedir is a host path).
        .arg(format!(
            "--setopt=cachedir={}",
            root.join("cache").display()
        ))
        .args(["--repo", "published"])
        .args(args))
}

#[test]
fn dnf_verifies_repomd_signature_and_lists_the_published_packages() {
    let work = tmp();
    let input = work.path().join("in");
    let rpms = vec![
        build_rpm(&input.join("1"), &feature_spec("dnfpkg", 1, "one")),
        build_rpm(&input.join("2"), &feature_spec("dnfpkg", 2, "two")),
        build_rpm(&input.join("3"), &feature_spec("dnfother", 1, "other")),
    ];
    let repo = work.path().join("repo/rpm");
    rpmmd::publish(&repo, &rpms, Some(&signer()), &opts(3, 3)).unwrap();

    // The wrong key: dnf must refuse the repository metadata.
    let (ok, text) = dnf(
        work.path(),
        &repo,
        &rpmkey::other_key().public,
        &["makecache"],
    );
    println!("dnf with the wrong key:\n{text}");
    assert!(
        !ok && text.contains("repomd.xml GPG signature verification error"),
        "dnf accepted repomd.xml signed by a key it was not given:\n{text}"
    );

    let (ok, text) = dnf(
        work.path(),
        &repo,
        &repo.join("repodata/repomd.xml.key"),
        &[
            "repoquery",
            "--qf",
            "%{name}-%{epoch}:%{version}-%{release}.%{arch} %{location}",
        ],
    );
    println!("dnf repoquery:\n{text}");
    assert!(ok, "dnf repoquery: {text}");
    // (dnf reports the key import on stderr, which `run` appends.)
    let mut lines: Vec<&str> = text.lines().filter(|l| l.contains(" Packages/")).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "dnfother-2:1.2-1.noarch Packages/noarch/dnfother-1.2-1.noarch.rpm",
            "dnfpkg-2:1.2-1.noarch Packages/noarch/dnfpkg-1.2-1.noarch.rpm",
            "dnfpkg-2:1.2-2.noarch Packages/noarch/dnfpkg-1.2-2.noarch.rpm",
        ]
    );
    // dnf resolves the file and weak dependencies from primary.xml.
    let (ok, text) = dnf(
        work.path(),
        &repo,
        &rpmkey::repo_key().public,
        &[
            "repoquery",
            "--whatprovides",
            "/usr/bin/featuretool",
            "--latest-limit",
            "1",
        ],
    );
    assert!(
        ok && text.contains("dnfother") && text.contains("dnfpkg-2:1.2-2"),
        "{text}"
    );
    let (ok, text) = dnf(
        work.path(),
        &repo,
        &rpmkey::repo_key().public,
        &["repoquery", "--recommends", "dnfpkg-1.2-2"],
    );
    assert!(
        ok && text.lines().any(|l| l.trim() == "nginx"),
        "recommends: {text}"
    );
}

#[test]
fn rpms_signed_by_the_repository_key_are_linked_as_they_are_and_a_rewrite_is_refused() {
    use std::os::unix::fs::MetadataExt;
    let work = tmp();
    let input = work.path().join("in");
    let s = signer();
    // Signed by the repository key elsewhere (as a pipeline that signs at build time).
    let pre = work.path().join("pre/rpm");
    let unsigned = build_rpm(&input.join("a"), &feature_spec("linkpkg", 1, "linked"));
    rpmmd::publish(&pre, std::slice::from_ref(&unsigned), Some(&s), &opts(3, 3)).unwrap();
    let signed_src = input.join("linkpkg-1.2-1.noarch.rpm");
    std::fs::copy(
        pre.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm"),
        &signed_src,
    )
    .unwrap();

    // Published as it is: the same inode (hard link), not a copy or a re-signed file.
    let repo = work.path().join("repo/rpm");
    let r = rpmmd::publish(
        &repo,
        std::slice::from_ref(&signed_src),
        Some(&s),
        &opts(3, 3),
    )
    .unwrap();
    assert_eq!(
        (r.added.len(), r.linked, r.signatures_verified_fast),
        (1, 1, 1),
        "{r:?}"
    );
    let dest = repo.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm");
    let (a, b) = (
        std::fs::metadata(&signed_src).unwrap(),
        std::fs::metadata(&dest).unwrap(),
    );
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "not a hard link");

    // --copy: a separate file with the same bytes.
    let copied = work.path().join("copied/rpm");
    let mut o = opts(3, 3);
    o.copy = true;
    rpmmd::publish(&copied, std::slice::from_ref(&signed_src), Some(&s), &o).unwrap();
    let c = std::fs::metadata(copied.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm")).unwrap();
    assert_ne!(c.ino(), a.ino(), "--copy linked");
    assert_eq!(
        std::fs::read(copied.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm")).unwrap(),
        std::fs::read(&signed_src).unwrap()
    );

    // An unsigned input is signed on the way in: a new file whose tail (main header and
    // payload) is the input's.
    let un_repo = work.path().join("un/rpm");
    rpmmd::publish(
        &un_repo,
        std::slice::from_ref(&unsigned),
        Some(&s),
        &opts(3, 3),
    )
    .unwrap();
    let out = std::fs::read(un_repo.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm")).unwrap();
    let inp = std::fs::read(&unsigned).unwrap();
    assert_ne!(out, inp);
    // (rpmbuild reserves ~4 KiB in the signature header; header + payload are smaller.)
    let tail = inp.len() - 1024;
    let common = out
        .iter()
        .rev()
        .zip(inp.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(
        out.ends_with(&inp[tail..]),
        "payload not carried over: in {} out {} common tail {common}",
        inp.len(),
        out.len()
    );

    // The linked source rewritten in place with another build of the same NEVRA: the
    // next publish refuses, naming the pool file.
    let other = build_rpm(&input.join("b"), &feature_spec("linkpkg", 1, "rewritten"));
    let other_signed = work.path().join("pre2/rpm");
    rpmmd::publish(
        &other_signed,
        std::slice::from_ref(&other),
        Some(&s),
        &opts(3, 3),
    )
    .unwrap();
    let bytes =
        std::fs::read(other_signed.join("Packages/noarch/linkpkg-1.2-1.noarch.rpm")).unwrap();
    std::fs::write(&signed_src, &bytes).unwrap(); // truncates and rewrites the inode
    let err = rpmmd::publish(&repo, &[], Some(&s), &opts(3, 3)).expect_err("rewrite accepted");
    let msg = err.to_string();
    assert!(msg.contains("changed since it was published"), "{msg}");
    assert!(msg.contains(&dest.display().to_string()), "{msg}");
}
