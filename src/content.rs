//! The bytes of a packaged file: rendered text in memory, or a build artifact mapped
//! read-only from its file. Cloning shares the bytes; the package writers read them in
//! place (md5sums, tar, rpm digests and cpio all read the same pages).

use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A file's content, shared (cheap to clone), read as `&[u8]`.
#[derive(Clone)]
pub struct Content(Arc<Inner>);

enum Inner {
    Mem(Vec<u8>),
    Map(Map),
}

impl Content {
    /// The content as a byte slice.
    pub fn as_slice(&self) -> &[u8] {
        match &*self.0 {
            Inner::Mem(v) => v,
            Inner::Map(m) => m.as_slice(),
        }
    }

    /// A built artifact: mapped from `path` when it is large (no copy of its bytes into
    /// memory of our own: the page-cache pages are read in place), read otherwise.
    ///
    /// The file must not be truncated or rewritten while the packages are written (it
    /// is the output of the build step, which has exited): a mapped file that shrinks
    /// under us would fault on access. `wsgi-pack build` reads it once and writes every
    /// package from the same bytes.
    pub fn artifact(path: &Path) -> std::io::Result<Self> {
        const MIN_MAP: u64 = 1 << 20;
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        if meta.len() < MIN_MAP {
            let mut v = Vec::with_capacity(meta.len() as usize);
            std::io::Read::read_to_end(&mut &file, &mut v)?;
            return Ok(Self::from(v));
        }
        Map::new(&file, meta.len()).map(|m| Self(Arc::new(Inner::Map(m))))
    }
}

impl From<Vec<u8>> for Content {
    fn from(v: Vec<u8>) -> Self {
        Self(Arc::new(Inner::Mem(v)))
    }
}

impl Deref for Content {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Content {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &*self.0 {
            Inner::Mem(_) => "in memory",
            Inner::Map(_) => "mapped",
        };
        write!(f, "Content({} bytes, {kind})", self.len())
    }
}

/// A read-only private mapping of a whole file.
struct Map {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned; the pointer is only read through shared
// references and unmapped once, in `Drop`.
unsafe impl Send for Map {}
// SAFETY: as above: no interior mutability.
unsafe impl Sync for Map {}

impl Map {
    fn new(file: &std::fs::File, len: u64) -> std::io::Result<Self> {
        use std::os::unix::io::AsRawFd;
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        // SAFETY: a fresh mapping of `len` (> 0) bytes of an open file; the kernel
        // chooses the address. MAP_POPULATE maps the (cached) pages now, in one call,
        // instead of one fault per 64 KiB later on the writers' threads.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { ptr, len })
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for the lifetime of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_artifacts_are_mapped_small_ones_read_both_give_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 10, (1 << 20) + 3] {
            let p = dir.path().join(format!("a{len}"));
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(&p, &bytes).unwrap();
            let c = Content::artifact(&p).unwrap();
            assert_eq!(c.as_slice(), &bytes[..]);
            let kind = format!("{c:?}");
            assert_eq!(kind.contains("mapped"), len > 1 << 20, "{kind}");
        }
        assert!(Content::artifact(&dir.path().join("missing")).is_err());
        assert!(Content::artifact(dir.path()).is_err());
    }
}
