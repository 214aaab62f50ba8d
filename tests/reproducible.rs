//! Reproducibility: two clones of the committed tree in different directories,
//! built with different TZ, umask and locale and the same SOURCE_DATE_EPOCH, give
//! byte-identical .deb and .rpm files, including the wsgid binary (built by each
//! clone's own build step, with path remapping).

mod pack_support;
use pack_support::*;
use std::path::Path;
use std::process::Command;

fn clone_and_build(dest: &Path, tz: &str, umask: &str, lang: &str) -> Vec<(String, Vec<u8>)> {
    let (ok, out) = run(Command::new("git")
        .arg("clone")
        .arg("-q")
        .arg(root())
        .arg(dest));
    assert!(ok, "git clone: {out}");
    let (ok, out) = run(Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" build -q --out dist"))
        .arg(bin())
        .current_dir(dest)
        .env("TZ", tz)
        .env("LANG", lang)
        .env("LC_ALL", lang)
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env_remove("CARGO_TARGET_DIR"));
    assert!(ok, "build in {}: {out}", dest.display());
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dest.join("dist"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn two_clones_in_different_dirs_tz_umask_locale_build_identical_packages() {
    let t = tempfile::Builder::new()
        .prefix("wsgi-pack-repro.")
        .tempdir_in(root().join("target"))
        .unwrap();
    let a = clone_and_build(&t.path().join("one/clone-a"), "UTC", "022", "C.UTF-8");
    let b = clone_and_build(
        &t.path().join("second-place/b"),
        "Pacific/Auckland",
        "077",
        "C",
    );
    let names_a: Vec<&str> = a.iter().map(|x| x.0.as_str()).collect();
    let names_b: Vec<&str> = b.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(names_a, names_b);
    assert_eq!(a.len(), 10, "{names_a:?}");
    let differing: Vec<&str> = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| x.0.as_str())
        .collect();
    assert!(differing.is_empty(), "not byte-identical: {differing:?}");
}

#[test]
fn one_core_and_all_cores_compress_to_the_same_bytes() {
    // xz (cargo-deb) and zstd (rpm crate, zstdmt) run multi-threaded: the output must
    // not depend on how many cores the build machine has.
    let t = tempfile::tempdir().unwrap();
    let build = |out: &Path, one_core: bool| {
        let mut cmd = if one_core {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(bin());
            c
        } else {
            Command::new(bin())
        };
        let (ok, text) = run(cmd
            .args([
                "build",
                "-q",
                "--package",
                "wsgid",
                "--family",
                "debian",
                "--family",
                "suse",
                "--out",
            ])
            .arg(out)
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string()));
        assert!(ok, "{text}");
    };
    build(&t.path().join("one"), true);
    build(&t.path().join("all"), false);
    for ext in ["deb", "rpm"] {
        let a = files(&t.path().join("one"), ext);
        let b = files(&t.path().join("all"), ext);
        assert_eq!(a.len(), 1);
        assert_eq!(
            std::fs::read(&a[0]).unwrap(),
            std::fs::read(&b[0]).unwrap(),
            "{ext} differs"
        );
    }
}
