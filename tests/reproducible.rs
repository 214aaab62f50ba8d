//! Reproducibility: two clones of the committed tree in different directories,
//! built with different TZ, umask and locale and the same SOURCE_DATE_EPOCH, give
//! byte-identical .deb and .rpm files, including the wsgid binary (built by each
//! clone's own build step, with path remapping).

mod pack_support;
use pack_support::*;
use std::path::{Path, PathBuf};
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
    assert_eq!(a.len(), 14, "{names_a:?}");
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
    // xz (liblzma MT) and zstd (rpm crate, zstdmt) run multi-threaded: the output must
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

/// A project whose only package carries `payload` (a server definition with the build
/// step `true`), with the given deb and rpm compressions.
fn payload_project(dir: &Path, payload: &[u8], deb: &str, rpm: &str) {
    copy_dir(&root().join("templates"), &dir.join("templates"));
    std::fs::create_dir_all(dir.join("distros")).unwrap();
    for (family, compression) in [("debian", deb), ("suse", rpm)] {
        let text = std::fs::read_to_string(root().join(format!("distros/{family}.toml"))).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("compression = ") {
                    format!("compression = \"{compression}\"\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(dir.join(format!("distros/{family}.toml")), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("packaging")).unwrap();
    std::fs::create_dir_all(dir.join("artifacts")).unwrap();
    std::fs::write(dir.join("artifacts/payload"), payload).unwrap();
    std::fs::write(
        dir.join("packaging/payload.toml"),
        format!(
            "[package]\nname = \"payload\"\nversion = \"0.1.0\"\nsummary = \"Payload\"\n\
             description = \"A payload of several compression chunks.\"\n\
             homepage = \"https://example.invalid/\"\n\
             [build]\ncommand = [\"true\"]\ntarget_dir = \"{}\"\nremap_paths = false\n\
             [[build.artifact]]\nsource = \"payload\"\ndest = \"/usr/lib/payload/payload\"\nmode = \"0644\"\n",
            dir.join("artifacts").display()
        ),
    )
    .unwrap();
}

#[test]
fn multi_chunk_payloads_compress_to_the_same_bytes_on_one_core_and_all_cores() {
    // 12 MiB: several pargz chunks (1 MiB), zstd jobs (2 MiB) and xz blocks (8 MiB).
    let mut payload = Vec::with_capacity(12 << 20);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while payload.len() < 12 << 20 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        payload.extend_from_slice(format!("{:x} record {}\n", x >> 40, x % 1000).as_bytes());
    }
    for (deb, rpm) in [("gzip:6", "gzip:6"), ("xz:0", "zstd:3")] {
        let t = tempfile::tempdir().unwrap();
        payload_project(t.path(), &payload, deb, rpm);
        let build = |out: &str, one_core: bool| -> Vec<PathBuf> {
            let mut cmd = if one_core {
                let mut c = Command::new("taskset");
                c.args(["-c", "0"]).arg(bin());
                c
            } else {
                Command::new(bin())
            };
            let (ok, text) = run(cmd
                .arg("--root")
                .arg(t.path())
                .args([
                    "build", "-q", "--family", "debian", "--family", "suse", "--out",
                ])
                .arg(t.path().join(out))
                .env("SOURCE_DATE_EPOCH", EPOCH.to_string()));
            assert!(ok, "{deb}/{rpm}: {text}");
            let mut v = files(&t.path().join(out), "deb");
            v.extend(files(&t.path().join(out), "rpm"));
            v
        };
        let one = build("one", true);
        let all = build("all", false);
        assert_eq!(one.len(), 2, "{one:?}");
        for (a, b) in one.iter().zip(&all) {
            assert!(
                std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
                "{deb}/{rpm}: {} differs between one core and all cores",
                a.display()
            );
        }
        // The packages hold the payload (dpkg-deb and rpm2cpio read the streams).
        let (ok, text) = run(Command::new("sh").arg("-c").arg(format!(
            "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/lib/payload/payload | cmp - '{}' && \
             rpm2cpio '{}' | cpio -i --quiet --to-stdout ./usr/lib/payload/payload | cmp - '{}'",
            one[0].display(),
            t.path().join("artifacts/payload").display(),
            one[1].display(),
            t.path().join("artifacts/payload").display(),
        )));
        assert!(ok, "{deb}/{rpm}: payload does not round-trip: {text}");
    }
}
