"""The whole path: real curl -> relay (SOCKS5, HTTP CONNECT, HTTPS) ->
tunnel -> real connector -> a sample resource, all on loopback."""

import base64
import hashlib
import json
import os
import socket
import subprocess
import threading
import time
import unittest

from resources import HTTPResource, TCPResource, payload, socks5_connect
from sallyport_test import LiveTest, totp

POLICY = """\
resources:
  web:     {{address: "localhost:{web}", connector: paris-office}}
  web-ip:  {{address: "127.0.0.1:{web}", connector: paris-office}}
  echo:    {{address: "127.0.0.1:{echo}", connector: paris-office}}
  banner:  {{address: "127.0.0.1:{banner}", connector: paris-office}}
  closed:  {{address: "127.0.0.1:{closed}", connector: paris-office}}
  outside: {{address: "127.0.0.2:{web}", connector: paris-office}}
  forbidden: {{address: "127.0.0.1:{forbidden}", connector: paris-office}}
groups:
  engineering: [alice]
rules:
  - name: engineers
    action: allow
    resources: [web, web-ip, echo, banner, closed, outside]
    groups: [engineering]
    mfa: true
"""


class FullPathTest(LiveTest):
    def setUp(self):
        super().setUp()
        self.web = HTTPResource(size=6 << 20)
        self.echo = TCPResource("echo")
        # Speaks first, like SSH or SMTP: its bytes may reach the relay
        # with the stream's opening, and must still follow the reply.
        self.banner = TCPResource("source", size=300)
        self.closed_port = self.free_port_closed()
        self.policy = POLICY.format(web=self.web.port, echo=self.echo.port,
                                    banner=self.banner.port,
                                    closed=self.closed_port,
                                    forbidden=self.web.port + 1)
        self.secret = self.add_user("alice", password="pw",
                                    groups=["engineering"])
        self.add_user("mallory", password="pw", mfa=False)
        self.start_relay()
        self.cdir = self.enroll_connector()
        self.relay("policy", "apply", self.write("p.yaml", self.policy))
        self.conn = self.start_connector(
            self.cdir, ["127.0.0.1/32", "localhost"])
        self.token = self.token_for("alice", password="pw",
                                    secret=self.secret)
        self.socks = f"127.0.0.1:{self.ports['socks']}"
        self.http = f"http://127.0.0.1:{self.ports['http']}"
        self.https = f"https://localhost:{self.ports['https']}"
        self.ca = os.path.join(self.state, "ca.crt")

    def tearDown(self):
        super().tearDown()
        self.web.close()
        self.echo.close()
        self.banner.close()

    def free_port_closed(self):
        from sallyport_test import free_port
        return free_port()

    def blob_via(self, *proxy_args, url=None):
        url = url or f"http://localhost:{self.web.port}/blob"
        r = self.curl(*proxy_args, "--proxy-user", "alice:" + self.token,
                      url)
        return r, hashlib.sha256(r.stdout).hexdigest()

    def test_socks5_both_name_modes(self):
        for mode in ["--socks5-hostname", "--socks5"]:
            r, digest = self.blob_via(mode, self.socks)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(digest, self.web.sha256, mode)

    def test_http_connect_and_https_proxy(self):
        r, digest = self.blob_via("-p", "-x", self.http)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(digest, self.web.sha256)
        r, digest = self.blob_via("-p", "-x", self.https, "--proxy-cacert",
                                  self.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(digest, self.web.sha256)
        ends = [a for a in self.audit() if a["event"] == "stream_end"]
        self.assertGreaterEqual(len(ends), 2)
        self.assertGreater(ends[-1]["bytes_down"], 6 << 20)

    def test_two_tunnels_and_status(self):
        self.wait_for(lambda: json.loads(self.relay(
            "connector", "list", "--json"))[0]["tunnels"] == 2, "2 tunnels")
        c = json.loads(self.relay("connector", "list", "--json"))[0]
        self.assertEqual(c["status"], "connected")
        self.assertRegex(c["address"], r"^127\.0\.0\.1:\d+$")

    def test_refusals_through_the_connector(self):
        def code(url):
            r = self.curl("-p", "-x", self.http, "--proxy-user",
                          "alice:" + self.token, "-o", "/dev/null", "-w",
                          "%{http_connect}", url)
            return r.stdout.decode()
        # Declared and allowed by policy, refused by the connector.
        self.assertEqual(code(f"http://127.0.0.2:{self.web.port}/"), "403")
        # Nothing listens there.
        self.assertEqual(code(f"http://127.0.0.1:{self.closed_port}/"),
                         "502")
        # Declared, but no rule allows it.
        self.assertEqual(code(f"http://127.0.0.1:{self.web.port + 1}/"),
                         "403")
        r = self.curl("--socks5", self.socks, "--proxy-user",
                      "alice:" + self.token,
                      f"http://127.0.0.1:{self.closed_port}/")
        self.assertIn(b"(5)", r.stderr)  # connection refused

    def test_user_outside_the_rule_and_other_tokens(self):
        tok = self.token_for("mallory", password="pw")
        r = self.curl("--socks5-hostname", self.socks, "--proxy-user",
                      "mallory:" + tok, f"http://localhost:{self.web.port}/")
        self.assertIn(b"(2)", r.stderr)
        r = self.curl("--socks5-hostname", self.socks, "--proxy-user",
                      "mallory:" + self.token,
                      f"http://localhost:{self.web.port}/")
        self.assertNotEqual(r.returncode, 0)

    def test_echo_half_close(self):
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.echo.port)
        data = payload(3 << 20)
        sender = threading.Thread(target=lambda: (s.sendall(data),
                                                  s.shutdown(socket.SHUT_WR)))
        sender.start()
        got = bytearray()
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            got += chunk
        sender.join()
        s.close()
        self.assertEqual(hashlib.sha256(got).hexdigest(),
                         hashlib.sha256(data).hexdigest())

    def read_all(self, s):
        got = bytearray()
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                return bytes(got)
            got += chunk

    def test_sessions_list_counts_bytes(self):
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.echo.port)

        def bytes_listed():
            rows = json.loads(self.relay("sessions", "--json"))
            return [(x["state"], x["bytes_up"], x["bytes_down"])
                    for x in rows]
        total = 0
        for n in (1000, 500):
            s.sendall(b"x" * n)
            total += n
            got = 0
            while got < n:
                got += len(s.recv(4096))
            self.wait_for(lambda: bytes_listed() ==
                          [("splice", total, total)], f"{total} listed")
        s.close()
        self.wait_for(lambda: bytes_listed() == [], "session gone")

    def test_resource_speaks_first(self):
        want = payload(1 << 20)[:300]
        for _ in range(20):
            s = socks5_connect(self.ports["socks"], "alice", self.token,
                               "127.0.0.1", self.banner.port)
            self.assertEqual(self.read_all(s), want)
            s.close()
        auth = base64.b64encode(f"alice:{self.token}".encode()).decode()
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.ports["http"]),
                                         timeout=30)
            s.sendall(f"CONNECT 127.0.0.1:{self.banner.port} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{self.banner.port}\r\n"
                      f"Proxy-Authorization: Basic {auth}\r\n\r\n"
                      .encode())
            got = self.read_all(s)
            s.close()
            head, sep, rest = got.partition(b"\r\n\r\n")
            self.assertTrue(sep, got[:200])
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
            self.assertEqual(rest, want)

    def test_policy_change_and_disable_while_open(self):
        s = socks5_connect(self.ports["socks"], "alice", self.token,
                           "127.0.0.1", self.echo.port)
        s.sendall(b"ping")
        self.assertEqual(s.recv(4), b"ping")
        self.relay("policy", "apply", self.write("empty.yaml", "rules: []\n"))
        s.settimeout(5)
        self.assertEqual(s.recv(10), b"")  # the relay closed it
        s.close()
        r = self.curl("--socks5-hostname", self.socks, "--proxy-user",
                      "alice:" + self.token,
                      f"http://localhost:{self.web.port}/")
        self.assertIn(b"(2)", r.stderr)
        self.relay("policy", "apply", self.write("p.yaml", self.policy))
        self.relay("user", "disable", "alice")
        r = self.curl("--socks5-hostname", self.socks, "--proxy-user",
                      "alice:" + self.token,
                      f"http://localhost:{self.web.port}/")
        self.assertNotEqual(r.returncode, 0)

    def test_connector_down_then_revoked(self):
        self.conn.stop()
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "offline", "connector offline")
        r = self.curl("-p", "-x", self.http, "--proxy-user",
                      "alice:" + self.token, "-o", "/dev/null", "-w",
                      "%{http_connect}", f"http://localhost:{self.web.port}/")
        self.assertEqual(r.stdout.decode(), "503")
        conn = self.start_connector(self.cdir, ["127.0.0.1/32", "localhost"])
        self.relay("connector", "revoke", "paris-office")
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "revoked", "revoked")
        self.wait_for(lambda: "revoked" in conn.text(), "connector told")
        events = [a["event"] for a in self.audit()]
        self.assertIn("connector_revoked", events)

    def test_token_reused_for_enrolment_is_refused(self):
        token = self.relay("connector", "add", "lyon",
                           "--relay",
                           f"127.0.0.1:{self.ports['connectors']}").strip()
        from sallyport_test import CONNECTOR
        first = subprocess.run([CONNECTOR, "enroll", "--state",
                                os.path.join(self.tmp, "c1"), "--token",
                                token], capture_output=True, text=True)
        self.assertEqual(first.returncode, 0, first.stderr)
        again = subprocess.run([CONNECTOR, "enroll", "--state",
                                os.path.join(self.tmp, "c2"), "--token",
                                token], capture_output=True, text=True)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("refused", again.stderr)

    def test_relay_restart_reconnects(self):
        self.relay_proc.stop()
        self.daemons.remove(self.relay_proc)
        self.start_relay()
        self.wait_for(lambda: self.connector_status("paris-office") ==
                      "connected", "reconnected", timeout=40)
        r, digest = self.blob_via("--socks5-hostname", self.socks)
        self.assertEqual(r.returncode, 0, r.stderr.decode() +
                         self.relay_proc.text()[-3000:])
        self.assertEqual(digest, self.web.sha256)

    def test_connector_never_listens(self):
        pid = self.conn.proc.pid
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        self.assertTrue(inodes)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"]:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[9] in inodes:
                        self.assertNotEqual(fields[3], "0A",
                                            "connector has a LISTEN socket")


if __name__ == "__main__":
    unittest.main()
