#!/usr/bin/env python3
"""The front-door benchmark: sallyport's SOCKS5 path against ssh -D.

    python3 tests/bench/bench_front.py [--build DIR] [--requests 2000]
        [--concurrency 50] [--rounds 3] [--run-secs 20] [--bulk-mib 512]
        [--bulk-secs 10] [--crypto-mib 128] [--exchanges 200] [--no-ssh]
        [--no-crypto] [--keep]

In one run, on 127.0.0.1 only, it measures two paths to the same local
resources (bench_front_load serve):

  sallyport  client -> SOCKS5 (sallyport-relay) -> tunnel
             -> sallyport-connector -> resource
  ssh -D     client -> SOCKS5 (ssh -D) -> private sshd -> resource,
             once with -N and once with -tt (a login shell on a terminal:
             sshd sets TCP_NODELAY only for a session with a terminal,
             ssh sets it either way)

and for each: connections per second with the p50/p99 setup latency
(connect() to the proxy until the first byte of the resource's greeting)
for N sequential requests and for N requests C at a time; then one
stream's bulk rate, resource to client; then, once per run, an
interactive exchange on one stream, repeated (--exchanges): a request
written in two parts 1 ms apart, then the resource's answer, as a
client that writes a header and a body does (Nagle's algorithm, left
on anywhere on the path, holds the second part until a delayed ACK).  All three proxies run side by
side and the tests are interleaved in rounds, so that load from other
work on the machine falls on each alike; the table shows the median of
the rounds, and sallyport is compared with the better of the two ssh
runs, figure by figure.  The mbedTLS ceiling comes from bench_crypto
(TLS over loopback, the tunnel's cipher suite).  The CPU each process
tree used, and the time it spent runnable but waiting for a core, come
from /proc.

The client is bench_front_load (C, same directory): a Python client
measured here spent two to three times the CPU per request, and 50
threads topped out below the proxies' own rate.  Every process started
here is stopped on the way out, also on failure or Ctrl-C.  Needs the
build (relay, connector, bench_crypto, bench_front_load),
openssh-server and openssh-client (apt-get install; not in tests/deps.sh).
"""

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from resources import socks5_connect  # noqa: E402
SSHD = "/usr/sbin/sshd"
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ---- processes ------------------------------------------------------------

class Procs:
    """Every process this script starts, stopped in reverse order."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.items = []

    def start(self, name, cmd, stdin=subprocess.DEVNULL, stdout=None):
        logf = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdin=stdin,
                             stdout=stdout if stdout else logf,
                             stderr=logf)
        self.items.append((name, p, logf))
        return p

    def stop(self, proc):
        for item in list(self.items):
            if item[1] is proc:
                self._stop(item)
                self.items.remove(item)

    def _stop(self, item):
        name, p, logf = item
        kids = descendants(p.pid)
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pid in kids:  # e.g. sshd's per-connection processes
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if p.stdin:
            p.stdin.close()
        logf.close()

    def stop_all(self):
        while self.items:
            self._stop(self.items.pop())

    def log_tail(self, name, n=2000):
        try:
            with open(os.path.join(self.tmp, name + ".log")) as f:
                return f.read()[-n:]
        except OSError:
            return ""


def descendants(pid):
    """The pids below `pid` in the process tree, right now."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cpu_times(pids):
    """[user, system, run-queue wait] seconds of these processes and
    everything below them: CPU from /proc/PID/stat, the time spent
    runnable but waiting for a core from each thread's schedstat."""
    total = [0.0, 0.0, 0.0]
    for pid in {q for p in pids for q in [p] + descendants(p)}:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total[0] += int(fields[11]) / TICK
            total[1] += int(fields[12]) / TICK
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total[2] += int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return total


def wait_quiet(pids, what, timeout=30):
    """Waits until these process trees use (almost) no CPU: a login
    shell runs the user's start-up files, which must not overlap the
    measurements."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = sum(cpu_times(pids)[:2])
        time.sleep(0.5)
        if sum(cpu_times(pids)[:2]) - before < 0.02:
            return
    log(f"warning: {what} still uses CPU after {timeout} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what, proc=None, procs=None, name=None, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = procs.log_tail(name) if procs and name else ""
    raise Failure(f"timed out waiting for {what}\n{tail}")


def run(cmd, stdin=None, timeout=120):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


# ---- the load generator -----------------------------------------------------

def parse_kv(line):
    return {k: float(v) for k, v in
            (f.split("=") for f in line.split()[1:])}


class Load:
    def __init__(self, binary):
        self.binary = binary

    def _run(self, mode, port, auth, dest, extra, timeout):
        cmd = [self.binary, mode, "--proxy", str(port), "--dest", dest]
        if auth:
            cmd += ["--user", auth[0], "--pass", auth[1]]
        r = subprocess.run(cmd + extra, capture_output=True, text=True,
                           timeout=timeout)
        lines = [x for x in r.stdout.splitlines() if x.startswith(mode)]
        if not lines:
            raise Failure(f"{mode} failed: {r.stderr.strip()}")
        return parse_kv(lines[-1])

    def conn(self, port, auth, dest, n, c, max_secs=0, timeout=120):
        return self._run("conn", port, auth, dest,
                         ["-n", str(n), "-c", str(c), "--max-secs",
                          str(max_secs), "--timeout", str(timeout)],
                         timeout + 30)

    def bulk(self, port, auth, dest, mib, secs):
        return self._run("bulk", port, auth, dest,
                         ["--mib", str(mib), "--secs", str(secs)],
                         secs + 60)


# ---- the systems under test -----------------------------------------------

class System:
    """One proxy: its SOCKS5 port, credentials (None for ssh) and the
    processes whose CPU it reports, by label."""

    def __init__(self, name, port, auth, cpu_parts):
        self.name, self.port, self.auth = name, port, auth
        self.cpu_parts = cpu_parts
        self.runs = {"seq": [], "c50": [], "bulk": []}
        self.cpu = {"seq": {}, "c50": {}, "bulk": {}}

    def cpu_now(self):
        return {k: cpu_times(p) for k, p in self.cpu_parts.items()}

    def add_cpu(self, phase, before):
        for k, v in self.cpu_now().items():
            old = self.cpu[phase].get(k, [0.0, 0.0, 0.0])
            self.cpu[phase][k] = [o + a - b for o, a, b in
                                  zip(old, v, before[k])]

    def median(self, phase, key):
        vals = sorted(r[key] for r in self.runs[phase])
        return vals[len(vals) // 2]


def run_conn(sys_, load, res, args, phase, c):
    greet = f"127.0.0.1:{res['greet']}"
    before = sys_.cpu_now()
    r = load.conn(sys_.port, sys_.auth, greet, args.requests, c,
                  args.run_secs)
    sys_.add_cpu(phase, before)
    sys_.runs[phase].append(r)
    capped = (f"  (stopped at {args.run_secs:.0f} s: {int(r['ok'])} "
              "requests)" if r["ok"] + r["fail"] < args.requests else "")
    log(f"  {sys_.name:10} {phase:4} {r['rate']:7.0f} conn/s  p50 "
        f"{r['p50_us'] / 1e3:6.2f} ms  p99 {r['p99_us'] / 1e3:6.2f} ms  "
        f"fail {int(r['fail'])}{capped}")
    if r["fail"]:
        raise Failure(f"{sys_.name}: {int(r['fail'])} requests failed")


def run_bulk(sys_, load, res, args):
    before = sys_.cpu_now()
    b = load.bulk(sys_.port, sys_.auth, f"127.0.0.1:{res['source']}",
                  args.bulk_mib, args.bulk_secs)
    sys_.add_cpu("bulk", before)
    sys_.runs["bulk"].append(b)
    log(f"  {sys_.name:10} bulk {b['mbps']:7.1f} MB/s  "
        f"({int(b['bytes']) >> 20} MiB in {b['secs']:.2f} s)")


def measure(systems, load, res, args):
    """Interleaved rounds, so that load from elsewhere on the machine
    falls on every system alike: in each round every system runs the
    sequential test, then every system the concurrent one, then bulk."""
    for s in systems:
        probe = load.conn(s.port, s.auth, f"127.0.0.1:{res['greet']}", 100,
                          10)
        if probe["fail"]:
            raise Failure(f"{s.name}: warm-up requests failed")
    for rnd in range(args.rounds):
        log(f"round {rnd + 1} of {args.rounds}")
        for phase, c in [("seq", 1), ("c50", args.concurrency)]:
            for s in systems:
                run_conn(s, load, res, args, phase, c)
        for s in systems:
            run_bulk(s, load, res, args)


def print_cpu(systems, args):
    """Where the time went, all rounds together: per request for the
    connection tests, per second for bulk.  `cpu` is user + system,
    `sys` the system share of it, `wait` the time spent runnable but
    waiting for a core (two cores, shared)."""
    print("\nCPU per request in us (cpu / sys% / wait), from /proc:")
    for phase in ["seq", "c50"]:
        for s in systems:
            n = sum(r["ok"] for r in s.runs[phase])
            client = sum(r["cpu_us"] for r in s.runs[phase]) / len(
                s.runs[phase])
            print(f"  {phase:4} {s.name:10} " + "  ".join(
                f"{k} {(v[0] + v[1]) / n * 1e6:.0f}/"
                f"{100 * v[1] / max(v[0] + v[1], 1e-9):.0f}%/"
                f"{v[2] / n * 1e6:.0f}" for k, v in s.cpu[phase].items()) +
                f"  client {client:.0f}")
    print("bulk, cores busy (cpu / wait per second):")
    for s in systems:
        secs = sum(b["secs"] for b in s.runs["bulk"])
        mb = sum(b["bytes"] for b in s.runs["bulk"]) / 1e6
        proxy = sum(v[0] + v[1] for k, v in s.cpu["bulk"].items()
                    if k != "resource")
        busiest = max(v[0] + v[1] for k, v in s.cpu["bulk"].items()
                      if k != "resource") / secs
        print(f"  bulk {s.name:10} " + "  ".join(
            f"{k} {(v[0] + v[1]) / secs:.2f}/{v[2] / secs:.2f}"
            for k, v in s.cpu["bulk"].items()) +
            f"  client {sum(b['cpu_s'] for b in s.runs['bulk']) / secs:.2f}"
            f"\n       {'':10} {mb / secs / busiest:.0f} MB/s per core of "
            f"the busier proxy process, {mb / proxy:.0f} MB per CPU-second "
            "of both")


POLICY = """\
resources:
  greet:  {{address: "127.0.0.1:{greet}", connector: bench-office}}
  source: {{address: "127.0.0.1:{source}", connector: bench-office}}
  answer: {{address: "127.0.0.1:{answer}", connector: bench-office}}
rules:
  - name: bench
    action: allow
    resources: [greet, source, answer]
    users: [bench]
"""


def start_sallyport(procs, build, tmp, res):
    """relay serve + one enrolled connector; returns (socks port, token,
    relay pid, connector pid)."""
    relay = os.path.join(build, "relay", "sallyport-relay")
    connector = os.path.join(build, "connector", "sallyport-connector")
    state = os.path.join(tmp, "state")
    ports = {k: free_port() for k in
             ["socks", "http", "https", "connectors", "metrics"]}

    def admin(*a, stdin=None):
        return run([relay] + list(a) + ["--state", state], stdin=stdin)

    admin("init", "--name", "relay.test")
    with open(os.path.join(state, "relay.yaml"), "w") as f:
        f.write("name: localhost\nlisten:\n" +
                "".join(f"  {k}: 127.0.0.1:{p}\n" for k, p in ports.items())
                + "token_ttl: 12h\n")
    admin("user", "add", "bench", "--no-mfa", "--password-stdin",
          stdin="bench password\n")
    rp = procs.start("relay", [relay, "serve", "--state", state])
    wait_until(lambda: healthz(ports["metrics"]), "the relay", rp, procs,
               "relay")
    token = admin("connector", "add", "bench-office", "--relay",
                  f"127.0.0.1:{ports['connectors']}").strip()
    cdir = os.path.join(tmp, "connector")
    run([connector, "enroll", "--state", cdir, "--token", token])
    path = os.path.join(tmp, "policy.yaml")
    with open(path, "w") as f:
        f.write(POLICY.format(**res))
    admin("policy", "apply", path)
    cp = procs.start("connector", [connector, "run", "--state", cdir,
                                   "--tunnels", "2", "--allow",
                                   "127.0.0.1/32"])

    def connected():
        out = subprocess.run([relay, "connector", "list", "--json",
                              "--state", state], capture_output=True,
                             text=True).stdout
        return any(c["status"] == "connected" and c["tunnels"] >= 2
                   for c in json.loads(out or "[]"))
    wait_until(connected, "the connector's tunnels", cp, procs, "connector")
    out = admin("login", "bench", "--password-stdin", "--from", "127.0.0.1",
                stdin="bench password\n")
    return ports["socks"], json.loads(out)["token"], rp.pid, cp.pid


def healthz(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200") or False
    except OSError:
        return False


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
PidFile none
AuthorizedKeysFile {tmp}/client_key.pub
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
UseDNS no
AllowTcpForwarding yes
PermitTTY yes
PrintMotd no
PrintLastLog no
LogLevel ERROR
"""


def start_sshd(procs, tmp):
    """A private sshd on a free loopback port; returns (port, pid)."""
    for tool in [SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")]:
        if not tool or not os.path.exists(tool):
            raise Failure("needs openssh-server and openssh-client "
                          "(apt-get install openssh-server "
                          "openssh-client)")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755)  # sshd's privsep directory
    for key in ["host_key", "client_key"]:
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
             os.path.join(tmp, key)])
    port = free_port()
    config = os.path.join(tmp, "sshd_config")
    with open(config, "w") as f:
        f.write(SSHD_CONFIG.format(port=port, tmp=tmp))
    run([SSHD, "-t", "-f", config])
    p = procs.start("sshd", [SSHD, "-D", "-e", "-f", config])
    wait_until(lambda: port_open(port), "sshd", p, procs, "sshd")
    return port, p.pid


def ssh_cmd(tmp, sshd_port, dport, extra, level="ERROR"):
    return (["ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
             "-o", "LogLevel=" + level, "-i", os.path.join(tmp, "client_key"),
             "-p", str(sshd_port), "-D", f"127.0.0.1:{dport}"] + extra +
            [f"{getpass.getuser()}@127.0.0.1"])


def ssh_cipher(tmp, sshd_port):
    """The cipher ssh and sshd agree on, from a throw-away ssh -v."""
    cmd = ssh_cmd(tmp, sshd_port, free_port(), [], "DEBUG1") + ["true"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    for line in r.stderr.splitlines():
        if "kex: server->client cipher:" in line:
            return line.split("cipher:")[1].split()[0]
    return "unknown"


def start_ssh(procs, load, tmp, sshd_port, mode, res):
    """ssh -D with -N or -tt; returns (its SOCKS port, the process)."""
    dport = free_port()
    extra = ["-N"] if mode == "-N" else ["-tt"]
    p = procs.start("ssh" + mode, ssh_cmd(tmp, sshd_port, dport, extra),
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def works():
        if not port_open(dport):
            return False
        try:
            return load.conn(dport, None, f"127.0.0.1:{res['greet']}", 1, 1,
                             timeout=5)["ok"] == 1
        except Failure:
            return False
    wait_until(works, "ssh " + mode, p, procs, "ssh" + mode)
    return dport, p


# ---- the ceiling -----------------------------------------------------------

def mb_rates(line):
    """The numbers that precede "MB/s" in a bench_crypto line."""
    words = line.replace(",", " ").split()
    return [float(words[i - 1]) for i, w in enumerate(words)
            if w == "MB/s"]


def crypto_ceiling(build, mib):
    """bench_crypto's ChaCha20-Poly1305 figures (the tunnel's suite).
    The ceiling, as in docs/benchmarks.md: each byte is sealed by one
    daemon and opened by the other, each on its own core, so one stream
    could reach the raw AEAD rate of one core (`aead`, CPU time).  One
    TLS connection between two threads (`tls`, wall clock) is the
    practical bound on this machine now."""
    binary = os.path.join(build, "tests", "bench", "bench_crypto")
    r = subprocess.run([binary, "--mib", str(mib), "--conns", "10"],
                       capture_output=True, text=True, timeout=240)
    if r.returncode != 0:
        raise Failure(f"bench_crypto: {r.stderr.strip()}")
    lines = [x for x in r.stdout.splitlines()
             if x.startswith(("aead  chacha20", "tls   TLS-ECDHE-ECDSA-WITH-"
                              "CHACHA20"))]
    aead = [mb_rates(x) for x in lines if x.startswith("aead")]
    tls = [mb_rates(x) for x in lines if x.startswith("tls")]
    if not aead or not tls:
        raise Failure("bench_crypto printed no ChaCha20-Poly1305 lines")
    return {"aead": aead[0][1], "tls": tls[0][0]}, lines


# ---- the report -------------------------------------------------------------

ROWS = [("sequential conn/s", "seq", "rate", 1, "{:.0f}", max),
        ("sequential p50 ms", "seq", "p50_us", 1e-3, "{:.2f}", min),
        ("sequential p99 ms", "seq", "p99_us", 1e-3, "{:.2f}", min),
        ("50 concurrent conn/s", "c50", "rate", 1, "{:.0f}", max),
        ("50 concurrent p50 ms", "c50", "p50_us", 1e-3, "{:.2f}", min),
        ("50 concurrent p99 ms", "c50", "p99_us", 1e-3, "{:.2f}", min),
        ("bulk MB/s", "bulk", "mbps", 1, "{:.1f}", max)]


def report(sp, ssh, args):
    """Medians over the rounds; ssh best = the better ssh run per row."""
    print(f"\nmedians of {args.rounds} rounds; {args.requests} requests per "
          f"run (or as many as start in {args.run_secs:.0f} s), "
          f"{args.concurrency} at a time when concurrent")
    head = f"{'':22}{'sallyport':>11}" + "".join(
        f"{s.name:>11}" for s in ssh)
    if ssh:
        head += f"{'ssh best':>11}{'sp/best':>9}"
    print(head)
    best = {}
    for label, phase, key, scale, fmt, better in ROWS:
        v = sp.median(phase, key)
        shown = label.replace("50 concurrent",
                              f"{args.concurrency} concurrent")
        line = f"{shown:22}{fmt.format(v * scale):>11}"
        line += "".join(f"{fmt.format(s.median(phase, key) * scale):>11}"
                        for s in ssh)
        if ssh:
            best[label] = better(s.median(phase, key) for s in ssh)
            line += f"{fmt.format(best[label] * scale):>11}"
            line += f"{v / best[label]:>8.2f}x"
        print(line)
    return best


def print_goals(sp, best, ceiling, args):
    print("\ngoals:")
    for phase, label in [("seq", "sequential"), ("c50", "50 concurrent")]:
        ratio = sp.median(phase, "rate") / best[label + " conn/s"]
        p99, bp99 = sp.median(phase, "p99_us"), best[label + " p99 ms"]
        shown = label.replace("50 concurrent",
                              f"{args.concurrency} concurrent")
        print(f"  {shown:14} rate {ratio:.2f}x ssh best (goal >= 1.5x): "
              f"{'met' if ratio >= 1.5 else 'MISSED'}; p99 {p99 / 1e3:.2f} "
              f"vs {bp99 / 1e3:.2f} ms (goal: lower): "
              f"{'met' if p99 < bp99 else 'MISSED'}")
    if ceiling:
        mbps = sp.median("bulk", "mbps")
        print(f"  bulk           {mbps:.1f} MB/s = "
              f"{mbps / ceiling['aead']:.2f}x the ceiling (raw "
              f"ChaCha20-Poly1305, one core: {ceiling['aead']:.1f} MB/s), "
              f"{mbps / ceiling['tls']:.2f}x one TLS connection "
              f"({ceiling['tls']:.1f} MB/s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get(
        "SP_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--run-secs", type=float, default=20,
                    help="a connection run starts no request after this")
    ap.add_argument("--bulk-mib", type=int, default=512)
    ap.add_argument("--bulk-secs", type=float, default=10)
    ap.add_argument("--crypto-mib", type=int, default=128)
    ap.add_argument("--exchanges", type=int, default=200,
                    help="interactive exchanges per proxy (0 skips)")
    ap.add_argument("--no-ssh", action="store_true")
    ap.add_argument("--no-crypto", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, state)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    load = Load(os.path.join(build, "tests", "bench", "bench_front_load"))
    if not os.path.exists(load.binary):
        sys.exit(f"bench_front: build first: cmake --build {build}")

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="sp-bench-front-")
    procs = Procs(tmp)
    t0 = time.time()
    try:
        run_all(args, build, load, procs, tmp)
        print(f"\ntotal {time.time() - t0:.0f} s; load average "
              f"{open('/proc/loadavg').read().split()[0]} at the end")
    except Failure as e:
        sys.exit(f"bench_front: {e}")
    except KeyboardInterrupt:
        sys.exit("bench_front: interrupted")
    finally:
        procs.stop_all()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- interactive exchanges -------------------------------------------------

PART = 10  # bytes in each half of a request, and in an answer


def answer_server():
    """A resource that answers each request of two PART-byte halves with
    PART bytes; returns its port.  Threads, as it only ever serves a few
    connections."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)

    def serve(c):
        with c:
            buf = b""
            while True:
                while len(buf) < 2 * PART:
                    got = c.recv(4096)
                    if not got:
                        return
                    buf += got
                buf = buf[2 * PART:]
                c.sendall(b"a" * PART)

    def accept():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return ls.getsockname()[1]


def exchanges(s, n):
    """`n` requests in two halves 1 ms apart; each one's time until its
    whole answer is in, in microseconds, sorted."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        s.sendall(b"q" * PART)
        time.sleep(0.001)
        s.sendall(b"q" * PART)
        got = 0
        while got < PART:
            chunk = s.recv(4096)
            if not chunk:
                raise Failure("the answer resource closed the stream")
            got += len(chunk)
        times.append((time.perf_counter() - t0) * 1e6)
    return sorted(times)


def run_interactive(systems, port, n):
    """Prints p50/p99 per exchange, direct and through each proxy."""
    print(f"\ninteractive: {n} exchanges on one stream, each a request in "
          f"two {PART}-byte writes 1 ms apart and a {PART}-byte answer")
    rows = [("direct", None)] + [(x.name, x) for x in systems]
    for name, x in rows:
        if x is None:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            user, password = x.auth or (None, None)
            try:
                s = socks5_connect(x.port, user, password, "127.0.0.1", port)
            except OSError as e:
                raise Failure(f"{name}: SOCKS5: {e}")
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with s:
            t = exchanges(s, n)
        print(f"  {name:10} p50 {t[len(t) // 2] / 1e3:7.2f} ms  p99 "
              f"{t[min(len(t) - 1, len(t) * 99 // 100)] / 1e3:7.2f} ms")


def run_all(args, build, load, procs, tmp):
    log(f"load average {open('/proc/loadavg').read().split()[0]} at the "
        "start")
    ceiling, crypto_lines = None, []
    if not args.no_crypto:
        log("bench_crypto (the mbedTLS ceiling) ...")
        ceiling, crypto_lines = crypto_ceiling(build, args.crypto_mib)
    rp = procs.start("resource", [load.binary, "serve"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    res = {}
    for _ in range(2):
        kind, port = rp.stdout.readline().decode().split()
        res[kind] = int(port)
    res["answer"] = answer_server()

    socks, token, relay_pid, conn_pid = start_sallyport(procs, build, tmp,
                                                        res)
    sp = System("sallyport", socks, ("bench", token),
                {"relay": [relay_pid], "connector": [conn_pid],
                 "resource": [rp.pid]})
    ssh, cipher = [], None
    if not args.no_ssh:
        sshd_port, sshd_pid = start_sshd(procs, tmp)
        cipher = ssh_cipher(tmp, sshd_port)
        for mode in ["-N", "-tt"]:
            dport, proc = start_ssh(procs, load, tmp, sshd_port, mode, res)
            ssh.append(System("ssh " + mode, dport, None,
                              {"ssh": [proc.pid], "sshd": [sshd_pid],
                               "resource": [rp.pid]}))
    if ssh:
        wait_quiet([sshd_pid], "the -tt session's shell start-up")
    log("all up: sallyport" + "".join(", " + s.name for s in ssh))

    measure([sp] + ssh, load, res, args)
    best = report(sp, ssh, args)
    if args.exchanges > 0:
        run_interactive([sp] + ssh, res["answer"], args.exchanges)
    if ceiling:
        print("\nmbedTLS ceiling (bench_crypto, ChaCha20-Poly1305, the "
              "tunnel's suite):")
        for x in crypto_lines:
            print("  " + x)
    if cipher:
        print(f"ssh cipher: {cipher}")
    print_cpu([sp] + ssh, args)
    if ssh:
        print_goals(sp, best, ceiling, args)


if __name__ == "__main__":
    main()
