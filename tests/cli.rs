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

#[test]
fn ipv6_bind_is_bracketed_wherever_a_port_follows() {
    // The reference instance (uwsgi over TCP) bound to ::1: the ini, the nginx upstream
    // and (HTTPS variant) gunicorn's bind all need `[::1]:PORT`.
    let t = project_copy();
    let reference =
        std::fs::read_to_string(root().join("packaging/example-instance.toml.reference")).unwrap();
    let uwsgi = reference.replace("bind = \"127.0.0.1\"", "bind = \"::1\"");
    assert_ne!(uwsgi, reference, "reference bind changed");
    std::fs::write(t.path().join("packaging/example.toml"), &uwsgi).unwrap();
    let render = |backend: &str| {
        let (ok, out) = run(Command::new(bin())
            .args(["render", "-q", "--package", "example", "--family", "debian"])
            .args(["--backend", backend])
            .current_dir(t.path()));
        assert!(ok, "{out}");
        out
    };
    let out = render("wsgid");
    for want in ["socket = [::1]:3031\n", "server [::1]:3031;\n"] {
        assert!(out.contains(want), "render lacks {want:?}:\n{out}");
    }
    let https = uwsgi.replace(
        "method = \"uwsgi\"\n",
        "method = \"https\"\ncert = \"/etc/ssl/a.pem\"\nkey = \"/etc/ssl/a.key\"\n",
    );
    let https = https.replace(
        "backends = [\"wsgid\", \"uwsgi\"]",
        "backends = [\"gunicorn\"]",
    );
    std::fs::write(t.path().join("packaging/example.toml"), &https).unwrap();
    let out = render("gunicorn");
    for want in [
        "bind = [\"[::1]:3031\"]\n",
        "proxy_pass https://[::1]:3031;\n",
    ] {
        assert!(out.contains(want), "render lacks {want:?}:\n{out}");
    }
    // A host name is refused, naming the file, line and field.
    let named = uwsgi.replace("bind = \"::1\"", "bind = \"localhost\"");
    std::fs::write(t.path().join("packaging/example.toml"), &named).unwrap();
    let (ok, out) = run(Command::new(bin()).args(["check"]).current_dir(t.path()));
    assert!(!ok, "{out}");
    assert!(
        out.contains("packaging/example.toml:73: field `instance.connection.bind`")
            && out.contains("bind must be an IPv4 or IPv6 address, not `localhost`"),
        "{out}"
    );
}
