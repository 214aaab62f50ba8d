#!/usr/bin/env python3
"""Side-by-side serving benchmark: wsgid against uWSGI, granian and gunicorn.

Every server runs with the production settings GNU Health deploys (master process,
2 workers, harakiri 600, request logging on, the same listen backlog), on loopback or
a UNIX socket in a temporary directory. Runs are interleaved (wsgid, uWSGI, granian,
wsgid, ...) so that a noisy machine hurts every server alike. A run with any socket
error or non-2xx response is INVALID: it is reported and left out of the figures.

Cases (see issue 3; gunicorn, the third packaged backend, is a reference, not a goal):
  1 nginx -> server, uwsgi protocol over a UNIX socket (wsgid, uWSGI; gunicorn over
    HTTP with proxy_pass, as its packages deploy it)
  2 direct HTTP, closing connections (HTTP/1.0, no keep-alive) (wsgid, uWSGI, granian,
    gunicorn)
  3 direct HTTP keep-alive (wsgid, granian)
  4 trytond `common.server.version` over HTTP, closing connections (wsgid, uWSGI, gunicorn)

Usage: bench/serve.py [--rounds 3] [--duration 10] [--cases 1,2,3,4] [--servers wsgid,uwsgi]
                      [--ceiling] [--strace] [--perf]
Prerequisites: `bash bench/setup.sh` (venv with granian, gunicorn and trytond; wrk, nginx,
uwsgi, cc).

Every run also reports the CPU each process tree spent per request (utime+stime from
/proc/PID/stat of the server's master and workers, of the nginx processes, and of wrk
from wait4), the server's user-space share, the machine's idle % over the run (/proc/stat)
and how the requests were split between the workers (from the request log). CPU per
request is the figure to iterate on when other work loads the machine: it moves far
less than req/s.

--ceiling adds two reference "servers" to cases 1 and 2: `trivial` (bench/trivial_responder.c,
compiled with cc: the smallest possible server, 2 processes blocking in accept, one read,
one write, one log line, close; same topology as the case) and `ceiling` (nginx answering
`return 200` by itself: no upstream in case 1, a closing responder in case 2). The summary
also prints the BOUND: with the machine saturated (idle ~0 %), req/s ~ cores / CPU per
request of everything (wrk + nginx + server), so a server whose user-space CPU were zero
could reach at most (uWSGI's total) / (wsgid's total - wsgid's user space) times uWSGI.
--strace attaches `strace -c -f` to the server for the run and prints its syscalls per
request (that run's req/s is meaningless). --perf records the server's processes with
`perf record -g` and prints the share of CPU samples per binary (kernel, libpython...).

Result (issue 3, 2 cores shared with wrk and nginx): cases 1 and 2 cannot reach 1.2x uWSGI
on this machine. Per request, the server is only ~30 % (case 1) / ~35 % (case 2) of the
machine's CPU; about three quarters of the server's own CPU is kernel work (accept,
recv, send, close, the log write) that any server pays, and uWSGI's user-space share is
already only 4-5 us; loopback softirq (charged to no process) takes another 7-25 % of
the machine. Three final runs (1-min load average 1.1, 4.0, 3.2 just before; the quietest:
wsgid 1.11x uWSGI in case 1, p99 9.4 vs 10.0 ms; 1.02x in case 2, p99 12.3 vs 12.8 ms).
Over the 3 runs: wsgid 1.03-1.11x in case 1, 0.95-1.02x in case 2; the C trivial responder
0.95-1.17x and 0.93-1.04x; the zero-user-space bound 1.05-1.17x and 1.10-1.12x. See
server/ARCHITECTURE.md ("Performance: where the time goes in cases 1 and 2, and the
ceiling").
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
APPS = BENCH / "apps"
WORKERS = "2"
HARAKIRI = "600"
BACKLOG = "1024"
READY_TIMEOUT = 120.0


# Path of the compiled bench/trivial_responder.c (set by main() with --ceiling).
TRIVIAL = [None]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cmd(server, transport, addr, app, venv, log):
    """argv for one server with the deployed settings; `transport` is http or uwsgi-unix."""
    module, pythonpath, env = app
    if server == "wsgid":
        sock = ["--http-socket", addr] if transport == "http" else ["--socket", addr, "--chmod-socket", "660"]
        return [str(ROOT / "target/release/wsgid"), "--allow-root", "--master", "--processes", WORKERS,
                "--harakiri", HARAKIRI, "--listen", BACKLOG, "--die-on-term", "--logto", log,
                "--virtualenv", str(venv), "--pythonpath", pythonpath, "--module", module,
                *sum((["--env", e] for e in env), []), *sock]
    if server == "uwsgi":
        sock = ["--http-socket", addr] if transport == "http" else ["--socket", addr, "--chmod-socket=660"]
        return ["uwsgi", "--plugin", "python3", "--master", "--processes", WORKERS,
                "--harakiri", HARAKIRI, "--listen", BACKLOG, "--die-on-term", "--logto", log,
                "--virtualenv", str(venv), "--pythonpath", pythonpath, "--module", module,
                *sum((["--env", e] for e in env), []), *sock]
    if server == "trivial":
        target = f"tcp:{addr}" if transport == "http" else f"unix:{addr}"
        return [TRIVIAL[0], target, WORKERS, log, BACKLOG]
    if server == "gunicorn":
        # As wsgi-pack's gunicorn backend deploys it (templates/gunicorn.conf.py.tera):
        # sync workers, timeout = harakiri, the same backlog, access log on, a 0660
        # UNIX socket behind nginx proxy_pass (HTTP: gunicorn has no uwsgi protocol).
        bind = addr if transport == "http" else f"unix:{addr}"
        assert transport in ("http", "http-unix"), "gunicorn speaks no uwsgi protocol"
        return [str(venv / "bin/gunicorn"), "--workers", WORKERS, "--timeout", HARAKIRI,
                "--backlog", BACKLOG, "--access-logfile", log, "--umask", "0o117",
                "--chdir", pythonpath, "--bind", bind, module]
    if server == "granian":
        assert transport == "http", "granian speaks no uwsgi protocol"
        host, port = addr.rsplit(":", 1)
        return [str(venv / "bin/granian"), "--interface", "wsgi", "--workers", WORKERS,
                "--backlog", BACKLOG, "--host", host, "--port", port, "--access-log",
                "--working-dir", pythonpath, module]
    raise ValueError(server)


class Proc:
    """A process group started for one run; stopped (and reaped) on exit."""

    def __init__(self, argv, log, env=None):
        self.logf = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True,
                                  env=env)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        try:
            os.killpg(self.p.pid, signal.SIGKILL)  # stray workers
        except ProcessLookupError:
            pass
        self.logf.close()


def wait_http(url, data=None, headers=None, proc=None):
    """Bounded poll until `url` answers 200 (the app is loaded, not just bound)."""
    deadline = time.monotonic() + READY_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.p.poll() is not None:
            raise RuntimeError(f"server exited with {proc.p.returncode} before it was ready")
        try:
            req = urllib.request.Request(url, data=data, headers=headers or {})
            with urllib.request.urlopen(req, timeout=5) as r:
                if r.status == 200:
                    r.read()
                    return
        except Exception as e:  # noqa: BLE001 - any failure means "not ready yet"
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT}s: {last}")


def tree_rss(pid):
    """(master RSS, sum of descendants' RSS) in KiB, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))

    def rss(p):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    stack, desc = list(children.get(pid, [])), []
    while stack:
        c = stack.pop()
        desc.append(c)
        stack.extend(children.get(c, []))
    return rss(pid), sum(rss(c) for c in desc)


def tree_pids(pid):
    """`pid` and all its descendants, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(d))
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """{pid: (utime, stime) in seconds} (all threads of each process), from /proc."""
    out = {}
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = (int(f[11]) / TICK, int(f[12]) / TICK)
    return out


def parse_strace(path):
    """{syscall: calls} from an `strace -c` summary."""
    out = {}
    for line in Path(path).read_text().splitlines():
        f = line.split()
        if len(f) >= 5 and f[0].replace(".", "").isdigit() and f[-1] != "total":
            try:
                out[f[-1]] = int(f[3])
            except ValueError:
                pass
    return out


def machine_cpu():
    """(idle+iowait, total, fields) jiffies of the whole machine, from /proc/stat; fields:
    user nice system idle iowait irq softirq steal."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return f[3] + f[4], sum(f[:8]), f[:8]


def run_wrk(url, duration, script, watch=None, strace_to=None, perf_to=None):
    """Runs wrk; with `watch` ({name: root pid}), also the CPU (utime+stime) each process
    tree and wrk itself spent during the run, and the machine's idle share. With
    `strace_to` (a path), `strace -c -f` is attached to the "server" tree for the run only
    (it slows the server: use the syscall counts, not that run's req/s)."""
    argv = ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "-s", str(script), url]
    env = dict(os.environ, WRK_REPORT=str(BENCH / "wrk-report.lua"))
    watch = watch or {}
    trees = {name: tree_pids(pid) for name, pid in watch.items()}
    before = {name: cpu_seconds(pids) for name, pids in trees.items()}
    tracer = None
    if strace_to:
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", str(strace_to),
                                   *sum((["-p", str(q)] for q in trees["server"]), [])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # strace attaches asynchronously; no signal tells it is done
    profiler = None
    if perf_to:
        profiler = subprocess.Popen(["perf", "record", "-q", "-g", "-o", str(perf_to), "-p",
                                     ",".join(str(q) for q in trees["server"])],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    idle0, total0, fields0 = machine_cpu()
    with tempfile.TemporaryFile("w+") as outf:
        p = subprocess.Popen(argv, stdout=outf, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + duration + 60
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise RuntimeError("wrk did not finish")
            time.sleep(0.05)
        idle1, total1, fields1 = machine_cpu()
        after = {name: cpu_seconds(pids) for name, pids in trees.items()}
        for t in (tracer, profiler):
            if t:
                t.send_signal(signal.SIGINT)
                t.wait(60)
        outf.seek(0)
        stdout = outf.read()
    for line in stdout.splitlines():
        if line.startswith("WRKRESULT"):
            res = dict((k, int(v)) for k, v in (kv.split("=") for kv in line.split()[1:]))
            break
    else:
        raise RuntimeError(f"wrk printed no result: {stdout}")
    res["cpu_s"], res["sys_s"] = {}, {}
    for name in trees:
        res["cpu_s"][name] = sum(sum(after[name].get(q, t)) - sum(t)
                                 for q, t in before[name].items())
        res["sys_s"][name] = sum(after[name].get(q, t)[1] - t[1]
                                 for q, t in before[name].items())
    res["cpu_s"]["wrk"] = ru.ru_utime + ru.ru_stime
    res["sys_s"]["wrk"] = ru.ru_stime
    if strace_to:
        res["syscalls"] = parse_strace(strace_to)
    if perf_to:
        rep = subprocess.run(["perf", "report", "-i", str(perf_to), "--no-children", "--sort",
                              "dso", "-g", "none", "--stdio"], capture_output=True, text=True)
        res["perf_dso"] = [ln.strip() for ln in rep.stdout.splitlines()
                           if ln.strip() and not ln.startswith("#")][:6]
    res["idle_pct"] = 100.0 * (idle1 - idle0) / max(1, total1 - total0)
    # Where the machine's time went (% of all CPUs): irq+softirq time and the
    # hypervisor's steal are charged to no process.
    d = [b - a for a, b in zip(fields0, fields1)]
    tot = max(1, sum(d))
    res["machine_pct"] = {"user": 100 * (d[0] + d[1]) / tot, "sys": 100 * d[2] / tot,
                          "softirq": 100 * (d[5] + d[6]) / tot, "steal": 100 * d[7] / tot,
                          "idle": 100 * (d[3] + d[4]) / tot}
    # Share of the machine's busy time that the watched processes (and wrk) account for.
    busy_s = (tot - d[3] - d[4]) / TICK
    res["watched_pct"] = 100 * sum(res.get("cpu_s", {}).values()) / max(1e-9, busy_s)
    return res


NGINX_CONF = """
# Workers as root only so that they can reach the 0660 socket in the 0700 temp dir;
# the same for every server. Deployments use the shared socket group instead.
user root;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  uwsgi_temp_path {tmp}/uwsgi;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
{upstream}
    }}
  }}
}}
"""


# The CEILING (--ceiling): nginx answers by itself, with no upstream server at all, so
# the run measures what wrk (+ nginx) alone leave of the machine. Case 1: wrk keep-alive
# -> nginx `return 200` (the nginx hop without the upstream). Case 2: a trivial closing
# responder (nginx `return 200`, keepalive_timeout 0) behind the same wrk script. No
# server can beat these figures on this machine; if one is below 1.2x uWSGI, the
# goal is out of reach here whatever the server does.
CEILING_CONF = """
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_timeout {keepalive};
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog={backlog};
    location / {{
      default_type text/plain;
      return 200 "Hello, World!";
    }}
  }}
}}
"""


def ceiling_run(case, args, run_dir):
    port = free_port()
    conf = run_dir / "nginx.conf"
    conf.write_text(CEILING_CONF.format(tmp=run_dir, port=port, backlog=BACKLOG,
                                        keepalive="75s" if case == 1 else "0"))
    ngx = Proc(["nginx", "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"],
               str(run_dir / "nginx.out"))
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, proc=ngx)
        script = BENCH / ("wrk-keepalive.lua" if case == 1 else "wrk-close.lua")
        res = run_wrk(url, args.duration, script, {"nginx": ngx.p.pid})
        res["master_kib"], res["workers_kib"] = 0, 0
        return res
    finally:
        ngx.stop()


def one_run(case, server, args, tmp, trytond):
    run_dir = Path(tempfile.mkdtemp(dir=tmp, prefix=f"c{case}-{server}-"))
    log = str(run_dir / "server.log")
    venv = args.venv
    if case == 4:
        app = ("trytond.application:app", str(APPS), [f"TRYTOND_CONFIG={trytond}"])
    else:
        app = ("hello:application", str(APPS), [])
    procs = []
    watch = {}
    if server == "ceiling":
        res = ceiling_run(case, args, run_dir)
        errors = sum(res[k] for k in ("connect", "read", "write", "status", "timeout"))
        res["valid"] = errors == 0 and res["requests"] > 0
        res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
        return res
    try:
        if case == 1:
            sock = str(run_dir / "app.sock")
            transport = "http-unix" if server == "gunicorn" else "uwsgi-unix"
            argv = server_cmd(server, transport, sock, app, venv, log)
            srv = Proc(argv, log)
            procs.append(srv)
            port = free_port()
            conf = run_dir / "nginx.conf"
            if transport == "http-unix":
                upstream = (f"      proxy_pass http://unix:{sock}:;\n"
                            "      proxy_read_timeout 600s;")
            else:
                upstream = ("      include /etc/nginx/uwsgi_params;\n"
                            f"      uwsgi_pass unix:{sock};\n"
                            "      uwsgi_read_timeout 600s;")
            conf.write_text(NGINX_CONF.format(tmp=run_dir, port=port, upstream=upstream))
            ngx = Proc(["nginx", "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"],
                       str(run_dir / "nginx.out"))
            procs.append(ngx)
            watch["nginx"] = ngx.p.pid
            url = f"http://127.0.0.1:{port}/"
            wait_http(url, proc=srv)
            script = BENCH / "wrk-keepalive.lua"
        else:
            port = free_port()
            argv = server_cmd(server, "http", f"127.0.0.1:{port}", app, venv, log)
            env = dict(os.environ, **dict(e.split("=", 1) for e in app[2]))
            srv = Proc(argv, log, env=env)
            procs.append(srv)
            url = f"http://127.0.0.1:{port}/"
            if case == 4:
                body = b'{"method": "common.server.version", "params": [], "id": 1}'
                wait_http(url, body, {"Content-Type": "application/json"}, proc=srv)
                script = BENCH / "wrk-trytond-version.lua"
            else:
                wait_http(url, proc=srv)
                script = BENCH / ("wrk-keepalive.lua" if case == 3 else "wrk-close.lua")
        watch["server"] = srv.p.pid
        res = run_wrk(url, args.duration, script, watch,
                      strace_to=run_dir / "strace.txt" if args.strace else None,
                      perf_to=run_dir / "perf.data" if args.perf else None)
        res["master_kib"], res["workers_kib"] = tree_rss(srv.p.pid)
        res["split"] = worker_split(log)
        errors = sum(res[k] for k in ("connect", "read", "write", "status", "timeout"))
        res["valid"] = errors == 0 and res["requests"] > 0
        res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
        return res
    finally:
        for p in reversed(procs):
            p.stop()


CASES = {
    1: ("nginx -> server, uwsgi over UNIX socket (gunicorn: HTTP, proxy_pass)",
        ["wsgid", "uwsgi", "gunicorn"], "uwsgi"),
    2: ("direct HTTP, closing connections", ["wsgid", "uwsgi", "granian", "gunicorn"], "uwsgi"),
    3: ("direct HTTP keep-alive", ["wsgid", "granian"], "granian"),
    4: ("trytond common.server.version (HTTP, close)", ["wsgid", "uwsgi", "gunicorn"], "uwsgi"),
}
GOALS = {1: 1.2, 2: 1.2, 3: 1.0, 4: 1.0}


def worker_split(log):
    """Share of the logged requests each worker served, largest first (uWSGI-style request
    lines `[pid: N|...`); fairness of the accept distribution between the workers."""
    counts = {}
    try:
        with open(log, "rb") as f:
            for line in f:
                if line.startswith(b"[pid: "):
                    pid = line[6:line.find(b"|")]
                    counts[pid] = counts.get(pid, 0) + 1
    except OSError:
        return []
    total = sum(counts.values())
    return sorted((round(100 * c / total) for c in counts.values()), reverse=True) if total else []


def cpu_per_request(r):
    """CPU microseconds per request of each watched process tree, and their sum."""
    n = max(1, r["requests"])
    out = {k: 1e6 * v / n for k, v in r.get("cpu_s", {}).items()}
    out["all"] = sum(out.values())
    if "server" in r.get("sys_s", {}):
        out["server_user"] = out["server"] - 1e6 * r["sys_s"]["server"] / n
    return out


def make_trytond_db(tmp, venv):
    dbdir = Path(tmp) / "trytond-db"
    dbdir.mkdir()
    conf = Path(tmp) / "trytond.conf"
    conf.write_text(f"[database]\nuri = sqlite://\npath = {dbdir}\n")
    (dbdir / "bench.sqlite").touch()
    pw = Path(tmp) / "pw"
    pw.write_text("admin\n")
    subprocess.run([str(venv / "bin/trytond-admin"), "-c", str(conf), "-d", "bench", "--all",
                    "--email", "admin@example.invalid"], check=True, capture_output=True,
                   env=dict(os.environ, TRYTONPASSFILE=str(pw)), timeout=600)
    return conf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--cases", default="1,2,3,4")
    ap.add_argument("--venv", type=Path, default=BENCH / ".venv")
    ap.add_argument("--servers", default=None,
                    help="comma-separated subset of servers to run (default: all of each case)")
    ap.add_argument("--strace", action="store_true",
                    help="attach strace -c -f to the server for each run; print syscalls per "
                         "request (slows the server: req/s of such runs mean nothing)")
    ap.add_argument("--perf", action="store_true",
                    help="`perf record -g` the server's processes during each run; print the "
                         "share of samples per binary (kernel, libpython, libc, the server)")
    ap.add_argument("--ceiling", action="store_true",
                    help="also run the ceiling (nginx answering by itself) in cases 1 and 2")
    args = ap.parse_args()
    cases = [int(c) for c in args.cases.split(",")]
    only = set(args.servers.split(",")) if args.servers else None

    def servers_of(case):
        extra = ["trivial", "ceiling"] if args.ceiling and case in (1, 2) else []
        return [n for n in CASES[case][1] if only is None or n in only] + extra

    if not (ROOT / "target/release/wsgid").exists():
        sys.exit("bench: build first: cargo build --release")
    for tool in ("granian", "gunicorn"):
        if not (args.venv / "bin" / tool).exists():
            sys.exit(f"bench: {args.venv} lacks {tool}: run bash bench/setup.sh")
    results = {}
    with tempfile.TemporaryDirectory(prefix="wsgid-bench-") as tmp:
        if args.ceiling:
            TRIVIAL[0] = str(Path(tmp) / "trivial_responder")
            subprocess.run(["cc", "-O2", "-o", TRIVIAL[0], str(BENCH / "trivial_responder.c")],
                           check=True)
        trytond = make_trytond_db(tmp, args.venv) if 4 in cases else None
        for rnd in range(1, args.rounds + 1):
            for case in cases:
                for server in servers_of(case):
                    try:
                        r = one_run(case, server, args, tmp, trytond)
                    except Exception as e:  # a server that fails to start is an invalid run
                        r = {"valid": False, "error": str(e), "rps": 0}
                    results.setdefault((case, server), []).append(r)
                    tag = "ok" if r["valid"] else "INVALID"
                    detail = r.get("error") or " ".join(
                        f"{k}={r[k]}" for k in ("requests", "connect", "read", "write", "status",
                                                "timeout", "p99_us", "master_kib", "workers_kib"))
                    if r.get("cpu_s"):
                        detail += " cpu_us/req " + " ".join(
                            f"{k}={v:.1f}" for k, v in cpu_per_request(r).items())
                        detail += f" idle={r['idle_pct']:.0f}%"
                        sys_us = 1e6 * r["sys_s"].get("server", 0) / max(1, r["requests"])
                        detail += f" server_sys={sys_us:.1f}"
                    if r.get("machine_pct"):
                        m = r["machine_pct"]
                        detail += ("\n      machine: " + " ".join(f"{k}={v:.0f}%" for k, v in m.items())
                                   + f"; the watched processes account for {r['watched_pct']:.0f}% "
                                   "of the busy time")
                    if r.get("split"):
                        detail += " split%=" + "/".join(map(str, r["split"]))
                    if r.get("perf_dso"):
                        detail += "\n      server CPU by binary (perf): " + "; ".join(r["perf_dso"])
                    if r.get("syscalls"):
                        n = max(1, r["requests"])
                        top = sorted(r["syscalls"].items(), key=lambda kv: -kv[1])
                        detail += (f"\n      server syscalls/request {sum(r['syscalls'].values()) / n:.2f}: "
                                   + " ".join(f"{k}={v / n:.2f}" for k, v in top[:14]))
                    print(f"round {rnd} case {case} {server:8} {r['rps']:9.0f} req/s {tag} {detail}",
                          flush=True)
    print("\ncase  server    valid  median req/s  spread (min-max)   p99 ms  RSS master/workers MiB"
          "  CPU us/req server/nginx/wrk (all)  idle%")
    invalid = 0
    for case in cases:
        title, _, anchor = CASES[case]
        print(f"# {case}: {title}")
        med, cpu_all, cpu_user = {}, {}, {}
        for server in servers_of(case):
            runs = results[(case, server)]
            ok = [r for r in runs if r["valid"]]
            invalid += len(runs) - len(ok)
            if not ok:
                print(f"{case:<5} {server:9} 0/{len(runs)}  no valid run")
                continue
            rps = [r["rps"] for r in ok]
            med[server] = statistics.median(rps)
            p99 = statistics.median(r["p99_us"] for r in ok) / 1000
            m = statistics.median(r["master_kib"] for r in ok) / 1024
            w = statistics.median(r["workers_kib"] for r in ok) / 1024
            cpu = {k: statistics.median(cpu_per_request(r).get(k, 0) for r in ok)
                   for k in ("server", "nginx", "wrk", "all", "server_user")}
            if ok[0].get("cpu_s"):
                cpu_all[server], cpu_user[server] = cpu["all"], cpu["server_user"]
            idle = statistics.median(r["idle_pct"] for r in ok)
            print(f"{case:<5} {server:9} {len(ok)}/{len(runs)}  {med[server]:12.0f}  "
                  f"{min(rps):8.0f}-{max(rps):<8.0f}  {p99:7.2f}  {m:8.1f}/{w:<8.1f}  "
                  f"  {cpu['server']:5.1f}/{cpu['nginx']:5.1f}/{cpu['wrk']:5.1f} ({cpu['all']:5.1f})"
                  f"       {idle:4.0f}")
        if "wsgid" in med:
            for other in servers_of(case):
                if other != "wsgid" and other in med:
                    r = med["wsgid"] / med[other]
                    goal = f" (goal >= {GOALS[case]}x)" if other == anchor else ""
                    print(f"      ratio wsgid/{other} = {r:.2f}x{goal}")
            # With the machine saturated (idle ~0 %), req/s ~ cores / (CPU us per request
            # of wrk + nginx + server). The kernel part of the server's CPU (accept, recv,
            # send, close, epoll: the same syscalls for any server) stays whatever the
            # server does; so even a server with NO user-space cost could reach at most:
            if "wsgid" in cpu_all and anchor in cpu_all:
                floor = cpu_all["wsgid"] - cpu_user["wsgid"]
                print(f"      bound: {anchor} {cpu_all[anchor]:.1f} us/req of CPU in all; wsgid "
                      f"{cpu_all['wsgid']:.1f}, of which {cpu_user['wsgid']:.1f} user space in "
                      f"the server -> a server with zero user-space CPU could reach at most "
                      f"{cpu_all[anchor] / floor:.2f}x {anchor}")
            if "trivial" in med and anchor in med:
                print(f"      trivial/{anchor} = {med['trivial'] / med[anchor]:.2f}x (the smallest "
                      f"server in C, same topology and logging: the most any server could reach here)")
            if "ceiling" in med and anchor in med:
                print(f"      ceiling/{anchor} = {med['ceiling'] / med[anchor]:.2f}x "
                      f"(nginx answering by itself, no server at all)")
    if invalid:
        print(f"\n{invalid} invalid run(s): errors or non-2xx responses; see the lines above")
        sys.exit(1)


if __name__ == "__main__":
    main()
