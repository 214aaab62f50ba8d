//! Reproducible parallel gzip (pigz's scheme).
//!
//! The input is cut into fixed-size chunks ([`CHUNK`]); each chunk is deflated on its
//! own (raw deflate, the caller's level) with the 32 KiB before it as the preset
//! dictionary and ends with a sync flush (an empty stored block: byte-aligned, not
//! final); the remainder after the last full chunk (possibly empty) ends the stream.
//! The chunks are concatenated behind one gzip header and followed by the CRC-32 and
//! size of the whole input, so the result is a single ordinary gzip member that gzip,
//! zlib, dpkg and rpm read.
//!
//! The bytes depend only on the input, the level and [`CHUNK`], never on the number of
//! threads or their timing: chunk boundaries are fixed and results are placed by index.
//! [`Writer`] streams: full chunks go to worker threads while the caller writes on, and
//! input buffers are recycled, so the uncompressed input is never held whole.

use flate2::{Compress, Compression, FlushCompress, Status};
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Chunk size. Larger chunks lose less ratio at the boundaries; smaller chunks spread
/// better over cores. 1 MiB costs < 0.1% of size (pigz uses 128 KiB).
pub const CHUNK: usize = 1 << 20;
const WINDOW: usize = 32 * 1024;

/// Deflates `input` (raw) primed with `dict`, ending with a sync flush or, if `last`,
/// the final block.
fn deflate_chunk(dict: &[u8], input: &[u8], level: u32, last: bool) -> Vec<u8> {
    // A fresh stream per chunk. Reusing a worker's stream through `reset()` (deflateReset)
    // was tried: with zlib-rs 0.6.8 the bench payload then compressed to other bytes than
    // with fresh streams, so the output could depend on which worker took which chunk.
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict)
            .expect("deflateSetDictionary on a fresh raw stream");
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    // deflateBound-like capacity; grown below if ever short.
    let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate on an in-memory buffer");
        let done_input = c.total_in() as usize == input.len();
        let room = out.len() < out.capacity();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete when all input is in and output space is left.
            Status::Ok | Status::BufError if !last && done_input && room => break,
            _ if !room => out.reserve(out.capacity().max(4096)),
            _ => {}
        }
    }
    out
}

/// A gzip member as its pieces (header, one deflate chunk per [`CHUNK`], trailer), so a
/// caller can write it out without joining the pieces first.
pub struct Gzip {
    pub parts: Vec<Vec<u8>>,
}

impl Gzip {
    /// Total size in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    /// Never true: a gzip member has at least its header and trailer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member as one buffer.
    pub fn into_vec(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for p in &self.parts {
            out.extend_from_slice(p);
        }
        out
    }

    /// Writes the member to `w`.
    pub fn write_to(&self, w: &mut impl io::Write) -> io::Result<()> {
        self.parts.iter().try_for_each(|p| w.write_all(p))
    }
}

struct Job {
    index: usize,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

struct Done {
    index: usize,
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    data: Vec<u8>,
    dict: Vec<u8>,
}

/// Sees the member's bytes in order (header, chunks, trailer) as soon as they are
/// known: chunks are passed as they complete, on the writing thread, while later
/// chunks are still being compressed (e.g. to hash or copy the output on the way).
pub type Observer = Box<dyn FnMut(&[u8]) + Send>;

/// The gzip header: no name, no mtime (reproducible), XFL as zlib sets it, OS = Unix.
fn header(level: u32) -> Vec<u8> {
    let xfl = match level {
        1 => 4,
        9 => 2,
        _ => 0,
    };
    vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
}

/// Streaming parallel gzip writer; [`Writer::finish`] returns the member.
pub struct Writer {
    level: u32,
    buf: Vec<u8>,
    dict: Vec<u8>,
    next: usize,
    size: u64,
    jobs: Option<mpsc::Sender<Job>>,
    done_rx: mpsc::Receiver<Done>,
    workers: Vec<std::thread::JoinHandle<()>>,
    results: Vec<Option<(Vec<u8>, crc32fast::Hasher)>>,
    free: Vec<Vec<u8>>,
    free_dicts: Vec<Vec<u8>>,
    in_flight: usize,
    max_in_flight: usize,
    observer: Option<Observer>,
    /// Chunks already passed to the observer (the header is passed before chunk 0).
    observed: usize,
}

impl Writer {
    /// A writer at `level` (0..=9) with `threads` workers (at least 1).
    pub fn new(level: u32, threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let mut crc = crc32fast::Hasher::new();
                        crc.update(&job.data);
                        let out = deflate_chunk(&job.dict, &job.data, level, job.last);
                        let done = Done {
                            index: job.index,
                            out,
                            crc,
                            data: job.data,
                            dict: job.dict,
                        };
                        if done_tx.send(done).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self {
            level,
            buf: Vec::with_capacity(CHUNK),
            dict: Vec::new(),
            next: 0,
            size: 0,
            jobs: Some(jobs),
            done_rx,
            workers,
            results: Vec::new(),
            free: Vec::new(),
            free_dicts: Vec::new(),
            in_flight: 0,
            max_in_flight: 2 * threads,
            observer: None,
            observed: 0,
        }
    }

    /// A writer whose output is also passed, in order, to `observer` (see [`Observer`]).
    pub fn with_observer(level: u32, threads: usize, mut observer: Observer) -> Self {
        observer(&header(level));
        let mut w = Self::new(level, threads);
        w.observer = Some(observer);
        w
    }

    /// Passes the completed chunks that follow the last observed one to the observer.
    fn observe_ready(&mut self) {
        if let Some(obs) = self.observer.as_mut() {
            while let Some(Some((out, _))) = self.results.get(self.observed) {
                obs(out);
                self.observed += 1;
            }
        }
    }

    fn worker_failed() -> io::Error {
        io::Error::other("parallel gzip worker failed")
    }

    fn collect_one(&mut self) -> io::Result<()> {
        let d = self.done_rx.recv().map_err(|_| Self::worker_failed())?;
        if self.results.len() <= d.index {
            self.results.resize_with(d.index + 1, || None);
        }
        self.results[d.index] = Some((d.out, d.crc));
        self.observe_ready();
        let mut data = d.data;
        data.clear();
        self.free.push(data);
        let mut dict = d.dict;
        dict.clear();
        self.free_dicts.push(dict);
        self.in_flight -= 1;
        Ok(())
    }

    fn dispatch(&mut self, last: bool) -> io::Result<()> {
        if self.in_flight >= self.max_in_flight {
            self.collect_one()?;
        }
        let fresh = self.free.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
        let data = std::mem::replace(&mut self.buf, fresh);
        // The next chunk's dictionary: this chunk's last 32 KiB.
        let mut next_dict = self.free_dicts.pop().unwrap_or_default();
        next_dict.extend_from_slice(&data[data.len().saturating_sub(WINDOW)..]);
        let dict = std::mem::replace(&mut self.dict, next_dict);
        let job = Job {
            index: self.next,
            dict,
            data,
            last,
        };
        self.next += 1;
        self.jobs
            .as_ref()
            .expect("writer not finished")
            .send(job)
            .map_err(|_| Self::worker_failed())?;
        self.in_flight += 1;
        Ok(())
    }

    /// Compresses what is left and returns the gzip member.
    pub fn finish(mut self) -> io::Result<Gzip> {
        self.dispatch(true)?;
        while self.in_flight > 0 {
            self.collect_one()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            w.join().map_err(|_| Self::worker_failed())?;
        }
        let mut parts = Vec::with_capacity(self.results.len() + 2);
        parts.push(header(self.level));
        let mut crc = crc32fast::Hasher::new();
        for r in std::mem::take(&mut self.results) {
            let (out, c) = r.ok_or_else(Self::worker_failed)?;
            parts.push(out);
            crc.combine(&c);
        }
        let mut trailer = crc.finalize().to_le_bytes().to_vec();
        trailer.extend_from_slice(&(self.size as u32).to_le_bytes());
        if let Some(obs) = self.observer.as_mut() {
            obs(&trailer);
        }
        parts.push(trailer);
        Ok(Gzip { parts })
    }
}

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buf.len() == CHUNK {
            self.dispatch(false)?;
        }
        let n = buf.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Unfinished (an error path): stop the workers.
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Gzips `data` at `level` (0..=9) with up to `threads` threads, as pieces.
pub fn gzip_parts(data: &[u8], level: u32, threads: usize) -> Gzip {
    let threads = threads.clamp(1, data.len() / CHUNK + 1);
    let mut w = Writer::new(level, threads);
    io::Write::write_all(&mut w, data).expect("in-memory parallel gzip");
    w.finish().expect("in-memory parallel gzip")
}

/// Gzips `data` at `level` (0..=9) with up to `threads` threads.
pub fn gzip(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
    gzip_parts(data, level, threads).into_vec()
}

/// Available cores (at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // Single-member decoder: the output must be one member, not several.
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a text-like pattern with a counter.
        let mut v = Vec::with_capacity(len);
        let mut i = 0u32;
        while v.len() < len {
            v.extend_from_slice(format!("line {i} of the sample, {}\n", i % 97).as_bytes());
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12345) >> 8;
        }
        v.truncate(len);
        v
    }

    #[test]
    fn round_trips_at_every_size_and_level() {
        for len in [0, 1, 1000, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345] {
            let data = sample(len);
            for level in [1, 6, 9] {
                assert_eq!(
                    gunzip(&gzip(&data, level, 3)),
                    data,
                    "len {len} level {level}"
                );
            }
        }
    }

    #[test]
    fn same_bytes_for_any_thread_count() {
        let data = sample(5 * CHUNK + 7);
        let one = gzip(&data, 6, 1);
        let parts = gzip_parts(&data, 6, 2);
        let mut written = Vec::new();
        parts.write_to(&mut written).unwrap();
        assert_eq!((parts.len(), written), (one.len(), one.clone()));
        for t in [2, 3, 8] {
            assert_eq!(gzip(&data, 6, t), one, "{t} threads");
        }
    }

    #[test]
    fn streaming_in_odd_pieces_gives_the_same_bytes() {
        let data = sample(2 * CHUNK + 999);
        let mut w = Writer::new(1, 2);
        for piece in data.chunks(4093) {
            std::io::Write::write_all(&mut w, piece).unwrap();
        }
        assert_eq!(w.finish().unwrap().into_vec(), gzip(&data, 1, 1));
    }

    #[test]
    fn the_observer_sees_the_member_in_order() {
        let data = sample(4 * CHUNK + 77);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let mut w = Writer::with_observer(
            6,
            2,
            Box::new(move |b: &[u8]| sink.lock().unwrap().extend_from_slice(b)),
        );
        for piece in data.chunks(100_000) {
            std::io::Write::write_all(&mut w, piece).unwrap();
        }
        let member = w.finish().unwrap().into_vec();
        assert!(*seen.lock().unwrap() == member);
        assert!(member == gzip(&data, 6, 1));
    }

    #[test]
    fn system_gzip_reads_it() {
        let data = sample(3 * CHUNK + 5);
        let dir = std::env::temp_dir().join(format!("pargz-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.gz");
        std::fs::write(&f, gzip(&data, 6, 2)).unwrap();
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&f)
            .output()
            .expect("gzip(1) runs");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == data, "gzip -dc gives the input back");
    }

    #[test]
    fn incompressible_input_fits() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let data: Vec<u8> = (0..2 * CHUNK + 5)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(gunzip(&gzip(&data, 1, 2)), data);
    }
}
