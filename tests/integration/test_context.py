"""Context-aware access through the real relay and connector: GeoIP
country and ASN of the client's address (curl --interface 127.0.0.x
against test databases), device certificates, time windows (new and
live streams), and PROXY protocol headers from trusted and untrusted
senders on all three client listeners."""

import datetime
import json
import os
import socket
import struct
import subprocess
import time
import unittest

from resources import HTTPResource, TCPResource
from sallyport_test import BUILD, LiveTest

GEO = os.path.join(BUILD, "tests", "geo")
FR, US, DE, KP = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
PROXY_HOST = "127.0.0.9"


def settle_minute():
    """Waits out the last seconds of a minute, so that a window computed
    now still holds "now" when the request arrives."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if now.second >= 45:
        time.sleep(61 - now.second)


def window_around_now():
    """A window from the previous minute to the next one, in UTC."""
    settle_minute()
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(minutes=1)).strftime("%H:%M")
    end = (now + datetime.timedelta(minutes=1)).strftime("%H:%M")
    return f"{start}-{end}"


class ContextTest(LiveTest):
    def setUp(self):
        super().setUp()
        self.rewrite_config(
            f"geoip: {GEO}/maxmind-country.mmdb\n"
            f"geoip_asn: {GEO}/maxmind-asn.mmdb\n"
            f"trusted_proxies: [{PROXY_HOST}/32]\n")
        self.web = HTTPResource()
        self.echo = TCPResource("echo")
        for u in ["alice", "bob", "carol", "dave", "erin", "frank", "zed"]:
            self.add_user(u, password="pw", mfa=False)
        self.start_relay()
        self.cdir = self.enroll_connector()
        self.apply_policy(window_around_now())
        self.start_connector(self.cdir, ["127.0.0.1/32", "localhost"])
        self.devs = os.path.join(self.tmp, "devices")
        self.relay("device", "add", "laptop", "--user", "dave", "--tags",
                   "managed", "--out", self.devs)
        self.relay("device", "add", "zeds-laptop", "--user", "zed", "--tags",
                   "managed", "--out", self.devs)

    def tearDown(self):
        super().tearDown()
        self.web.close()
        self.echo.close()

    def apply_policy(self, hours):
        self.relay("policy", "apply", self.write("p.yaml", f"""\
resources:
  web:  {{address: "localhost:{self.web.port}", connector: paris-office}}
  echo: {{address: "127.0.0.1:{self.echo.port}", connector: paris-office}}
rules:
  - {{name: fr-only, action: allow, resources: [web], users: [alice],
     countries: [FR]}}
  - {{name: not-us, action: allow, resources: [web], users: [bob],
     not_countries: [US]}}
  - {{name: orange, action: allow, resources: [web], users: [carol],
     asns: [3215]}}
  - {{name: managed, action: allow, resources: [web], users: [dave, zed],
     device_tags: [managed]}}
  - {{name: window, action: allow, resources: [web, echo], users: [erin],
     hours: "{hours}"}}
  - {{name: everything, action: allow, resources: [web], users: [frank],
     countries: [FR], asns: [3215], device_tags: [managed],
     hours: "{hours}"}}
  - {{name: no-kp, action: deny, countries: [KP]}}
"""))

    def fetch(self, user, src, *extra, proxy="socks"):
        tok = self.token_for(user, password="pw", source=src)
        if proxy == "socks":
            args = ["--socks5-hostname", f"127.0.0.1:{self.ports['socks']}"]
        else:
            args = ["-p", "-x", f"https://localhost:{self.ports['https']}",
                    "--proxy-cacert", os.path.join(self.state, "ca.crt")]
        r = self.curl("--interface", src, *args, *extra, "--proxy-user",
                      f"{user}:{tok}", f"http://localhost:{self.web.port}/")
        return r.returncode == 0 and r.stdout == b"hello\n"

    def last_decision(self, user):
        return [a for a in self.audit() if a["event"] == "decision" and
                a["user"] == user][-1]

    def test_countries(self):
        self.assertTrue(self.fetch("alice", FR))
        d = self.last_decision("alice")
        self.assertEqual((d["country"], d["asn"]), ("FR", 3215))
        self.assertFalse(self.fetch("alice", US))
        self.assertFalse(self.fetch("alice", "127.0.0.1"))  # unknown: XX

    def test_not_countries_fail_closed(self):
        self.assertTrue(self.fetch("bob", DE))
        self.assertFalse(self.fetch("bob", US))
        self.assertFalse(self.fetch("bob", "127.0.0.1"))  # unknown
        self.assertFalse(self.fetch("bob", KP))  # the deny rule
        self.assertEqual(self.last_decision("bob")["rule"], "no-kp")

    def test_asn(self):
        self.assertTrue(self.fetch("carol", FR))
        self.assertFalse(self.fetch("carol", US))

    def test_device_tags(self):
        cert = ["--proxy-cert", os.path.join(self.devs, "laptop.crt"),
                "--proxy-key", os.path.join(self.devs, "laptop.key")]
        self.assertTrue(self.fetch("dave", "127.0.0.1", *cert, proxy="https"))
        self.assertEqual(self.last_decision("dave")["device"], "laptop")
        # Without the certificate, or over SOCKS5, there is no device.
        self.assertFalse(self.fetch("dave", "127.0.0.1", proxy="https"))
        self.assertFalse(self.fetch("dave", "127.0.0.1"))
        # Another user's device counts as no device.
        self.assertFalse(self.fetch("zed", "127.0.0.1", *cert, proxy="https"))
        self.relay("device", "revoke", "laptop")
        self.assertFalse(self.fetch("dave", "127.0.0.1", *cert,
                                    proxy="https"))

    def test_everything_together(self):
        self.apply_policy(window_around_now())
        cert = ["--proxy-cert", os.path.join(self.devs, "laptop.crt"),
                "--proxy-key", os.path.join(self.devs, "laptop.key")]
        self.relay("device", "add", "franks", "--user", "frank", "--tags",
                   "managed", "--out", self.devs)
        fcert = ["--proxy-cert", os.path.join(self.devs, "franks.crt"),
                 "--proxy-key", os.path.join(self.devs, "franks.key")]
        self.assertTrue(self.fetch("frank", FR, *fcert, proxy="https"))
        self.assertFalse(self.fetch("frank", US, *fcert, proxy="https"))
        self.assertFalse(self.fetch("frank", FR, proxy="https"))
        self.assertFalse(self.fetch("frank", FR, *cert, proxy="https"))

    def test_time_window_new_and_live(self):
        self.assertTrue(self.fetch("erin", "127.0.0.1"))
        # A window that ended a minute ago refuses new streams.
        past = datetime.datetime.now(datetime.timezone.utc)
        ended = (f"{(past - datetime.timedelta(minutes=3)):%H:%M}-"
                 f"{(past - datetime.timedelta(minutes=1)):%H:%M}")
        self.apply_policy(ended)
        self.assertFalse(self.fetch("erin", "127.0.0.1"))
        # A live stream is closed when its window ends, on the relay's
        # clock, without any change to the store.
        settle_minute()
        now = datetime.datetime.now(datetime.timezone.utc)
        end = now + datetime.timedelta(minutes=1)
        self.apply_policy(f"{(now - datetime.timedelta(minutes=1)):%H:%M}-"
                          f"{end:%H:%M}")
        from resources import socks5_connect
        tok = self.token_for("erin", password="pw")
        s = socks5_connect(self.ports["socks"], "erin", tok, "127.0.0.1",
                           self.echo.port)
        s.sendall(b"x")
        self.assertEqual(s.recv(1), b"x")
        s.settimeout(80)
        started = time.time()
        self.assertEqual(s.recv(1), b"")  # closed at the window's end
        self.assertLess(time.time() - started, 75)
        s.close()

    # ---- PROXY protocol ----

    def proxied(self, listener, header, src_ip, user="alice"):
        """Sends `header` then a CONNECT for the web resource from the
        trusted proxy's address; returns the relay's first answer."""
        tok = self.token_for(user, password="pw", source=src_ip)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((PROXY_HOST, 0))
        s.connect(("127.0.0.1", self.ports[listener]))
        s.settimeout(10)
        s.sendall(header)
        if listener == "socks":
            s.sendall(b"\x05\x01\x02")
            if s.recv(2) != b"\x05\x02":
                return b""
            u, p = user.encode(), tok.encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            if s.recv(2) != b"\x01\x00":
                return b"auth-refused"
            h = b"localhost"
            s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h +
                      self.web.port.to_bytes(2, "big"))
            answer = s.recv(2)
        else:
            import base64
            cred = base64.b64encode(f"{user}:{tok}".encode()).decode()
            req = (f"CONNECT localhost:{self.web.port} HTTP/1.1\r\n"
                   f"Host: localhost:{self.web.port}\r\n"
                   f"Proxy-Authorization: Basic {cred}\r\n\r\n").encode()
            if listener == "https":
                import ssl
                ctx = ssl.create_default_context(
                    cafile=os.path.join(self.state, "ca.crt"))
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(req)
            answer = s.recv(64)
        s.close()
        return answer

    def v2(self, src, dst="127.0.0.1", family=socket.AF_INET):
        sig = b"\r\n\r\n\x00\r\nQUIT\n"
        if family == socket.AF_INET:
            body = (socket.inet_pton(family, src) +
                    socket.inet_pton(family, dst) + struct.pack("!HH", 4000, 1080))
            return sig + b"\x21\x11" + struct.pack("!H", len(body)) + body
        body = (socket.inet_pton(family, src) +
                socket.inet_pton(family, dst) + struct.pack("!HH", 4000, 1080))
        return sig + b"\x21\x21" + struct.pack("!H", len(body)) + body

    def test_proxy_v1_and_v2_on_every_listener(self):
        v1 = f"PROXY TCP4 {FR} 127.0.0.1 4000 1080\r\n".encode()
        for listener in ["socks", "http", "https"]:
            ok = b"\x05\x00" if listener == "socks" else b"HTTP/1.1 200"
            self.assertTrue(self.proxied(listener, v1, FR).startswith(ok),
                            listener)
            self.assertTrue(self.proxied(listener, self.v2(FR), FR)
                            .startswith(ok), listener)
        d = self.last_decision("alice")
        self.assertEqual((d["source"], d["country"]), (FR, "FR"))
        # IPv6 clients behind the proxy: unknown to the database, so the
        # countries rule fails for alice and not_countries fails for bob.
        v6 = self.v2("2001:db8::7", "2001:db8::1", socket.AF_INET6)
        self.assertEqual(self.proxied("socks", v6, "2001:db8::7")[:2],
                         b"\x05\x02")
        v1_6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 4000 1080\r\n"
        self.assertEqual(self.proxied("socks", v1_6, "2001:db8::7",
                                      user="bob")[:2], b"\x05\x02")

    def test_untrusted_sender_cannot_spoof(self):
        v1 = f"PROXY TCP4 {FR} 127.0.0.1 4000 1080\r\n".encode()
        for listener in ["socks", "http", "https"]:
            s = socket.create_connection(("127.0.0.1", self.ports[listener]))
            s.settimeout(10)
            s.sendall(v1 + b"\x05\x01\x02")
            self.assertEqual(s.recv(16), b"")
            s.close()
        refused = [a for a in self.audit()
                   if a["event"] == "proxy_header_refused"]
        self.assertEqual(len(refused), 3)
        self.assertEqual(refused[0]["reason"], "untrusted_sender")
        self.assertEqual(self.healthz(), 200)


class GeoStartupTest(LiveTest):
    """The relay with a missing or replaced country database."""

    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "country.mmdb")
        self.web = HTTPResource()
        self.add_user("alice", password="pw", mfa=False)
        self.relay("policy", "apply", self.write("p.yaml", f"""\
resources:
  web: {{address: "localhost:{self.web.port}", connector: paris-office}}
rules:
  - {{name: fr-only, action: allow, resources: [web], users: [alice],
     countries: [FR]}}
"""))
        self.rewrite_config(f"geoip: {self.db}\n")

    def tearDown(self):
        super().tearDown()
        self.web.close()

    def test_refuses_to_start_without_database(self):
        r = subprocess.run([os.path.join(BUILD, "relay", "sallyport-relay"),
                            "serve", "--state", self.state],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("country rules but GeoIP is unusable", r.stderr)
        self.assertIn(self.db, r.stderr)

    def test_sighup_reloads_the_database(self):
        import shutil
        shutil.copy(os.path.join(GEO, "maxmind-country.mmdb"), self.db)
        self.start_relay()
        cdir = self.enroll_connector()
        self.start_connector(cdir, ["localhost"])
        tok = self.token_for("alice", password="pw", source=FR)
        def fetch():
            r = self.curl("--interface", FR, "--socks5-hostname",
                          f"127.0.0.1:{self.ports['socks']}", "--proxy-user",
                          "alice:" + tok, f"http://localhost:{self.web.port}/")
            return r.returncode == 0
        self.assertTrue(fetch())
        # In the other data 127.0.0.2 is in Italy.  Replace the file the
        # way the fetch script does (a rename) and send SIGHUP.
        shutil.copy(os.path.join(GEO, "maxmind-country-alt.mmdb"),
                    self.db + ".new")
        os.rename(self.db + ".new", self.db)
        self.relay_proc.proc.send_signal(__import__("signal").SIGHUP)
        self.wait_for(lambda: "geoip_reloaded" in self.relay_proc.text(),
                      "reload")
        self.assertFalse(fetch())
        self.assertEqual(self.healthz(), 200)


if __name__ == "__main__":
    unittest.main()
