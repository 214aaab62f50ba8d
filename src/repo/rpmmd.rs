//! The rpm-md repository (`<repo>/rpm`): signed rpms under `Packages/<arch>/` and the
//! metadata zypper and dnf read, `repodata/` = a symlink to the generation directory
//! `.repodata.<n>` of the last publish (`atomic.rs`).
//!
//! One publish:
//! 1. scans `Packages/` and re-reads only the rpms whose path, size and mtime are not in
//!    the private index `<repo>/.wsgi-pack/rpm-index.tsv` (the packages' XML fragments
//!    in `rpm-fragments.{primary,filelists,other}.xml`, keyed by path and SHA-256);
//! 2. checks every new rpm before anything is written (parses, header and payload
//!    digests, an existing signature must be the repository key's, a published
//!    name-epoch-version-release-arch must have the same signed header), then signs it
//!    (`Signer::rpm_signer`) and writes it to `Packages/<arch>/N-V-R.A.rpm`;
//! 3. keeps the newest `keep_versions` per name and architecture in the metadata; the
//!    files of the older ones are deleted only `keep_generations` publishes later,
//!    because the older metadata generations a mirror may still serve list them;
//! 4. writes `<sha256>-{primary,filelists,other}.xml.gz`, `repomd.xml`, its detached
//!    signature `repomd.xml.asc` and the public key `repomd.xml.key` into a new
//!    generation directory and switches `repodata` to it with one rename. A publish
//!    that changes nothing (no new rpm, no file changed) keeps the current generation.
//!
//! The XML follows createrepo_c 0.17 (`tests/repo_rpm.rs` compares the parsed primary
//! entries with createrepo_c's on the same rpms): primary lists only the files of
//! `/etc/*`, `*bin/*` and `/usr/lib/sendmail`; requires leave out `rpmlib(...)`, the
//! package's own primary files, repeated entries and all but the highest
//! `libc.so.6(...)` and those equal (name, flags, version) to one of its own provides; `pre="1"` marks requires with the PREREQ,
//! SCRIPT_PRE or SCRIPT_POST flag; other.xml has the newest ten changelog entries.
//! XML is written by hand (the text is small and regular): `xml_escape` escapes
//! `& < > "` and drops characters XML 1.0 cannot carry.

use super::{RepoError, Signer, atomic};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ::rpm::{DependencyFlags, FileFlags, FileType, IndexSignatureTag, IndexTag};

/// Options of the rpm-md repository.
#[derive(Debug, Clone)]
pub struct RpmRepoOptions {
    /// Versions kept in the metadata per package name and architecture (0 = all).
    pub keep_versions: usize,
    /// repodata generations kept (mirror safety); also how many publishes a package
    /// dropped by `keep_versions` stays on disk.
    pub keep_generations: usize,
    /// Copy rpms published as they are into `Packages/` instead of hard-linking them.
    pub copy: bool,
}

/// What an rpm-md publish did.
#[derive(Debug, Clone, Default)]
pub struct RpmReport {
    /// name-epoch:version-release.arch of the rpms added by this publish.
    pub added: Vec<String>,
    /// New rpms that were already published with the same content (nothing to do).
    pub already_published: Vec<String>,
    /// Packages dropped from the metadata by `keep_versions`.
    pub retired: Vec<String>,
    /// Package files deleted (retired `keep_generations` publishes ago).
    pub deleted: Vec<PathBuf>,
    /// Packages listed in the new metadata.
    pub packages: usize,
    /// rpm headers read (new or changed files); unchanged files come from the index.
    pub headers_read: usize,
    /// `<revision>` of the new repomd.xml.
    pub revision: u64,
    /// The generation directory `repodata` now points at.
    pub repodata: PathBuf,
    /// New rpms already signed by the repository key whose signature was verified by
    /// the fast path (ring), not the rpm crate's verifier.
    pub signatures_verified_fast: usize,
    /// New rpms hard-linked into `Packages/` (the rest were copied or signed here).
    pub linked: usize,
}

const PACKAGES_DIR: &str = "Packages";
const INDEX_FILE: &str = "rpm-index.tsv";
const FRAGMENTS_PREFIX: &str = "rpm-fragments";
const INDEX_MAGIC: &str = "# wsgi-pack rpm-index 1";
const CHANGELOG_LIMIT: usize = 10;
const KINDS: [&str; 3] = ["primary", "filelists", "other"];

/// One rpm file of the repository, as recorded in the index.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    /// Path relative to the rpm root, `/`-separated (`Packages/x86_64/a-1-1.x86_64.rpm`).
    path: String,
    size: u64,
    /// Modification time, nanoseconds since the epoch.
    mtime_ns: u128,
    /// SHA-256 of the file (the package id in the metadata).
    sha256: String,
    /// SHA-256 of the signed main header: the package's identity regardless of signatures.
    header_sha256: String,
    name: String,
    epoch: u32,
    version: String,
    release: String,
    arch: String,
    /// Serial number of the publish that dropped it from the metadata (keep_versions).
    retired: Option<u64>,
}

impl Entry {
    fn nevra(&self) -> String {
        format!(
            "{}-{}:{}-{}.{}",
            self.name, self.epoch, self.version, self.release, self.arch
        )
    }
    fn evr(&self) -> rpm_version::Evr<'_> {
        rpm_version::Evr::new(
            self.epoch.to_string(),
            self.version.clone(),
            self.release.clone(),
        )
    }
}

/// The private index: all rpm files of the repository plus the last revision.
#[derive(Debug, Default)]
struct Index {
    /// `<revision>` of the last repomd.xml (seconds since the epoch, strictly increasing).
    revision: u64,
    /// Publishes so far (numbers the publishes for `Entry::retired`).
    serial: u64,
    entries: Vec<Entry>,
}

fn index_err(path: &Path, line: usize, reason: impl Into<String>) -> RepoError {
    RepoError::Index {
        path: path.to_path_buf(),
        line,
        reason: reason.into(),
    }
}

fn load_index(path: &Path) -> Result<Index, RepoError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
        Err(e) => return Err(RepoError::io(path, "reading", e)),
    };
    let mut index = Index::default();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, INDEX_MAGIC)) => {}
        _ => {
            return Err(index_err(
                path,
                1,
                format!("first line is not `{INDEX_MAGIC}` (remove the file to rebuild it)"),
            ));
        }
    }
    for (i, line) in lines {
        let n = i + 1;
        if let Some(rest) = line.strip_prefix("# revision ") {
            let (rev, serial) = rest.split_once(" serial ").unwrap_or((rest, "0"));
            index.revision = rev
                .trim()
                .parse()
                .map_err(|_| index_err(path, n, format!("bad revision {rev:?}")))?;
            index.serial = serial
                .trim()
                .parse()
                .map_err(|_| index_err(path, n, format!("bad serial {serial:?}")))?;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 11 {
            return Err(index_err(
                path,
                n,
                format!("expected 11 tab-separated fields, found {}", f.len()),
            ));
        }
        let num = |what: &str, s: &str| -> Result<u128, RepoError> {
            s.parse::<u128>()
                .map_err(|_| index_err(path, n, format!("{what}: not a number: {s:?}")))
        };
        index.entries.push(Entry {
            path: f[0].to_owned(),
            size: num("size", f[1])? as u64,
            mtime_ns: num("mtime", f[2])?,
            sha256: f[3].to_owned(),
            header_sha256: f[4].to_owned(),
            name: f[5].to_owned(),
            epoch: num("epoch", f[6])? as u32,
            version: f[7].to_owned(),
            release: f[8].to_owned(),
            arch: f[9].to_owned(),
            retired: if f[10] == "-" {
                None
            } else {
                Some(num("retired", f[10])? as u64)
            },
        });
    }
    Ok(index)
}

fn save_index(path: &Path, index: &Index) -> Result<(), RepoError> {
    let mut text = format!(
        "{INDEX_MAGIC}\n# revision {} serial {}\n",
        index.revision, index.serial
    );
    text.push_str(
        "# path size mtime_ns sha256 header_sha256 name epoch version release arch retired\n",
    );
    for e in &index.entries {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.path,
            e.size,
            e.mtime_ns,
            e.sha256,
            e.header_sha256,
            e.name,
            e.epoch,
            e.version,
            e.release,
            e.arch,
            e.retired.map_or("-".to_owned(), |r| r.to_string())
        );
    }
    write_atomically(path, text.as_bytes())
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename.
/// No fsync here: the files that must be durable before the switch are synced together
/// by `sync_all_parallel` (one journal commit instead of one per file).
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, "creating", e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| RepoError::io(dir, "creating a temporary file in", e))?;
    tmp.write_all(data)
        .map_err(|e| RepoError::io(tmp.path(), "writing", e))?;
    // Temporary files are 0600; published files must be readable by the web server
    // (and by mirrors, which keep the modes).
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| RepoError::io(tmp.path(), "setting the mode of", e))?;
    }
    tmp.persist(path)
        .map_err(|e| RepoError::io(path, "renaming into place", e.error))?;
    Ok(())
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn sha256_file(path: &Path) -> Result<String, RepoError> {
    let f = std::fs::File::open(path).map_err(|e| RepoError::io(path, "reading", e))?;
    let mut r = BufReader::new(f);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| RepoError::io(path, "reading", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> RepoError {
    RepoError::BadPackage {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Escapes text for XML element content and attribute values; drops characters XML 1.0
/// cannot represent (control characters other than tab, newline, carriage return).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `/etc/*`, `*bin/*` and `/usr/lib/sendmail`: the files primary.xml lists (createrepo).
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

fn flag_str(flags: DependencyFlags) -> Option<&'static str> {
    match flags.bits() & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

/// Splits a dependency version `[E:]V[-R]` as createrepo_c does (epoch "0" if absent).
fn split_evr(s: &str) -> (String, String, Option<String>) {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e.to_owned(), r),
        _ => ("0".to_owned(), s),
    };
    // The first '-' ends the version; an empty release is no release (createrepo_c).
    match rest.split_once('-') {
        Some((v, r)) => (
            epoch,
            v.to_owned(),
            Some(r.to_owned()).filter(|r| !r.is_empty()),
        ),
        None => (epoch, rest.to_owned(), None),
    }
}

fn dep_xml(out: &mut String, dep: &::rpm::Dependency, pre: bool) {
    let _ = write!(out, "      <rpm:entry name=\"{}\"", xml_escape(&dep.name));
    if let Some(f) = flag_str(dep.flags) {
        let _ = write!(out, " flags=\"{f}\"");
    }
    if !dep.version.is_empty() {
        let (e, v, r) = split_evr(&dep.version);
        let _ = write!(
            out,
            " epoch=\"{}\" ver=\"{}\"",
            xml_escape(&e),
            xml_escape(&v)
        );
        if let Some(r) = r {
            let _ = write!(out, " rel=\"{}\"", xml_escape(&r));
        }
    }
    if pre {
        out.push_str(" pre=\"1\"");
    }
    out.push_str("/>\n");
}

fn deps_block(out: &mut String, tag: &str, deps: &[(::rpm::Dependency, bool)]) {
    if deps.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{tag}>");
    for (d, pre) in deps {
        dep_xml(out, d, *pre);
    }
    let _ = writeln!(out, "    </rpm:{tag}>");
}

/// The text in `libc.so.6(...)` compared by rpmvercmp, as createrepo_c keeps only the
/// highest `libc.so.6` require. True if `b` is higher than `a`.
fn libc_higher(a: &str, b: &str) -> bool {
    fn inner(s: &str) -> Option<&str> {
        let open = s.find('(')?;
        let close = s[open..].find(')')? + open;
        let inside = &s[open + 1..close];
        let start = inside.find(|c: char| c.is_ascii_digit())?;
        Some(&inside[start..])
    }
    match (inner(a), inner(b)) {
        (None, None) => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => rpm_version::rpm_evr_compare(x, y) == std::cmp::Ordering::Less,
    }
}

/// flags, version and pre of a require (createrepo_c drops repeated ones).
type DepKey = (Option<&'static str>, String, bool);

/// The three XML fragments of one package plus its index entry fields.
struct Parsed {
    entry: Entry,
    fragments: [String; 3],
}

fn str_tag(m: &::rpm::PackageMetadata, tag: IndexTag) -> &str {
    m.header
        .get_entry_data_as_i18n_string(tag)
        .or_else(|_| m.header.get_entry_data_as_string(tag))
        .unwrap_or("")
}

fn num_tag(m: &::rpm::PackageMetadata, tags: &[IndexTag], sig: &[IndexSignatureTag]) -> u64 {
    for t in sig {
        if let Ok(v) = m.signature.get_entry_data_as_u64(*t) {
            return v;
        }
        if let Ok(v) = m.signature.get_entry_data_as_u32(*t) {
            return v.into();
        }
    }
    for t in tags {
        if let Ok(v) = m.header.get_entry_data_as_u64(*t) {
            return v;
        }
        if let Ok(v) = m.header.get_entry_data_as_u32(*t) {
            return v.into();
        }
    }
    0
}

/// Reads the metadata of one rpm into its index entry and XML fragments.
/// `rel` is the location (relative path), `size`/`mtime_ns` the file's, `sha256` its hash.
fn describe(
    path: &Path,
    m: &::rpm::PackageMetadata,
    rel: &str,
    size: u64,
    mtime_ns: u128,
    sha256: &str,
) -> Result<Parsed, RepoError> {
    let field = |what: &str, r: Result<&str, ::rpm::Error>| -> Result<String, RepoError> {
        r.map(str::to_owned)
            .map_err(|e| bad(path, format!("header field {what}: {e}")))
    };
    let name = field("NAME", m.get_name())?;
    let version = field("VERSION", m.get_version())?;
    let release = field("RELEASE", m.get_release())?;
    let arch = if m.is_source_package() {
        "src".to_owned()
    } else {
        field("ARCH", m.get_arch())?
    };
    let epoch = m.get_epoch().unwrap_or(0);
    let header_sha256 = sha256_hex(
        &m.header_bytes()
            .map_err(|e| bad(path, format!("header: {e}")))?,
    );
    let offsets = m.get_package_segment_offsets();
    let files = m
        .get_file_entries()
        .map_err(|e| bad(path, format!("file list: {e}")))?;
    let file_rows: Vec<(String, &'static str)> = files
        .iter()
        .map(|f| {
            let p = format!("{}{}", f.dirname(), f.basename());
            let kind = if f.file_type() == FileType::Dir {
                "dir"
            } else if f.flags().contains(FileFlags::GHOST) {
                "ghost"
            } else {
                ""
            };
            (p, kind)
        })
        .collect();
    let file_set: HashSet<&str> = file_rows.iter().map(|(p, _)| p.as_str()).collect();

    let deps = |what: &str, r: Result<Vec<::rpm::Dependency>, ::rpm::Error>| {
        r.map_err(|e| bad(path, format!("{what}: {e}")))
    };
    let provides = deps("provides", m.get_provides())?;
    let mut requires: Vec<(::rpm::Dependency, bool)> = Vec::new();
    let mut seen: HashMap<String, Vec<DepKey>> = HashMap::new();
    let mut libc: Option<::rpm::Dependency> = None;
    let pre_mask =
        DependencyFlags::PREREQ | DependencyFlags::SCRIPT_PRE | DependencyFlags::SCRIPT_POST;
    for d in deps("requires", m.get_requires())? {
        if d.name.starts_with("rpmlib(") {
            continue;
        }
        if file_set.contains(d.name.as_str()) && is_primary_file(&d.name) {
            continue;
        }
        // A require equal to one of the package's own provides (config(N) = EVR).
        if provides.iter().any(|p| {
            p.name == d.name && flag_str(p.flags) == flag_str(d.flags) && p.version == d.version
        }) {
            continue;
        }
        let pre = d.flags.intersects(pre_mask);
        let key = (flag_str(d.flags), d.version.clone(), pre);
        if seen.get(&d.name).is_some_and(|v| v.contains(&key)) {
            continue;
        }
        if d.name.starts_with("libc.so.6") {
            match &libc {
                Some(cur) if !libc_higher(&cur.name, &d.name) => {}
                _ => libc = Some(d.clone()),
            }
            continue;
        }
        seen.entry(d.name.clone()).or_default().push(key);
        requires.push((d, pre));
    }
    if let Some(d) = libc {
        let pre = d.flags.intersects(pre_mask);
        requires.push((d, pre));
    }
    let plain = |v: Vec<::rpm::Dependency>| -> Vec<(::rpm::Dependency, bool)> {
        v.into_iter().map(|d| (d, false)).collect()
    };

    let file_time = (mtime_ns / 1_000_000_000) as u64;
    let build_time = m.get_build_time().unwrap_or(0);
    let installed = m.get_installed_size().unwrap_or(0);
    let archive = num_tag(
        m,
        &[
            IndexTag::RPMTAG_LONGARCHIVESIZE,
            IndexTag::RPMTAG_ARCHIVESIZE,
        ],
        &[
            IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE,
            IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE,
        ],
    );
    let x = xml_escape;
    let ver_attrs = format!(
        "epoch=\"{epoch}\" ver=\"{}\" rel=\"{}\"",
        x(&version),
        x(&release)
    );

    let mut p = String::new();
    let _ = writeln!(p, "<package type=\"rpm\">");
    let _ = writeln!(p, "  <name>{}</name>", x(&name));
    let _ = writeln!(p, "  <arch>{}</arch>", x(&arch));
    let _ = writeln!(p, "  <version {ver_attrs}/>");
    let _ = writeln!(
        p,
        "  <checksum type=\"sha256\" pkgid=\"YES\">{sha256}</checksum>"
    );
    let _ = writeln!(
        p,
        "  <summary>{}</summary>",
        x(str_tag(m, IndexTag::RPMTAG_SUMMARY))
    );
    let _ = writeln!(
        p,
        "  <description>{}</description>",
        x(str_tag(m, IndexTag::RPMTAG_DESCRIPTION))
    );
    let _ = writeln!(
        p,
        "  <packager>{}</packager>",
        x(str_tag(m, IndexTag::RPMTAG_PACKAGER))
    );
    let _ = writeln!(p, "  <url>{}</url>", x(str_tag(m, IndexTag::RPMTAG_URL)));
    let _ = writeln!(p, "  <time file=\"{file_time}\" build=\"{build_time}\"/>");
    let _ = writeln!(
        p,
        "  <size package=\"{size}\" installed=\"{installed}\" archive=\"{archive}\"/>"
    );
    let _ = writeln!(p, "  <location href=\"{}\"/>", x(rel));
    let _ = writeln!(p, "  <format>");
    for (tag, t) in [
        ("license", IndexTag::RPMTAG_LICENSE),
        ("vendor", IndexTag::RPMTAG_VENDOR),
        ("group", IndexTag::RPMTAG_GROUP),
        ("buildhost", IndexTag::RPMTAG_BUILDHOST),
        ("sourcerpm", IndexTag::RPMTAG_SOURCERPM),
    ] {
        let _ = writeln!(p, "    <rpm:{tag}>{}</rpm:{tag}>", x(str_tag(m, t)));
    }
    let _ = writeln!(
        p,
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
        offsets.header, offsets.payload
    );
    deps_block(&mut p, "provides", &plain(provides.clone()));
    deps_block(&mut p, "requires", &requires);
    deps_block(
        &mut p,
        "conflicts",
        &plain(deps("conflicts", m.get_conflicts())?),
    );
    deps_block(
        &mut p,
        "obsoletes",
        &plain(deps("obsoletes", m.get_obsoletes())?),
    );
    deps_block(
        &mut p,
        "suggests",
        &plain(deps("suggests", m.get_suggests())?),
    );
    deps_block(
        &mut p,
        "enhances",
        &plain(deps("enhances", m.get_enhances())?),
    );
    deps_block(
        &mut p,
        "recommends",
        &plain(deps("recommends", m.get_recommends())?),
    );
    deps_block(
        &mut p,
        "supplements",
        &plain(deps("supplements", m.get_supplements())?),
    );
    let file_line = |out: &mut String, path: &str, kind: &str| {
        if kind.is_empty() {
            let _ = writeln!(out, "    <file>{}</file>", x(path));
        } else {
            let _ = writeln!(out, "    <file type=\"{kind}\">{}</file>", x(path));
        }
    };
    for (fp, kind) in &file_rows {
        if is_primary_file(fp) {
            file_line(&mut p, fp, kind);
        }
    }
    let _ = writeln!(p, "  </format>");
    let _ = writeln!(p, "</package>");

    let head = format!(
        "<package pkgid=\"{sha256}\" name=\"{}\" arch=\"{}\">\n  <version {ver_attrs}/>\n",
        x(&name),
        x(&arch)
    );
    let mut fl = head.clone();
    for (fp, kind) in &file_rows {
        file_line(&mut fl, fp, kind);
    }
    fl.push_str("</package>\n");

    let mut other = head;
    let changelog = m
        .get_changelog_entries()
        .map_err(|e| bad(path, format!("changelog: {e}")))?;
    // Newest first in the header; createrepo_c writes the newest ten, oldest of them first.
    for c in changelog.iter().take(CHANGELOG_LIMIT).rev() {
        let _ = writeln!(
            other,
            "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
            x(c.name.trim_end_matches(' ')),
            c.timestamp,
            x(&c.description)
        );
    }
    other.push_str("</package>\n");

    Ok(Parsed {
        entry: Entry {
            path: rel.to_owned(),
            size,
            mtime_ns,
            sha256: sha256.to_owned(),
            header_sha256,
            name,
            epoch,
            version,
            release,
            arch,
            retired: None,
        },
        fragments: [p, fl, other],
    })
}

/// How a new rpm gets into `Packages/`.
enum Placement {
    /// Published as it is (already signed by the repository key, or no key): a hard
    /// link to (or a copy of) the checked file.
    AsIs,
    /// Signed here: `head` (lead and the new signature header) followed by the source's
    /// bytes from `rest_from` on (its main header and payload, unchanged), copied by the
    /// kernel (`copy_file_range`), not through this process.
    Signed { head: Vec<u8>, rest_from: u64 },
}

/// A new rpm, checked and (if a signer is given) signed in memory, not yet written.
struct Incoming {
    source: PathBuf,
    /// The source as it was checked.
    id: Option<super::FileId>,
    placement: Placement,
    /// SHA-256 of the file as it will be published (computed while checking).
    sha256: String,
    /// Its metadata (signature header as published); None for an input already published.
    meta: Option<::rpm::PackageMetadata>,
    /// Its signature was verified by `rsa_header_signature_ok`.
    fast_verified: bool,
    name: String,
    epoch: u32,
    version: String,
    release: String,
    arch: String,
    header_sha256: String,
}

impl Incoming {
    fn nevra(&self) -> String {
        format!(
            "{}-{}:{}-{}.{}",
            self.name, self.epoch, self.version, self.release, self.arch
        )
    }
    fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}

/// `Some(incoming)` without bytes if the rpm's header is one already published under its
/// NEVRA (`known`: NEVRA -> header SHA-256): only its header is read then.
fn already_known(
    path: &Path,
    known: &HashMap<String, String>,
) -> Result<Option<Incoming>, RepoError> {
    let f = std::fs::File::open(path).map_err(|e| RepoError::io(path, "reading", e))?;
    let file_len = f
        .metadata()
        .map_err(|e| RepoError::io(path, "reading", e))?
        .len();
    let Ok(m) = ::rpm::PackageMetadata::parse(&mut BufReader::new(f)) else {
        return Ok(None); // the full check reports it
    };
    // The signature header records the size of header + payload: a truncated or
    // extended copy goes through the full check (and its digest error).
    let signed_size = m
        .signature
        .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGSIZE)
        .ok()
        .or_else(|| {
            m.signature
                .get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_SIZE)
                .ok()
                .map(u64::from)
        });
    if signed_size.map(|n| m.get_package_segment_offsets().header + n) != Some(file_len) {
        return Ok(None);
    }
    let (Ok(name), Ok(version), Ok(release), Ok(header)) = (
        m.get_name(),
        m.get_version(),
        m.get_release(),
        m.header_bytes(),
    ) else {
        return Ok(None);
    };
    let arch = if m.is_source_package() {
        "src"
    } else {
        m.get_arch().unwrap_or_default()
    };
    let inc = Incoming {
        source: path.to_path_buf(),
        id: None,
        placement: Placement::AsIs,
        sha256: String::new(),
        meta: None,
        fast_verified: false,
        name: name.to_owned(),
        epoch: m.get_epoch().unwrap_or(0),
        version: version.to_owned(),
        release: release.to_owned(),
        arch: arch.to_owned(),
        header_sha256: sha256_hex(&header),
    };
    Ok((known.get(&inc.nevra()) == Some(&inc.header_sha256)).then_some(inc))
}

/// The repository key in the forms the rpm crate takes, made once per publish (parsing
/// and unlocking an RSA 4096 key per rpm dominated a 2000-rpm publish).
struct RpmKeys {
    signer: ::rpm::signature::pgp::Signer,
    verifier: ::rpm::signature::pgp::Verifier,
    /// The key's RSA modulus and exponent, for `rsa_header_signature_ok`.
    rsa: Option<(Vec<u8>, Vec<u8>)>,
}

impl RpmKeys {
    fn new(signer: &Signer) -> Result<RpmKeys, RepoError> {
        Ok(RpmKeys {
            signer: signer.rpm_signer()?,
            rsa: signer.rsa_public(),
            verifier: ::rpm::signature::pgp::Verifier::from_asc(&signer.public_key_armored()?)
                .map_err(|e| RepoError::Sign {
                    what: "the repository's public key".into(),
                    reason: e.to_string(),
                })?,
        })
    }
}

fn check_incoming(
    path: &Path,
    keys: Option<&RpmKeys>,
    sign: bool,
    known: &HashMap<String, String>,
) -> Result<Incoming, RepoError> {
    if let Some(inc) = already_known(path, known)? {
        return Ok(inc);
    }
    let mut buf = super::digest::ReadBuf::take();
    let id;
    {
        let mut f = std::fs::File::open(path).map_err(|e| RepoError::io(path, "reading", e))?;
        let meta = f
            .metadata()
            .map_err(|e| RepoError::io(path, "reading", e))?;
        id = super::FileId::of(&meta);
        let read = buf
            .fill(&mut f, meta.len())
            .map_err(|e| RepoError::io(path, "reading", e))?;
        if read.len() as u64 != meta.len() {
            return Err(bad(path, "the file changed while it was read"));
        }
    }
    let data: &[u8] = &buf;
    // The common case (header digests and the payload's SHA-256 match) is checked on
    // `data` in place, with the file's SHA-256 computed in the same pass; anything else
    // goes through the rpm crate's full parse and checks (which copy the payload and
    // hash it once per digest tag) for the same verdict and its error message.
    let mut whole_sha256 = None;
    let mut pkg = match digests_ok_in_place(data) {
        Some((metadata, whole)) => {
            whole_sha256 = Some(whole);
            ::rpm::Package {
                metadata,
                payload: Vec::new(), // not needed: signing covers the header only
            }
        }
        None => {
            let pkg = ::rpm::Package::parse(&mut std::io::Cursor::new(&data)).map_err(|e| {
                bad(
                    path,
                    format!("not a readable rpm (corrupt or truncated): {e}"),
                )
            })?;
            pkg.verify_digests()
                .map_err(|e| bad(path, format!("corrupt or truncated (digest check): {e}")))?;
            pkg
        }
    };
    let old_header_offset = pkg.metadata.get_package_segment_offsets().header as usize;
    let m = &pkg.metadata;
    let text = |what: &str, r: Result<&str, ::rpm::Error>| {
        r.map(str::to_owned)
            .map_err(|e| bad(path, format!("header field {what}: {e}")))
    };
    for (what, v) in [
        ("NAME", m.get_name()),
        ("VERSION", m.get_version()),
        ("RELEASE", m.get_release()),
    ] {
        let v = text(what, v)?;
        if v.is_empty() || v.contains(['/', '\t', '\n']) {
            return Err(bad(
                path,
                format!("header field {what} {v:?} is not usable"),
            ));
        }
    }
    let arch = if m.is_source_package() {
        "src".to_owned()
    } else {
        text("ARCH", m.get_arch())?
    };
    if arch.is_empty() || arch.contains(['/', '\t', '\n']) {
        return Err(bad(
            path,
            format!("header field ARCH {arch:?} is not usable"),
        ));
    }
    let header_bytes = m
        .header_bytes()
        .map_err(|e| bad(path, format!("header: {e}")))?;
    let header_sha256 = sha256_hex(&header_bytes);
    let existing = pkg
        .metadata
        .signatures()
        .map_err(|e| bad(path, format!("signature header: {e}")))?;
    let mut placement = Placement::AsIs;
    let mut fast_verified = false;
    if let Some(keys) = keys {
        if existing.is_empty() && !sign {
            // `check`: it would be signed; nothing to verify.
        } else if existing.is_empty() {
            // A v4 signature covers the main header only: sign it, then the new file is
            // the new lead + signature header and the original header + payload.
            pkg.sign(&keys.signer).map_err(|e| RepoError::Sign {
                what: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let header = pkg
                .metadata
                .header_bytes()
                .map_err(|e| bad(path, format!("header: {e}")))?;
            let mut head = Vec::with_capacity(8192);
            pkg.metadata.write(&mut head).map_err(|e| {
                RepoError::io(path, "serialising the signed rpm", std::io::Error::other(e))
            })?;
            head.truncate(head.len() - header.len());
            // Where the main header starts in the source: after its lead and old
            // signature header (the parse above read them from `data`).
            let src_header = old_header_offset;
            if data.get(src_header..src_header + header.len()) != Some(header.as_slice()) {
                return Err(bad(
                    path,
                    "main header does not serialise to its own bytes (cannot sign it)",
                ));
            }
            placement = Placement::Signed {
                head,
                rest_from: src_header as u64,
            };
        } else if {
            fast_verified = keys.rsa.as_ref().is_some_and(|(n, e)| {
                pkg.metadata.raw_signatures().is_ok_and(|sigs| {
                    sigs.iter()
                        .any(|sig| rsa_header_signature_ok(&header_bytes, sig, n, e))
                })
            });
            !fast_verified
        } && pkg.metadata.verify_signature(&keys.verifier).is_err()
        {
            // Header-only (v4) signatures; the payload digest was checked above.
            let key = existing
                .iter()
                .filter_map(|s| s.fingerprint().or(s.key_id()).map(str::to_owned))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(RepoError::ForeignSignature {
                path: path.to_path_buf(),
                key: if key.is_empty() {
                    "unknown key".into()
                } else {
                    format!("key {key}")
                },
            });
        }
    }
    let sha256 = match &placement {
        Placement::AsIs => match whole_sha256 {
            Some(sha) => sha,
            None => sha256_hex(data),
        },
        Placement::Signed { head, rest_from } => {
            let mut h = Sha256::new();
            h.update(head);
            h.update(&data[*rest_from as usize..]);
            hex::encode(h.finalize())
        }
    };
    drop(buf);
    let m = &pkg.metadata;
    Ok(Incoming {
        source: path.to_path_buf(),
        id: Some(id),
        placement,
        sha256,
        name: m.get_name().unwrap_or_default().to_owned(),
        epoch: m.get_epoch().unwrap_or(0),
        version: m.get_version().unwrap_or_default().to_owned(),
        release: m.get_release().unwrap_or_default().to_owned(),
        arch,
        header_sha256,
        meta: Some(pkg.metadata),
        fast_verified,
    })
}

/// The rpm's metadata and the file's SHA-256 (hex) if its header digests verify and its
/// payload (in `data`, not copied) has the SHA-256 its header records, with no other
/// payload digest present (v6 packages' SHA-512/SHA3-256: the caller's full check
/// handles those). Both SHA-256 are computed in one pass (`digest::sha256_whole_and_tail`).
/// None means "not decided here", never "bad".
fn digests_ok_in_place(data: &[u8]) -> Option<(::rpm::PackageMetadata, String)> {
    let m = ::rpm::PackageMetadata::parse(&mut std::io::Cursor::new(data)).ok()?;
    let report = m.check_digests().ok()?;
    if !report.has_header_digest() || report.result().is_err() {
        return None;
    }
    for other in [
        IndexTag::RPMTAG_PAYLOAD_SHA512,
        IndexTag::RPMTAG_PAYLOAD_SHA3_256,
    ] {
        if m.header.entry_is_present(other) {
            return None;
        }
    }
    let want = m
        .header
        .get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADSHA256)
        .ok()?;
    let payload_at = m.get_package_segment_offsets().payload as usize;
    if payload_at > data.len() {
        return None;
    }
    let (whole, payload) = super::digest::sha256_whole_and_tail(data, payload_at);
    (payload == want).then_some((m, whole))
}

/// Whether `packet` (one OpenPGP signature packet from an rpm's signature header) is a
/// valid v4 RSA binary-document signature over `header` (the rpm's main header) by the
/// RSA key (`n`, `e`), checked with ring. The message RSA signs is OpenPGP's: the data,
/// the hashed part of the packet (version .. hashed subpackets) and the v4 trailer
/// (0x04 0xFF, that part's length). Anything else (other versions, algorithms, packet
/// forms) returns false and the caller falls back to the rpm crate's full verifier, so
/// this only decides the common case faster (0.03 ms instead of 0.45 ms per rpm); a
/// false result is never a refusal by itself.
fn rsa_header_signature_ok(header: &[u8], packet: &[u8], n: &[u8], e: &[u8]) -> bool {
    use ring::signature as rs;
    let Some(&b0) = packet.first() else {
        return false;
    };
    if b0 & 0x80 == 0 {
        return false;
    }
    let be = |b: &[u8]| b.iter().fold(0usize, |a, &x| (a << 8) | x as usize);
    let (tag, len, hdr) = if b0 & 0x40 != 0 {
        let Some(&l1) = packet.get(1) else {
            return false;
        };
        match l1 {
            0..=191 => (b0 & 0x3f, l1 as usize, 2),
            192..=223 => match packet.get(2) {
                Some(&l2) => (b0 & 0x3f, ((l1 as usize - 192) << 8) + l2 as usize + 192, 3),
                None => return false,
            },
            255 => match packet.get(2..6) {
                Some(l) => (b0 & 0x3f, be(l), 6),
                None => return false,
            },
            _ => return false, // partial lengths
        }
    } else {
        let n_len = match b0 & 3 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return false,
        };
        match packet.get(1..1 + n_len) {
            Some(l) => ((b0 >> 2) & 0x0f, be(l), 1 + n_len),
            None => return false,
        }
    };
    let Some(body) = packet.get(hdr..hdr + len) else {
        return false;
    };
    // v4, binary document (0x00), RSA (1), hash algorithm.
    if tag != 2 || body.len() < 6 || body[0] != 4 || body[1] != 0 || body[2] != 1 {
        return false;
    }
    let params = match body[3] {
        8 => &rs::RSA_PKCS1_2048_8192_SHA256,
        9 => &rs::RSA_PKCS1_2048_8192_SHA384,
        10 => &rs::RSA_PKCS1_2048_8192_SHA512,
        _ => return false,
    };
    let hashed_len = 6 + be(&body[4..6]);
    let Some(hashed) = body.get(..hashed_len) else {
        return false;
    };
    let Some(unhashed_len) = body.get(hashed_len..hashed_len + 2).map(be) else {
        return false;
    };
    // After the unhashed area: the hash's left 16 bits, then MPI(signature).
    let at = hashed_len + 2 + unhashed_len + 2;
    let Some(bits) = body.get(at..at + 2).map(be) else {
        return false;
    };
    let Some(sig) = body.get(at + 2..at + 2 + bits.div_ceil(8)) else {
        return false;
    };
    if sig.len() > n.len() {
        return false;
    }
    // ring takes the signature as long as the modulus: left-pad the MPI.
    let mut padded = vec![0u8; n.len() - sig.len()];
    padded.extend_from_slice(sig);
    let mut message = Vec::with_capacity(header.len() + hashed.len() + 6);
    message.extend_from_slice(header);
    message.extend_from_slice(hashed);
    message.extend_from_slice(&[4, 0xff]);
    message.extend_from_slice(&(hashed_len as u32).to_be_bytes());
    rs::RsaPublicKeyComponents { n, e }
        .verify(params, &message, &padded)
        .is_ok()
}

/// Relative `/`-separated paths of the `*.rpm` files under `root/Packages`.
fn scan(root: &Path) -> Result<Vec<String>, RepoError> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(PACKAGES_DIR)];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(RepoError::io(&dir, "listing", e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| RepoError::io(&dir, "listing", e))?;
            let p = ent.path();
            let ft = ent
                .file_type()
                .map_err(|e| RepoError::io(&p, "reading", e))?;
            let fname = ent.file_name();
            let fname = fname.to_string_lossy();
            if fname.starts_with('.') {
                continue; // temporary files of an interrupted publish
            }
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() && fname.ends_with(".rpm") {
                let rel = p
                    .strip_prefix(root)
                    .map_err(|_| bad(&p, "outside the repository"))?;
                let rel = rel
                    .to_str()
                    .ok_or_else(|| bad(&p, "file name is not UTF-8"))?;
                if rel.contains(['\t', '\n', '"', '&', '<', '>']) {
                    return Err(bad(&p, "file name has characters the index cannot hold"));
                }
                out.push(rel.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The XML fragments of every listed package, one file per kind
/// (`rpm-fragments.{primary,filelists,other}.xml`): records `<!-- PATH SHA256 LEN -->\n`
/// and LEN bytes, keyed by the rpm's path and SHA-256 (the fragments carry its location
/// and mtime; the hash keeps fragments of an older file at that path from being used). A
/// cache: missing or damaged, the packages are simply read again.
fn frag_key(e: &Entry) -> String {
    format!("{} {}", e.path, e.sha256)
}

fn fragments_path(state: &Path, kind: &str) -> PathBuf {
    state.join(format!("{FRAGMENTS_PREFIX}.{kind}.xml"))
}

fn load_fragments(state: &Path) -> HashMap<String, [String; 3]> {
    let mut per_kind: Vec<HashMap<String, String>> = Vec::new();
    for kind in KINDS {
        let text = std::fs::read_to_string(fragments_path(state, kind)).unwrap_or_default();
        let mut map = HashMap::new();
        let mut rest = text.as_str();
        while let Some(after) = rest.strip_prefix("<!-- ") {
            let Some((head, body)) = after.split_once(" -->\n") else {
                break;
            };
            let Some((key, len)) = head.rsplit_once(' ') else {
                break;
            };
            let Some(len) = len.parse::<usize>().ok().filter(|l| *l <= body.len()) else {
                break;
            };
            if !body.is_char_boundary(len) {
                break;
            }
            map.insert(key.to_owned(), body[..len].to_owned());
            rest = &body[len..];
        }
        per_kind.push(map);
    }
    let mut out = HashMap::new();
    for (key, p) in per_kind[0].iter() {
        if let (Some(f), Some(o)) = (per_kind[1].get(key), per_kind[2].get(key)) {
            out.insert(key.clone(), [p.clone(), f.clone(), o.clone()]);
        }
    }
    out
}

fn save_fragments(
    state: &Path,
    frags: &HashMap<String, [String; 3]>,
    keep: &HashSet<String>,
) -> Result<(), RepoError> {
    let mut keys: Vec<&String> = frags.keys().filter(|k| keep.contains(*k)).collect();
    keys.sort();
    for (i, kind) in KINDS.iter().enumerate() {
        let mut text = String::new();
        for key in &keys {
            let body = &frags[*key][i];
            let _ = write!(text, "<!-- {key} {} -->\n{body}", body.len());
        }
        write_atomically(&fragments_path(state, kind), text.as_bytes())?;
    }
    Ok(())
}

/// Reads one repository file's header (stat, hash, parse) into entry + fragments.
fn read_repo_file(root: &Path, rel: &str) -> Result<Parsed, RepoError> {
    let path = root.join(rel);
    let meta = std::fs::metadata(&path).map_err(|e| RepoError::io(&path, "reading", e))?;
    let sha = sha256_file(&path)?;
    let f = std::fs::File::open(&path).map_err(|e| RepoError::io(&path, "reading", e))?;
    let m = ::rpm::PackageMetadata::parse(&mut BufReader::new(f))
        .map_err(|e| bad(&path, format!("not a readable rpm: {e}")))?;
    describe(&path, &m, rel, meta.len(), mtime_ns(&meta), &sha)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, RepoError> {
    // No file name or time in the gzip header: the same XML gives the same file.
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| RepoError::io("repodata", "compressing", e))
}

/// Everything a publish reads and checks before it writes: the repository's rpms (from
/// the index where unchanged) and the new rpms (checked, signed in memory if `sign`).
pub struct Prepared {
    state: PathBuf,
    index_path: PathBuf,
    old: Index,
    report: RpmReport,
    entries: Vec<Entry>,
    fresh: HashMap<String, [String; 3]>,
    incoming: Vec<Incoming>,
}

fn prepare(
    rpm_root: &Path,
    new_rpms: &[PathBuf],
    signer: Option<&Signer>,
    sign: bool,
) -> Result<Prepared, RepoError> {
    let state = rpm_root
        .parent()
        .unwrap_or(Path::new("."))
        .join(".wsgi-pack");
    let index_path = state.join(INDEX_FILE);
    let old = load_index(&index_path)?;
    let mut report = RpmReport::default();

    // 1. The files on disk, from the index where unchanged.
    let mut by_path: HashMap<&str, &Entry> = HashMap::new();
    for e in &old.entries {
        by_path.insert(e.path.as_str(), e);
    }
    let mut entries: Vec<Entry> = Vec::new();
    // All fragments of the listed packages end up in `fresh` (from the cache or read).
    let mut cache = load_fragments(&state);
    let mut fresh: HashMap<String, [String; 3]> = HashMap::new();
    for rel in scan(rpm_root)? {
        let path = rpm_root.join(&rel);
        let meta = std::fs::metadata(&path).map_err(|e| RepoError::io(&path, "reading", e))?;
        if let Some(e) = by_path.get(rel.as_str())
            && e.size == meta.len()
            && e.mtime_ns == mtime_ns(&meta)
            && (e.retired.is_some() || cache.contains_key(&frag_key(e)))
        {
            if let Some(f) = cache.remove(&frag_key(e)) {
                fresh.insert(frag_key(e), f);
            }
            entries.push((*e).clone());
            continue;
        }
        let parsed = read_repo_file(rpm_root, &rel)?;
        report.headers_read += 1;
        let mut entry = parsed.entry;
        // A file rewritten in place keeps its retirement if it is the same package; a
        // different package under a published path (e.g. its hard-linked source in
        // dist/ rewritten in place) is refused, as on the apt side.
        if let Some(e) = by_path.get(rel.as_str()) {
            if e.header_sha256 != entry.header_sha256 {
                return Err(bad(
                    &path,
                    format!(
                        "changed since it was published (header sha256 {}, index {}); restore it (was its source in dist/ rewritten in place? publish with --copy)",
                        entry.header_sha256, e.header_sha256
                    ),
                ));
            }
            entry.retired = e.retired;
        }
        fresh.insert(frag_key(&entry), parsed.fragments);
        entries.push(entry);
    }

    // 2. Check (and sign in memory) every new rpm before writing anything.
    let mut incoming: Vec<Incoming> = Vec::new();
    // Parse, verify and sign on all cores; then the conflict checks in input order.
    // An input whose header is already published is recognised from its header alone.
    let known: HashMap<String, String> = entries
        .iter()
        .map(|e| (e.nevra(), e.header_sha256.clone()))
        .collect();
    let keys = match signer {
        Some(s) if !new_rpms.is_empty() => Some(RpmKeys::new(s)?),
        _ => None,
    };
    let mut span = super::Span::start();
    let checked = par_map(new_rpms, |p| check_incoming(p, keys.as_ref(), sign, &known));
    span.end("  rpm-md: new rpms read, digests and signatures checked");
    // Lookups by name-epoch-version-release-arch and by path (a 2000-rpm publish compared
    // every new rpm with every other one).
    type Key = (String, u32, String, String, String);
    let key = |name: &str, epoch: u32, ver: &str, rel: &str, arch: &str| -> Key {
        (name.into(), epoch, ver.into(), rel.into(), arch.into())
    };
    let mut published: HashMap<Key, usize> = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        published
            .entry(key(&e.name, e.epoch, &e.version, &e.release, &e.arch))
            .or_insert(i);
    }
    let paths: HashSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut pending: HashMap<Key, usize> = HashMap::with_capacity(new_rpms.len());
    for (p, inc) in new_rpms.iter().zip(checked) {
        let inc = inc?;
        let k = key(&inc.name, inc.epoch, &inc.version, &inc.release, &inc.arch);
        if let Some(e) = published.get(&k).map(|&i| &entries[i]) {
            if e.header_sha256 != inc.header_sha256 {
                return Err(RepoError::Conflict {
                    path: p.clone(),
                    name: inc.name.clone(),
                    version: format!("{}:{}-{}", inc.epoch, inc.version, inc.release),
                    arch: inc.arch.clone(),
                    published: e.header_sha256.clone(),
                    new: inc.header_sha256.clone(),
                });
            }
            report.already_published.push(inc.nevra());
            continue;
        }
        if let Some(o) = pending.get(&k).map(|&i| &incoming[i]) {
            if o.header_sha256 != inc.header_sha256 {
                return Err(RepoError::Conflict {
                    path: p.clone(),
                    name: inc.name.clone(),
                    version: format!("{}:{}-{}", inc.epoch, inc.version, inc.release),
                    arch: inc.arch.clone(),
                    published: format!("{} in {}", o.header_sha256, o.source.display()),
                    new: inc.header_sha256.clone(),
                });
            }
            report.already_published.push(inc.nevra());
            continue;
        }
        let rel = format!("{PACKAGES_DIR}/{}/{}", inc.arch, inc.file_name());
        if paths.contains(rel.as_str()) {
            return Err(bad(
                &rpm_root.join(&rel),
                format!(
                    "is in the way of {} (a different package under that name)",
                    inc.nevra()
                ),
            ));
        }
        pending.insert(k, incoming.len());
        incoming.push(inc);
    }

    Ok(Prepared {
        state,
        index_path,
        old,
        report,
        entries,
        fresh,
        incoming,
    })
}

/// Checks what `publish` would check (the new rpms parse, their digests match, an existing
/// signature is the repository key's, no published name-epoch-version-release-arch has
/// other content, the repository's rpms and index are readable) and writes nothing.
/// `repo::publish` calls it before publishing either side, so a bad rpm leaves the apt
/// repository unchanged too.
pub fn check(
    rpm_root: &Path,
    new_rpms: &[PathBuf],
    signer: Option<&Signer>,
    opts: &RpmRepoOptions,
) -> Result<(), RepoError> {
    let _ = opts;
    prepare(rpm_root, new_rpms, signer, false).map(|_| ())
}

/// Adds `new_rpms` to the rpm-md repository at `rpm_root`, regenerates and signs its
/// metadata and switches it in atomically. On a bad input nothing is written.
pub fn publish(
    rpm_root: &Path,
    new_rpms: &[PathBuf],
    signer: Option<&Signer>,
    opts: &RpmRepoOptions,
) -> Result<RpmReport, RepoError> {
    let prepared = prepare_publish(rpm_root, new_rpms, signer)?;
    publish_prepared(rpm_root, prepared, signer, opts)
}

/// The reading and checking part of `publish` (writes nothing): `repo::publish` runs it
/// beside the apt side's, then `publish_prepared` once both sides are checked.
pub fn prepare_publish(
    rpm_root: &Path,
    new_rpms: &[PathBuf],
    signer: Option<&Signer>,
) -> Result<Prepared, RepoError> {
    prepare(rpm_root, new_rpms, signer, true)
}

/// The writing part of `publish`, from `prepare_publish`'s result.
pub fn publish_prepared(
    rpm_root: &Path,
    prepared: Prepared,
    signer: Option<&Signer>,
    opts: &RpmRepoOptions,
) -> Result<RpmReport, RepoError> {
    let Prepared {
        state,
        index_path,
        old,
        mut report,
        entries,
        mut fresh,
        incoming,
    } = prepared;
    let mut span = super::Span::start();
    let mut entries = entries;
    // Nothing new, nothing changed on disk, the current metadata is complete: keep it
    // (no new generation for mirrors to fetch, retention waits for the next change).
    if incoming.is_empty()
        && report.headers_read == 0
        && entries == old.entries
        && let Some(current) = atomic::current(rpm_root, "repodata")
        && current.join("repomd.xml").is_file()
        && current.join("repomd.xml.asc").is_file() == signer.is_some()
    {
        report.packages = entries.iter().filter(|e| e.retired.is_none()).count();
        report.revision = old.revision;
        report.repodata = current;
        return Ok(report);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let revision = now.max(old.revision + 1);
    let serial = old.serial + 1;
    report.revision = revision;

    // 3. Write the new rpms.
    // (path, data only): see `sync_all_parallel`.
    let mut to_sync: Vec<(PathBuf, bool)> = Vec::new();
    let mut dirs_to_sync: HashSet<PathBuf> = HashSet::new();
    let written = par_map(
        &incoming,
        |inc| -> Result<(PathBuf, Parsed, bool), RepoError> {
            let rel = format!("{PACKAGES_DIR}/{}/{}", inc.arch, inc.file_name());
            let dest = rpm_root.join(&rel);
            let (Some(id), Some(m)) = (inc.id, inc.meta.as_ref()) else {
                return Err(bad(&inc.source, "internal: an unchecked rpm"));
            };
            let (linked, meta) = match &inc.placement {
                Placement::AsIs => super::place_package(&inc.source, &dest, id, opts.copy)?,
                Placement::Signed { head, rest_from } => {
                    write_signed(&inc.source, &dest, id, head, *rest_from)?;
                    let meta =
                        std::fs::metadata(&dest).map_err(|e| RepoError::io(&dest, "reading", e))?;
                    (false, meta)
                }
            };
            let parsed = describe(&dest, m, &rel, meta.len(), mtime_ns(&meta), &inc.sha256)?;
            Ok((dest, parsed, linked))
        },
    );
    for (inc, w) in incoming.iter().zip(written) {
        let (dest, parsed, linked) = w?;
        report.linked += usize::from(linked);
        report.signatures_verified_fast += usize::from(inc.fast_verified);
        if let Some(dir) = dest.parent()
            && dirs_to_sync.insert(dir.to_path_buf())
        {
            to_sync.push((dir.to_path_buf(), false));
        }
        to_sync.push((dest, linked));
        report.headers_read += 1;
        report.added.push(inc.nevra());
        fresh.insert(frag_key(&parsed.entry), parsed.fragments);
        entries.push(parsed.entry);
    }

    span.end("  rpm-md: new rpms placed");
    // 4. Retention: newest keep_versions per name and arch stay in the metadata.
    if opts.keep_versions > 0 {
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.retired.is_none() {
                groups
                    .entry((e.name.clone(), e.arch.clone()))
                    .or_default()
                    .push(i);
            }
        }
        for (_, mut idx) in groups {
            idx.sort_by(|a, b| entries[*b].evr().cmp(&entries[*a].evr()));
            for i in idx.into_iter().skip(opts.keep_versions) {
                entries[i].retired = Some(serial);
                report.retired.push(entries[i].nevra());
            }
        }
    }
    // A file retired by publish s is listed by generations up to s-1; after publish n
    // the newest keep_generations (n-G+1..n) are kept. Deleting once n - s >= G leaves
    // one more publish of margin for a mirror that started copying just before.
    let keep_gen = opts.keep_generations.max(1) as u64;
    let mut kept = Vec::with_capacity(entries.len());
    for e in entries {
        match e.retired {
            Some(s) if serial.saturating_sub(s) >= keep_gen => {
                let p = rpm_root.join(&e.path);
                match std::fs::remove_file(&p) {
                    Ok(()) => report.deleted.push(p),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(RepoError::io(&p, "removing", err)),
                }
            }
            _ => kept.push(e),
        }
    }
    let mut entries = kept;
    entries.sort_by(|a, b| {
        (a.name.as_str(), a.arch.as_str())
            .cmp(&(b.name.as_str(), b.arch.as_str()))
            .then_with(|| a.evr().cmp(&b.evr()))
            .then_with(|| a.path.cmp(&b.path))
    });

    // 5. The documents, from the fragments of the listed packages.
    let listed: Vec<&Entry> = entries.iter().filter(|e| e.retired.is_none()).collect();
    report.packages = listed.len();
    let mut docs = [
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">\n",
            listed.len()
        ),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{}\">\n",
            listed.len()
        ),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{}\">\n",
            listed.len()
        ),
    ];
    for e in &listed {
        let frags = fresh.get(&frag_key(e)).ok_or_else(|| {
            index_err(
                &fragments_path(&state, "primary"),
                0,
                format!("fragments of {} missing", e.path),
            )
        })?;
        for i in 0..3 {
            docs[i].push_str(&frags[i]);
        }
    }
    docs[0].push_str("</metadata>\n");
    docs[1].push_str("</filelists>\n");
    docs[2].push_str("</otherdata>\n");

    span.end("  rpm-md: documents assembled");
    // 6. A new generation: data files, repomd.xml, its signature and the key.
    let generation = atomic::new_generation(rpm_root, "repodata")?;
    let result = (|| -> Result<(), RepoError> {
        let mut repomd = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{revision}</revision>\n"
        );
        // The three documents are compressed in parallel (filelists is the big one).
        let gzs: Vec<Result<Vec<u8>, RepoError>> = std::thread::scope(|scope| {
            let hs: Vec<_> = docs
                .iter()
                .map(|d| scope.spawn(move || gzip(d.as_bytes())))
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(RepoError::io(
                            "repodata",
                            "compressing",
                            std::io::Error::other("compressor thread panicked"),
                        ))
                    })
                })
                .collect()
        });
        for ((i, kind), gz) in KINDS.iter().enumerate().zip(gzs) {
            let open = docs[i].as_bytes();
            let gz = gz?;
            let sha = sha256_hex(&gz);
            let file = format!("{sha}-{kind}.xml.gz");
            write_file(&generation.join(&file), &gz)?;
            to_sync.push((generation.join(&file), false));
            let _ = write!(
                repomd,
                "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{sha}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"repodata/{file}\"/>\n    <timestamp>{revision}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
                sha256_hex(open),
                gz.len(),
                open.len()
            );
        }
        repomd.push_str("</repomd>\n");
        write_file(&generation.join("repomd.xml"), repomd.as_bytes())?;
        to_sync.push((generation.join("repomd.xml"), false));
        if let Some(s) = signer {
            let sig = s.detached_armored(repomd.as_bytes())?;
            write_file(&generation.join("repomd.xml.asc"), sig.as_bytes())?;
            let key = s.public_key_armored()?;
            write_file(&generation.join("repomd.xml.key"), key.as_bytes())?;
            to_sync.push((generation.join("repomd.xml.asc"), false));
            to_sync.push((generation.join("repomd.xml.key"), false));
        }
        to_sync.push((generation.clone(), false));
        span.end("  rpm-md: generation compressed, written, signed");
        // The new rpms and the whole generation are on disk before the switch.
        let r = sync_all_parallel(&to_sync);
        span.end("  rpm-md: fsync");
        r
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&generation);
        return Err(e);
    }
    atomic::switch(rpm_root, "repodata", &generation)?;
    report.repodata = generation;
    atomic::prune(rpm_root, "repodata", opts.keep_generations)?;

    // 7. The index, then fragments nobody lists any more.
    let index = Index {
        revision,
        serial,
        entries,
    };
    save_index(&index_path, &index)?;
    let alive: HashSet<String> = index
        .entries
        .iter()
        .filter(|e| e.retired.is_none())
        .map(frag_key)
        .collect();
    save_fragments(&state, &fresh, &alive)?;
    Ok(report)
}

/// Writes a signed rpm: `head` (lead and new signature header), then the source's bytes
/// from `rest_from` to its end copied in the kernel (`copy_file_range`), through a
/// temporary file and a rename. The source must still be the file that was checked.
fn write_signed(
    src: &Path,
    dest: &Path,
    id: super::FileId,
    head: &[u8],
    rest_from: u64,
) -> Result<(), RepoError> {
    use std::os::fd::AsRawFd;
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, "creating", e))?;
    let source = std::fs::File::open(src).map_err(|e| RepoError::io(src, "reading", e))?;
    let changed = || bad(src, "the file changed while it was published");
    let same = |f: &std::fs::File| {
        f.metadata()
            .map(|m| super::FileId::of(&m) == id)
            .unwrap_or(false)
    };
    if !same(&source) {
        return Err(changed());
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| RepoError::io(dir, "creating a temporary file in", e))?;
    tmp.write_all(head)
        .map_err(|e| RepoError::io(tmp.path(), "writing", e))?;
    let mut off_in = rest_from as libc::loff_t;
    let end = id.size as libc::loff_t;
    let mut via_read = false;
    while off_in < end {
        let want = (end - off_in).min(1 << 30) as usize;
        // SAFETY: two open descriptors we own; the kernel writes at the output file's
        // position and advances `off_in`; no memory of ours is involved.
        let n = unsafe {
            libc::copy_file_range(
                source.as_raw_fd(),
                &mut off_in,
                tmp.as_file().as_raw_fd(),
                std::ptr::null_mut(),
                want,
                0,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            // Kernels or file systems without it (or across some mounts): read + write.
            if matches!(
                err.raw_os_error(),
                Some(libc::ENOSYS | libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP)
            ) {
                via_read = true;
                break;
            }
            return Err(RepoError::io(tmp.path(), "writing", err));
        }
        if n == 0 {
            return Err(changed());
        }
    }
    if via_read {
        use std::io::{Seek, SeekFrom};
        let mut s = &source;
        s.seek(SeekFrom::Start(off_in as u64))
            .map_err(|e| RepoError::io(src, "reading", e))?;
        let copied = std::io::copy(&mut s.take((end - off_in) as u64), tmp.as_file_mut())
            .map_err(|e| RepoError::io(tmp.path(), "writing", e))?;
        if copied != (end - off_in) as u64 {
            return Err(changed());
        }
    }
    if !same(&source) {
        return Err(changed());
    }
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| RepoError::io(tmp.path(), "setting the mode of", e))?;
    }
    tmp.persist(dest)
        .map_err(|e| RepoError::io(dest, "renaming into place", e.error))?;
    Ok(())
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), RepoError> {
    let mut f = std::fs::File::create(path).map_err(|e| RepoError::io(path, "creating", e))?;
    f.write_all(data)
        .map_err(|e| RepoError::io(path, "writing", e))
}

/// `f` over `items` on all cores (at most 16 threads), results in input order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return mine;
                        };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// fsyncs `paths` (files and directories) from up to 16 threads at once: concurrent
/// fsyncs share journal commits, so syncing the new rpms and the new generation costs
/// about one commit, not one per file (measured by R1's bench: per-file fsync made a
/// 2000-rpm publish wait 20 s on a busy disk). A path marked "data only" (a hard link to
/// an input: its name is made durable by the fsync of its directory, its only inode
/// change is the link count) gets `fdatasync`, which writes its data if the input's
/// writer left it dirty and skips the inode (a clean linked file costs no I/O at all).
fn sync_all_parallel(paths: &[(PathBuf, bool)]) -> Result<(), RepoError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = paths.len().clamp(1, 16);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), RepoError> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((p, data_only)) = paths.get(i) else {
                            return Ok(());
                        };
                        std::fs::File::open(p)
                            .and_then(|f| {
                                if *data_only {
                                    f.sync_data()
                                } else {
                                    f.sync_all()
                                }
                            })
                            .map_err(|e| RepoError::io(p, "syncing", e))?;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_escapes_specials_and_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape("a<b>&\"c\"\t\n\u{1}\u{FFFE}é"),
            "a&lt;b&gt;&amp;&quot;c&quot;\t\né"
        );
    }

    #[test]
    fn dependency_versions_split_like_createrepo_c() {
        let s = |v: &str| split_evr(v);
        assert_eq!(s("1:2.0-3"), ("1".into(), "2.0".into(), Some("3".into())));
        assert_eq!(s("2.0"), ("0".into(), "2.0".into(), None));
        assert_eq!(s("1.0-1-2"), ("0".into(), "1.0".into(), Some("1-2".into())));
        assert_eq!(s("1.0-"), ("0".into(), "1.0".into(), None));
        assert_eq!(s("x:1"), ("0".into(), "x:1".into(), None));
    }

    #[test]
    fn primary_files_and_libc_order() {
        assert!(is_primary_file("/etc/wsgid/x.ini"));
        assert!(is_primary_file("/usr/sbin/nologin"));
        assert!(is_primary_file("/usr/lib/sendmail"));
        assert!(!is_primary_file("/usr/lib/wsgid/wsgid_py.abi3.so"));
        assert!(libc_higher(
            "libc.so.6(GLIBC_2.2.5)(64bit)",
            "libc.so.6(GLIBC_2.14)(64bit)"
        ));
        assert!(!libc_higher(
            "libc.so.6(GLIBC_2.14)(64bit)",
            "libc.so.6()(64bit)"
        ));
        assert!(libc_higher("libc.so.6", "libc.so.6(GLIBC_2.3)"));
    }

    #[test]
    fn a_damaged_index_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(INDEX_FILE);
        std::fs::write(&p, format!("{INDEX_MAGIC}\n# revision 5 serial 2\na\tb\n")).unwrap();
        let e = load_index(&p).unwrap_err().to_string();
        assert!(
            e.contains("rpm-index.tsv:3") && e.contains("11 tab-separated"),
            "{e}"
        );
        std::fs::write(&p, "something else\n").unwrap();
        let e = load_index(&p).unwrap_err().to_string();
        assert!(e.contains("rpm-index.tsv:1"), "{e}");
        let mut idx = Index {
            revision: 7,
            serial: 3,
            entries: Vec::new(),
        };
        idx.entries.push(Entry {
            path: "Packages/noarch/a-1-1.noarch.rpm".into(),
            size: 10,
            mtime_ns: 1_700_000_000_123_456_789,
            sha256: "ab".into(),
            header_sha256: "cd".into(),
            name: "a".into(),
            epoch: 1,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            retired: Some(2),
        });
        save_index(&p, &idx).unwrap();
        let back = load_index(&p).unwrap();
        assert_eq!((back.revision, back.serial), (7, 3));
        assert_eq!(back.entries, idx.entries);
    }

    #[test]
    fn fragment_cache_round_trips_and_ignores_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut frags = HashMap::new();
        frags.insert(
            "Packages/a b.rpm ab".to_owned(),
            ["<p>é</p>\n".to_owned(), "f\n".to_owned(), "o\n".to_owned()],
        );
        frags.insert("gone cd".to_owned(), Default::default());
        let keep: HashSet<String> = ["Packages/a b.rpm ab".to_owned()].into();
        save_fragments(dir.path(), &frags, &keep).unwrap();
        let back = load_fragments(dir.path());
        assert_eq!(back.len(), 1);
        assert_eq!(back["Packages/a b.rpm ab"][0], "<p>é</p>\n");
        std::fs::write(
            fragments_path(dir.path(), "other"),
            "<!-- x 99999 -->\nshort",
        )
        .unwrap();
        assert!(
            load_fragments(dir.path()).is_empty(),
            "damaged cache = empty cache"
        );
    }
}
