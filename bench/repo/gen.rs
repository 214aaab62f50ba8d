//! Generates the repository bench's input: N .debs and N .rpms (`OUT/deb`, `OUT/rpm`)
//! with pseudo-random payloads of 20-200 KiB (fixed seed; incompressible, so a package
//! is as large as its payload and hashing counts), the rpms signed with KEY (the bench's
//! repository key, so publishing does not re-sign them).
//!   usage: cargo run --release --example repo-bench-gen -- OUT N KEY [FIRST]
//! FIRST (default 0) numbers the packages from FIRST (the add-one case uses N).

use std::io::Write;
use std::path::Path;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

fn ar_member(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let header = format!(
        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        name,
        1_767_225_600,
        0,
        0,
        "100644",
        data.len()
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(b'\n');
    }
}

fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    let mut tar = tar::Builder::new(enc);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_767_225_600);
        h.set_cksum();
        tar.append_data(&mut h, name, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn deb(path: &Path, name: &str, payload: &[u8]) {
    let control = format!(
        "Package: {name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Bench <bench@example.invalid>\n\
         Installed-Size: {}\nDepends: libc6 (>= 2.34)\nSection: misc\nPriority: optional\n\
         Homepage: https://example.invalid/{name}\nDescription: repository bench package {name}\n \
         Generated payload of {} bytes for the repository publishing bench.\n",
        payload.len().div_ceil(1024),
        payload.len()
    );
    let control_tar = tar_gz(&[("./control", control.as_bytes())]);
    let file = format!("./usr/share/{name}/payload.bin");
    let data_tar = tar_gz(&[(&file, payload)]);
    let mut out = b"!<arch>\n".to_vec();
    ar_member(&mut out, "debian-binary", b"2.0\n");
    ar_member(&mut out, "control.tar.gz", &control_tar);
    ar_member(&mut out, "data.tar.gz", &data_tar);
    std::fs::File::create(path)
        .unwrap()
        .write_all(&out)
        .unwrap();
}

fn rpm(path: &Path, name: &str, payload: &[u8], signer: &rpm::signature::pgp::Signer) {
    let pkg = rpm::PackageBuilder::new(name, "1.0", "MIT", "x86_64", "repository bench package")
        .using_config(
            rpm::BuildConfig::v4()
                .compression(rpm::CompressionType::None)
                .source_date(1_767_225_600u32),
        )
        .release("1")
        .description(format!("Generated payload of {} bytes.", payload.len()))
        .with_file_contents(
            payload.to_vec(),
            rpm::FileOptions::new(format!("/usr/share/{name}/payload.bin")),
        )
        .unwrap()
        .build_and_sign(signer)
        .unwrap();
    pkg.write_file(path).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: repo-bench-gen OUT N KEY [FIRST]");
        std::process::exit(2);
    }
    let out = Path::new(&args[1]);
    let n: usize = args[2].parse().expect("N");
    let key = wsgi_pack::repo::Signer::from_file(Path::new(&args[3]), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let signer = key.rpm_signer().unwrap_or_else(|e| panic!("{e}"));
    let first: usize = args.get(4).map_or(0, |s| s.parse().expect("FIRST"));
    std::fs::create_dir_all(out.join("deb")).unwrap();
    std::fs::create_dir_all(out.join("rpm")).unwrap();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for w in 0..workers {
            let signer = &signer;
            s.spawn(move || {
                for i in (first..first + n).filter(|i| i % workers == w) {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                    let size = 20 * 1024 + (rng.next() % (180 * 1024)) as usize;
                    let payload = rng.bytes(size);
                    let name = format!("bench-pkg{i:05}");
                    deb(
                        &out.join(format!("deb/{name}_1.0-1_amd64.deb")),
                        &name,
                        &payload,
                    );
                    rpm(
                        &out.join(format!("rpm/{name}-1.0-1.x86_64.rpm")),
                        &name,
                        &payload,
                        signer,
                    );
                }
            });
        }
    });
}
