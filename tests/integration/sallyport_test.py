"""Shared helpers for the integration tests: a temporary state
directory, the real sallyport-relay binary, and oathtool for TOTP codes."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SP_BUILD", os.path.join(os.path.dirname(__file__),
                                                "..", "..", "build"))
RELAY = os.path.join(BUILD, "relay", "sallyport-relay")


def totp(secret, at=None):
    """The current (or given) TOTP code, from the reference oathtool."""
    cmd = ["oathtool", "--totp", "-b", secret]
    if at is not None:
        cmd += ["--now", at]
    return subprocess.run(cmd, check=True, capture_output=True,
                          text=True).stdout.strip()


class RelayTest(unittest.TestCase):
    """Each test gets a fresh, initialised state directory."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sp-test-")
        self.state = os.path.join(self.tmp, "state")
        self.relay("init", "--name", "relay.test")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_relay(self, *args, stdin=None, env=None, state=True):
        cmd = [RELAY] + list(args)
        if state:
            cmd += ["--state", self.state]
        full_env = dict(os.environ)
        full_env.pop("SALLYPORT_STATE", None)
        full_env.update(env or {})
        return subprocess.run(cmd, input=stdin, capture_output=True,
                              text=True, env=full_env, timeout=120)

    def relay(self, *args, stdin=None):
        """Runs a subcommand that must succeed; returns its stdout."""
        r = self.run_relay(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0,
                         f"{args} failed: {r.stderr.strip()}")
        return r.stdout

    def relay_fails(self, *args, stdin=None, code=1):
        """Runs a subcommand that must fail; returns its one-line stderr."""
        r = self.run_relay(*args, stdin=stdin)
        self.assertEqual(r.returncode, code, f"{args}: {r.stdout}{r.stderr}")
        return r.stderr

    def add_user(self, name, password="correct horse", groups=None,
                 mfa=True):
        args = ["user", "add", name, "--password-stdin"]
        if groups:
            args += ["--groups", ",".join(groups)]
        if not mfa:
            args.append("--no-mfa")
        out = self.relay(*args, stdin=password + "\n")
        if not mfa:
            return None
        lines = out.strip().splitlines()
        self.assertTrue(lines[-1].startswith("otpauth://totp/"), out)
        return lines[-2].split(": ")[1]

    def login(self, user, password="correct horse", otp=None, source=None):
        args = ["login", user, "--password-stdin"]
        if otp:
            args += ["--otp", otp]
        if source:
            args += ["--from", source]
        return self.run_relay(*args, stdin=password + "\n")

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def audit(self):
        with open(os.path.join(self.state, "audit.jsonl")) as f:
            return [json.loads(line) for line in f]
