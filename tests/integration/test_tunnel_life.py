"""The life of a tunnel, end to end on loopback: certificate renewal over
the tunnel, a 2 GiB transfer, many streams with one stalled, a dead
connector found by the pings, and certificates the relay must refuse."""

import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest

from resources import HTTPResource, TCPResource, payload, socks5_connect
from sallyport_test import CONNECTOR, Daemon, LiveTest, soft_nofile

POLICY = """\
resources:
  web:    {{address: "localhost:{web}", connector: paris-office}}
  echo:   {{address: "127.0.0.1:{echo}", connector: paris-office}}
  big:    {{address: "127.0.0.1:{big}", connector: paris-office}}
  medium: {{address: "127.0.0.1:{medium}", connector: paris-office}}
  large:  {{address: "127.0.0.1:{large}", connector: paris-office}}
groups:
  engineering: [alice]
rules:
  - name: engineers
    action: allow
    resources: [web, echo, big, medium, large]
    groups: [engineering]
"""

# socketserver listens with a backlog of 5.  With 50 streams dialled at
# once the accept queue overflows, the kernel drops the handshake's last
# ACK, and the connector holds connections the source never accepted: the
# test would measure the sample resource, not the tunnel.
socketserver.ThreadingTCPServer.request_queue_size = 128

ALLOW = ["127.0.0.1/32", "localhost"]
BIG = 2 << 30           # the 2 GiB transfer
MEDIUM = 4 << 20        # each of the concurrent streams
LARGE = 64 << 20        # the stalled stream: more than every buffer on
                        # its path (socket buffers, the stream's window)
STREAMS = 50            # concurrent streams, one of them stalled
BIG_LIMIT_S = 180       # far more than a healthy relay needs


def serial_of(path):
    """The certificate's serial in lower-case hex, as the relay logs it."""
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in",
                          path], check=True, capture_output=True,
                         text=True).stdout
    return out.strip().split("=", 1)[1].lower().lstrip("0")


def digest_of_repeated(chunk, size):
    """SHA-256 of `chunk` repeated up to `size` bytes (what _Source sends)."""
    h = hashlib.sha256()
    left = size
    while left > 0:
        n = min(left, len(chunk))
        h.update(chunk[:n])
        left -= n
    return h.hexdigest()


def cpu_seconds(pid):
    """User plus system CPU time a process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_all(sock, h=None, limit=None):
    """Reads until EOF (or `limit` bytes); returns (bytes read, digest)."""
    h = h or hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    got = 0
    while limit is None or got < limit:
        want = len(buf) if limit is None else min(len(buf), limit - got)
        n = sock.recv_into(view[:want])
        if n == 0:
            break
        h.update(view[:n])
        got += n
    return got, h


class TunnelLifeTest(LiveTest):
    def setUp(self):
        super().setUp()
        self.web = HTTPResource(size=1 << 20)
        self.echo = TCPResource("echo")
        self.big = TCPResource("source", size=BIG)
        self.medium = TCPResource("source", size=MEDIUM)
        self.large = TCPResource("source", size=LARGE)
        self.add_user("alice", password="pw", groups=["engineering"],
                      mfa=False)
        self.start_relay()
        self.relay("policy", "apply", self.write("p.yaml", POLICY.format(
            web=self.web.port, echo=self.echo.port, big=self.big.port,
            medium=self.medium.port, large=self.large.port)))
        self.cdir = self.enroll_connector()
        self.token = self.token_for("alice", password="pw")

    def tearDown(self):
        super().tearDown()
        for r in [self.web, self.echo, self.big, self.medium, self.large]:
            r.close()

    # ---- helpers ----

    def run_connector(self, *extra):
        cmd = [CONNECTOR, "run", "--state", self.cdir, "--tunnels", "2"]
        for a in ALLOW:
            cmd += ["--allow", a]
        d = Daemon(cmd + list(extra),
                   os.path.join(self.tmp, "connector-paris-office.log"))
        self.daemons.append(d)
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "connected", "connector connected")
        return d

    def tunnels(self):
        out = self.relay("connector", "list", "--json")
        return json.loads(out)[0]["tunnels"]

    def fetch_ok(self):
        """One download through SOCKS5 with curl; True if it was intact."""
        r = self.curl("--socks5-hostname", f"127.0.0.1:{self.ports['socks']}",
                      "--proxy-user", "alice:" + self.token,
                      f"http://localhost:{self.web.port}/blob", timeout=20)
        return (r.returncode == 0 and
                hashlib.sha256(r.stdout).hexdigest() == self.web.sha256)

    def probe(self, crt, key):
        """Presents `crt` on listen.connectors.  Returns "hello" when the
        relay opened a tunnel (its HELLO frame came), "closed" when it
        closed after the handshake, "handshake_failed" when TLS failed."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.state, "ca.crt"))
        ctx.load_cert_chain(crt, key)
        raw = socket.create_connection(
            ("127.0.0.1", self.ports["connectors"]), timeout=10)
        try:
            s = ctx.wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, ConnectionError):
            raw.close()
            return "handshake_failed"
        try:
            head = s.recv(8)
        except (ssl.SSLError, ConnectionError):
            head = b""
        finally:
            s.close()
        return "hello" if head[:1] == b"\x01" else "closed"

    def refusing_tunnel(self):
        """A tunnel of our own with the connector's certificate: HELLO, then
        every OPEN is answered with RESET `limit` (docs/tunnel.md, "RESET"),
        as a connector does that is full or moving the tunnel.  Returns
        (the TLS socket, a list that fills with the stream ids refused)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(os.path.join(self.state, "ca.crt"))
        ctx.load_cert_chain(os.path.join(self.cdir, "connector.crt"),
                            os.path.join(self.cdir, "connector.key"))
        raw = socket.create_connection(
            ("127.0.0.1", self.ports["connectors"]), timeout=30)
        s = ctx.wrap_socket(raw, server_hostname="localhost")

        def frame(ftype, stream, payload, flags=0):
            return struct.pack(">BBHI", ftype, flags, len(payload),
                               stream) + payload

        def text(v):
            return struct.pack(">H", len(v)) + v

        name = b"paris-office"
        s.sendall(frame(1, 0, struct.pack(">HBI", 1, 2, 1024) + text(name) +
                        text(b"refusing test tunnel")))
        refused = []

        def serve():
            buf = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                    while len(buf) >= 8:
                        ftype, flags, n, stream = struct.unpack(">BBHI",
                                                                buf[:8])
                        if len(buf) < 8 + n:
                            break
                        payload, buf = buf[8:8 + n], buf[8 + n:]
                        if ftype == 2:  # OPEN
                            s.sendall(frame(6, stream, struct.pack(">I", 6)))
                            refused.append(stream)
                        elif ftype == 7 and not flags & 1:  # PING
                            s.sendall(frame(7, 0, payload, flags=1))
            except (OSError, ssl.SSLError):
                return
        threading.Thread(target=serve, daemon=True).start()
        return s, refused

    def log_of(self, name):
        with open(os.path.join(self.tmp, name)) as f:
            return f.read()

    # ---- certificate renewal ----

    def test_certificate_renewal(self):
        crt = os.path.join(self.cdir, "connector.crt")
        key = os.path.join(self.cdir, "connector.key")
        old_crt, old_key = (os.path.join(self.tmp, "old.crt"),
                            os.path.join(self.tmp, "old.key"))
        shutil.copy(crt, old_crt)
        shutil.copy(key, old_key)
        old_serial = serial_of(crt)

        # A threshold above the 90-day lifetime: renew at once.
        statuses, fetches, done = [], [], threading.Event()

        def watch():
            while not done.is_set():
                statuses.append(self.connector_status("paris-office"))
                fetches.append(self.fetch_ok())
        conn = self.run_connector("--renew-before", "91d")
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            self.wait_for(lambda: "ev=renew_done" in conn.text(),
                          "every tunnel on the new certificate", timeout=60)
            self.wait_for(lambda: "ev=previous_retired" in
                          self.relay_proc.text(), "previous serial retired")
        finally:
            done.set()
            watcher.join()

        new_serial = serial_of(crt)
        self.assertNotEqual(new_serial, old_serial)
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(crt).st_mode & 0o777, 0o644)
        self.assertEqual(sorted(os.listdir(self.cdir)),
                         ["ca.crt", "connector.crt", "connector.key",
                          "connector.yaml"])
        # The connector stayed connected and traffic flowed all along.
        self.assertTrue(statuses)
        self.assertEqual(set(statuses), {"connected"}, statuses)
        print(f"\n{len(fetches)} downloads and status checks while the "
              f"tunnels moved", file=sys.stderr)
        self.assertTrue(fetches)
        self.assertTrue(all(fetches), fetches)
        self.assertTrue(self.fetch_ok())
        self.wait_for(lambda: self.tunnels() == 2, "two tunnels again")

        renewed = [a for a in self.audit()
                   if a["event"] == "connector_renewed"]
        self.assertEqual(len(renewed), 1, renewed)
        self.assertEqual(renewed[0]["connector"], "paris-office")
        self.assertEqual(renewed[0]["previous"].lstrip("0"), old_serial)
        self.assertEqual(renewed[0]["serial"].lstrip("0"), new_serial)
        text = conn.text()
        for ev in ["renew_check", "renew_requested", "renew_issued",
                   "renew_stored", "tunnel_roll", "renew_done"]:
            self.assertIn("ev=" + ev, text)
        self.assertNotIn("PRIVATE KEY", text)

        # Once every tunnel moved, only the new certificate opens one.
        self.assertEqual(self.probe(crt, key), "hello")
        self.assertEqual(self.probe(old_crt, old_key), "closed")

        # Revocation refuses both certificates.
        self.relay("connector", "revoke", "paris-office")
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "revoked", "revoked")
        self.wait_for(lambda: "ev=revoked" in conn.text(), "connector told")
        self.assertEqual(self.probe(crt, key), "closed")
        self.assertEqual(self.probe(old_crt, old_key), "closed")
        refused = [a for a in self.audit()
                   if a["event"] == "connector_refused"]
        self.assertGreaterEqual(len(refused), 3)

    # ---- streams ----

    def test_open_refused_with_limit_goes_to_another_tunnel(self):
        conn = self.run_connector()
        self.wait_for(lambda: self.tunnels() == 2, "two tunnels")
        fake, refused = self.refusing_tunnel()
        self.wait_for(lambda: self.tunnels() == 3, "three tunnels")
        # The relay picks the tunnel with the fewest streams; the idle
        # refusing one is picked at least once, and every request that
        # meets its RESET limit must go through another tunnel.
        for _ in range(6):
            self.assertTrue(self.fetch_ok())
        self.assertTrue(refused, "the refusing tunnel got no OPEN")
        self.assertIn("ev=open_retried", self.relay_proc.text())

        # With only the refusing tunnel left, the client is told the
        # connector is full: HTTP CONNECT gets 503.
        conn.stop()
        self.wait_for(lambda: self.tunnels() == 1, "one tunnel")
        before = len(refused)
        r = self.curl("-p", "-x", f"http://127.0.0.1:{self.ports['http']}",
                      "--proxy-user", "alice:" + self.token, "-o",
                      "/dev/null", "-w", "%{http_connect}",
                      f"http://localhost:{self.web.port}/blob")
        self.assertEqual(r.stdout.decode(), "503")
        self.assertGreater(len(refused), before)
        ends = [a for a in self.audit() if a["event"] == "stream_end"]
        self.assertEqual(ends[-1]["phase"], "connection_limit_reached")
        fake.close()

    def test_two_gib_intact(self):
        chunk = payload(1 << 20)
        expected = {}
        worker = threading.Thread(target=lambda: expected.setdefault(
            "digest", digest_of_repeated(chunk, BIG)))
        worker.start()
        conn = self.run_connector()
        pids = [self.relay_proc.proc.pid, conn.proc.pid]
        cpu = [cpu_seconds(p) for p in pids]
        start = time.monotonic()
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.big.port, timeout=60)
        with s:
            got, h = read_all(s)
        elapsed = time.monotonic() - start
        cpu = [cpu_seconds(p) - c for p, c in zip(pids, cpu)]
        worker.join()
        print(f"\n2 GiB in {elapsed:.1f} s "
              f"({BIG / elapsed / (1 << 20):.0f} MiB/s); CPU: relay "
              f"{cpu[0]:.1f} s, connector {cpu[1]:.1f} s", file=sys.stderr)
        self.assertEqual(got, BIG)
        self.assertEqual(h.hexdigest(), expected["digest"])
        self.assertLess(elapsed, BIG_LIMIT_S)
        # The relay writes the stream's end record once both sides ended.
        self.wait_for(lambda: [a["bytes_down"] for a in self.audit()
                               if a["event"] == "stream_end"] == [BIG],
                      "the stream_end record")

    def sessions_ended(self):
        return self.relay_proc.text().count(" ev=end ")

    def test_stalled_stream_does_not_block_others(self):
        self.run_connector()
        chunk = payload(1 << 20)
        expected = digest_of_repeated(chunk, MEDIUM)
        stalled = socks5_connect(self.ports["socks"], "alice", self.token,
                                 "127.0.0.1", self.large.port)
        first, stalled_hash = read_all(stalled, limit=64 << 10)
        self.assertEqual(first, 64 << 10)
        time.sleep(1)  # the buffers along its path fill up

        results = [None] * (STREAMS - 1)

        def fetch(i):
            try:
                with socks5_connect(self.ports["socks"], "alice", self.token,
                                    "127.0.0.1", self.medium.port) as s:
                    got, h = read_all(s)
                results[i] = (got, h.hexdigest())
            except OSError as e:
                results[i] = (-1, str(e))
        threads = [threading.Thread(target=fetch, args=(i,))
                   for i in range(STREAMS - 1)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1, 90 - (time.monotonic() - start)))
        self.assertFalse(any(t.is_alive() for t in threads),
                         "streams still running next to the stalled one")
        for got, digest in results:
            self.assertEqual((got, digest), (MEDIUM, expected))
        print(f"\n{STREAMS - 1} x {MEDIUM >> 20} MiB beside a stalled "
              f"stream in {time.monotonic() - start:.1f} s", file=sys.stderr)

        # The stalled stream is still open, with bytes waiting for it.
        self.wait_for(lambda: self.sessions_ended() == STREAMS - 1,
                      "the other sessions' end lines")
        time.sleep(0.5)
        self.assertEqual(self.sessions_ended(), STREAMS - 1)
        stalled.setblocking(False)
        self.assertTrue(stalled.recv(1, socket.MSG_PEEK))
        stalled.settimeout(30)
        rest, stalled_hash = read_all(stalled, stalled_hash)
        stalled.close()
        self.assertEqual(first + rest, LARGE)
        self.assertEqual(stalled_hash.hexdigest(),
                         digest_of_repeated(chunk, LARGE))

    # ---- a dead tunnel ----

    def test_dead_tunnel_detected(self):
        conn = self.run_connector()
        self.wait_for(lambda: self.tunnels() == 2, "two tunnels")
        pid = conn.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            self.wait_for(lambda: self.connector_status("paris-office") ==
                          "offline", "connector offline", timeout=30)
            elapsed = time.monotonic() - start
        finally:
            os.kill(pid, signal.SIGCONT)
        # Silence counts from the last frame the relay got (a ping or its
        # answer comes every 5 s), and the tunnel is dead after 15 s of it.
        self.assertGreater(elapsed, 8)
        self.assertLess(elapsed, 22)
        dead = [line for line in self.relay_proc.text().splitlines()
                if "ev=close" in line and "why=dead" in line]
        self.assertEqual(len(dead), 2, dead)
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "connected", "reconnected", timeout=30)
        self.assertTrue(self.fetch_ok())

    # ---- descriptors ----

    def test_descriptor_limit_raised_to_hard(self):
        """Both daemons start with a low soft descriptor limit, as under a
        shell's default of 1024, and raise it to the hard limit, which is
        what lets them carry tens of thousands of streams."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        low = 256
        if hard != resource.RLIM_INFINITY and hard <= low:
            self.skipTest(f"hard descriptor limit {hard} leaves no room")
        want = (1 << 20 if hard == resource.RLIM_INFINITY
                else min(hard, 1 << 20))
        self.relay_proc.stop()
        self.daemons.remove(self.relay_proc)
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
        try:
            relay = self.start_relay()
            conn = self.run_connector()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for d in (relay, conn):
            self.assertEqual(soft_nofile(d.proc.pid), want)
            self.assertIn(f"ev=nofile soft={want} ", d.text())
            self.assertIn(f" raised_from={low}", d.text())
        self.assertTrue(self.fetch_ok())

    # ---- a relay killed outright ----

    def test_relay_killed_then_restarted(self):
        """SIGKILL leaves no chance to tidy up: the store must still be
        whole, the status commands must stop showing what died with the
        relay, and a new relay must pick up where it stopped: the same
        token works, the connector comes back, no ghost session."""
        conn = self.run_connector()
        self.wait_for(lambda: self.tunnels() == 2, "two tunnels")
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.echo.port)

        def sessions():
            return json.loads(self.relay("sessions", "--json"))
        self.wait_for(lambda: len(sessions()) == 1, "the stream listed")
        self.relay_proc.proc.kill()
        self.relay_proc.stop()
        self.daemons.remove(self.relay_proc)
        s.settimeout(10)
        self.assertEqual(s.recv(10), b"")
        s.close()

        # Within the staleness window, nothing claims to be up.
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "offline", "the connector shown offline", timeout=10)
        self.assertEqual(sessions(), [])
        users = json.loads(self.relay("user", "list", "--json"))
        self.assertEqual([u["name"] for u in users], ["alice"])

        self.start_relay()
        self.wait_for(lambda: self.tunnels() == 2, "the tunnels back",
                      timeout=40)
        self.assertTrue(self.fetch_ok())
        # The killed relay's session is not brought back: the new relay
        # rewrites the table (the download's own record goes within a
        # second of its end).
        self.wait_for(lambda: sessions() == [], "no session listed",
                      timeout=5)
        self.assertIsNone(conn.proc.poll())

    # ---- destinations that vanish ----

    def test_long_stream_gets_keepalive_on_its_destination(self):
        """A stream still open after 10 s gets TCP keepalive on the
        connector's socket to its destination, so a destination that
        vanishes without a FIN ends the stream; a short stream never
        pays for it.  /proc/net/tcp shows the keepalive timer (timer
        kind 2) on an idle socket only when keepalive is on."""
        conn = self.run_connector()
        port = f"{self.echo.port:04X}"

        def timer_kind():
            """The timer of the connector's socket to the echo
            resource: ("0", when) idle, ("2", when) keepalive."""
            mine = f"/proc/{conn.proc.pid}/net/tcp"
            with open(mine) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if (fields[2].endswith(":" + port) and
                            fields[3] == "01"):
                        return fields[5].split(":")[0]
            return None
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.echo.port)
        with s:
            s.sendall(b"ping")
            self.assertEqual(s.recv(4), b"ping")
            self.wait_for(lambda: timer_kind() == "00", "an idle socket")
            started = time.monotonic()
            self.wait_for(lambda: timer_kind() == "02",
                          "keepalive on the destination socket", timeout=30)
            self.assertGreater(time.monotonic() - started, 5)
            s.sendall(b"pong")
            self.assertEqual(s.recv(4), b"pong")

    # ---- certificates the relay refuses ----

    def other_ca_cert(self):
        """A connector-like certificate for paris-office from a CA of its
        own, made with openssl."""
        d = os.path.join(self.tmp, "other-ca")
        os.mkdir(d)

        def ossl(*args):
            subprocess.run(["openssl"] + list(args), check=True, cwd=d,
                           capture_output=True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes"]
        ossl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "30", "-subj", "/CN=Sallyport CA for localhost",
             "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        ossl("req", "-new", *ec, "-keyout", "leaf.key", "-out", "leaf.csr",
             "-subj", "/CN=paris-office/O=Sallyport connector")
        with open(os.path.join(d, "ext"), "w") as f:
            f.write("extendedKeyUsage=clientAuth\n"
                    "keyUsage=critical,digitalSignature\n")
        ossl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey",
             "ca.key", "-CAcreateserial", "-days", "30", "-out", "leaf.crt",
             "-extfile", "ext")
        return os.path.join(d, "leaf.crt"), os.path.join(d, "leaf.key")

    def test_certificate_from_another_ca_refused(self):
        crt, key = self.other_ca_cert()
        self.assertEqual(self.probe(crt, key), "handshake_failed")
        # The client can see the failure before the relay logs it.
        self.wait_for(lambda: "ev=handshake_failed" in self.relay_proc.text(),
                      "the relay's handshake_failed line", timeout=10)
        # The enrolled certificate, as a control, opens a tunnel.
        self.assertEqual(self.probe(os.path.join(self.cdir, "connector.crt"),
                                    os.path.join(self.cdir, "connector.key")),
                         "hello")
        # The relay is unharmed: the real connector connects and serves.
        self.run_connector()
        self.assertTrue(self.fetch_ok())


if __name__ == "__main__":
    unittest.main()
