//! .deb writer (deb(5): an ar archive of `debian-binary`, `control.tar.*`,
//! `data.tar.*`). The tar members are written with the `tar` crate into memory (GNU
//! headers, root:root, sorted entries, mtime = SOURCE_DATE_EPOCH), compressed with
//! liblzma's multi-threaded xz encoder (fixed block size) or `pargz` (parallel gzip,
//! fixed chunks), and put in the ar container with the `ar` crate exactly as
//! cargo-deb's `DebArchive` did (mode 100644, uid/gid 0, mtime = SOURCE_DATE_EPOCH).
//! Both compressors give the same bytes for any core count.

use crate::error::{Error, Result};
use crate::model::Compression;
use crate::render::{PackagePlan, Script};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

fn deb_err(pkg: &PackagePlan, e: impl std::fmt::Display) -> Error {
    Error::Deb {
        package: pkg.name.clone(),
        message: e.to_string(),
    }
}

/// Appends one tar entry (file or directory) owned by root.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    data: Option<&[u8]>,
    mtime: u64,
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    // Raw name with dpkg-deb's `./` prefix (the tar crate's set_path drops `.`).
    let name = &mut h.as_gnu_mut().expect("gnu header").name;
    if path.len() >= name.len() {
        return Err(std::io::Error::other(format!(
            "path too long for a tar header: {path}"
        )));
    }
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("root")?;
    h.set_groupname("root")?;
    h.set_mtime(mtime);
    match data {
        Some(d) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(d.len() as u64);
            h.set_cksum();
            // Header, then the bytes straight from the (mapped) content into the
            // compressor and the zero padding to 512, as `tar::Builder::append` writes
            // them, without its 8 KiB copy loop.
            let w = tar.get_mut();
            w.write_all(h.as_bytes())?;
            w.write_all(d)?;
            let pad = (512 - d.len() % 512) % 512;
            w.write_all(&[0u8; 512][..pad])
        }
        None => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_cksum();
            tar.append(&h, std::io::empty())
        }
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    format!("{:x}", md5::Md5::digest(data))
}

/// xz block size: liblzma's multi-threaded encoder compresses blocks in parallel and its
/// default block (3 x the dictionary, 24 MiB at preset 6) left a 20 MiB payload on one
/// core. 8 MiB (the preset-6 dictionary) costs ~0.5% of size at -6. The output depends on
/// the block size and preset only, not on the thread count.
pub const XZ_BLOCK: u64 = 8 << 20;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A compressed tar member: gzip pieces (written without joining) or one buffer.
enum Member {
    Gz(pargz::Gzip),
    Xz(Vec<u8>),
}

impl Member {
    fn name(&self, stem: &str) -> String {
        match self {
            Self::Gz(_) => format!("{stem}.tar.gz"),
            Self::Xz(_) => format!("{stem}.tar.xz"),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Gz(g) => g.len(),
            Self::Xz(v) => v.len(),
        }
    }
}

/// Reads a member's pieces in order (the `ar` crate copies members from a reader).
struct MemberReader<'a> {
    pieces: std::collections::VecDeque<&'a [u8]>,
}

impl<'a> MemberReader<'a> {
    fn new(m: &'a Member) -> Self {
        let pieces = match m {
            Member::Gz(g) => g.parts.iter().map(Vec::as_slice).collect(),
            Member::Xz(v) => [v.as_slice()].into(),
        };
        Self { pieces }
    }
}

impl std::io::Read for MemberReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(front) = self.pieces.front_mut() {
            if front.is_empty() {
                self.pieces.pop_front();
                continue;
            }
            return front.read(buf);
        }
        Ok(0)
    }
}

/// A tar member's compressor; the tar builder streams into it.
enum Encoder {
    Gz(pargz::Writer),
    Xz(xz2::write::XzEncoder<Vec<u8>>),
}

impl Encoder {
    fn new(compression: Compression) -> std::io::Result<Self> {
        match compression {
            Compression::Gzip(level) => Ok(Self::Gz(pargz::Writer::new(level, threads()))),
            Compression::Xz(level) => {
                let stream = xz2::stream::MtStreamBuilder::new()
                    .threads(threads().min(64) as u32)
                    .preset(level)
                    .block_size(XZ_BLOCK)
                    .check(xz2::stream::Check::Crc64)
                    .encoder()
                    .map_err(std::io::Error::other)?;
                Ok(Self::Xz(xz2::write::XzEncoder::new_stream(
                    Vec::new(),
                    stream,
                )))
            }
            other => Err(std::io::Error::other(format!(
                "unsupported compression {other:?}"
            ))),
        }
    }

    fn finish(self) -> std::io::Result<Member> {
        match self {
            Self::Gz(w) => w.finish().map(Member::Gz),
            Self::Xz(w) => w.finish().map(Member::Xz),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Gz(w) => w.write(buf),
            Self::Xz(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Gz(w) => w.flush(),
            Self::Xz(w) => w.flush(),
        }
    }
}

/// Writes `pkg` as a .deb at `out`.
pub fn write(pkg: &PackagePlan, out: &Path) -> Result<()> {
    let mtime = pkg.source_date_epoch;
    // data.tar: every parent directory, then files, in path order.
    let mut dirs = BTreeSet::new();
    for f in &pkg.files {
        let mut p = Path::new(&f.path).parent();
        while let Some(d) = p {
            if d != Path::new("/") {
                dirs.insert(d.to_string_lossy().into_owned());
            }
            p = d.parent();
        }
    }
    let mut entries: Vec<(String, Option<&crate::render::PlannedFile>)> =
        dirs.into_iter().map(|d| (d, None)).collect();
    entries.extend(pkg.files.iter().map(|f| (f.path.clone(), Some(f))));
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    // The md5sums are computed on a second thread while the data member is built and
    // streamed into the compressor (which uses the other cores).
    let (data, md5sums) = std::thread::scope(|s| -> Result<(Member, String)> {
        let md5 = s.spawn(|| -> String {
            pkg.files
                .iter()
                .filter(|f| !f.config)
                .map(|f| {
                    format!(
                        "{}  {}\n",
                        md5_hex(&f.content),
                        f.path.trim_start_matches('/')
                    )
                })
                .collect()
        });
        let enc = Encoder::new(pkg.compression).map_err(|e| deb_err(pkg, e))?;
        let mut data = tar::Builder::new(enc);
        append(&mut data, "./", 0o755, None, mtime).map_err(|e| deb_err(pkg, e))?;
        for (path, file) in &entries {
            let rel = format!(".{path}");
            match file {
                None => append(&mut data, &format!("{rel}/"), 0o755, None, mtime),
                Some(f) => append(&mut data, &rel, f.mode, Some(f.content.as_slice()), mtime),
            }
            .map_err(|e| deb_err(pkg, e))?;
        }
        let data = data
            .into_inner()
            .and_then(Encoder::finish)
            .map_err(|e| deb_err(pkg, e))?;
        let md5sums = md5
            .join()
            .map_err(|_| deb_err(pkg, "md5 thread panicked"))?;
        Ok((data, md5sums))
    })?;

    // control.tar: control, conffiles, md5sums, maintainer scripts.
    let mut members: Vec<(String, u32, Vec<u8>)> = Vec::new();
    let control = pkg.control.clone().unwrap_or_default();
    members.push(("control".into(), 0o644, control.into_bytes()));
    let conffiles: Vec<&str> = pkg
        .files
        .iter()
        .filter(|f| f.config)
        .map(|f| f.path.as_str())
        .collect();
    if !conffiles.is_empty() {
        members.push((
            "conffiles".into(),
            0o644,
            (conffiles.join("\n") + "\n").into_bytes(),
        ));
    }
    members.push(("md5sums".into(), 0o644, md5sums.into_bytes()));
    for (script, text) in &pkg.scripts {
        let name = match script {
            Script::Postinst => "postinst",
            Script::Prerm => "prerm",
            Script::Postrm => "postrm",
            _ => continue,
        };
        members.push((name.into(), 0o755, text.clone().into_bytes()));
    }
    members.sort();
    let enc = Encoder::new(pkg.compression).map_err(|e| deb_err(pkg, e))?;
    let mut control_tar = tar::Builder::new(enc);
    append(&mut control_tar, "./", 0o755, None, mtime).map_err(|e| deb_err(pkg, e))?;
    for (name, mode, bytes) in &members {
        append(
            &mut control_tar,
            &format!("./{name}"),
            *mode,
            Some(bytes),
            mtime,
        )
        .map_err(|e| deb_err(pkg, e))?;
    }
    let control_tar = control_tar
        .into_inner()
        .and_then(Encoder::finish)
        .map_err(|e| deb_err(pkg, e))?;

    let file = std::fs::File::create(out).map_err(|e| Error::io(out, "cannot create", e))?;
    let mut w = std::io::BufWriter::new(file);
    let werr = |e| Error::io(out, "cannot write", e);
    // The ar container (the `ar` crate's GNU/BSD-common format, as dpkg-deb and cargo-deb
    // write it): mode 100644, root, mtime = SOURCE_DATE_EPOCH. The data member is
    // written piece by piece after its header (`ar` pads odd sizes itself).
    let header = |name: String, len: usize| {
        let mut h = ar::Header::new(name.into_bytes(), len as u64);
        h.set_mode(0o100644);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    {
        let mut ar = ar::Builder::new(&mut w);
        ar.append(&header("debian-binary".into(), 4), &b"2.0\n"[..])
            .map_err(werr)?;
        for (stem, member) in [("control", &control_tar), ("data", &data)] {
            ar.append(
                &header(member.name(stem), member.len()),
                MemberReader::new(member),
            )
            .map_err(werr)?;
        }
    }
    w.flush().map_err(werr)?;
    Ok(())
}
