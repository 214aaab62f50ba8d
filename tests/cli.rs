//! The CLI: `render` prints one package's files, selections are validated, and
//! `gen-docs` writes man pages and completions from the clap definitions.

mod pack_support;
use pack_support::*;
use std::process::Command;

#[test]
fn render_prints_ini_unit_and_scripts_of_one_backend() {
    let (ok, out) = run(Command::new(bin())
        .args([
            "render",
            "--package",
            "gnuhealth",
            "--family",
            "suse",
            "--backend",
            "uwsgi",
        ])
        .current_dir(root()));
    assert!(ok, "{out}");
    for want in [
        "==> gnuhealth-uwsgi-0.1.0-1.noarch.rpm (suse)",
        "--- /etc/wsgid/gnuhealth.ini (mode 0644) [config]",
        "plugins = python3",
        "ExecStart=/usr/sbin/uwsgi --ini /etc/wsgid/gnuhealth.ini",
        "--- script %triggerin -- nginx",
    ] {
        assert!(out.contains(want), "render lacks {want:?}:\n{out}");
    }
    assert!(
        !out.contains("gnuhealth-wsgid"),
        "other backend rendered:\n{out}"
    );
}

#[test]
fn unknown_family_and_package_are_clear_errors() {
    let (ok, out) = run(Command::new(bin())
        .args(["render", "--package", "gnuhealth", "--family", "arch"])
        .current_dir(root()));
    assert!(
        !ok && out.contains("unknown family `arch` (known: debian, rhel, suse)"),
        "{out}"
    );
    let (ok, out) = run(Command::new(bin())
        .args([
            "build",
            "--package",
            "nosuch",
            "--out",
            "/nonexistent/never-written",
        ])
        .current_dir(root()));
    assert!(!ok && out.contains("unknown package `nosuch`"), "{out}");
    assert!(!std::path::Path::new("/nonexistent").exists());
}

#[test]
fn gen_docs_writes_man_pages_and_completions() {
    let t = tempfile::tempdir().unwrap();
    let (ok, out) = run(Command::new(bin())
        .args(["gen-docs", "--out"])
        .arg(t.path()));
    assert!(ok, "{out}");
    for f in [
        "man/wsgi-pack.1",
        "man/wsgi-pack-build.1",
        "man/wsgi-pack-render.1",
        "man/wsgi-pack-publish.1",
        "man/wsgi-pack-key.1",
        "man/wsgi-pack-key-export.1",
        "completions/wsgi-pack.bash",
        "completions/_wsgi-pack",
        "completions/wsgi-pack.fish",
    ] {
        assert!(t.path().join(f).is_file(), "{f} missing");
    }
    let man = std::fs::read_to_string(t.path().join("man/wsgi-pack-build.1")).unwrap();
    assert!(man.contains("family"), "{man}");
    let man = std::fs::read_to_string(t.path().join("man/wsgi-pack-publish.1")).unwrap();
    assert!(
        man.contains("passphrase\\-env") || man.contains("passphrase-env"),
        "{man}"
    );
    let bash = std::fs::read_to_string(t.path().join("completions/wsgi-pack.bash")).unwrap();
    assert!(
        bash.contains("publish") && bash.contains("export"),
        "completions lack publish"
    );
}

/// Regression: the README's `cargo run --release -- build` needs `default-run`, since
/// the workspace's default members also build the `wsgid` binary.
#[test]
fn readme_cargo_run_selects_wsgi_pack() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\ndefault-run = \"wsgi-pack\"\n"),
        "root Cargo.toml lacks default-run"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- build\nbash ci/test.sh\n"),
        "README set-up commands changed"
    );
}
