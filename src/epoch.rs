//! The one place that reads SOURCE_DATE_EPOCH (reproducible-builds.org spec):
//! the environment variable if set, else the last git commit time of the project,
//! else a fixed epoch.

use std::path::Path;
use std::process::Command;

/// Used when neither SOURCE_DATE_EPOCH nor git history is available (2024-01-01).
pub const FALLBACK_EPOCH: u64 = 1_704_067_200;

/// Where the timestamp came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochSource {
    Env,
    Git,
    Fallback,
}

/// Returns the timestamp every generated file and archive entry carries.
pub fn source_date_epoch(root: &Path) -> (u64, EpochSource) {
    if let Some(v) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return (v, EpochSource::Env);
    }
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["log", "-1", "--format=%ct"])
        .output();
    if let Ok(out) = git {
        if out.status.success() {
            if let Ok(v) = String::from_utf8_lossy(&out.stdout).trim().parse::<u64>() {
                return (v, EpochSource::Git);
            }
        }
    }
    (FALLBACK_EPOCH, EpochSource::Fallback)
}
