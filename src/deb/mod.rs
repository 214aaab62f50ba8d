//! .deb writer (deb(5): an ar archive of `debian-binary`, `control.tar.xz`,
//! `data.tar.xz`). The ar writer and the xz compressor are cargo-deb 3.8.0's library
//! (`DebArchive`, `compress::select_compressor`); its tarball writer is `pub(crate)`
//! and bound to its own asset model, so the tar members are written here with the
//! `tar` crate: GNU headers, root:root, sorted entries, mtime = SOURCE_DATE_EPOCH.

use crate::error::{Error, Result};
use crate::model::Compression;
use crate::render::{PackagePlan, Script};
use cargo_deb::compress::{Format as DebCompression, select_compressor};
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
            tar.append(&h, d)
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
    format!("{:x}", md5::compute(data))
}

/// cargo-deb compressor settings `(fast, format)` for a resolved compression
/// (validated by `Compression::supported_by`).
fn compressor(pkg: &PackagePlan) -> Result<(bool, DebCompression)> {
    match pkg.compression {
        Compression::Xz(6) => Ok((false, DebCompression::Xz)),
        Compression::Xz(1) => Ok((true, DebCompression::Xz)),
        Compression::Gzip(1) => Ok((true, DebCompression::Gzip)),
        other => Err(deb_err(pkg, format!("unsupported compression {other:?}"))),
    }
}

/// Writes `pkg` as a .deb at `out`.
pub fn write(pkg: &PackagePlan, out: &Path) -> Result<()> {
    let mtime = pkg.source_date_epoch;
    let (fast, format) = compressor(pkg)?;
    // data.tar.xz: every parent directory, then files, in path order.
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

    let comp = select_compressor(fast, format, false).map_err(|e| deb_err(pkg, e))?;
    let mut data = tar::Builder::new(comp);
    append(&mut data, "./", 0o755, None, mtime).map_err(|e| deb_err(pkg, e))?;
    for (path, file) in &entries {
        let rel = format!(".{path}");
        match file {
            None => append(&mut data, &format!("{rel}/"), 0o755, None, mtime),
            Some(f) => append(&mut data, &rel, f.mode, Some(&f.content), mtime),
        }
        .map_err(|e| deb_err(pkg, e))?;
    }
    let data = data
        .into_inner()
        .map_err(|e| deb_err(pkg, e))?
        .finish()
        .map_err(|e| deb_err(pkg, e))?;

    // control.tar.xz: control, conffiles, md5sums, maintainer scripts.
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
    let md5sums: String = pkg
        .files
        .iter()
        .filter(|f| !f.config)
        .map(|f| {
            format!(
                "{}  {}\n",
                md5_hex(&f.content),
                f.path.trim_start_matches('/')
            )
        })
        .collect();
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
    let comp = select_compressor(fast, format, false).map_err(|e| deb_err(pkg, e))?;
    let mut control_tar = tar::Builder::new(comp);
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
        .map_err(|e| deb_err(pkg, e))?
        .finish()
        .map_err(|e| deb_err(pkg, e))?;

    let mut ar =
        cargo_deb::DebArchive::new(out.to_path_buf(), mtime).map_err(|e| deb_err(pkg, e))?;
    ar.add_control(control_tar).map_err(|e| deb_err(pkg, e))?;
    ar.add_data(data).map_err(|e| deb_err(pkg, e))?;
    ar.finish().map_err(|e| deb_err(pkg, e))?;
    Ok(())
}
