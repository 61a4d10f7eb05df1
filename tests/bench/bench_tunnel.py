#!/usr/bin/env python3
"""The tunnel benchmark: throughput and idle memory of the whole path.

    python3 tests/bench/bench_tunnel.py [--build DIR] [--seconds S]
        [--streams N] [--idle N] [--idle-tunnels N] [--crypto-mib N]

In one run, on 127.0.0.1 only, with the real binaries from DIR (default
$SP_BUILD, else build/):

1. crypto ceiling: bench_crypto (raw AEAD on one core, and one TLS
   connection through tunnel/tls.c over loopback);
2. direct: the same client against the same source and sink without
   Sallyport, the ceiling of this harness;
3. tunnel: one stream, then N concurrent streams (default 32), each for S
   seconds, download (source -> client) and upload (client -> sink), through
   SOCKS5 -> relay -> tunnel (2 tunnels) -> connector -> resource;
4. memory: a fresh relay and connector (enough tunnels for the count),
   then 10,000 idle streams; the growth of each daemon's resident memory
   per stream.

The crypto ceiling is measured again after step 3, and the ratios use
the mean of the two: the machine's speed drifts during a run.

docs/benchmarks.md says what each figure means.  Nothing is asserted: the
script reports, and exits non-zero only when a step could not run at all.
Every process it starts is stopped in a `finally`, whatever happens.
"""

import argparse
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from sallyport_test import soft_nofile  # noqa: E402

MB = 1e6  # figures are in MB/s, 10^6 bytes, as bench_crypto prints them
CHUNK = 1 << 20  # harness reads and writes; large, so Python is not the cap
MUX_MAX_STREAMS = 1024  # the connector's default per tunnel (tunnel/mux.h)
CONNECTOR_MAX_TUNNELS = 16  # `run --tunnels` accepts 1 to 16
NOFILE = 65536


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.environ.get(
        "SP_BUILD", os.path.join(SRC, "build")),
        help="CMake build directory (default $SP_BUILD, else build/)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="length of each tunnel transfer (default 10)")
    p.add_argument("--direct-seconds", type=float, default=3.0,
                   help="length of each direct transfer (default 3)")
    p.add_argument("--streams", type=int, default=32,
                   help="concurrent streams in the aggregate test (32)")
    p.add_argument("--idle", type=int, default=10000,
                   help="idle streams in the memory test (10000; 0 skips)")
    p.add_argument("--idle-tunnels", type=int, default=0,
                   help="connector tunnels in the memory test (default: "
                   "enough for --idle at 1024 streams per tunnel)")
    p.add_argument("--crypto-mib", type=int, default=256,
                   help="MiB per bench_crypto measurement (256; 0 skips)")
    p.add_argument("--idle-server", action="store_true",
                   help=argparse.SUPPRESS)  # internal: the idle resource
    return p.parse_args(argv)


# ---- small process helpers ------------------------------------------------

def raise_nofile(want=NOFILE):
    """Raises this process's descriptor limit; children inherit it.  Root
    may raise the hard limit too; others get as far as the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def proc_status(pid):
    """VmRSS, RssAnon and RssFile of a process, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                n = int(val.split()[0])
                out[key] = n if key == "Threads" else n * 1024
    return out


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    """User + system CPU time of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def kernel_slab():
    """Kernel slab memory, machine-wide (socket structures live there)."""
    with open("/proc/meminfo") as f:
        m = re.search(r"^Slab:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) * 1024 if m else 0


def machine_busy_seconds():
    """CPU seconds all cores have spent busy since boot, /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle and iowait
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used by each watched process between start() and stop(), as a
    fraction of one core, so a reader sees which process was saturated;
    `others` is what every other process on the machine used meanwhile,
    since the cores are shared and a busy neighbour lowers every figure."""

    def __init__(self, pids):
        self.pids = pids  # name -> pid

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {k: cpu_seconds(p) for k, p in self.pids.items()}
        self.m0 = machine_busy_seconds()

    def stop(self):
        wall = time.monotonic() - self.t0
        used = {k: (cpu_seconds(p) - self.c0[k]) / wall
                for k, p in self.pids.items()}
        used["others"] = max(0.0, (machine_busy_seconds() - self.m0) / wall -
                             sum(used.values()))
        return used


# ---- the sample resources ---------------------------------------------------

class Server:
    """A loopback TCP server; each accepted connection gets a thread that
    runs `handle`.  Threads release the GIL in every socket call, and the
    1 MiB buffers keep the calls few, so one process serves both ends."""

    def __init__(self, handle):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.closed = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass  # the client went away: that is how a download ends
        finally:
            conn.close()

    def close(self):
        self.closed = True
        self.sock.close()


BLOCK = os.urandom(CHUNK)  # random, so nothing on the path can compress it


def source_handle(conn):
    """Sends as fast as the path takes it, until the client closes."""
    view = memoryview(BLOCK)
    while True:
        conn.sendall(view)


def sink_handle(conn):
    """Reads and discards until end of file, then answers with the count
    (8 bytes, big-endian), so the uploader knows when all bytes arrived."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        total += n
    conn.sendall(total.to_bytes(8, "big"))


def idle_server_main():
    """The idle resource, in its own process so that its descriptors stay
    out of the client's limit and its work off the measured processes.
    It behaves like a server waiting for a request that never comes: it
    holds every connection, and closes one only when the other side has
    closed it (an end of file), so closing a stream ends it at once.
    Each line on stdin is answered with the number of connections held."""
    raise_nofile()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "listen")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    held = 0
    print(sock.getsockname()[1], flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "listen":
                try:
                    while True:
                        conn, _ = sock.accept()
                        sel.register(conn, selectors.EVENT_READ, "conn")
                        held += 1
                except BlockingIOError:
                    pass
            elif key.data == "stdin":
                if not sys.stdin.readline():
                    return
                print(held, flush=True)
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    held -= 1


class IdleServer:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--idle-server"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def held(self):
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# ---- the client -------------------------------------------------------------

def run_streams(connect, direction, streams, seconds):
    """Runs `streams` concurrent transfers for `seconds` and returns
    (aggregate MB/s, slowest stream MB/s, fastest stream MB/s, bytes).

    Download: each stream counts what arrives until the common deadline,
    then closes.  Upload: each stream sends until the deadline, half-closes
    and waits for the sink's count, so bytes still in flight on the path
    count only once they have arrived; the time runs until the last
    stream's count is back."""
    socks = []
    try:
        for _ in range(streams):
            socks.append(connect())
    except OSError:
        for s in socks:
            s.close()
        raise
    start = threading.Barrier(streams + 1)
    results = [None] * streams
    errors = []

    def down(i, s):
        buf = memoryview(bytearray(CHUNK))
        start.wait()
        t0 = time.monotonic()
        deadline = t0 + seconds
        got = 0
        while time.monotonic() < deadline:
            n = s.recv_into(buf)
            if n == 0:
                raise OSError("the stream ended early")
            got += n
        results[i] = (got, time.monotonic() - t0)

    def up(i, s):
        view = memoryview(BLOCK)
        start.wait()
        t0 = time.monotonic()
        deadline = t0 + seconds
        sent = 0
        while time.monotonic() < deadline:
            s.sendall(view)
            sent += len(view)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while len(answer) < 8:
            more = s.recv(8 - len(answer))
            if not more:
                raise OSError("no count from the sink")
            answer += more
        got = int.from_bytes(answer, "big")
        if got != sent:
            raise OSError(f"sink counted {got} of {sent} bytes")
        results[i] = (got, time.monotonic() - t0)

    def worker(i, s):
        try:
            (down if direction == "down" else up)(i, s)
        except (OSError, threading.BrokenBarrierError) as e:
            errors.append(f"stream {i}: {e}")
            start.abort()
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(i, s))
               for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    total = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    rates = [r[0] / r[1] / MB for r in results]
    return total / wall / MB, min(rates), max(rates), total


# ---- the crypto ceiling -----------------------------------------------------

def crypto_ceiling(build, mib):
    """Runs bench_crypto; returns {cipher: (wall MB/s, MB/s per CPU
    second)} for the raw AEAD, {suite: (wall MB/s, MB/s per CPU-second
    of the busier end)} for one TLS connection, and the raw output."""
    exe = os.path.join(build, "tests", "bench", "bench_crypto")
    out = subprocess.run([exe, "--mib", str(mib), "--conns", "10"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"bench_crypto failed: {out.stderr.strip()}")
    aead, tls = {}, {}
    for line in out.stdout.splitlines():
        m = re.match(r"aead\s+(\S+).*wall.*?([\d.]+) MB/s\s+cpu.*?"
                     r"([\d.]+) MB/s", line)
        if m:
            aead[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = re.match(r"tls\s+(\S+).*wall.*?([\d.]+) MB/s.*client.*?"
                     r"([\d.]+) MB/s.*server.*?([\d.]+) MB/s", line)
        if m:
            # Wall MB/s, and MB per CPU-second of the busier end.
            tls[m.group(1)] = (float(m.group(2)),
                               min(float(m.group(3)), float(m.group(4))))
    return aead, tls, out.stdout


def suite_key(suite):
    """The bench_crypto AEAD line for a TLS suite name."""
    s = suite.upper()
    if "CHACHA20" in s:
        return "chacha20-poly1305"
    return "aes-256-gcm" if "AES-256" in s or "AES_256" in s else \
        "aes-128-gcm"


# ---- the Sallyport set-up ---------------------------------------------------

POLICY = """\
resources:
  source: {{address: "127.0.0.1:{source}", connector: bench-office}}
  sink:   {{address: "127.0.0.1:{sink}", connector: bench-office}}
  idle:   {{address: "127.0.0.1:{idle}", connector: bench-office}}
groups:
  bench: [bencher]
rules:
  - name: bench
    action: allow
    resources: [source, sink, idle]
    groups: [bench]
"""


def make_harness():
    # Imported here so that SP_BUILD, set from --build, is seen by the
    # integration helpers, which read it at import time.
    from sallyport_test import LiveTest

    class Harness(LiveTest):
        """LiveTest's set-up (state dir, relay on free loopback ports,
        enrolment, tokens) used as a plain object, not as a test."""

        def runTest(self):
            pass

        def metric(self, name):
            m = re.search(rf"^{name} (\d+)$", self.metrics(), re.M)
            return int(m.group(1)) if m else None

        def restart_relay(self):
            self.relay_proc.stop()
            self.daemons.remove(self.relay_proc)
            return self.start_relay()

        def restart_connector(self, old, tunnels):
            old.stop()
            self.daemons.remove(old)
            conn = self.start_connector(self.cdir, ["127.0.0.1/32"],
                                        tunnels=tunnels, name="bench-office")
            self.wait_for(lambda: self.metric("sallyport_tunnels_up") ==
                          tunnels, f"{tunnels} tunnels up", timeout=60)
            return conn

        def cleanup(self):
            """tearDown that also copes with a set-up that stopped
            half-way."""
            for d in reversed(getattr(self, "daemons", [])):
                d.stop()
            if getattr(self, "tmp", None):
                shutil.rmtree(self.tmp, ignore_errors=True)

        def wait_idle(self, timeout=30):
            self.wait_for(lambda: self.metric("sallyport_streams_active") ==
                          0, "streams closed", timeout=timeout)

    return Harness()


def tunnel_suite(log_path):
    with open(log_path) as f:
        m = re.findall(r"ev=tunnel_up.*?suite=\"?([A-Za-z0-9-]+)", f.read())
    return m[-1] if m else None


# ---- the steps --------------------------------------------------------------

class Report:
    def __init__(self):
        self.lines = []

    def add(self, text=""):
        self.lines.append(text)
        print(text, flush=True)


def step_crypto(args, rep, when="before the tunnel runs"):
    if args.crypto_mib <= 0:
        return {}, {}
    rep.add(f"crypto, {when}: bench_crypto --mib {args.crypto_mib} "
            "--conns 10")
    aead, tls, _ = crypto_ceiling(args.build, args.crypto_mib)
    for k, (wall, cpu) in aead.items():
        rep.add(f"  aead {k:<22} {wall:7.1f} MB/s wall {cpu:7.1f} MB/s cpu")
    for k, (wall, cpu) in tls.items():
        rep.add(f"  tls  {k:<46} {wall:7.1f} MB/s wall {cpu:7.1f} MB/s "
                "per end-core")
    return aead, tls


def mean_ceiling(first, second):
    """The mean of two bench_crypto measurements, key by key: the machine
    is shared, and its speed drifts during a run by as much as the
    ratios are meant to show, so the ceiling is measured on both sides of
    the tunnel runs."""
    both = {}
    for k, a in first.items():
        b = second.get(k, a)
        both[k] = tuple((x + y) / 2 for x, y in zip(a, b))
    return both


def step_direct(args, rep, source, sink):
    def connect_to(port):
        return lambda: socket.create_connection(("127.0.0.1", port))

    meter = CpuMeter({"harness": os.getpid()})
    out = {}
    for direction, port in (("down", source.port), ("up", sink.port)):
        meter.start()
        rate, _, _, _ = run_streams(connect_to(port), direction, 1,
                                    args.direct_seconds)
        cpu = meter.stop()
        out[direction] = rate
        rep.add(f"direct   1 stream  {direction:<4} {rate:8.1f} MB/s   "
                f"cpu harness {cpu['harness']:.0%} others "
                f"{cpu['others']:.0%}")
    return out


def step_tunnel(args, rep, h, token, source, sink):
    """Returns {(streams, direction): (wall MB/s, MB/s per CPU-second of
    the busier daemon)}.  The second figure is what the path would carry
    if that daemon had a core to itself, which is how the cost of the code
    can be read on a machine whose cores other work also uses."""
    from resources import socks5_connect

    def connect_to(port):
        return lambda: socks5_connect(h.ports["socks"], "bencher", token,
                                      "127.0.0.1", port)

    pids = {"relay": h.relay_proc.proc.pid, "connector": h.conn.proc.pid,
            "harness": os.getpid()}
    meter = CpuMeter(pids)
    out = {}
    rep.add("                         wall       per daemon core   "
            "cores used (1.00 = one core)")
    for streams in (1, args.streams):
        for direction, port in (("down", source.port), ("up", sink.port)):
            meter.start()
            rate, lo, hi, _ = run_streams(connect_to(port), direction,
                                          streams, args.seconds)
            cpu = meter.stop()
            busiest = max(cpu["relay"], cpu["connector"])
            per_core = rate / busiest if busiest > 0 else 0.0
            out[(streams, direction)] = (rate, per_core)
            spread = (f"  per stream {lo:.1f}-{hi:.1f}"
                      if streams > 1 else "")
            rep.add(f"tunnel {streams:3d} stream{'s' if streams > 1 else ' '}"
                    f" {direction:<4} {rate:7.1f} MB/s {per_core:7.1f} MB/s"
                    f"      relay {cpu['relay']:.2f} connector "
                    f"{cpu['connector']:.2f} harness {cpu['harness']:.2f} "
                    f"others {cpu['others']:.2f}{spread}")
            h.wait_idle()
    return out


def open_idle(h, token, port, count, workers=64):
    """Opens `count` SOCKS5 streams to the idle resource from `workers`
    threads; returns (sockets, first error or None).  Stops at the first
    failure and says what it was, since a limit is exactly what we look
    for."""
    from resources import socks5_connect

    socks, errors = [], []
    lock = threading.Lock()
    left = [count]

    def worker():
        while True:
            with lock:
                if left[0] == 0 or errors:
                    return
                left[0] -= 1
            try:
                s = socks5_connect(h.ports["socks"], "bencher", token,
                                   "127.0.0.1", port, timeout=30)
            except OSError as e:
                with lock:
                    errors.append(f"with {len(socks)} streams open: "
                                  f"{type(e).__name__}: {e}")
                return
            with lock:
                socks.append(s)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return socks, (errors[0] if errors else None)


def last_problems(path, n=3):
    """The last warnings, errors and failed session ends a daemon
    logged: where a limit shows up, if it is logged at all."""
    with open(path) as f:
        lines = [ln.rstrip() for ln in f
                 if " lvl=warn " in ln or " lvl=error " in ln or
                 (" ev=end " in ln and " err=none" not in ln)]
    return lines[-n:]


def rss_pair(pids):
    return {who: proc_status(pid) for who, pid in pids.items()}


def report_growth(rep, before, after, n, label=""):
    """Prints each daemon's resident growth per stream; returns it."""
    per = {}
    for who in before:
        b, a = before[who], after[who]
        per[who] = (a["VmRSS"] - b["VmRSS"]) / n
        anon = (a["RssAnon"] - b["RssAnon"]) / n
        rep.add(f"  {who:<9} VmRSS {b['VmRSS'] / 2**20:6.1f} -> "
                f"{a['VmRSS'] / 2**20:6.1f} MiB = {per[who]:6.0f} B/stream"
                f" (heap, RssAnon: {anon:.0f}){label}")
    return per


def close_all(h, socks):
    for s in socks:
        s.close()
    h.wait_idle(timeout=60)
    time.sleep(1.5)  # the last close callbacks and a status write


def step_memory(args, rep, h, token, idle):
    """Returns ({daemon: bytes per stream}, streams opened)."""
    count = args.idle
    tunnels = args.idle_tunnels or min(
        CONNECTOR_MAX_TUNNELS, -(-count // MUX_MAX_STREAMS) + 2)
    rep.add(f"memory: fresh relay and connector (--tunnels {tunnels}, "
            f"{tunnels * MUX_MAX_STREAMS} streams at most), {count} idle "
            f"streams")

    # Fresh processes, so that heap freed by the throughput steps (and
    # kept by malloc) does not absorb the new streams' memory.
    h.restart_relay()
    h.conn = h.restart_connector(h.conn, tunnels)
    pids = {"relay": h.relay_proc.proc.pid, "connector": h.conn.proc.pid}
    rep.add(f"  descriptor limit: relay {soft_nofile(pids['relay'])}, "
            f"connector {soft_nofile(pids['connector'])}, harness "
            f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")

    # Warm-up: the first streams touch the store's pages, the log and
    # the allocator's arenas once; that is not a per-stream cost.
    warm, err = open_idle(h, token, idle.port, 64)
    if err:
        raise RuntimeError(f"warm-up failed {err}")
    close_all(h, warm)
    before = rss_pair(pids)
    slab = kernel_slab()

    t0 = time.monotonic()
    socks, err = open_idle(h, token, idle.port, count)
    took = time.monotonic() - t0
    opened = len(socks)
    try:
        rep.add(f"  opened {opened} of {count} streams in {took:.1f} s"
                f" ({opened / took:.0f}/s)")
        if err:
            rep.add(f"  FAILED {err}")
            for who, d in (("relay", h.relay_proc), ("connector", h.conn)):
                for line in last_problems(d.log_path):
                    # The event and its tail (end=, err=) say the most.
                    ev = line.find(" mod=")
                    text = line[ev + 1:] if ev >= 0 else line
                    if len(text) > 150:
                        text = text[:60] + " ... " + text[-85:]
                    rep.add(f"    {who}: {text}")
        h.wait_for(lambda: idle.held() >= opened,
                   "idle resource holds every stream", timeout=30)
        # A few ticks, pings and status writes; what the daemons spend on
        # streams that carry nothing is measured meanwhile.
        meter = CpuMeter(pids)
        meter.start()
        time.sleep(3)
        cpu = meter.stop()
        after = rss_pair(pids)
        slab = kernel_slab() - slab
        rep.add(f"  relay streams_active "
                f"{h.metric('sallyport_streams_active')}; descriptors "
                f"relay {proc_fds(pids['relay'])}, connector "
                f"{proc_fds(pids['connector'])}; CPU while idle: relay "
                f"{cpu['relay']:.2f} core, connector {cpu['connector']:.2f}")
        per = report_growth(rep, before, after, max(opened, 1))
        rep.add(f"  kernel slab, machine-wide: {slab / max(opened, 1):.0f} "
                f"B/stream (4 loopback sockets a stream; not in any RSS)")
    finally:
        close_all(h, socks)
    closed = rss_pair(pids)
    rep.add(f"  closed them: relay {closed['relay']['VmRSS'] / 2**20:.1f} "
            f"MiB, connector {closed['connector']['VmRSS'] / 2**20:.1f} MiB")

    # Again, into the memory the first round left behind: growth here
    # means memory that was not given back for reuse (a leak), not
    # memory that malloc keeps for the next time.
    socks, err = open_idle(h, token, idle.port, opened)
    try:
        if err:
            rep.add(f"  second round FAILED {err}")
        again = rss_pair(pids)
        rep.add(f"  second round, {len(socks)} streams, growth over the "
                f"closed state:")
        report_growth(rep, closed, again, max(len(socks), 1))
    finally:
        close_all(h, socks)
    return per, opened


def ceiling_notes(rep, suite, aead, tls, tun, direct):
    """Puts the tunnel figures next to the crypto ceiling."""
    key = suite_key(suite or "CHACHA20")
    if key not in aead:
        return
    raw, raw_cpu = aead[key]
    word = {"chacha20-poly1305": "CHACHA20", "aes-128-gcm": "AES-128",
            "aes-256-gcm": "AES-256"}[key]
    tls_core = next((v[1] for k, v in tls.items() if word in k), None)
    rep.add("")
    rep.add(f"ceiling for {suite or key}:")
    rep.add(f"  raw {key}, one core: {raw:.1f} MB/s wall, {raw_cpu:.1f} "
            "MB/s per CPU-second (the mean of the measurements before and "
            "after).")
    rep.add("  Each byte is sealed once by the sending end of the tunnel "
            "and opened once by the")
    rep.add("  receiving end, each in its own process on its own core, so "
            "with a core each and")
    rep.add("  nothing else to do one stream could reach the raw rate: "
            "that is the ceiling the")
    rep.add("  ratios use.  The same 2 cores also carry three loopback TCP "
            "hops, libuv, the TLS")
    rep.add("  record copies, this harness and other people's work, so the "
            "wall clock cannot get")
    rep.add("  there here; 'per daemon core' (MB/s over the busier daemon's "
            "CPU share) can, and")
    if tls_core:
        rep.add(f"  one TLS connection alone gets {tls_core:.1f} MB/s per "
                "end-core (bench_crypto's tls line).")
    else:
        rep.add("  bench_crypto's tls line shows one TLS connection alone.")
    for (streams, direction), (rate, per_core) in sorted(tun.items()):
        extra = (f", {per_core / tls_core:.2f} of one TLS connection"
                 if tls_core else "")
        rep.add(f"  tunnel {streams:3d} {direction:<4} wall {rate:6.1f} MB/s"
                f" = {rate / raw:.2f} of raw; per daemon core "
                f"{per_core:6.1f} = {per_core / raw_cpu:.2f} of raw{extra}")
    one = tun.get((1, "down"))
    if one is not None:
        verdict = "met" if one[0] / raw >= 0.75 else "not met"
        rep.add(f"  goal, one stream >= 0.75 of raw: {verdict} "
                f"(wall {one[0] / raw:.2f}, per daemon core "
                f"{one[1] / raw_cpu:.2f})")
    if direct.get("down") and one:
        limit = "not the limit" if direct["down"] > 3 * one[0] else \
            "possibly the limit"
        rep.add(f"  direct, without Sallyport: {direct['down']:.0f} MB/s, "
                f"so the harness is {limit}")


def run(args):
    rep = Report()
    cmd = " ".join(["python3", os.path.relpath(os.path.abspath(__file__),
                                               SRC)] + sys.argv[1:])
    rep.add(f"command: {cmd}")
    rep.add(f"build: {args.build}; {os.cpu_count()} cores; load "
            f"{loadavg()}")
    needed = [os.path.join("relay", "sallyport-relay"),
              os.path.join("connector", "sallyport-connector")]
    if args.crypto_mib > 0:
        needed.append(os.path.join("tests", "bench", "bench_crypto"))
    for exe in needed:
        if not os.access(os.path.join(args.build, exe), os.X_OK):
            raise RuntimeError(f"{exe} is not built in {args.build}")
    limit = raise_nofile()
    aead, tls = step_crypto(args, rep)

    h = make_harness()
    source = sink = idle = None
    try:
        source = Server(source_handle)
        sink = Server(sink_handle)
        idle = IdleServer() if args.idle > 0 else None
        h.setUp()
        direct = step_direct(args, rep, source, sink)
        h.add_user("bencher", password="pw", mfa=False)
        h.start_relay()
        h.cdir = h.enroll_connector("bench-office")
        policy = POLICY.format(source=source.port, sink=sink.port,
                               idle=idle.port if idle else 1)
        h.relay("policy", "apply", h.write("policy.yaml", policy))
        h.conn = h.start_connector(h.cdir, ["127.0.0.1/32"], tunnels=2,
                                   name="bench-office")
        h.wait_for(lambda: h.metric("sallyport_tunnels_up") == 2,
                   "2 tunnels up")
        token = h.token_for("bencher", password="pw")
        suite = tunnel_suite(h.conn.log_path)
        rep.add(f"tunnel suite: {suite}; connector --tunnels 2")
        tun = step_tunnel(args, rep, h, token, source, sink)
        if aead:
            rep.add("")
            aead2, tls2 = step_crypto(args, rep, "after the tunnel runs")
            aead = mean_ceiling(aead, aead2)
            tls = mean_ceiling(tls, tls2)
        ceiling_notes(rep, suite, aead, tls, tun, direct)
        if idle:
            rep.add("")
            per, _ = step_memory(args, rep, h, token, idle)
            rep.add(f"  goal < 4096 B/stream: relay "
                    f"{'met' if per['relay'] < 4096 else 'not met'}, "
                    f"connector "
                    f"{'met' if per['connector'] < 4096 else 'not met'}")
        rep.add(f"load at the end {loadavg()}; descriptor limit {limit[0]}")
        return 0
    finally:
        h.cleanup()
        for server in (source, sink, idle):
            if server is not None:
                server.close()


def main():
    args = parse_args(sys.argv[1:])
    if args.idle_server:
        idle_server_main()
        return 0
    args.build = os.path.abspath(args.build)
    os.environ["SP_BUILD"] = args.build
    # SIGTERM unwinds like Ctrl-C, so the `finally` stops every daemon.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return run(args)
    except (RuntimeError, AssertionError, OSError) as e:
        print(f"bench_tunnel: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
