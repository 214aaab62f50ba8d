//! Atomic switch of published metadata. The metadata of one publish is written into a
//! fresh generation directory `<parent>/.<name>.<n>`; `switch` then points the symlink
//! `<parent>/<name>` at it by renaming a new symlink over the old one (one rename(2)),
//! so a reader or a mirror in mid-sync sees either the old or the new tree, never a mix.
//! Old generations are kept (`prune` keeps the newest `keep`) so a mirror that copied the
//! old symlink target a moment ago still finds it.

use super::RepoError;
use std::path::{Path, PathBuf};

/// Generation numbers present for `name` in `parent`, ascending.
fn generations(parent: &Path, name: &str) -> Result<Vec<(u64, PathBuf)>, RepoError> {
    let prefix = format!(".{name}.");
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(RepoError::io(parent, "listing", e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| RepoError::io(parent, "listing", e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(n) = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.parse::<u64>().ok())
        {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Creates a new, empty generation directory `<parent>/.<name>.<n>` (n one above the
/// highest existing one) to fill before `switch`.
pub fn new_generation(parent: &Path, name: &str) -> Result<PathBuf, RepoError> {
    std::fs::create_dir_all(parent).map_err(|e| RepoError::io(parent, "creating", e))?;
    let mut next = generations(parent, name)?
        .last()
        .map(|(n, _)| n + 1)
        .unwrap_or(1);
    loop {
        let dir = parent.join(format!(".{name}.{next}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(RepoError::io(dir, "creating", e)),
        }
    }
}

/// Points the symlink `<parent>/<name>` at `generation` (relative link) with one rename.
/// If `<parent>/<name>` is a real directory (never the case for trees we made), it is an error.
pub fn switch(parent: &Path, name: &str, generation: &Path) -> Result<(), RepoError> {
    let target = generation
        .file_name()
        .ok_or_else(|| RepoError::Option {
            field: "generation",
            reason: format!("{} has no file name", generation.display()),
        })?
        .to_owned();
    let link = parent.join(name);
    if let Ok(meta) = std::fs::symlink_metadata(&link)
        && !meta.file_type().is_symlink()
    {
        return Err(RepoError::io(
            &link,
            "switching (a real directory is in the way; move it aside)",
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    let tmp = parent.join(format!(".{name}.link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp).map_err(|e| RepoError::io(&tmp, "symlinking", e))?;
    std::fs::rename(&tmp, &link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RepoError::io(&link, "renaming symlink into place", e)
    })?;
    // Make the switch durable before old generations may be pruned.
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The generation directory `<parent>/<name>` currently points at, if any.
pub fn current(parent: &Path, name: &str) -> Option<PathBuf> {
    let target = std::fs::read_link(parent.join(name)).ok()?;
    Some(parent.join(target))
}

/// Removes all but the newest `keep` generations of `name`; never the current one.
pub fn prune(parent: &Path, name: &str, keep: usize) -> Result<(), RepoError> {
    let current = current(parent, name);
    let all = generations(parent, name)?;
    let drop_count = all.len().saturating_sub(keep.max(1));
    for (_, dir) in all.into_iter().take(drop_count) {
        if Some(&dir) == current.as_ref() {
            continue;
        }
        std::fs::remove_dir_all(&dir).map_err(|e| RepoError::io(&dir, "removing", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_and_prune_keep_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut gens = Vec::new();
        for i in 0..4 {
            let g = new_generation(dir.path(), "dists").unwrap();
            std::fs::write(g.join("f"), format!("{i}")).unwrap();
            switch(dir.path(), "dists", &g).unwrap();
            gens.push(g);
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("dists/f")).unwrap(),
            "3"
        );
        prune(dir.path(), "dists", 2).unwrap();
        assert!(!gens[0].exists() && !gens[1].exists());
        assert!(gens[2].exists() && gens[3].exists());
    }
}
