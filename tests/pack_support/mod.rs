//! Shared helpers of the wsgi-pack tests: the project root, a copy of the project
//! for tests that break things, every plan, and one real build shared per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use wsgi_pack::Project;
use wsgi_pack::render::PackagePlan;

/// Fixed epoch of the tests (2026-01-01), so goldens do not follow the git history.
pub const EPOCH: u64 = 1_767_225_600;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsgi-pack"))
}

/// Copies packaging/, distros/, templates/ into a fresh temp dir.
pub fn project_copy() -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    for d in ["packaging", "distros", "templates"] {
        copy_dir(&root().join(d), &t.path().join(d));
    }
    t
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every plan of every definition x family x backend, without running the build
/// step; the reference instance is added as `example` when `with_example`.
pub fn all_plans(with_example: bool) -> (Project, Vec<PackagePlan>, Option<tempfile::TempDir>) {
    let (dir, keep) = if with_example {
        let t = project_copy();
        std::fs::copy(
            root().join("packaging/example-instance.toml.reference"),
            t.path().join("packaging/example.toml"),
        )
        .unwrap();
        (t.path().to_path_buf(), Some(t))
    } else {
        (root(), None)
    };
    let project = Project::load(&dir).expect("project loads");
    let families: Vec<String> = project.families.iter().map(|f| f.name.clone()).collect();
    let jobs = project.select(&families, &[]).unwrap();
    let plans = project
        .plan_jobs(&jobs, EPOCH, None, &wsgi_pack::Silent)
        .expect("plans");
    (project, plans, keep)
}

/// One real build of the default families into a shared temp dir (per test binary).
pub fn built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = root().join("target/wsgi-pack/test-dist");
        let _ = std::fs::remove_dir_all(&out);
        let st = Command::new(bin())
            .args([
                "build", "-q", "--family", "debian", "--family", "suse", "--out",
            ])
            .arg(&out)
            .current_dir(root())
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .status()
            .expect("run wsgi-pack");
        assert!(st.success(), "wsgi-pack build failed");
        out
    })
}

/// Files in `dir` with extension `ext`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Runs a command, returning (success, stdout+stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Lint suppressions of `tool` from tests/lint-suppress.txt (each must have a reason).
pub fn suppressed(tool: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/lint-suppress.txt")).unwrap();
    let mut v = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (rule, reason) = l
            .split_once('#')
            .expect("every suppression has a `# reason`");
        assert!(
            reason.trim().len() > 10,
            "suppression without a real reason: {l}"
        );
        let mut parts = rule.split_whitespace();
        if parts.next() == Some(tool) {
            v.push(parts.next().expect("a tag").to_string());
        }
    }
    v
}
