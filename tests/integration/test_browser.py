"""The login page in a real browser: headless Chromium, driven through
chromedriver's WebDriver protocol (plain HTTP and JSON, so Python's
standard library is enough).  tests/deps.sh installs both, and a font:
without any, headless Chromium drops the keys typed into the form.
Where they are missing the tests say so and skip."""

import json
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from sallyport_test import LiveTest, free_port, totp

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # WebDriver's element key


class Browser:
    """One headless Chromium session.  The relay's certificate comes from
    the relay's own CA, which the browser does not know: the session
    accepts it (what TLS verifies is tested with curl elsewhere)."""

    def __init__(self, tmp):
        self.port = free_port()
        self.log = open(os.path.join(tmp, "chromedriver.log"), "w")
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"],
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.sid = None
        deadline = time.time() + 20
        while not self.ready():
            if time.time() > deadline:
                raise AssertionError("chromedriver did not start")
            time.sleep(0.1)
        opts = {"binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run",
                         "--user-data-dir=" + os.path.join(tmp, "chrome")]}
        caps = {"browserName": "chrome", "acceptInsecureCerts": True,
                "goog:chromeOptions": opts}
        self.sid = self.call("POST", "/session",
                             {"capabilities": {"alwaysMatch": caps}}
                             )["sessionId"]

    def ready(self):
        try:
            return self.call("GET", "/status").get("ready", False)
        except (OSError, AssertionError):
            return False

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: "
                                 f"{e.read()[:500]!r}") from None

    def session(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def open(self, url):
        self.session("POST", "/url", {"url": url})

    def find(self, css):
        found = self.session("POST", "/element",
                             {"using": "css selector", "value": css})
        return found[ELEMENT]

    def type(self, css, text):
        self.session("POST", f"/element/{self.find(css)}/value",
                     {"text": text})

    def click(self, css):
        self.session("POST", f"/element/{self.find(css)}/click", {})

    def script(self, body, *args):
        return self.session("POST", "/execute/sync",
                            {"script": body, "args": list(args)})

    def text(self, css):
        """The element's text in the document (textContent: what the
        page put there, whatever fonts the machine has)."""
        return self.script("return document.querySelector(arguments[0])"
                           ".textContent;", css)

    def hidden(self, css):
        return self.script("return document.querySelector(arguments[0])"
                           ".hidden;", css)

    def close(self):
        try:
            if self.sid is not None:
                self.session("DELETE", "")
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


@unittest.skipUnless(CHROMIUM and CHROMEDRIVER,
                     "needs Debian's chromium and chromium-driver "
                     "(tests/deps.sh installs them)")
class BrowserTest(LiveTest):
    def setUp(self):
        super().setUp()
        self.secret = self.add_user("alice", password="pw-alice")
        self.start_relay()
        self.browser = Browser(self.tmp)
        self.addCleanup(self.browser.close)
        self.page = f"https://localhost:{self.ports['https']}/"

    def log_in(self, otp):
        b = self.browser
        b.open(self.page)
        b.type("#user", "alice")
        b.type("#password", "pw-alice")
        b.type("#otp", otp)
        b.click("button[type=submit]")

    def wait_text(self, css, what):
        deadline = time.time() + 30
        while time.time() < deadline:
            text = self.browser.text(css)
            if text:
                return text
            time.sleep(0.2)
        self.fail(f"the page never showed {what}")

    def test_login_shows_token_and_this_relays_ports(self):
        self.log_in(totp(self.secret))
        token = self.wait_text("#tok", "a token")
        self.assertFalse(self.browser.hidden("#out"))
        self.assertTrue(self.browser.hidden("#f"))
        self.assertRegex(token, r"^spt_[A-Za-z0-9_-]{43}$")
        self.assertRegex(self.browser.text("#exp"),
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        cfg = self.browser.text("#cfg")
        p = self.ports
        self.assertIn(f"SOCKS5: localhost:{p['socks']}", re.sub(r" +", " ",
                                                                cfg))
        self.assertIn(f"localhost:{p['http']}", cfg)
        self.assertIn(f"https://localhost:{p['https']}", cfg)
        self.assertIn(f"--proxy-user alice:{token}", cfg)
        self.assertEqual(self.browser.text("#msg"), "")
        login = [a for a in self.audit() if a["event"] == "login"]
        self.assertEqual([(a["outcome"], a["via"]) for a in login],
                         [("ok", "https")])

        # The token the page shows is one the relay takes: the request
        # gets as far as the policy (which has no resources at all).
        r = self.curl("--socks5-hostname", f"127.0.0.1:{p['socks']}",
                      "--proxy-user", "alice:" + token, "http://localhost:9/")
        self.assertNotEqual(r.returncode, 0)
        decisions = [a for a in self.audit() if a["event"] == "decision"]
        self.assertEqual([(a["user"], a["decision"]) for a in decisions],
                         [("alice", "deny")])

    def test_wrong_code_says_login_failed(self):
        self.log_in("000000" if totp(self.secret) != "000000" else "111111")
        self.assertEqual(self.wait_text("#msg", "an error"), "Login failed.")
        self.assertEqual(self.browser.text("#tok"), "")
        self.assertTrue(self.browser.hidden("#out"))
        login = [a for a in self.audit() if a["event"] == "login"]
        self.assertEqual([a["outcome"] for a in login], ["fail"])


if __name__ == "__main__":
    unittest.main()
