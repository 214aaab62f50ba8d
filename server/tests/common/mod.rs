//! Shared helpers for wsgid's integration tests: the real `wsgid` binary with the built
//! extension, temp dirs, process guards (killed on drop), readiness waits (bounded, no
//! sleeps as synchronisation), raw HTTP and uwsgi clients, curl and nginx.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Upper bound of every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn apps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps")
}

pub fn ini_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ini")
}

/// The test virtualenv (Flask, trytond); fails with instructions when missing.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("WSGID_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-venv"));
    assert!(
        v.join("bin/python3").is_file(),
        "test venv {} is missing: run `bash ci/prereqs.sh` (creates it from ci/test-requirements.txt)",
        v.display()
    );
    v
}

/// A tool the tests need; fails with instructions when missing.
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run `bash ci/prereqs.sh`");
}

/// The built extension: the newest libwsgid_py.so of this profile's target dir.
pub fn pyext() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for p in [
        profile.join("libwsgid_py.so"),
        profile.join("deps/libwsgid_py.so"),
    ] {
        if let Ok(m) = std::fs::metadata(&p).and_then(|m| m.modified()) {
            if best.as_ref().is_none_or(|(t, _)| m > *t) {
                best = Some((m, p));
            }
        }
    }
    best.map(|b| b.1).unwrap_or_else(|| {
        panic!(
            "libwsgid_py.so not found under {}: build with `cargo build --release`",
            profile.display()
        )
    })
}

pub fn wsgid_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wsgid"))
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "wsgid-test-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        // nginx workers (www-data) must reach sockets here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns Some or WAIT passes.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A process (group) started by a test; stopped on drop.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub stop_signal: i32,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&mut self, needle: &str) {
        let log = self.log.clone();
        let mut exited = None;
        wait_for(&format!("`{needle}` in {}", log.display()), || {
            if let Ok(Some(st)) = self.child.try_wait() {
                exited = Some(st);
                return Some(());
            }
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains(needle))
                .map(|_| ())
        });
        if let Some(st) = exited {
            let t = self.log_text();
            assert!(
                t.contains(needle),
                "process exited ({st}) before `{needle}`; log:\n{t}"
            );
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits (bounded) for the process to exit; returns its status code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            if start.elapsed() > WAIT {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(self.stop_signal);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left of the group (workers) is killed.
        // SAFETY: the child leads its own process group (process_group(0)).
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` in its own process group, output to `log`.
pub fn spawn(mut cmd: Command, log: PathBuf, stop_signal: i32) -> Proc {
    let f = std::fs::File::create(&log).unwrap();
    cmd.stdout(f.try_clone().unwrap())
        .stderr(f)
        .stdin(Stdio::null())
        .process_group(0);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    Proc {
        child,
        log,
        stop_signal,
    }
}

/// A `wsgid` command with the extension and the test venv's python.
///
/// Run as root (CI), it passes `--allow-root` first: wsgid refuses to serve as root
/// without `uid` unless told so. Tests of that refusal use [`wsgid_cmd_plain`].
pub fn wsgid_cmd() -> Command {
    let mut c = wsgid_cmd_plain();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        c.arg("--allow-root");
    }
    c
}

/// [`wsgid_cmd`] without the `--allow-root` opt-in.
pub fn wsgid_cmd_plain() -> Command {
    let mut c = Command::new(wsgid_bin());
    c.env("WSGID_PYEXT", pyext())
        .env("WSGID_PYTHON", venv().join("bin/python3"))
        .env_remove("NOTIFY_SOCKET");
    c
}

/// Starts wsgid with `args` and waits for the master's "ready" line.
pub fn start_wsgid(dir: &TempDir, args: &[&str]) -> Proc {
    start_wsgid_with(dir, wsgid_cmd(), args)
}

pub fn start_wsgid_with(dir: &TempDir, mut cmd: Command, args: &[&str]) -> Proc {
    cmd.args(args);
    let log = dir.join(&format!(
        "wsgid-{}.log",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut p = spawn(cmd, log, libc::SIGTERM);
    p.wait_log("ready:");
    p
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses one response from `buf` (Content-Length, chunked or to EOF); returns it and
/// the bytes used, or None if incomplete.
pub fn parse_response(buf: &[u8], eof: bool, head_request: bool) -> Option<(Response, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut r = Response {
        status,
        head,
        body: Vec::new(),
    };
    if status == 100 {
        return Some((r, end));
    }
    if head_request || status == 204 || status == 304 {
        return Some((r, end));
    }
    if let Some(cl) = r.header("content-length") {
        let n: usize = cl.parse().ok()?;
        if buf.len() < end + n {
            return None;
        }
        r.body = buf[end..end + n].to_vec();
        return Some((r, end + n));
    }
    if r.header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        let mut pos = end;
        loop {
            let nl = buf[pos..].windows(2).position(|w| w == b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[pos..pos + nl]).ok()?, 16).ok()?;
            pos += nl + 2;
            if size == 0 {
                if buf.len() < pos + 2 {
                    return None;
                }
                return Some((r, pos + 2));
            }
            if buf.len() < pos + size + 2 {
                return None;
            }
            r.body.extend_from_slice(&buf[pos..pos + size]);
            pos += size + 2;
        }
    }
    if !eof {
        return None;
    }
    r.body = buf[end..].to_vec();
    Some((r, buf.len()))
}

/// Reads one response from a stream (bounded by WAIT).
pub fn read_response<S: Read>(s: &mut S, buf: &mut Vec<u8>, head_request: bool) -> Response {
    let mut eof = false;
    loop {
        if let Some((r, used)) = parse_response(buf, eof, head_request) {
            buf.drain(..used);
            if r.status == 100 {
                continue;
            }
            return r;
        }
        assert!(
            !eof,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(buf)
        );
        let mut tmp = [0u8; 65536];
        let n = s.read(&mut tmp).expect("read response");
        if n == 0 {
            eof = true;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// Sends raw bytes over TCP and reads one response.
pub fn http_raw(port: u16, request: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request).unwrap();
    let head = request.starts_with(b"HEAD ");
    read_response(&mut s, &mut Vec::new(), head)
}

pub fn http_get(port: u16, path: &str) -> Response {
    http_raw(
        port,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Sends a uwsgi packet (plus body) over a UNIX socket; reads to EOF.
pub fn uwsgi_request(sock: &Path, vars: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let v: Vec<(&[u8], &[u8])> = vars
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    let mut pkt = wsgid::proto::uwsgi::encode(&v);
    pkt.extend_from_slice(body);
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&pkt).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Runs curl with `args`; returns (exit code, stdout).
pub fn curl(args: &[&str]) -> (i32, Vec<u8>) {
    let out = Command::new(tool("curl"))
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// A real nginx with `server_block` inside `http {}`; listens on `port`.
pub fn start_nginx(dir: &TempDir, port: u16, server_block: &str) -> Proc {
    let nginx = tool("nginx");
    let conf = dir.join("nginx.conf");
    let params = "/etc/nginx/uwsgi_params";
    assert!(
        Path::new(params).is_file(),
        "{params} missing: run `bash ci/prereqs.sh`"
    );
    let text = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n  uwsgi_temp_path {d}/uw;\n  fastcgi_temp_path {d}/fc;\n  scgi_temp_path {d}/sc;\n\
         server {{\n    listen 127.0.0.1:{port};\n    {server_block}\n  }}\n}}\n",
        d = dir.path().display()
    );
    std::fs::write(&conf, text).unwrap();
    let mut cmd = Command::new(nginx);
    cmd.args([
        "-e",
        &dir.join("nginx-error.log").display().to_string(),
        "-p",
    ])
    .arg(dir.path())
    .arg("-c")
    .arg(&conf)
    .args(["-g", "daemon off;"]);
    let p = spawn(cmd, dir.join("nginx.out"), libc::SIGQUIT);
    wait_for("nginx to listen", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    p
}

/// The first line of `log` containing `marker`, and the number right after the marker
/// (e.g. "listen queue 6 > ..." -> 6). Panics (the test fails) if either is missing.
pub fn number_after(log: &str, marker: &str) -> (String, u64) {
    let line = log
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?}: {log}"));
    let n = line
        .split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {marker:?}: {line}"));
    (line.to_string(), n)
}

/// wsgid serving the test app `module` (from `apps_dir()`) on an HTTP port, with a stats
/// port, plus `extra` arguments: (process, HTTP port, stats port).
pub fn start_with_stats(dir: &TempDir, module: &str, extra: &[&str]) -> (Proc, u16, u16) {
    let (port, sport) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{port}");
    let saddr = format!("127.0.0.1:{sport}");
    let apps = apps_dir().display().to_string();
    let mut args = vec![
        "--http-socket",
        &addr,
        "--stats",
        &saddr,
        "--pythonpath",
        &apps,
        "--module",
        module,
    ];
    args.extend_from_slice(extra);
    (start_wsgid(dir, &args), port, sport)
}

/// The stats JSON served on `127.0.0.1:port` (None while it does not answer).
pub fn stats_json(port: u16) -> Option<serde_json::Value> {
    let mut st = TcpStream::connect(("127.0.0.1", port)).ok()?;
    st.set_read_timeout(Some(WAIT)).ok()?;
    let mut out = String::new();
    st.read_to_string(&mut out).ok()?;
    Some(serde_json::from_str(&out).unwrap_or_else(|e| panic!("stats JSON: {e}: {out}")))
}

/// Live worker pids (slot order, cheap slots left out) from the stats JSON.
pub fn worker_pids(port: u16) -> Vec<i64> {
    stats_json(port)
        .map(|v| {
            v["workers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|w| w["pid"].as_i64())
                .filter(|&p| p > 0)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs curl through a real server; returns (HTTP status, body, seconds taken).
pub fn curl_status(url: &str) -> (u16, String, f64) {
    let start = Instant::now();
    let out = Command::new(tool("curl"))
        .args(["-sS", "--max-time", "30", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    (
        code.trim().parse().unwrap_or(0),
        body.to_string(),
        start.elapsed().as_secs_f64(),
    )
}
