//! Bad definitions exit non-zero with a message naming the file, the line and the
//! field, and leave the output directory exactly as it was.

mod pack_support;
use pack_support::*;
use std::path::Path;
use std::process::Command;

/// Snapshot of a directory: sorted (name, bytes).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
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

/// Applies `edit` to `file` in a project copy, runs `build`, and checks the error.
fn case(file: &str, edit: impl Fn(&str) -> String, expect: &[&str]) {
    let t = project_copy();
    let path = t.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing in {file}");
    std::fs::write(&path, edited).unwrap();
    let dist = t.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("old_1.0-1_all.deb"), b"previous build").unwrap();
    let before = snapshot(&dist);
    let out = Command::new(bin())
        .args(["build", "--out"])
        .arg(&dist)
        .current_dir(t.path())
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{file}: build succeeded; stderr:\n{err}"
    );
    for e in expect {
        assert!(err.contains(e), "{file}: stderr lacks {e:?}:\n{err}");
    }
    assert_eq!(snapshot(&dist), before, "{file}: dist/ changed");
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".wsgi-pack"))
        .collect();
    assert!(leftovers.is_empty(), "temp dirs left: {leftovers:?}");
}

#[test]
fn unknown_key_names_file_line_and_key() {
    case(
        "packaging/gnuhealth.toml",
        |t| t.replace("harakiri = 600", "harakiri = 600\nharakri = 5"),
        &["packaging/gnuhealth.toml:", "harakri", "unknown field"],
    );
}

#[test]
fn wrong_type_names_file_line_and_field() {
    case(
        "packaging/thalamus.toml",
        |t| t.replace("harakiri = 600", "harakiri = \"long\""),
        &["packaging/thalamus.toml:28: field `harakiri`"],
    );
}

#[test]
fn missing_field_names_file_and_field() {
    case(
        "packaging/thalamus.toml",
        |t| t.replace("module = \"thalamus.thalamus:app\"\n", ""),
        &["packaging/thalamus.toml", "module"],
    );
}

#[test]
fn invalid_version_names_file_line_and_field() {
    case(
        "packaging/gnuhealth.toml",
        |t| t.replace("version = \"0.1.0\"", "version = \"1.0-beta\""),
        &[
            "packaging/gnuhealth.toml:5: field `package.version`",
            "invalid version `1.0-beta`",
        ],
    );
}

#[test]
fn invalid_package_name_names_file_line_and_field() {
    case(
        "packaging/thalamus.toml",
        |t| t.replace("name = \"thalamus\"", "name = \"Thalamus_App\""),
        &[
            "packaging/thalamus.toml:4: field `package.name`",
            "invalid package name",
        ],
    );
}

#[test]
fn unknown_backend_names_file_line_and_known_backends() {
    case(
        "packaging/gnuhealth.toml",
        |t| {
            t.replace(
                "backends = [\"gunicorn\", \"uwsgi\", \"wsgid\"]",
                "backends = [\"uwsgi\", \"mod_wsgi\"]",
            )
        },
        &[
            "packaging/gnuhealth.toml:19: field `instance.backends`",
            "unknown backend `mod_wsgi` (known: wsgid, uwsgi, gunicorn)",
        ],
    );
}

#[test]
fn gunicorn_with_the_uwsgi_protocol_names_file_line_and_field() {
    // gunicorn speaks HTTP only: a uwsgi-over-TCP instance cannot list it.
    case(
        "packaging/thalamus.toml",
        |t| format!("{t}\n[instance.connection]\nmethod = \"uwsgi\"\n"),
        &[
            "packaging/thalamus.toml:20: field `instance.backends`",
            "backend `gunicorn` speaks HTTP only",
        ],
    );
}

#[test]
fn missing_artifact_names_file_line_and_path() {
    case(
        "packaging/wsgid.toml",
        |t| {
            t.replace(
                "command = [\"cargo\", \"build\", \"--release\", \"--locked\", \"-p\", \"wsgid\", \"-p\", \"wsgid-py\"]",
                "command = [\"true\"]",
            )
            .replace("source = \"release/wsgid\"", "source = \"release/no-such-binary\"")
        },
        &[
            "packaging/wsgid.toml:",
            "field `build.artifact.source`",
            "no-such-binary does not exist",
        ],
    );
}

#[test]
fn template_error_names_template_and_definition() {
    case(
        "templates/unit.service.tera",
        |t| t.replace("{{ instance.user }}", "{{ instance.no_such_field }}"),
        &[
            "templates/unit.service.tera: template error",
            "no_such_field",
        ],
    );
}

#[test]
fn template_syntax_error_names_template() {
    case(
        "templates/instance.ini.tera",
        |t| t.replace("{%- endif %}", "{%- endiff %}"),
        &["templates/instance.ini.tera: template error"],
    );
}

#[test]
fn https_without_cert_names_the_missing_field() {
    case(
        "packaging/thalamus.toml",
        |t| {
            t.replace(
                "[instance.nginx]",
                "[instance.connection]\nmethod = \"https\"\n\n[instance.nginx]",
            )
        },
        &["packaging/thalamus.toml:", "instance.connection.cert"],
    );
}

#[test]
fn check_subcommand_accepts_the_shipped_definitions() {
    let (ok, out) = run(Command::new(bin()).arg("check").current_dir(root()));
    assert!(ok, "{out}");
}
