//! Shared driver of the install-cycle tests (`tests/install_*.rs`).
//!
//! Each test runs one script under `ci/install/`, which prints
//! `STEP family=F step=S result=ok|FAIL seconds=T` per step, `STEPS family=F ran=N ok=M`
//! and `CYCLE family=F result=ok|FAIL`. The driver echoes the script's output (shown
//! by the test harness on failure), asserts the exit status, the cycle result, every
//! step and the step count, and appends the step lines to
//! `target/install-timings.tsv` (family, step, result, seconds) for the results table.
//! A missing root is built by the script (a failure to build it fails the test); a
//! missing tool fails the test too: nothing here skips.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// One parsed `STEP` line.
#[derive(Debug, Clone)]
pub struct Step {
    pub family: String,
    pub step: String,
    pub ok: bool,
    pub seconds: f64,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The packages under test: `v1` from the tree, `v2` one version later
/// (`ci/install/dist.sh`, cached by input hash across test binaries).
/// `WSGI_PACK_INSTALL_DIST=DIR` (with `DIR/v1`, `DIR/v2`) tests prebuilt packages instead.
pub fn dist() -> PathBuf {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        if let Some(dir) = std::env::var_os("WSGI_PACK_INSTALL_DIST") {
            return PathBuf::from(dir);
        }
        let out = repo().join("target/install-dist");
        let output = Command::new("bash")
            .arg(repo().join("ci/install/dist.sh"))
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_wsgi-pack"))
            .current_dir(repo())
            .stderr(Stdio::inherit())
            .output()
            .expect("ci/install/dist.sh could not be started");
        assert!(
            output.status.success(),
            "`wsgi-pack build` did not produce the packages the install cycles need \
             (ci/install/dist.sh; see its output above)"
        );
        // dist.sh prints the directory of this input's build (OUT/KEY) last.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let dir = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        assert!(
            dir.join("v1").is_dir() && dir.join("v2").is_dir(),
            "dist.sh printed {dir:?}"
        );
        dir
    })
    .clone()
}

pub fn v1() -> PathBuf {
    dist().join("v1")
}

pub fn v2() -> PathBuf {
    dist().join("v2")
}

fn parse_kv(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn field<'a>(kv: &'a [(String, String)], key: &str) -> &'a str {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `run_cycle` for the cycles that install the current packages and upgrade to the
/// bumped ones: `--dist v1 --dist-new v2` follow `args`.
pub fn run_upgrade_cycle(script: &str, args: &[&str], min_steps: usize) -> Vec<Step> {
    let (a, b) = (v1(), v2());
    let mut all = args.to_vec();
    all.extend([
        "--dist",
        a.to_str().unwrap(),
        "--dist-new",
        b.to_str().unwrap(),
    ]);
    run_cycle(script, &all, min_steps)
}

/// Runs `ci/install/<script>` with `args` and asserts that every step passed and that
/// at least `min_steps` steps ran. Returns the steps.
pub fn run_cycle(script: &str, args: &[&str], min_steps: usize) -> Vec<Step> {
    let path = repo().join("ci/install").join(script);
    println!("running {} {}", path.display(), args.join(" "));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("exec 2>&1; exec bash \"$0\" \"$@\"")
        .arg(&path)
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} could not be started: {e}", path.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut steps = Vec::new();
    let mut cycle_ok = false;
    let mut ran = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        println!("{line}");
        if line.starts_with("STEP ") {
            let kv = parse_kv(&line);
            steps.push(Step {
                family: field(&kv, "family").to_owned(),
                step: field(&kv, "step").to_owned(),
                ok: field(&kv, "result") == "ok",
                seconds: field(&kv, "seconds").parse().unwrap_or(f64::NAN),
            });
        } else if line.starts_with("STEPS ") {
            ran = field(&parse_kv(&line), "ran").parse::<usize>().ok();
        } else if line.starts_with("CYCLE ") {
            cycle_ok = field(&parse_kv(&line), "result") == "ok";
        }
    }
    let status = child.wait().expect("wait for the cycle script");
    record_timings(&steps);
    println!("{} steps ran", steps.len());
    for s in &steps {
        println!(
            "TIMING\t{}\t{}\t{}\t{:.2}",
            s.family,
            s.step,
            if s.ok { "ok" } else { "FAIL" },
            s.seconds
        );
    }
    for s in &steps {
        assert!(
            s.ok,
            "step {} of {} failed (see the CHECK FAILED lines above)",
            s.step, s.family
        );
    }
    assert!(status.success(), "{script} exited with {status}");
    assert!(cycle_ok, "{script} did not report CYCLE result=ok");
    assert_eq!(
        ran,
        Some(steps.len()),
        "{script}: STEPS count does not match the STEP lines"
    );
    assert!(
        steps.len() >= min_steps,
        "{script}: only {} steps ran, expected at least {min_steps}",
        steps.len()
    );
    steps
}

fn record_timings(steps: &[Step]) {
    let path = repo().join("target/install-timings.tsv");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        for s in steps {
            let _ = writeln!(
                f,
                "{}\t{}\t{}\t{:.2}",
                s.family,
                s.step,
                if s.ok { "ok" } else { "FAIL" },
                s.seconds
            );
        }
    }
}
