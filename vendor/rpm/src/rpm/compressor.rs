use crate::errors::*;

/// Supported payload compression types.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CompressionType {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl std::fmt::Display for CompressionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Gzip => write!(f, "gzip"),
            Self::Zstd => write!(f, "zstd"),
            Self::Xz => write!(f, "xz"),
            Self::Bzip2 => write!(f, "bzip2"),
        }
    }
}

impl CompressionType {
    /// Detect the compression type from magic bytes at the start of a buffer.
    ///
    /// Returns `None` (the variant, not `Option::None`) when the data starts
    /// with a CPIO magic (`070701`, `070702`, `07070X`) or no known
    /// compression magic is found.
    pub fn detect(data: &[u8]) -> Self {
        if is_cpio_magic(data) {
            CompressionType::None
        } else if data.starts_with(&[0x1f, 0x8b]) {
            CompressionType::Gzip
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            CompressionType::Zstd
        } else if data.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            CompressionType::Xz
        } else if data.starts_with(&[0x42, 0x5a]) {
            // b"BZ"
            CompressionType::Bzip2
        } else {
            CompressionType::None
        }
    }
}

impl std::str::FromStr for CompressionType {
    type Err = Error;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "gzip" => Ok(CompressionType::Gzip),
            "zstd" => Ok(CompressionType::Zstd),
            "xz" => Ok(CompressionType::Xz),
            "bzip2" => Ok(CompressionType::Bzip2),
            _ => Err(Error::UnknownCompressorType(raw.to_string())),
        }
    }
}

fn is_cpio_magic(data: &[u8]) -> bool {
    data.starts_with(b"070701") || data.starts_with(b"070702") || data.starts_with(b"07070X")
}

#[cfg(feature = "payload")]
mod encoding {
    use super::*;
    use std::io;

    pub enum Compressor {
        None(Vec<u8>),
        /// wsgi-pack patch: parallel gzip by `pargz` (fixed chunks: the same bytes for any
        /// core count), instead of flate2's single-threaded `GzEncoder`.
        /// wsgi-pack patch: the member is copied out and hashed (SHA-256) by `pargz`'s
        /// observer as its chunks complete, while later ones are still compressed.
        #[cfg(feature = "gzip-compression")]
        Gzip(pargz::Writer, std::sync::Arc<std::sync::Mutex<HashingVec>>),
        /// If the `zstdmt` feature flag is enabled, compression will use all available cores to
        /// compress the file.
        /// wsgi-pack patch: the output is hashed (SHA-256, the payload digest) as zstd
        /// emits it, while later jobs are still compressed, instead of afterwards.
        #[cfg(feature = "zstd-compression")]
        Zstd(zstd::stream::Encoder<'static, HashingVec>),
        #[cfg(feature = "xz-compression")]
        Xz(liblzma::write::XzEncoder<Vec<u8>>),
        #[cfg(feature = "bzip2-compression")]
        Bzip2(bzip2::write::BzEncoder<Vec<u8>>),
    }

    impl TryFrom<CompressionWithLevel> for Compressor {
        type Error = Error;

        fn try_from(value: CompressionWithLevel) -> Result<Self, Self::Error> {
            match value {
                CompressionWithLevel::None => Ok(Compressor::None(Vec::new())),
                #[cfg(feature = "gzip-compression")]
                CompressionWithLevel::Gzip(level) => {
                    let out = std::sync::Arc::new(std::sync::Mutex::new(HashingVec::default()));
                    let sink = std::sync::Arc::clone(&out);
                    let observer: pargz::Observer = Box::new(move |bytes: &[u8]| {
                        if let Ok(mut v) = sink.lock() {
                            let _ = io::Write::write_all(&mut *v, bytes);
                        }
                    });
                    Ok(Compressor::Gzip(
                        pargz::Writer::with_observer(
                            level.min(9),
                            pargz::default_threads(),
                            observer,
                        ),
                        out,
                    ))
                }
                #[cfg(feature = "zstd-compression")]
                CompressionWithLevel::Zstd(level) => {
                    #[cfg_attr(not(feature = "zstdmt"), allow(unused_mut))]
                    let mut stream = zstd::stream::Encoder::new(HashingVec::default(), level)?;

                    #[cfg(feature = "zstdmt")]
                    {
                        let threads = std::thread::available_parallelism()?;
                        // If someone has more than 2^32 threads, I'm impressed
                        stream.multithread(threads.get() as u32)?;
                        // wsgi-pack patch: 2 MiB jobs (zstd's default at level 3 is 8 MiB,
                        // so a 20 MiB payload was 3 jobs on 2 cores). The output depends on
                        // the job size, not on the worker count.
                        stream.set_parameter(zstd::stream::raw::CParameter::JobSize(2 << 20))?;
                    }

                    Ok(Compressor::Zstd(stream))
                }
                #[cfg(feature = "xz-compression")]
                CompressionWithLevel::Xz(level) => Ok(Compressor::Xz(
                    liblzma::write::XzEncoder::new(Vec::new(), level),
                )),
                #[cfg(feature = "bzip2-compression")]
                CompressionWithLevel::Bzip2(level) => Ok(Compressor::Bzip2(
                    bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level)),
                )),
                // This is an issue when building with all compression types enabled
                #[allow(unreachable_patterns)]
                _ => Err(Error::UnsupportedCompressorType(value.to_string())),
            }
        }
    }

    impl io::Write for Compressor {
        fn write(&mut self, content: &[u8]) -> Result<usize, std::io::Error> {
            match self {
                Compressor::None(data) => data.write(content),
                #[cfg(feature = "gzip-compression")]
                Compressor::Gzip(encoder, _) => encoder.write(content),
                #[cfg(feature = "zstd-compression")]
                Compressor::Zstd(encoder) => encoder.write(content),
                #[cfg(feature = "xz-compression")]
                Compressor::Xz(encoder) => encoder.write(content),
                #[cfg(feature = "bzip2-compression")]
                Compressor::Bzip2(encoder) => encoder.write(content),
            }
        }

        fn flush(&mut self) -> Result<(), std::io::Error> {
            match self {
                Compressor::None(data) => data.flush(),
                #[cfg(feature = "gzip-compression")]
                Compressor::Gzip(encoder, _) => encoder.flush(),
                #[cfg(feature = "zstd-compression")]
                Compressor::Zstd(encoder) => encoder.flush(),
                #[cfg(feature = "xz-compression")]
                Compressor::Xz(encoder) => encoder.flush(),
                #[cfg(feature = "bzip2-compression")]
                Compressor::Bzip2(encoder) => encoder.flush(),
            }
        }
    }

    /// wsgi-pack patch: a `Vec` that hashes (SHA-256) what is written into it.
    #[derive(Default)]
    pub struct HashingVec {
        buf: Vec<u8>,
        sha: sha2::Sha256,
    }

    impl io::Write for HashingVec {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            sha2::Digest::update(&mut self.sha, data);
            self.buf.extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Compressor {
        /// wsgi-pack patch: the payload and, when it was computed on the way, its SHA-256
        /// (hex); `None` means the caller hashes the payload itself.
        pub(crate) fn finish_compression_hashed(self) -> Result<(Vec<u8>, Option<String>), Error> {
            match self {
                #[cfg(feature = "zstd-compression")]
                Compressor::Zstd(encoder) => {
                    let out = encoder.finish()?;
                    Ok((out.buf, Some(hex::encode(sha2::Digest::finalize(out.sha)))))
                }
                #[cfg(feature = "gzip-compression")]
                Compressor::Gzip(encoder, out) => {
                    // The observer has seen the whole member once `finish` returns.
                    let parts = encoder.finish()?;
                    let out = std::sync::Arc::try_unwrap(out)
                        .ok()
                        .and_then(|m| m.into_inner().ok());
                    match out {
                        Some(out) if out.buf.len() == parts.len() => {
                            Ok((out.buf, Some(hex::encode(sha2::Digest::finalize(out.sha)))))
                        }
                        _ => Ok((parts.into_vec(), None)),
                    }
                }
                other => Ok((other.finish_compression()?, None)),
            }
        }

        pub(crate) fn finish_compression(self) -> Result<Vec<u8>, Error> {
            match self {
                Compressor::None(data) => Ok(data),
                #[cfg(feature = "gzip-compression")]
                Compressor::Gzip(encoder, _) => Ok(encoder.finish()?.into_vec()),
                #[cfg(feature = "zstd-compression")]
                Compressor::Zstd(encoder) => Ok(encoder.finish()?.buf),
                #[cfg(feature = "xz-compression")]
                Compressor::Xz(encoder) => Ok(encoder.finish()?),
                #[cfg(feature = "bzip2-compression")]
                Compressor::Bzip2(encoder) => Ok(encoder.finish()?),
            }
        }
    }

    /// Supported compression types, with an associated compression level. This is used for setting
    /// a custom compression configuration during RPM building.
    #[derive(Clone, Copy, Debug, Eq, PartialEq)]
    pub enum CompressionWithLevel {
        None,
        Zstd(i32),
        Gzip(u32),
        Xz(u32),
        Bzip2(u32),
    }

    impl CompressionWithLevel {
        pub(crate) fn compression_type(&self) -> CompressionType {
            match self {
                Self::None => CompressionType::None,
                Self::Gzip(_) => CompressionType::Gzip,
                Self::Zstd(_) => CompressionType::Zstd,
                Self::Xz(_) => CompressionType::Xz,
                Self::Bzip2(_) => CompressionType::Bzip2,
            }
        }
    }

    impl Default for CompressionWithLevel {
        // The preference of the default compression type is listed in descending order and dependent on
        // the enabled feature flags.
        // Writing this without allowing unreachable code is possible but not very pretty. It involves
        // checking if the previous features haven't been enabled on each return so this is a
        // reasonable tradeoff.
        #[allow(unreachable_code)]
        fn default() -> Self {
            #[cfg(feature = "zstd-compression")]
            return CompressionType::Zstd.into();

            #[cfg(feature = "gzip-compression")]
            return CompressionType::Gzip.into();

            #[cfg(feature = "xz-compression")]
            return CompressionType::Xz.into();

            CompressionType::None.into()
        }
    }

    impl From<CompressionType> for CompressionWithLevel {
        fn from(value: CompressionType) -> Self {
            match value {
                CompressionType::None => CompressionWithLevel::None,
                CompressionType::Gzip => CompressionWithLevel::Gzip(9),
                CompressionType::Xz => CompressionWithLevel::Xz(9),
                CompressionType::Zstd => CompressionWithLevel::Zstd(19),
                CompressionType::Bzip2 => CompressionWithLevel::Bzip2(9),
            }
        }
    }

    impl std::fmt::Display for CompressionWithLevel {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::None => write!(f, "none"),
                Self::Gzip(level) => write!(f, "gzip, compression level {level}"),
                Self::Zstd(level) => write!(f, "zstd, compression level {level}"),
                Self::Xz(level) => write!(f, "xz, compression level {level}"),
                Self::Bzip2(level) => write!(f, "bzip2, compression level {level}"),
            }
        }
    }

    pub(crate) fn decompress_stream<'a>(
        mut reader: impl io::BufRead + 'a,
    ) -> Result<Box<dyn io::Read + 'a>, Error> {
        let compression = CompressionType::detect(reader.fill_buf().unwrap_or(&[]));
        match compression {
            CompressionType::None => Ok(Box::new(reader)),
            #[cfg(feature = "gzip-compression")]
            CompressionType::Gzip => Ok(Box::new(flate2::bufread::GzDecoder::new(reader))),
            #[cfg(feature = "zstd-compression")]
            CompressionType::Zstd => Ok(Box::new(zstd::stream::Decoder::new(reader)?)),
            #[cfg(feature = "xz-compression")]
            CompressionType::Xz => Ok(Box::new(liblzma::bufread::XzDecoder::new(reader))),
            #[cfg(feature = "bzip2-compression")]
            CompressionType::Bzip2 => Ok(Box::new(bzip2::bufread::BzDecoder::new(reader))),
            #[allow(unreachable_patterns)]
            _ => Err(Error::UnsupportedCompressorType(compression.to_string())),
        }
    }
}

#[cfg(feature = "payload")]
pub use encoding::*;
