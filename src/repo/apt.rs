//! The apt repository: `pool/<component>/<prefix>/<source>/<file>.deb`,
//! `dists/<codename>/<component>/binary-<arch>/Packages{,.gz,.xz}` with `by-hash/SHA256/`
//! copies, `Release` (SHA256 of every index), `InRelease` and `Release.gpg`.
//!
//! `dists/<codename>` is a symlink to a generation directory `dists/.<codename>.<n>`
//! (see `atomic`): one publish writes a complete new generation and switches it in with
//! one rename. Each generation also carries the by-hash files of the previous
//! `keep_generations - 1` generations, so a client or mirror holding an older InRelease
//! still finds the indexes it names. Pool files are only added (never rewritten); a file
//! dropped by retention stays in the pool for `keep_generations` publishes.

use super::index::{self, Index, Record, field};
use super::{RepoError, Signer, atomic};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Options of the apt repository.
#[derive(Debug, Clone)]
pub struct AptOptions {
    /// Suite (Release `Suite:`), e.g. `stable`.
    pub suite: String,
    /// Codename (Release `Codename:`, the `dists/` directory name); default: the suite.
    pub codename: Option<String>,
    /// Component, e.g. `main`.
    pub component: String,
    /// Architectures always listed (besides those of the packages), e.g. `amd64`.
    pub architectures: Vec<String>,
    /// Release `Origin:`.
    pub origin: String,
    /// Release `Label:`.
    pub label: String,
    /// Versions kept per package name and architecture.
    pub keep_versions: usize,
    /// Metadata generations (and by-hash files) kept for mirrors in mid-sync.
    pub keep_generations: usize,
    /// Copy .debs into the pool instead of hard-linking them.
    pub copy: bool,
}

/// What an apt publish did.
#[derive(Debug, Clone, Default)]
pub struct AptReport {
    /// Pool files added.
    pub added: Vec<PathBuf>,
    /// Packages already published with identical content.
    pub unchanged: usize,
    /// Package versions dropped from the suite by retention.
    pub retired: Vec<String>,
    /// Pool files deleted (retired `keep_generations` publishes ago).
    pub deleted: Vec<PathBuf>,
    /// Packages in the suite/component after the publish.
    pub total: usize,
    /// Pool files re-read because their size or mtime changed.
    pub rehashed: usize,
}

/// Control data and checksums of one .deb.
#[derive(Debug, Clone)]
pub struct DebInfo {
    /// The file read.
    pub path: PathBuf,
    /// The control file text (trimmed).
    pub control: String,
    /// `Package:`.
    pub package: String,
    /// `Version:`.
    pub version: String,
    /// `Architecture:`.
    pub arch: String,
    /// Source package name (`Source:` without version, else the package).
    pub source: String,
    /// Size in bytes.
    pub size: u64,
    /// MD5, hex.
    pub md5: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// The file as it was read (inode, size, mtime).
    pub(crate) id: super::FileId,
}

fn bad(path: &Path, reason: impl Into<String>) -> RepoError {
    RepoError::BadPackage {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses the ar archive of a .deb (`data`, the whole file): checks the member layout
/// and that the members add up to the file size (a truncated file is rejected), returns
/// the control file text.
fn read_control(path: &Path, data: &[u8]) -> Result<String, RepoError> {
    if data.len() < 8 {
        return Err(bad(path, "shorter than an ar header"));
    }
    if &data[..8] != b"!<arch>\n" {
        return Err(bad(path, "not an ar archive (no `!<arch>` magic)"));
    }
    let len = data.len() as u64;
    let mut pos = 8u64;
    let mut members = Vec::new();
    let mut control = None;
    while pos < len {
        let at = pos as usize;
        let header = data
            .get(at..at + 60)
            .ok_or_else(|| bad(path, format!("truncated ar member header at byte {pos}")))?;
        if &header[58..60] != b"`\n" {
            return Err(bad(path, format!("bad ar member header at byte {pos}")));
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: u64 = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| bad(path, format!("bad size of ar member `{name}`")))?;
        let data_start = pos + 60;
        let end = data_start.saturating_add(size);
        if end > len {
            return Err(bad(
                path,
                format!("truncated: member `{name}` needs {end} bytes, the file has {len}"),
            ));
        }
        let body = &data[data_start as usize..end as usize];
        if members.is_empty() {
            if name != "debian-binary" {
                return Err(bad(path, "first member is not `debian-binary`"));
            }
            if !body.starts_with(b"2.") {
                return Err(bad(path, "debian-binary is not format 2.x"));
            }
        } else if name.starts_with("control.tar") {
            if size > 64 << 20 {
                return Err(bad(path, "control.tar larger than 64 MiB"));
            }
            control = Some(control_from_tar(path, &name, body)?);
        }
        members.push(name);
        pos = end + (end & 1);
    }
    if !members.iter().any(|m| m.starts_with("data.tar")) {
        return Err(bad(path, "no data.tar member"));
    }
    control.ok_or_else(|| bad(path, "no control.tar member"))
}

fn control_from_tar(path: &Path, member: &str, data: &[u8]) -> Result<String, RepoError> {
    let reader: Box<dyn Read> = if member.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(data))
    } else if member.ends_with(".xz") {
        Box::new(xz2::read::XzDecoder::new(data))
    } else if member.ends_with(".zst") {
        Box::new(
            zstd::stream::read::Decoder::new(data)
                .map_err(|e| bad(path, format!("{member}: {e}")))?,
        )
    } else if member == "control.tar" {
        Box::new(data)
    } else {
        return Err(bad(path, format!("unsupported control member `{member}`")));
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| bad(path, format!("{member}: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(path, format!("{member}: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(path, format!("{member}: {e}")))?
            .to_string_lossy()
            .to_string();
        if name == "./control" || name == "control" {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| bad(path, format!("{member}: control: {e}")))?;
            return Ok(text);
        }
    }
    Err(bad(path, format!("{member} has no control file")))
}

/// Checks a control field value for a name or version (no whitespace, no slash).
fn token_ok(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':' | '_'))
}

/// Reads one .deb: control fields and MD5/SHA-256 (the file read once, into a per-thread
/// buffer; see `digest`).
pub fn read_deb(path: &Path) -> Result<DebInfo, RepoError> {
    let mut file = std::fs::File::open(path).map_err(|e| RepoError::io(path, "opening", e))?;
    let meta = file
        .metadata()
        .map_err(|e| RepoError::io(path, "reading metadata", e))?;
    let len = meta.len();
    let id = super::FileId::of(&meta);
    let mut buf = super::digest::ReadBuf::take();
    let data = buf
        .fill(&mut file, len)
        .map_err(|e| RepoError::io(path, "reading", e))?;
    if data.len() as u64 != len {
        return Err(bad(path, "the file changed while it was read"));
    }
    let control = read_control(path, data)?;
    let control = control.trim_end().to_string();
    let control_field = |name: &str| -> Result<String, RepoError> {
        let v = field(&control, name)
            .ok_or_else(|| bad(path, format!("control file has no `{name}` field")))?;
        if !token_ok(v) {
            return Err(bad(
                path,
                format!("control field `{name}`: invalid value `{v}`"),
            ));
        }
        Ok(v.to_string())
    };
    let package = control_field("Package")?;
    let version = control_field("Version")?;
    let arch = control_field("Architecture")?;
    if control.lines().any(|l| l.trim().is_empty()) {
        return Err(bad(path, "control file contains an empty line"));
    }
    let source = field(&control, "Source")
        .and_then(|s| s.split_whitespace().next())
        .filter(|s| token_ok(s))
        .unwrap_or(&package)
        .to_string();
    let (md5, sha256) = super::digest::md5_sha256(data);
    let size = len;
    Ok(DebInfo {
        path: path.to_path_buf(),
        control,
        package,
        version,
        arch,
        source,
        size,
        md5,
        sha256,
        id,
    })
}

/// SHA-256 of a file, hex.
fn sha256_file(path: &Path) -> Result<String, RepoError> {
    let mut f = std::fs::File::open(path).map_err(|e| RepoError::io(path, "opening", e))?;
    let mut buf = super::digest::ReadBuf::take();
    let data = buf
        .fill(&mut f, 0)
        .map_err(|e| RepoError::io(path, "reading", e))?;
    Ok(super::digest::sha256_hex(data))
}

/// Reads `paths` on up to `available_parallelism` threads, in order.
pub fn read_debs(paths: &[PathBuf]) -> Result<Vec<DebInfo>, RepoError> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(paths.len().max(1));
    if workers <= 1 {
        return paths.iter().map(|p| read_deb(p)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<DebInfo, RepoError>>> = Vec::new();
    results.resize_with(paths.len(), || None);
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= paths.len() {
                        break;
                    }
                    let r = read_deb(&paths[i]);
                    slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(bad(Path::new("?"), "not read"))))
        .collect()
}

/// Debian pool directory prefix of a source name (`libf` for `libfoo`, else the first
/// letter).
pub fn pool_prefix(source: &str) -> &str {
    if source.starts_with("lib") && source.len() > 3 {
        &source[..4]
    } else {
        &source[..1]
    }
}

/// Pool path (relative to the apt root) of a package.
pub fn pool_path(component: &str, info: &DebInfo) -> String {
    let version = info
        .version
        .split_once(':')
        .map_or(info.version.as_str(), |(_, v)| v);
    format!(
        "pool/{component}/{}/{}/{}_{}_{}.deb",
        pool_prefix(&info.source),
        info.source,
        info.package,
        version,
        info.arch
    )
}

/// Compares two Debian versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) => (e.parse().unwrap_or(0), r),
            None => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    fn part(a: &str, b: &str) -> std::cmp::Ordering {
        let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
        while !a.is_empty() || !b.is_empty() {
            // Non-digit prefix.
            loop {
                let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
                let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
                if ca.is_none() && cb.is_none() {
                    break;
                }
                let (oa, ob) = (order(ca), order(cb));
                if oa != ob {
                    return oa.cmp(&ob);
                }
                a = &a[1..];
                b = &b[1..];
            }
            // Digit run.
            let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
            let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let na = std::str::from_utf8(&a[..da])
                .unwrap_or("0")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[..db])
                .unwrap_or("0")
                .trim_start_matches('0');
            let c = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if c != std::cmp::Ordering::Equal {
                return c;
            }
            a = &a[da..];
            b = &b[db..];
        }
        std::cmp::Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| part(ua, ub))
        .then_with(|| part(ra, rb))
}

fn check_name(field_name: &'static str, v: &str) -> Result<(), RepoError> {
    if v.is_empty()
        || v.starts_with('.')
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    {
        return Err(RepoError::Option {
            field: field_name,
            reason: format!("`{v}` is not a valid name (letters, digits, `.-_+`)"),
        });
    }
    Ok(())
}

/// The Packages stanza of a .deb placed at `filename`.
fn stanza(info: &DebInfo, filename: &str) -> String {
    format!(
        "{}\nFilename: {filename}\nSize: {}\nMD5sum: {}\nSHA256: {}",
        info.control, info.size, info.md5, info.sha256
    )
}

/// RFC 2822 date in UTC, as in Debian Release files.
pub fn rfc2822(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One index file written into a generation: path relative to `dists/<codename>/`.
struct IndexFile {
    rel: String,
    size: u64,
    sha256: String,
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    std::fs::write(path, data).map_err(|e| RepoError::io(path, "writing", e))
}

/// Writes Packages, Packages.gz, Packages.xz of one component/arch into `dir` (relative
/// `rel`), with by-hash links; returns their Release entries.
/// xz of one chunk: preset 6 (xz's default) with the dictionary cut to the input size
/// (same compression, without allocating preset 6's 8 MiB dictionary).
fn xz6(text: &[u8]) -> std::io::Result<Vec<u8>> {
    let dict = (text.len() as u32)
        .next_power_of_two()
        .clamp(1 << 16, 8 << 20);
    let mut lzma = xz2::stream::LzmaOptions::new_preset(6).map_err(std::io::Error::other)?;
    lzma.dict_size(dict);
    let mut filters = xz2::stream::Filters::new();
    filters.lzma2(&lzma);
    let stream = xz2::stream::Stream::new_stream_encoder(&filters, xz2::stream::Check::Crc64)
        .map_err(std::io::Error::other)?;
    let mut enc = xz2::write::XzEncoder::new_stream(Vec::with_capacity(text.len() / 4), stream);
    enc.write_all(text)?;
    enc.finish()
}

/// Compressed xz streams of Packages chunks, by SHA-256 of the chunk text, in
/// `.wsgi-pack/apt-xz/<codename>/`. Packages.xz is the concatenation of one xz stream per
/// chunk (valid xz; liblzma and apt read concatenated streams), and chunk boundaries
/// depend only on the stanzas around them, so adding one package recompresses one chunk.
struct XzCache {
    dir: PathBuf,
    used: std::sync::Mutex<BTreeSet<String>>,
}

impl XzCache {
    fn compress(&self, text: &[u8], chunks: &[std::ops::Range<usize>]) -> std::io::Result<Vec<u8>> {
        std::fs::create_dir_all(&self.dir)?;
        let keys: Vec<String> = chunks
            .iter()
            .map(|c| hex::encode(Sha256::digest(&text[c.clone()])))
            .collect();
        let mut parts: Vec<Option<Vec<u8>>> = keys
            .iter()
            .map(|k| std::fs::read(self.dir.join(format!("{k}.xz"))).ok())
            .collect();
        let missing: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].is_none()).collect();
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(missing.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = missing.get(j) else { break };
                        let r = xz6(&text[chunks[i].clone()]);
                        done.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
                    }
                });
            }
        });
        for (i, r) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
            let data = r?;
            let path = self.dir.join(format!("{}.xz", keys[i]));
            let tmp = self
                .dir
                .join(format!(".{}.tmp-{}", keys[i], std::process::id()));
            std::fs::write(&tmp, &data)?;
            std::fs::rename(&tmp, &path)?;
            parts[i] = Some(data);
        }
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(keys);
        if chunks.is_empty() {
            return xz6(b"");
        }
        Ok(parts.into_iter().flatten().flatten().collect())
    }

    /// Deletes cached chunks no index of this publish used.
    fn prune(&self) {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let key = name.trim_end_matches(".xz");
                if !used.contains(key) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// A chunk of Packages ends after a stanza whose file name hashes to 0 mod 128 (content
/// defined, so inserting a stanza changes one chunk), or at 256 KiB.
fn chunk_ends_after(filename: &str, chunk_len: usize) -> bool {
    let mut h: u32 = 0x811c_9dc5;
    for b in filename.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h % 128 == 0 || chunk_len >= 256 * 1024
}

/// Writes Packages, Packages.gz, Packages.xz of one component/arch into `dir` (relative
/// `rel`), with by-hash links; returns their Release entries.
fn write_packages(
    dir: &Path,
    rel: &str,
    text: &[u8],
    chunks: &[std::ops::Range<usize>],
    xz_cache: &XzCache,
) -> Result<Vec<IndexFile>, RepoError> {
    std::fs::create_dir_all(dir.join("by-hash/SHA256"))
        .map_err(|e| RepoError::io(dir, "creating", e))?;
    let (gz, xz) = std::thread::scope(|s| {
        let gz = s.spawn(|| {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(text.len() / 4),
                flate2::Compression::new(6),
            );
            enc.write_all(text).and_then(|_| enc.finish())
        });
        let xz = xz_cache.compress(text, chunks);
        (gz.join(), Ok::<_, ()>(xz))
    });
    let compress_err = |what: &str| {
        RepoError::io(
            dir.join(what),
            "compressing",
            std::io::Error::other("compressor failed"),
        )
    };
    let gz = gz
        .map_err(|_| compress_err("Packages.gz"))?
        .map_err(|e| RepoError::io(dir.join("Packages.gz"), "compressing", e))?;
    let xz = xz
        .map_err(|_| compress_err("Packages.xz"))?
        .map_err(|e| RepoError::io(dir.join("Packages.xz"), "compressing", e))?;
    let mut out = Vec::new();
    for (name, data) in [
        ("Packages", text),
        ("Packages.gz", &gz[..]),
        ("Packages.xz", &xz[..]),
    ] {
        let path = dir.join(name);
        write_file(&path, data)?;
        let sha = hex::encode(Sha256::digest(data));
        let by_hash = dir.join("by-hash/SHA256").join(&sha);
        if !by_hash.exists() {
            std::fs::hard_link(&path, &by_hash)
                .map_err(|e| RepoError::io(&by_hash, "linking", e))?;
        }
        out.push(IndexFile {
            rel: format!("{rel}/{name}"),
            size: data.len() as u64,
            sha256: sha,
        });
    }
    Ok(out)
}

/// SHA256 entries (`path` -> hash) of a Release file.
fn release_entries(release: &str) -> Vec<(String, String)> {
    let mut in_sha = false;
    let mut out = Vec::new();
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_sha = line.starts_with("SHA256:");
            continue;
        }
        if in_sha {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 3 {
                out.push((parts[2].to_string(), parts[0].to_string()));
            }
        }
    }
    out
}

/// Rolls back pool files and the generation of a failed publish.
struct Rollback {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    armed: bool,
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if self.armed {
            for f in &self.files {
                let _ = std::fs::remove_file(f);
            }
            for d in &self.dirs {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
}

/// Adds `new_debs` to the apt repository rooted at `apt_root`, rewrites the indexes
/// of the suite and switches them in atomically. On error nothing visible changes.
pub fn publish(
    apt_root: &Path,
    state_dir: &Path,
    new_debs: &[PathBuf],
    signer: Option<&Signer>,
    opts: &AptOptions,
) -> Result<AptReport, RepoError> {
    prepare(apt_root, state_dir, new_debs, opts)?.commit(signer)
}

/// A checked apt publish: every new package read and checked, the new index computed in
/// memory; nothing written yet. `commit` writes it.
pub struct AptPlan {
    apt_root: PathBuf,
    state_dir: PathBuf,
    opts: AptOptions,
    codename: String,
    membership: String,
    index: Index,
    index_path: PathBuf,
    serial: u64,
    report: AptReport,
    to_copy: Vec<(PathBuf, PathBuf, super::FileId)>,
    changed: bool,
}

/// Phase one of `publish`: reads and checks everything, writes nothing.
pub fn prepare(
    apt_root: &Path,
    state_dir: &Path,
    new_debs: &[PathBuf],
    opts: &AptOptions,
) -> Result<AptPlan, RepoError> {
    check_name("suite", &opts.suite)?;
    let codename = opts.codename.clone().unwrap_or_else(|| opts.suite.clone());
    check_name("codename", &codename)?;
    check_name("component", &opts.component)?;
    for a in &opts.architectures {
        check_name("architecture", a)?;
    }
    if opts.keep_versions == 0 || opts.keep_generations == 0 {
        return Err(RepoError::Option {
            field: "keep",
            reason: "must be at least 1".into(),
        });
    }
    let membership = format!("{codename}/{}", opts.component);
    let index_path = state_dir.join("apt.index");
    let mut index = Index::load(&index_path)?;
    let serial = index.serial + 1;
    let mut report = AptReport::default();

    // 1. Published pool files: unchanged size and mtime means unchanged content.
    for r in &mut index.records {
        let path = apt_root.join(&r.filename);
        let meta = std::fs::metadata(&path).map_err(|e| {
            RepoError::io(
                &path,
                "pool file of the index is unreadable (restore it)",
                e,
            )
        })?;
        let mtime = index::mtime_ns(&meta);
        if meta.len() != r.size || mtime != r.mtime_ns {
            report.rehashed += 1;
            let sha = sha256_file(&path)?;
            if sha != r.sha256 || meta.len() != r.size {
                return Err(bad(
                    &path,
                    format!(
                        "pool file changed since it was published (sha256 {sha}, index {})",
                        r.sha256
                    ),
                ));
            }
            r.mtime_ns = mtime;
        }
    }

    // 2. Read and check the new packages before writing anything.
    let infos = read_debs(new_debs)?;
    let mut by_filename: BTreeMap<String, usize> = index
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.filename.clone(), i))
        .collect();
    let mut by_nva: BTreeMap<(String, String, String), usize> = index
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.package.clone(), r.version.clone(), r.arch.clone()), i))
        .collect();
    let mut to_copy: Vec<(PathBuf, PathBuf, super::FileId)> = Vec::new();
    // Whether the suite's indexes change at all (else no new generation is made).
    let mut changed = false;
    for info in &infos {
        let filename = pool_path(&opts.component, info);
        let nva = (
            info.package.clone(),
            info.version.clone(),
            info.arch.clone(),
        );
        let existing = by_nva
            .get(&nva)
            .or_else(|| by_filename.get(&filename))
            .copied();
        if let Some(i) = existing {
            let r = &mut index.records[i];
            if r.sha256 != info.sha256 {
                return Err(RepoError::Conflict {
                    path: info.path.clone(),
                    name: info.package.clone(),
                    version: info.version.clone(),
                    arch: info.arch.clone(),
                    published: r.sha256.clone(),
                    new: info.sha256.clone(),
                });
            }
            report.unchanged += 1;
            if !r.member_of.contains(&membership) {
                changed = true;
                r.member_of.push(membership.clone());
                r.member_of.sort();
            }
            r.orphaned_at = None;
            continue;
        }
        let dest = apt_root.join(&filename);
        if dest.exists() {
            // A pool file without a record (an interrupted publish): adopt it if equal.
            let sha = sha256_file(&dest)?;
            if sha != info.sha256 {
                return Err(RepoError::Conflict {
                    path: info.path.clone(),
                    name: info.package.clone(),
                    version: info.version.clone(),
                    arch: info.arch.clone(),
                    published: sha,
                    new: info.sha256.clone(),
                });
            }
        } else {
            to_copy.push((info.path.clone(), dest, info.id));
        }
        changed = true;
        let i = index.records.len();
        index.records.push(Record {
            filename: filename.clone(),
            package: info.package.clone(),
            version: info.version.clone(),
            arch: info.arch.clone(),
            size: info.size,
            mtime_ns: 0,
            sha256: info.sha256.clone(),
            member_of: vec![membership.clone()],
            orphaned_at: None,
            stanza: stanza(info, &filename),
        });
        by_filename.insert(filename, i);
        by_nva.insert(nva, i);
    }

    // 3. Retention: the newest `keep_versions` per package and architecture.
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in index.records.iter().enumerate() {
        if r.member_of.contains(&membership) {
            groups
                .entry((r.package.clone(), r.arch.clone()))
                .or_default()
                .push(i);
        }
    }
    for list in groups.values_mut() {
        list.sort_by(|a, b| {
            compare_versions(&index.records[*b].version, &index.records[*a].version)
        });
        for &i in list.iter().skip(opts.keep_versions) {
            changed = true;
            let r = &mut index.records[i];
            r.member_of.retain(|m| m != &membership);
            report
                .retired
                .push(format!("{} {} ({})", r.package, r.version, r.arch));
            if r.member_of.is_empty() {
                r.orphaned_at = Some(serial);
            }
        }
    }

    Ok(AptPlan {
        apt_root: apt_root.to_path_buf(),
        state_dir: state_dir.to_path_buf(),
        opts: opts.clone(),
        codename,
        membership,
        index,
        index_path,
        serial,
        report,
        to_copy,
        changed,
    })
}

impl AptPlan {
    /// Creates the pool directories the new .debs go to (nothing else) and returns the
    /// ones it created, deepest last, for `remove_dirs` if the publish is abandoned. Run
    /// by `repo::publish` beside the rpm-md side: creating 2000 directories is kernel
    /// time (inode allocation) that overlaps with the rpm side's hashing.
    pub fn make_pool_dirs(&self) -> Vec<PathBuf> {
        let mut created = Vec::new();
        let mut seen = BTreeSet::new();
        for (_, dest, _) in &self.to_copy {
            let Some(dir) = dest.parent() else { continue };
            if !seen.insert(dir.to_path_buf()) {
                continue;
            }
            let mut missing: Vec<&Path> = dir
                .ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                .collect();
            missing.reverse();
            for d in missing {
                if std::fs::create_dir(d).is_ok() {
                    created.push(d.to_path_buf());
                }
            }
        }
        created
    }
}

/// Removes directories made by `make_pool_dirs` (deepest first; only empty ones go).
pub fn remove_dirs(dirs: &[PathBuf]) {
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

impl AptPlan {
    /// Phase two of `publish`: pool files, a new generation, the switch.
    pub fn commit(mut self, signer: Option<&Signer>) -> Result<AptReport, RepoError> {
        commit(&mut self, signer)?;
        Ok(self.report)
    }
}

fn commit(plan: &mut AptPlan, signer: Option<&Signer>) -> Result<(), RepoError> {
    let apt_root: &Path = &plan.apt_root;
    let state_dir: &Path = &plan.state_dir;
    let opts = &plan.opts;
    let codename = plan.codename.clone();
    let membership = plan.membership.clone();
    let index = &mut plan.index;
    let index_path: &Path = &plan.index_path;
    let serial = plan.serial;
    let report = &mut plan.report;
    let to_copy = &plan.to_copy;
    let changed = plan.changed;
    let dists = apt_root.join("dists");
    if !changed && atomic::current(&dists, &codename).is_some_and(|g| g.join("Release").is_file()) {
        // Nothing to do: every package is already published in this suite/component.
        report.total = index
            .records
            .iter()
            .filter(|r| r.member_of.contains(&membership))
            .count();
        if report.rehashed > 0 {
            index.save(index_path)?;
        }
        return Ok(());
    }

    // 4. Pool files (new names only; existing files are never rewritten).
    let mut span = super::Span::start();
    let mut rollback = Rollback {
        files: Vec::new(),
        dirs: Vec::new(),
        armed: true,
    };
    // Hard links unless --copy (ARCHITECTURE.md, "Pool files: hard links"): the pool
    // file is never rewritten, and a changed one is refused by the next publish (step 1).
    // Sequential: most of the time is the kernel allocating the inodes of the new
    // pool/<c>/<p>/<source>/ directories, and two threads doing it contend (measured:
    // same wall time, twice the system time).
    let mut mtimes = std::collections::HashMap::with_capacity(to_copy.len());
    for (src, dest, id) in to_copy {
        let (_, meta) = super::place_package(src, dest, *id, opts.copy)?;
        rollback.files.push(dest.clone());
        report.added.push(dest.clone());
        mtimes.insert(dest.as_path(), index::mtime_ns(&meta));
    }
    for r in &mut index.records {
        if r.mtime_ns == 0 {
            let path = apt_root.join(&r.filename);
            r.mtime_ns = match mtimes.get(path.as_path()) {
                Some(&t) => t,
                None => {
                    let meta =
                        std::fs::metadata(&path).map_err(|e| RepoError::io(&path, "reading", e))?;
                    index::mtime_ns(&meta)
                }
            };
        }
    }

    span.end("  apt: pool files placed");
    // 5. A new generation of dists/<codename>.
    let previous: Vec<PathBuf> = {
        let mut gens = Vec::new();
        if let Ok(rd) = std::fs::read_dir(&dists) {
            let prefix = format!(".{codename}.");
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(n) = name
                    .strip_prefix(&prefix)
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    gens.push((n, e.path()));
                }
            }
        }
        gens.sort();
        gens.into_iter()
            .rev()
            .take(opts.keep_generations.saturating_sub(1))
            .map(|(_, p)| p)
            .collect()
    };
    let generation = atomic::new_generation(&dists, &codename)?;
    rollback.dirs.push(generation.clone());

    let mut components: BTreeSet<String> = BTreeSet::new();
    let mut archs: BTreeSet<String> = opts.architectures.iter().cloned().collect();
    let prefix = format!("{codename}/");
    for r in &index.records {
        for m in &r.member_of {
            if let Some(c) = m.strip_prefix(&prefix) {
                components.insert(c.to_string());
                if r.arch != "all" {
                    archs.insert(r.arch.clone());
                }
            }
        }
    }
    if archs.is_empty() {
        archs.insert("amd64".into());
    }
    let mut files: Vec<IndexFile> = Vec::new();
    let xz_cache = XzCache {
        dir: state_dir.join("apt-xz").join(&codename),
        used: Default::default(),
    };
    for component in &components {
        let m = format!("{codename}/{component}");
        let mut members: Vec<&Record> = index
            .records
            .iter()
            .filter(|r| r.member_of.contains(&m))
            .collect();
        members.sort_by(|a, b| {
            a.package
                .cmp(&b.package)
                .then_with(|| compare_versions(&a.version, &b.version))
                .then_with(|| a.arch.cmp(&b.arch))
        });
        if *component == opts.component {
            report.total = members.len();
        }
        for arch in &archs {
            let mut text = String::new();
            let mut chunks = Vec::new();
            let mut start = 0;
            for r in members
                .iter()
                .filter(|r| &r.arch == arch || r.arch == "all")
            {
                text.push_str(&r.stanza);
                text.push_str("\n\n");
                if chunk_ends_after(&r.filename, text.len() - start) {
                    chunks.push(start..text.len());
                    start = text.len();
                }
            }
            if start < text.len() {
                chunks.push(start..text.len());
            }
            let rel = format!("{component}/binary-{arch}");
            files.extend(write_packages(
                &generation.join(&rel),
                &rel,
                text.as_bytes(),
                &chunks,
                &xz_cache,
            )?);
        }
    }
    // by-hash files of the previous generations (their own indexes), for clients and
    // mirrors that still hold an older InRelease.
    for prev in &previous {
        let Ok(release) = std::fs::read_to_string(prev.join("Release")) else {
            continue;
        };
        for (rel, sha) in release_entries(&release) {
            let Some((dir, _)) = rel.rsplit_once('/') else {
                continue;
            };
            let src = prev.join(dir).join("by-hash/SHA256").join(&sha);
            let dst_dir = generation.join(dir).join("by-hash/SHA256");
            let dst = dst_dir.join(&sha);
            if src.exists() && !dst.exists() {
                std::fs::create_dir_all(&dst_dir)
                    .map_err(|e| RepoError::io(&dst_dir, "creating", e))?;
                std::fs::hard_link(&src, &dst).map_err(|e| RepoError::io(&dst, "linking", e))?;
            }
        }
    }

    span.end("  apt: indexes written and compressed");
    // 6. Release, InRelease, Release.gpg.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut release = String::new();
    release.push_str(&format!("Origin: {}\n", opts.origin));
    release.push_str(&format!("Label: {}\n", opts.label));
    release.push_str(&format!("Suite: {}\n", opts.suite));
    release.push_str(&format!("Codename: {codename}\n"));
    release.push_str(&format!("Date: {}\n", rfc2822(now)));
    release.push_str(&format!(
        "Architectures: {}\n",
        archs.iter().cloned().collect::<Vec<_>>().join(" ")
    ));
    release.push_str(&format!(
        "Components: {}\n",
        components.iter().cloned().collect::<Vec<_>>().join(" ")
    ));
    release.push_str("Acquire-By-Hash: yes\n");
    release.push_str("No-Support-for-Architecture-all: Packages\n");
    release.push_str("SHA256:\n");
    let width = files
        .iter()
        .map(|f| f.size.to_string().len())
        .max()
        .unwrap_or(1);
    for f in &files {
        release.push_str(&format!(" {} {:>width$} {}\n", f.sha256, f.size, f.rel));
    }
    write_file(&generation.join("Release"), release.as_bytes())?;
    if let Some(signer) = signer {
        // Two RSA signatures: one per core.
        let (inrelease, detached) = std::thread::scope(|s| {
            let clear = s.spawn(|| signer.cleartext(&release));
            let detached = signer.detached_armored(release.as_bytes());
            (clear.join(), detached)
        });
        let inrelease = inrelease.map_err(|_| RepoError::Sign {
            what: "InRelease".into(),
            reason: "signing thread panicked".into(),
        })??;
        write_file(&generation.join("InRelease"), inrelease.as_bytes())?;
        write_file(&generation.join("Release.gpg"), detached?.as_bytes())?;
    }

    span.end("  apt: Release signed");
    // 7. Index first (a crash after it only leaves an unused pool file or generation),
    //    then the switch.
    let mut deletions = Vec::new();
    index.records.retain(|r| match r.orphaned_at {
        Some(at) if serial >= at + opts.keep_generations as u64 => {
            deletions.push(apt_root.join(&r.filename));
            false
        }
        _ => true,
    });
    let old_index = std::fs::read(index_path).ok();
    index.serial = serial;
    index.save(index_path)?;
    if let Err(e) = atomic::switch(&dists, &codename, &generation) {
        match old_index {
            Some(data) => {
                let _ = index::write_atomic(index_path, &data);
            }
            None => {
                let _ = std::fs::remove_file(index_path);
            }
        }
        return Err(e);
    }
    rollback.armed = false;
    if opts.suite != codename {
        let link = dists.join(&opts.suite);
        if std::fs::read_link(&link).ok().as_deref() != Some(Path::new(&codename)) {
            let tmp = dists.join(format!(".{}.link-{}", opts.suite, std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&codename, &tmp)
                .map_err(|e| RepoError::io(&tmp, "symlinking", e))?;
            std::fs::rename(&tmp, &link).map_err(|e| RepoError::io(&link, "renaming", e))?;
        }
    }
    for path in deletions {
        if std::fs::remove_file(&path).is_ok() {
            report.deleted.push(path);
        }
    }
    atomic::prune(&dists, &codename, opts.keep_generations)?;
    xz_cache.prune();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_like_dpkg() {
        assert_eq!(compare_versions("1.0-1", "1.0-2"), Less);
        assert_eq!(compare_versions("1.0~rc1-1", "1.0-1"), Less);
        assert_eq!(compare_versions("1:0.1", "2.0"), Greater);
        assert_eq!(compare_versions("0.1.10-1", "0.1.9-1"), Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Equal);
        assert_eq!(compare_versions("1.0a", "1.0"), Greater);
        assert_eq!(compare_versions("1.0+b1", "1.0"), Greater);
        assert_eq!(compare_versions("1.001", "1.1"), Equal);
    }

    #[test]
    fn date_is_rfc2822_utc() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 UTC");
        assert_eq!(rfc2822(1_764_000_000), "Mon, 24 Nov 2025 16:00:00 UTC");
    }

    #[test]
    fn pool_prefix_of_lib_packages() {
        assert_eq!(pool_prefix("libfoo"), "libf");
        assert_eq!(pool_prefix("wsgid"), "w");
        assert_eq!(pool_prefix("lib"), "l");
    }
}
