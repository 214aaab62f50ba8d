//! Checks that do not trust the goldens, on every rendered package of every family
//! and backend: `sh -n` and `shellcheck` on every maintainer script, `systemd-analyze
//! verify --man=no` on every unit (ExecStart replaced by an existing stub, as the
//! binary is not installed on the test host), `nginx -t` on every site snippet.

mod pack_support;
use pack_support::*;
use std::process::Command;

fn scripts() -> Vec<(String, String, String)> {
    let (_, plans, _keep) = all_plans(true);
    let mut v = Vec::new();
    for p in &plans {
        for (s, text) in &p.scripts {
            v.push((
                format!("{}/{}/{}", p.family, p.name, s.name()),
                text.clone(),
                p.family.clone(),
            ));
        }
    }
    assert!(
        v.len() >= 30,
        "expected scripts for every package, got {}",
        v.len()
    );
    v
}

fn write_script(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name.replace('/', "_"));
    // rpm scriptlets have no shebang (rpm runs them with /bin/sh): add one to check.
    let body = if text.starts_with("#!") {
        text.to_string()
    } else {
        format!("#!/bin/sh\n{text}")
    };
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn maintainer_scripts_pass_sh_n() {
    let t = tempfile::tempdir().unwrap();
    for (name, text, _) in scripts() {
        let p = write_script(t.path(), &name, &text);
        for sh in ["sh", "dash"] {
            let (ok, out) = run(Command::new(sh).arg("-n").arg(&p));
            assert!(ok, "{sh} -n {name}: {out}");
        }
        assert!(text.contains("\nset -e\n"), "{name} lacks set -e");
    }
}

#[test]
fn maintainer_scripts_are_shellcheck_clean() {
    let t = tempfile::tempdir().unwrap();
    for (name, text, _) in scripts() {
        let p = write_script(t.path(), &name, &text);
        let (ok, out) = run(Command::new("shellcheck")
            .args(["-s", "sh", "-S", "style"])
            .arg(&p));
        assert!(ok, "shellcheck {name}:\n{out}");
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let (_, plans, _keep) = all_plans(true);
    let t = tempfile::tempdir().unwrap();
    let stub = t.path().join("exec-stub");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    let mut n = 0;
    for p in &plans {
        for f in p.files.iter().filter(|f| f.path.ends_with(".service")) {
            let text = String::from_utf8(f.content.to_vec()).unwrap();
            let exec = text
                .lines()
                .find_map(|l| l.strip_prefix("ExecStart="))
                .expect("ExecStart")
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            let text = text.replace(
                &format!("ExecStart={exec}"),
                &format!("ExecStart={}", stub.display()),
            );
            let dir = t.path().join(format!("{}-{}", p.family, p.name));
            std::fs::create_dir_all(&dir).unwrap();
            let unit = dir.join(f.path.rsplit('/').next().unwrap());
            std::fs::write(&unit, text).unwrap();
            std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let (ok, out) = run(Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(&unit));
            assert!(
                ok && !out.contains(&*unit.to_string_lossy()),
                "systemd-analyze verify {}/{}:\n{out}",
                p.family,
                f.path
            );
            n += 1;
        }
    }
    assert!(n >= 12, "expected a unit per instance package, got {n}");
}

#[test]
fn nginx_snippets_pass_nginx_t() {
    let (_, plans, _keep) = all_plans(true);
    let mut n = 0;
    for p in &plans {
        for f in p.files.iter().filter(|f| f.path.starts_with("/etc/nginx/")) {
            let t = tempfile::tempdir().unwrap();
            let prefix = t.path();
            std::fs::copy("/etc/nginx/uwsgi_params", prefix.join("uwsgi_params")).unwrap();
            std::fs::write(prefix.join("site.conf"), f.content.as_slice()).unwrap();
            let conf = format!(
                "pid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{}}\nhttp {{\n access_log off;\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n fastcgi_temp_path {p}/fcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n include {p}/site.conf;\n}}\n",
                p = prefix.display()
            );
            std::fs::write(prefix.join("nginx.conf"), conf).unwrap();
            let (ok, out) = run(Command::new("nginx")
                .arg("-t")
                .arg("-p")
                .arg(prefix)
                .arg("-c")
                .arg(prefix.join("nginx.conf")));
            assert!(ok, "nginx -t {}/{}:\n{out}", p.family, f.path);
            let text = String::from_utf8_lossy(&f.content);
            assert!(text.contains("client_max_body_size"), "{}", f.path);
            n += 1;
        }
    }
    assert!(n >= 12, "expected a snippet per instance package, got {n}");
}
