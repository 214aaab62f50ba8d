//! The persistent index of a published apt repository (`repo/.wsgi-pack/apt.index`):
//! one record per pool file with its size, mtime, checksums, the suites/components it
//! is published in and its complete `Packages` stanza, so a publish does not re-read
//! unchanged packages: it stats each pool file and re-reads only what changed.
//!
//! The file is deb822-like: records separated by blank lines; each record starts with
//! the private `Wsgi-Pack-*` fields, then the `Packages` stanza verbatim.

use super::RepoError;
use std::path::{Path, PathBuf};

/// One pool file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Pool path relative to the apt root, e.g. `pool/main/w/wsgid/wsgid_1.0-1_amd64.deb`.
    pub filename: String,
    /// `Package:`.
    pub package: String,
    /// `Version:`.
    pub version: String,
    /// `Architecture:`.
    pub arch: String,
    /// File size in bytes.
    pub size: u64,
    /// Modification time of the pool file (nanoseconds since the epoch) when indexed.
    pub mtime_ns: i128,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// `codename/component` memberships.
    pub member_of: Vec<String>,
    /// Publish number at which the record lost its last membership (pool file kept for
    /// mirrors still on older metadata; deleted `keep_generations` publishes later).
    pub orphaned_at: Option<u64>,
    /// The `Packages` stanza (no trailing blank line).
    pub stanza: String,
}

/// The whole index.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Number of publishes done (increases by one per publish).
    pub serial: u64,
    /// Records by pool path, in file order.
    pub records: Vec<Record>,
}

const MAGIC: &str = "Wsgi-Pack-Index: 1";

/// The value of `field` in a deb822 stanza (first line only).
pub fn field<'a>(stanza: &'a str, name: &str) -> Option<&'a str> {
    stanza.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (!line.starts_with([' ', '\t']) && k.eq_ignore_ascii_case(name)).then(|| v.trim())
    })
}

impl Index {
    /// Loads the index at `path`; a missing file is an empty index.
    pub fn load(path: &Path) -> Result<Index, RepoError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
            Err(e) => return Err(RepoError::io(path, "reading the index", e)),
        };
        let bad = |line: usize, reason: String| RepoError::Index {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut index = Index::default();
        let mut line_no = 1;
        let mut blocks = text.split("\n\n");
        let head = blocks.next().unwrap_or("");
        if !head.starts_with(MAGIC) {
            return Err(bad(1, format!("does not start with `{MAGIC}`")));
        }
        index.serial = field(head, "Wsgi-Pack-Serial")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(2, "missing or bad Wsgi-Pack-Serial".into()))?;
        line_no += head.lines().count() + 1;
        for block in blocks {
            let block_line = line_no;
            line_no += block.lines().count() + 1;
            if block.trim().is_empty() {
                continue;
            }
            let mut private = Vec::new();
            let mut stanza_start = 0;
            for line in block.split_inclusive('\n') {
                if line.starts_with("Wsgi-Pack-") {
                    private.push(line.trim_end());
                    stanza_start += line.len();
                } else {
                    break;
                }
            }
            let stanza = block[stanza_start..].trim_end_matches('\n').to_string();
            let get = |name: &str| -> Option<&str> {
                private
                    .iter()
                    .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
                    .map(str::trim)
            };
            let need = |v: Option<&str>, what: &str| -> Result<String, RepoError> {
                v.map(str::to_string)
                    .ok_or_else(|| bad(block_line, format!("record without {what}")))
            };
            let record = Record {
                filename: need(field(&stanza, "Filename"), "Filename")?,
                package: need(field(&stanza, "Package"), "Package")?,
                version: need(field(&stanza, "Version"), "Version")?,
                arch: need(field(&stanza, "Architecture"), "Architecture")?,
                size: need(field(&stanza, "Size"), "Size")?
                    .parse()
                    .map_err(|_| bad(block_line, "bad Size".into()))?,
                sha256: need(field(&stanza, "SHA256"), "SHA256")?,
                mtime_ns: need(get("Wsgi-Pack-Mtime"), "Wsgi-Pack-Mtime")?
                    .parse()
                    .map_err(|_| bad(block_line, "bad Wsgi-Pack-Mtime".into()))?,
                member_of: get("Wsgi-Pack-In")
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                orphaned_at: match get("Wsgi-Pack-Orphaned") {
                    Some(v) => Some(
                        v.parse()
                            .map_err(|_| bad(block_line, "bad Wsgi-Pack-Orphaned".into()))?,
                    ),
                    None => None,
                },
                stanza,
            };
            index.records.push(record);
        }
        Ok(index)
    }

    /// Writes the index to `path` atomically (temporary file and rename).
    pub fn save(&self, path: &Path) -> Result<(), RepoError> {
        let mut out = String::with_capacity(self.records.len() * 1024 + 64);
        out.push_str(MAGIC);
        out.push_str(&format!("\nWsgi-Pack-Serial: {}\n\n", self.serial));
        for r in &self.records {
            out.push_str(&format!("Wsgi-Pack-Mtime: {}\n", r.mtime_ns));
            if !r.member_of.is_empty() {
                out.push_str(&format!("Wsgi-Pack-In: {}\n", r.member_of.join(" ")));
            }
            if let Some(at) = r.orphaned_at {
                out.push_str(&format!("Wsgi-Pack-Orphaned: {at}\n"));
            }
            out.push_str(&r.stanza);
            out.push_str("\n\n");
        }
        write_atomic(path, out.as_bytes())
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, "creating", e))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    std::fs::write(&tmp, data).map_err(|e| RepoError::io(&tmp, "writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RepoError::io(path, "renaming into place", e)
    })
}

/// Modification time of `meta` in nanoseconds since the epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}
