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


# ---- running the daemons -------------------------------------------------

import socket
import time
import urllib.request

CONNECTOR = os.path.join(BUILD, "connector", "sallyport-connector")


def soft_nofile(pid):
    """The soft descriptor limit of process `pid`, from /proc."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def free_port():
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A background process whose stderr goes to a log file."""

    def __init__(self, cmd, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def text(self):
        with open(self.log_path) as f:
            return f.read()


class LiveTest(RelayTest):
    """A running relay on free loopback ports (one per listener)."""

    def setUp(self):
        super().setUp()
        self.ports = {k: free_port() for k in
                      ["socks", "http", "https", "connectors", "metrics"]}
        self.rewrite_config()
        self.daemons = []
        self.relay_proc = None

    def tearDown(self):
        for d in reversed(self.daemons):
            d.stop()
        super().tearDown()

    def rewrite_config(self, extra=""):
        self.config_extra = extra
        lines = ["name: localhost", "listen:"]
        lines += [f"  {k}: 127.0.0.1:{p}" for k, p in self.ports.items()]
        lines += ["token_ttl: 12h", extra]
        with open(os.path.join(self.state, "relay.yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start_relay(self):
        """Starts the relay.  A port that free_port() gave out can be
        taken by another test process before the relay binds it, and
        the relay then refuses to start ("address already in use"): it
        gets fresh ports, up to twice."""
        for attempt in range(3):
            d = Daemon([RELAY, "serve", "--state", self.state],
                       os.path.join(self.tmp, "relay.log"))
            self.daemons.append(d)
            self.relay_proc = d
            self.wait_for(lambda: d.proc.poll() is not None or
                          self.healthz() == 200, "relay ready")
            if d.proc.poll() is None:
                return d
            if attempt == 2 or "address already in use" not in d.text():
                break
            d.stop()
            self.daemons.remove(d)
            self.ports = {k: free_port() for k in self.ports}
            self.rewrite_config(self.config_extra)
        self.fail("the relay did not start:\n" + d.text()[-3000:])

    def healthz(self):
        url = f"http://127.0.0.1:{self.ports['metrics']}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def metrics(self):
        url = f"http://127.0.0.1:{self.ports['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()

    def wait_for(self, check, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if check():
                return
            time.sleep(0.1)
        logs = "\n".join(d.text()[-3000:] for d in self.daemons)
        self.fail(f"timed out waiting for {what}\n{logs}")

    def enroll_connector(self, name="paris-office"):
        token = self.relay("connector", "add", name, "--relay",
                           f"127.0.0.1:{self.ports['connectors']}").strip()
        cdir = os.path.join(self.tmp, "conn-" + name)
        r = subprocess.run([CONNECTOR, "enroll", "--state", cdir, "--token",
                            token], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return cdir

    def start_connector(self, cdir, allow, tunnels=2, name="paris-office"):
        cmd = [CONNECTOR, "run", "--state", cdir, "--tunnels", str(tunnels)]
        for a in allow:
            cmd += ["--allow", a]
        d = Daemon(cmd, os.path.join(self.tmp, f"connector-{name}.log"))
        self.daemons.append(d)
        self.wait_for(lambda: self.connector_status(name) == "connected",
                      "connector connected")
        return d

    def connector_status(self, name):
        out = self.run_relay("connector", "list", "--json").stdout
        for c in json.loads(out or "[]"):
            if c["name"] == name:
                return c["status"]
        return None

    def token_for(self, user, password="correct horse", secret=None,
                  source="127.0.0.1"):
        r = self.login(user, password=password,
                       otp=totp(secret) if secret else None, source=source)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["token"]

    def curl(self, *args, timeout=60):
        return subprocess.run(["curl", "-sS", "--max-time", str(timeout)] +
                              list(args), capture_output=True,
                              timeout=timeout + 10)
