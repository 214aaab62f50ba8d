//! uwsgi over TCP between two network namespaces made by the test: nginx in one,
//! wsgid in the other on the veth address; a request through nginx succeeds. wsgid
//! bound to 127.0.0.1 in its namespace is unreachable from the other one. Needs root
//! and `ip` (iproute2, from ci/prereqs.sh); skipped with a loud message where the
//! kernel refuses network namespaces.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

static N: AtomicUsize = AtomicUsize::new(0);

/// Two namespaces joined by a veth pair (10.X.Y.1 in `a`, 10.X.Y.2 in `b`), deleted on
/// drop (deleting a namespace deletes its veth end and the pair).
struct NetPair {
    a: String,
    b: String,
    addr_a: String,
    addr_b: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new(tool("ip"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetPair {
    /// None (after a loud message) when network namespaces are not available.
    fn new() -> Option<NetPair> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("\n!!!!! SKIPPED: network namespace tests need root !!!!!\n");
            return None;
        }
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = std::process::id();
        let tag = format!("{id}-{n}");
        let (x, y) = (100 + (id as usize / 250) % 100, 1 + (id as usize + n) % 250);
        let pair = NetPair {
            a: format!("wsgid-a-{tag}"),
            b: format!("wsgid-b-{tag}"),
            addr_a: format!("10.{x}.{y}.1"),
            addr_b: format!("10.{x}.{y}.2"),
        };
        if let Err(e) = ip(&["netns", "add", &pair.a]) {
            eprintln!("\n!!!!! SKIPPED: cannot create a network namespace here: {e} !!!!!\n");
            return None;
        }
        // From here on, Drop cleans up whatever was made.
        let (va, vb) = (
            format!("wa{n}x{}", id % 100_000),
            format!("wb{n}x{}", id % 100_000),
        );
        let steps: Vec<Vec<&str>> = vec![
            vec!["netns", "add", &pair.b],
            vec![
                "link", "add", &va, "netns", &pair.a, "type", "veth", "peer", "name", &vb, "netns",
                &pair.b,
            ],
        ];
        for s in &steps {
            ip(s).unwrap_or_else(|e| panic!("{e}"));
        }
        let cidr_a = format!("{}/24", pair.addr_a);
        let cidr_b = format!("{}/24", pair.addr_b);
        for (ns, dev, cidr) in [(&pair.a, &va, &cidr_a), (&pair.b, &vb, &cidr_b)] {
            ip(&["-n", ns, "addr", "add", cidr, "dev", dev]).unwrap_or_else(|e| panic!("{e}"));
            ip(&["-n", ns, "link", "set", dev, "up"]).unwrap_or_else(|e| panic!("{e}"));
            ip(&["-n", ns, "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
        }
        Some(pair)
    }

    /// `program args` inside namespace `ns`.
    fn cmd(ns: &str, program: &Path) -> Command {
        let mut c = Command::new(tool("ip"));
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// curl inside namespace `ns`: (curl exit code, HTTP status, body).
    fn curl(ns: &str, url: &str) -> (i32, u16, String) {
        let out = Self::cmd(ns, &tool("curl"))
            .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}", url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        (
            out.status.code().unwrap_or(-1),
            code.trim().parse().unwrap_or(0),
            body.to_string(),
        )
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// wsgid (environ_dump app) inside namespace `ns` with `args`.
fn wsgid_in(dir: &TempDir, ns: &str, args: &[&str]) -> Proc {
    let mut c = NetPair::cmd(ns, &wsgid_bin());
    c.env("WSGID_PYEXT", pyext())
        .env("WSGID_PYTHON", venv().join("bin/python3"))
        .env_remove("NOTIFY_SOCKET")
        .arg("--allow-root")
        .args(["--pythonpath", &apps_dir().display().to_string()])
        .args(["--module", "environ_dump"]);
    start_wsgid_with(dir, c, args)
}

#[test]
fn uwsgi_over_tcp_between_two_network_namespaces() {
    let Some(net) = NetPair::new() else {
        return;
    };
    let dir = TempDir::new("netns");
    // wsgid in b: on the veth address (reachable) and on b's loopback (not).
    let veth = format!("{}:3031", net.addr_b);
    let _w = wsgid_in(&dir, &net.b, &["--socket", &veth]);
    let _lo = wsgid_in(&dir, &net.b, &["--http-socket", "127.0.0.1:3032"]);
    // nginx in a (ports are per namespace: fixed numbers are safe).
    let d = dir.path().display();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/cb;\n  proxy_temp_path {d}/px;\n  uwsgi_temp_path {d}/uw;\n  fastcgi_temp_path {d}/fc;\n  scgi_temp_path {d}/sc;\n\
             server {{\n    listen 127.0.0.1:8080;\n\
             location /lo/ {{ include /etc/nginx/uwsgi_params; uwsgi_connect_timeout 3s; uwsgi_pass 127.0.0.1:3032; }}\n\
             location /far-lo/ {{ include /etc/nginx/uwsgi_params; uwsgi_connect_timeout 3s; uwsgi_pass {b}:3032; }}\n\
             location / {{ include /etc/nginx/uwsgi_params; uwsgi_pass {veth}; }}\n  }}\n}}\n",
            b = net.addr_b
        ),
    )
    .unwrap();
    let mut ncmd = NetPair::cmd(&net.a, &tool("nginx"));
    ncmd.args([
        "-e",
        &dir.join("nginx-error.log").display().to_string(),
        "-p",
    ])
    .arg(dir.path())
    .arg("-c")
    .arg(&conf)
    .args(["-g", "daemon off;"]);
    let _n = spawn(ncmd, dir.join("nginx.out"), libc::SIGQUIT);
    // Through nginx in a to wsgid in b over the veth pair.
    let (code, status, body) = wait_for("a 200 through nginx in the other namespace", || {
        let r = NetPair::curl(&net.a, "http://127.0.0.1:8080/cross?ns=1");
        (r.1 == 200).then_some(r)
    });
    assert_eq!((code, status), (0, 200));
    assert!(
        body.contains("\"PATH_INFO\": [\"str\", \"/cross\"]"),
        "{body}"
    );
    // wsgid on b's loopback serves inside b ...
    let (code, status, _) = NetPair::curl(&net.b, "http://127.0.0.1:3032/");
    assert_eq!(
        (code, status),
        (0, 200),
        "the loopback-bound server is up in its namespace"
    );
    // ... but is unreachable from a: directly (connection refused, curl exit 7) ...
    let t0 = Instant::now();
    let far = format!("http://{}:3032/", net.addr_b);
    let (code, status, _) = NetPair::curl(&net.a, &far);
    assert_eq!(
        (code, status),
        (7, 0),
        "connection to {far} from the other namespace"
    );
    assert!(t0.elapsed() < Duration::from_secs(6));
    // ... and through nginx (its own loopback has nothing there; b's veth address
    // refuses port 3032): 502 both ways.
    for path in ["/lo/", "/far-lo/"] {
        let (code, status, _) = NetPair::curl(&net.a, &format!("http://127.0.0.1:8080{path}"));
        assert_eq!((code, status), (0, 502), "{path}");
    }
    eprintln!(
        "netns {} ({}) -> {} ({}): uwsgi over TCP served; 127.0.0.1:3032 in {} refused from {}",
        net.a, net.addr_a, net.b, net.addr_b, net.b, net.a
    );
}
