"""The relay daemon without a connector: login over HTTPS with a real
TOTP code, the login page, health and metrics, and every refusal that
needs no resource (credentials, policy, connector down, bad input)."""

import json
import os
import re
import socket
import ssl
import subprocess
import time
import unittest

from sallyport_test import RELAY, LiveTest, totp

POLICY = """\
resources:
  web: {address: "localhost:9", connector: paris-office}
rules:
  - {name: alice-web, action: allow, resources: [web], users: [alice],
     mfa: true}
"""


class FrontDoorTest(LiveTest):
    def setUp(self):
        super().setUp()
        self.secret = self.add_user("alice", password="pw-alice")
        self.add_user("bob", password="pw-bob", mfa=False)
        self.relay("policy", "apply", self.write("p.yaml", POLICY))
        self.start_relay()
        self.ca = os.path.join(self.state, "ca.crt")
        self.https = f"https://localhost:{self.ports['https']}"

    def login_https(self, *fields, json_body=None):
        args = ["--cacert", self.ca, self.https + "/v1/login",
                "-w", "\n%{http_code}"]
        if json_body is not None:
            args += ["-H", "Content-Type: application/json",
                     "--data-binary", json.dumps(json_body)]
        for f in fields:
            args += ["--data-urlencode", f]
        r = self.curl(*args)
        body, _, code = r.stdout.decode().rpartition("\n")
        return int(code), body

    def test_login_form_and_json_with_oathtool(self):
        otp = totp(self.secret)
        code, body = self.login_https("user=alice", "password=pw-alice",
                                      "otp=" + otp)
        self.assertEqual(code, 200, body)
        out = json.loads(body)
        self.assertRegex(out["token"], r"^spt_[A-Za-z0-9_-]{43}$")
        self.assertRegex(out["expires"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # The same code again is a replay, even once its 30 s step has
        # passed (a fresh code there would be accepted); JSON bodies work
        # too.
        code, _ = self.login_https(json_body={
            "user": "alice", "password": "pw-alice", "otp": otp})
        self.assertEqual(code, 401)
        code, body = self.login_https(json_body={"user": "bob",
                                                 "password": "pw-bob"})
        self.assertEqual(code, 200, body)
        logins = [a for a in self.audit() if a["event"] == "login"]
        self.assertEqual([a["outcome"] for a in logins], ["ok", "fail", "ok"])
        self.assertEqual(logins[1]["reason"], "otp_replayed")
        self.assertEqual(logins[0]["via"], "https")

    def test_lockout_answers_429(self):
        for _ in range(5):
            code, _ = self.login_https("user=bob", "password=wrong")
            self.assertEqual(code, 401)
        code, body = self.login_https("user=bob", "password=pw-bob")
        self.assertEqual(code, 429, body)
        self.assertGreater(json.loads(body)["retry_after"], 0)

    def test_login_page(self):
        r = self.curl("--cacert", self.ca, self.https + "/")
        page = r.stdout.decode()
        self.assertIn("<form", page)
        self.assertIn("/v1/login", page)
        # The settings it shows are this relay's (test_browser.py runs it).
        self.assertIn(f'data-socks="{self.ports["socks"]}" '
                      f'data-http="{self.ports["http"]}"', page)

    def test_logout_revokes(self):
        tok = self.token_for("bob", password="pw-bob")
        r = self.curl("--cacert", self.ca, "-X", "POST", "-u", "bob:" + tok,
                      "-H", "Proxy-Authorization: Basic " +
                      __import__("base64").b64encode(
                          f"bob:{tok}".encode()).decode(),
                      self.https + "/v1/logout", "-w", "%{http_code}")
        self.assertTrue(r.stdout.decode().endswith("200"), r.stdout)
        self.assertEqual(json.loads(self.relay("token", "list", "--json")),
                         [])

    def test_second_relay_on_the_same_ports_refused(self):
        """A relay started twice must not share the ports with the
        first (it would take a share of the connections without their
        tunnels): the second one stops at once, and the first serves on,
        its published session list untouched."""
        idle = socket.create_connection(("127.0.0.1", self.ports["socks"]))
        self.addCleanup(idle.close)
        self.wait_for(lambda: len(json.loads(
            self.relay("sessions", "--json"))) == 1, "session listed")
        second = subprocess.Popen([RELAY, "serve", "--state", self.state],
                                  stderr=subprocess.PIPE, text=True)
        try:
            _, err = second.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()
            second.communicate()
            self.fail("a second relay runs on the same ports")
        self.assertEqual(second.returncode, 1, err)
        self.assertIn("address already in use", err)
        self.assertEqual(self.healthz(), 200)
        self.assertIsNone(self.relay_proc.proc.poll())
        time.sleep(1.5)  # the running relay's next publish, had it lost it
        self.assertEqual(len(json.loads(self.relay("sessions", "--json"))), 1)

    def test_health_and_metrics(self):
        self.assertEqual(self.healthz(), 200)
        text = self.metrics()
        self.assertIn("sallyport_ready 1", text)
        self.assertRegex(text, r'sallyport_connections_total\{listener="socks"\}')

    def test_refusals(self):
        tok = self.token_for("alice", password="pw-alice",
                             secret=self.secret)
        socks = f"127.0.0.1:{self.ports['socks']}"
        http = f"http://127.0.0.1:{self.ports['http']}"
        # SOCKS5: wrong token, undeclared destination, connector down.
        r = self.curl("--socks5-hostname", socks, "--proxy-user",
                      "alice:spt_wrong", "http://localhost:9/")
        self.assertNotEqual(r.returncode, 0)
        r = self.curl("--socks5-hostname", socks, "--proxy-user",
                      "alice:" + tok, "http://intranet.corp/")
        # curl prints the SOCKS5 reply code: 2 is "not allowed by ruleset".
        self.assertIn(b"(2)", r.stderr)
        r = self.curl("--socks5-hostname", socks, "--proxy-user",
                      "alice:" + tok, "http://localhost:9/")
        self.assertIn(b"(3)", r.stderr)  # network unreachable
        # HTTP CONNECT: missing credentials, another user's token, denied.
        def connect_code(*extra):
            r = self.curl("-p", "-x", http, "-o", "/dev/null", "-w",
                          "%{http_connect}", *extra, "http://localhost:9/")
            return r.stdout.decode()
        self.assertEqual(connect_code(), "407")
        self.assertEqual(connect_code("--proxy-user", "bob:" + tok), "407")
        r = self.curl("-p", "-x", http, "--proxy-user", "alice:" + tok,
                      "-o", "/dev/null", "-w", "%{http_connect}",
                      "http://intranet.corp:80/")
        self.assertEqual(r.stdout.decode(), "403")
        self.assertEqual(connect_code("--proxy-user", "alice:" + tok), "503")
        # Other methods are refused: this is a tunnel, not a web proxy.
        r = self.curl("-x", http, "-o", "/dev/null", "-w", "%{http_code}",
                      "http://localhost:9/")
        self.assertEqual(r.stdout.decode(), "405")
        events = [a["event"] for a in self.audit()]
        self.assertIn("decision", events)
        self.assertIn("proxy_auth", events)
        reasons = [a["reason"] for a in self.audit()
                   if a["event"] == "decision"]
        self.assertIn("no_resource", reasons)
        # The two requests that found no tunnel ended at the relay, and
        # say so the same way whichever protocol asked.
        ends = [(a["ended_by"], a["phase"]) for a in self.audit()
                if a["event"] == "stream_end"]
        self.assertEqual(ends, [("relay", "connector_down")] * 2)

    def test_audit_follows_rotation(self):
        """logrotate renames audit.jsonl: the relay's records follow the
        path, next to the admin commands' records, within a tick."""
        tok = self.token_for("alice", password="pw-alice",
                             secret=self.secret)
        path = os.path.join(self.state, "audit.jsonl")
        os.rename(path, path + ".1")
        self.wait_for(lambda: "ev=audit_reopened" in self.relay_proc.text(),
                      "the relay to reopen audit.jsonl", timeout=5)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        r = self.curl("--socks5-hostname", f"127.0.0.1:{self.ports['socks']}",
                      "--proxy-user", "alice:" + tok, "http://intranet.corp/")
        self.assertIn(b"(2)", r.stderr)
        self.relay("user", "disable", "bob")
        events = [a["event"] for a in self.audit()]
        self.assertEqual(events, ["decision", "user_disable"])
        with open(path + ".1") as f:
            old = [json.loads(line)["event"] for line in f]
        self.assertNotIn("decision", old)

    def test_audit_failures_counted_and_logged_once_a_second(self):
        """A trail that cannot be written (a full disk, here /dev/full)
        is counted in /metrics and logged at most once a second, and
        the relay goes on answering."""
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        tok = self.token_for("alice", password="pw-alice",
                             secret=self.secret)
        path = os.path.join(self.state, "audit.jsonl")
        os.remove(path)
        os.symlink("/dev/full", path)
        self.wait_for(lambda: "ev=audit_reopened" in self.relay_proc.text(),
                      "the relay to reopen audit.jsonl", timeout=5)
        start = time.monotonic()
        for _ in range(10):
            r = self.curl("--socks5-hostname",
                          f"127.0.0.1:{self.ports['socks']}", "--proxy-user",
                          "alice:" + tok, "http://intranet.corp/")
            self.assertIn(b"(2)", r.stderr)
        failed = re.search(r"^sallyport_audit_failures_total (\d+)$",
                           self.metrics(), re.M)
        self.assertGreaterEqual(int(failed.group(1)), 10)
        logged = [line for line in self.relay_proc.text().splitlines()
                  if "ev=audit_failed" in line]
        seconds = time.monotonic() - start
        self.assertGreaterEqual(len(logged), 1)
        self.assertLessEqual(len(logged), int(seconds) + 1, logged)
        self.assertIn("err=", logged[0])

    def test_sessions_list_and_kill(self):
        idle = socket.create_connection(("127.0.0.1", self.ports["socks"]))
        def listed():
            return json.loads(self.relay("sessions", "--json"))
        self.wait_for(lambda: len(listed()) == 1, "session listed")
        sess = listed()[0]
        self.assertEqual((sess["listener"], sess["state"]),
                         ("socks", "preface"))
        self.relay("sessions", "kill", str(sess["id"]))
        idle.settimeout(5)
        self.assertEqual(idle.recv(10), b"")
        idle.close()
        self.wait_for(lambda: listed() == [], "session gone")
        kills = [a for a in self.audit() if a["event"] == "session_kill"]
        self.assertEqual(kills[0]["sessions"], 1)
        # Without a running relay the list is empty.
        self.relay_proc.stop()
        self.assertEqual(listed(), [])

    def test_sessions_list_follows_changes(self):
        # The list is brought up to date once a second, record by record:
        # a new session appears, a state change shows, a closed one goes.
        def listed():
            return {x["id"]: x for x in
                    json.loads(self.relay("sessions", "--json"))}
        a = socket.create_connection(("127.0.0.1", self.ports["socks"]))
        b = socket.create_connection(("127.0.0.1", self.ports["socks"]))
        self.wait_for(lambda: len(listed()) == 2, "two sessions listed")
        first, second = sorted(listed())
        b.sendall(b"\x05\x01\x02")
        self.assertEqual(b.recv(2), b"\x05\x02")
        self.wait_for(lambda: listed()[second]["state"] == "request",
                      "state change listed")
        self.assertEqual(listed()[first]["state"], "preface")
        a.close()
        self.wait_for(lambda: list(listed()) == [second], "closed one gone")
        c = socket.create_connection(("127.0.0.1", self.ports["socks"]))
        self.wait_for(lambda: len(listed()) == 2, "a third listed")
        b.close()
        c.close()
        self.wait_for(lambda: listed() == {}, "all gone")

    def test_idle_connections_time_out(self):
        # A value out of range is refused at start, naming the key.
        self.relay_proc.stop()
        self.daemons.remove(self.relay_proc)
        self.rewrite_config("request_timeout: 2h")
        r = self.run_relay("serve")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("request_timeout", r.stderr)
        self.rewrite_config("request_timeout: 1s")
        self.start_relay()

        def idle(port, send=b""):
            s = socket.create_connection(("127.0.0.1", port), timeout=15)
            if send:
                s.sendall(send)
            return s
        conns = {
            "socks, silent": idle(self.ports["socks"]),
            "socks, greeting only": idle(self.ports["socks"], b"\x05\x01\x02"),
            "http, half a request": idle(self.ports["http"],
                                         b"CONNECT web:9 HTTP/1.1\r\n"),
            "metrics, silent": idle(self.ports["metrics"]),
        }
        # TLS done without a certificate (an enrolment), then nothing.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca)
        conns["connectors, enrolment silent"] = ctx.wrap_socket(
            idle(self.ports["connectors"]), server_hostname="localhost")
        conns["https, silent"] = ctx.wrap_socket(
            idle(self.ports["https"]), server_hostname="localhost")
        for what, s in conns.items():
            with s:
                try:
                    got = s.recv(4096)
                    while got and what.startswith("socks, greeting"):
                        got = s.recv(4096)  # the method reply, then EOF
                except (ConnectionResetError, ssl.SSLError):
                    got = b""
                self.assertEqual(got, b"", what)
        # Log lines leave at the end of the loop's turn (docs/relay.md).
        self.wait_for(lambda: "err=timed_out" in self.relay_proc.text() and
                      "enrol_timeout" in self.relay_proc.text(),
                      "the timeouts logged")

    def test_garbage_closes_only_its_connection(self):
        for port in [self.ports["socks"], self.ports["http"]]:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"\x16\x03\x01garbage\r\n\r\n" * 10)
                s.settimeout(5)
                try:
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
        self.assertEqual(self.healthz(), 200)
        self.assertIsNone(self.relay_proc.proc.poll())


if __name__ == "__main__":
    unittest.main()
