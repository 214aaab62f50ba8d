//! Real build (debian + suse families, the server step included) checked with the
//! real tools: `dpkg-deb -I/-c`, `rpm -qip/-qlp --scripts --triggers` (own --dbpath),
//! lintian (no errors, no warnings) and rpmlint (no errors). Suppressions live in
//! tests/lint-suppress.txt, one reason per line.

mod pack_support;
use pack_support::*;
use std::process::Command;

const EXPECTED_DEBS: &[&str] = &[
    "gnuhealth-gunicorn_0.1.0-1_all.deb",
    "gnuhealth-uwsgi_0.1.0-1_all.deb",
    "gnuhealth-wsgid_0.1.0-1_all.deb",
    "thalamus-gunicorn_0.1.0-1_all.deb",
    "thalamus-uwsgi_0.1.0-1_all.deb",
    "thalamus-wsgid_0.1.0-1_all.deb",
];
const EXPECTED_RPMS: &[&str] = &[
    "gnuhealth-gunicorn-0.1.0-1.noarch.rpm",
    "gnuhealth-uwsgi-0.1.0-1.noarch.rpm",
    "gnuhealth-wsgid-0.1.0-1.noarch.rpm",
    "thalamus-gunicorn-0.1.0-1.noarch.rpm",
    "thalamus-uwsgi-0.1.0-1.noarch.rpm",
    "thalamus-wsgid-0.1.0-1.noarch.rpm",
];

fn rpm_q(args: &[&str], file: &std::path::Path) -> String {
    let db = tempfile::tempdir().unwrap();
    let (ok, out) = run(Command::new("rpm")
        .arg("--dbpath")
        .arg(db.path())
        .args(args)
        .arg(file));
    assert!(ok, "rpm {args:?} {}: {out}", file.display());
    out.lines()
        .filter(|l| !l.contains("use Alien"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn build_writes_standard_file_names() {
    let dir = built();
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for n in EXPECTED_DEBS.iter().chain(EXPECTED_RPMS) {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    let arch_deb = names
        .iter()
        .filter(|n| n.starts_with("wsgid_0.1.0-1_") && n.ends_with(".deb"))
        .count();
    let arch_rpm = names
        .iter()
        .filter(|n| n.starts_with("wsgid-0.1.0-1.") && n.ends_with(".rpm"))
        .count();
    assert_eq!((arch_deb, arch_rpm), (1, 1), "{names:?}");
    assert_eq!(names.len(), 14, "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with('.')),
        "temp files left: {names:?}"
    );
}

#[test]
fn deb_metadata_files_modes_conffiles_and_scripts() {
    let dir = built();
    let deb = dir.join("gnuhealth-wsgid_0.1.0-1_all.deb");
    let (ok, info) = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
    assert!(ok, "{info}");
    for want in [
        "Package: gnuhealth-wsgid",
        "Version: 0.1.0-1",
        "Architecture: all",
        "Depends: adduser, wsgid",
        "Conflicts: gnuhealth-gunicorn, gnuhealth-uwsgi\n",
        " postinst ",
        " prerm ",
        " postrm ",
        " conffiles ",
    ] {
        assert!(info.contains(want), "dpkg-deb -I lacks {want:?}:\n{info}");
    }
    let (ok, list) = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    assert!(ok);
    for want in [
        "-rw-r--r-- root/root",
        "./etc/wsgid/gnuhealth.ini",
        "./lib/systemd/system/gnuhealth-wsgi.service",
        "./usr/lib/sysusers.d/gnuhealth-wsgid.conf",
        "./etc/nginx/sites-available/gnuhealth-wsgi",
    ] {
        assert!(list.contains(want), "dpkg-deb -c lacks {want:?}:\n{list}");
    }
    assert!(
        !list.lines().any(|l| !l.contains("root/root")),
        "non-root owner:\n{list}"
    );
    let (_, conf) = run(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Package"));
    assert_eq!(conf.trim(), "gnuhealth-wsgid");
    let t = tempfile::tempdir().unwrap();
    let (ok, _) = run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(t.path()));
    assert!(ok);
    let conffiles = std::fs::read_to_string(t.path().join("conffiles")).unwrap();
    assert_eq!(
        conffiles,
        "/etc/nginx/sites-available/gnuhealth-wsgi\n/etc/wsgid/gnuhealth.ini\n"
    );
    let postinst = std::fs::read_to_string(t.path().join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system")
            && postinst.contains("deb-systemd-helper enable 'gnuhealth-wsgi.service'")
    );

    // The gunicorn backend: its own settings file instead of the ini, no dependency
    // on a server package (the unit runs the virtualenv's gunicorn).
    let gunicorn = dir.join("gnuhealth-gunicorn_0.1.0-1_all.deb");
    let (ok, info) = run(Command::new("dpkg-deb").arg("-I").arg(&gunicorn));
    assert!(ok, "{info}");
    assert!(info.contains("Depends: adduser\n"), "{info}");
    assert!(
        info.contains("Conflicts: gnuhealth-uwsgi, gnuhealth-wsgid\n"),
        "{info}"
    );
    let g = tempfile::tempdir().unwrap();
    let (ok, _) = run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&gunicorn)
        .arg(g.path()));
    assert!(ok);
    assert_eq!(
        std::fs::read_to_string(g.path().join("conffiles")).unwrap(),
        "/etc/nginx/sites-available/gnuhealth-wsgi\n/etc/wsgid/gnuhealth.gunicorn.conf.py\n"
    );

    let server = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wsgid_")
        })
        .unwrap();
    let (_, list) = run(Command::new("dpkg-deb").arg("-c").arg(&server));
    assert!(
        list.lines()
            .any(|l| l.starts_with("-rwxr-xr-x root/root") && l.ends_with("./usr/bin/wsgid")),
        "{list}"
    );
    assert!(
        list.lines().any(|l| l.starts_with("-rw-r--r-- root/root")
            && l.ends_with("./usr/lib/wsgid/wsgid_py.abi3.so")),
        "{list}"
    );
}

#[test]
fn rpm_metadata_files_config_scripts_and_triggers() {
    let dir = built();
    let rpm = dir.join("gnuhealth-wsgid-0.1.0-1.noarch.rpm");
    let info = rpm_q(&["-qip"], &rpm);
    for want in [
        "Name        : gnuhealth-wsgid",
        "Release     : 1",
        "Group       : ",
        "Build Host  : reproducible",
        "Packager    : ",
    ] {
        assert!(info.contains(want), "rpm -qip lacks {want:?}:\n{info}");
    }
    let files = rpm_q(
        &[
            "-qp",
            "--qf",
            "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]",
        ],
        &rpm,
    );
    for want in [
        "cn -rw-r--r-- root:root /etc/wsgid/gnuhealth.ini",
        "cn -rw-r--r-- root:root /etc/nginx/vhosts.d/gnuhealth-wsgi.conf.template",
        " -rw-r--r-- root:root /usr/lib/systemd/system/gnuhealth-wsgi.service",
        " -rw-r--r-- root:root /usr/lib/systemd/system-preset/50-gnuhealth-wsgi.preset",
    ] {
        assert!(files.contains(want), "files lack {want:?}:\n{files}");
    }
    let scripts = rpm_q(&["-qp", "--scripts", "--triggers"], &rpm);
    for want in [
        "preinstall scriptlet (using /bin/sh)",
        "postinstall scriptlet (using /bin/sh)",
        "preuninstall scriptlet (using /bin/sh)",
        "postuninstall scriptlet (using /bin/sh)",
        "triggerin scriptlet (using /bin/sh) -- nginx",
        "systemctl preset gnuhealth-wsgi.service",
        "groupadd -r uwsginginx",
    ] {
        assert!(scripts.contains(want), "scripts lack {want:?}:\n{scripts}");
    }
    let req = rpm_q(&["-qpR"], &rpm);
    for want in ["wsgid", "shadow", "/bin/sh"] {
        assert!(
            req.lines().any(|l| l.trim() == want),
            "requires lack {want}:\n{req}"
        );
    }
    let server = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wsgid-0")
        })
        .unwrap();
    let files = rpm_q(
        &["-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]"],
        &server,
    );
    assert!(files.contains("-rwxr-xr-x /usr/bin/wsgid"), "{files}");
    assert!(
        files.contains("-rw-r--r-- /usr/lib/wsgid/wsgid_py.abi3.so"),
        "{files}"
    );
    assert!(rpm_q(&["-qpR"], &server).contains("python311"));
}

#[test]
fn lintian_reports_no_errors_and_no_warnings() {
    let dir = built();
    let debs = files(dir, "deb");
    assert_eq!(debs.len(), 7);
    let suppressed = suppressed("lintian");
    let (_, out) = run(Command::new("lintian")
        .arg("--suppress-tags")
        .arg(suppressed.join(","))
        .args(&debs));
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    assert!(bad.is_empty(), "lintian:\n{out}");
}

#[test]
fn rpmlint_reports_no_errors() {
    let dir = built();
    let mut rpms = files(dir, "rpm");
    assert_eq!(rpms.len(), 7);
    // The RHEL-named variants too (`--family rhel`, release suffix .el9).
    let rhel = tempfile::tempdir().unwrap();
    let (ok, out) = run(Command::new(bin())
        .args(["build", "-q", "--family", "rhel", "--out"])
        .arg(rhel.path())
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string()));
    assert!(ok, "{out}");
    let rhel_rpms = files(rhel.path(), "rpm");
    let names: Vec<String> = rhel_rpms
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"gnuhealth-wsgid-0.1.0-1.el9.noarch.rpm".to_string()),
        "{names:?}"
    );
    assert_eq!(rhel_rpms.len(), 7, "{names:?}");
    let req = rpm_q(&["-qpR"], &rhel.path().join("wsgid-0.1.0-1.el9.x86_64.rpm"));
    assert!(req.contains("python3.11"), "{req}");
    rpms.extend(rhel_rpms);
    let suppressed = suppressed("rpmlint");
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("rpmlint.toml");
    let filters: Vec<String> = suppressed.iter().map(|s| format!("'{s}'")).collect();
    std::fs::write(&cfg, format!("Filters = [{}]\n", filters.join(", "))).unwrap();
    let (_, out) = run(Command::new("rpmlint").arg("-c").arg(&cfg).args(&rpms));
    assert!(
        out.contains("14 packages"),
        "rpmlint did not check 14 packages:\n{out}"
    );
    assert!(out.contains(" 0 errors"), "rpmlint:\n{out}");
}
