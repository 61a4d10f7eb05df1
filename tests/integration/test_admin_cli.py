"""sallyport-relay init and user management, through the real binary."""

import json
import os
import stat
import subprocess
import unittest

from sallyport_test import RELAY, RelayTest


class InitTest(RelayTest):
    def read(self, name):
        with open(os.path.join(self.state, name)) as f:
            return f.read()

    def test_files_and_modes(self):
        for name in ["relay.yaml", "store.mdb", "policy.yaml", "ca.crt",
                     "ca.key", "relay.crt", "relay.key", "audit.jsonl"]:
            self.assertTrue(os.path.exists(os.path.join(self.state, name)),
                            name)
        for key in ["ca.key", "relay.key", "store.mdb"]:
            mode = stat.S_IMODE(os.stat(os.path.join(self.state, key)).st_mode)
            self.assertEqual(mode, 0o600, key)
        mode = stat.S_IMODE(os.stat(self.state).st_mode)
        self.assertEqual(mode, 0o700)

    def test_refuses_to_overwrite(self):
        before = self.read("ca.crt")
        err = self.relay_fails("init", "--name", "other.test")
        self.assertIn("refusing to overwrite", err)
        self.assertEqual(len(err.strip().splitlines()), 1)
        self.assertEqual(before, self.read("ca.crt"))

    def test_relay_certificate_names(self):
        crt = os.path.join(self.state, "relay.crt")
        ca = os.path.join(self.state, "ca.crt")
        r = subprocess.run(["openssl", "verify", "-CAfile", ca, crt],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        san = subprocess.run(["openssl", "x509", "-noout", "-ext",
                              "subjectAltName", "-in", crt],
                             capture_output=True, text=True).stdout
        for want in ["DNS:relay.test", "DNS:localhost", "IP Address:127.0.0.1"]:
            self.assertIn(want, san)

    def test_example_policy_is_valid(self):
        out = self.relay("policy", "check",
                         os.path.join(self.state, "policy.yaml"))
        self.assertIn("ok (2 resources, 1 groups, 2 rules)", out)

    def test_state_from_environment_and_either_side(self):
        self.add_user("erin", mfa=False)
        env = dict(os.environ, SALLYPORT_STATE=self.state)
        r = subprocess.run([RELAY, "user", "list"], capture_output=True,
                           text=True, env=env)
        self.assertIn("erin", r.stdout)
        r = subprocess.run([RELAY, "--state", self.state, "user", "list"],
                           capture_output=True, text=True)
        self.assertIn("erin", r.stdout)

    def test_missing_state_is_one_clear_line(self):
        r = subprocess.run([RELAY, "--state", "/nonexistent/sp", "user",
                            "list"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertIn("sallyport-relay init", r.stderr)

    def test_every_command_has_help(self):
        for args in [["--help"], ["init", "--help"], ["user", "--help"],
                     ["user", "add", "--help"], ["policy", "--help"],
                     ["policy", "explain", "--help"], ["login", "--help"],
                     ["token", "--help"], ["token", "revoke", "--help"]]:
            r = subprocess.run([RELAY] + args, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("usage:", r.stdout, args)


class AuditTest(RelayTest):
    def test_audit_prints_every_line(self):
        self.add_user("erin", mfa=False)
        lines = self.relay("audit").strip().splitlines()
        events = [json.loads(line)["event"] for line in lines]
        self.assertEqual(events, ["relay_init", "user_add"])

    def test_follow_sees_new_lines(self):
        p = subprocess.Popen([RELAY, "audit", "--follow", "--state",
                              self.state], stdout=subprocess.PIPE, text=True)
        try:
            self.assertIn("relay_init", p.stdout.readline())
            self.add_user("erin", mfa=False)
            self.assertIn("user_add", p.stdout.readline())
        finally:
            p.terminate()
            p.wait()


class UserTest(RelayTest):
    def test_add_prints_secret_and_uri_last(self):
        out = self.relay("user", "add", "alice", "--groups",
                         "engineering,ops", "--password-stdin",
                         stdin="s3cret\n")
        lines = out.strip().splitlines()
        secret = lines[-2].split(": ")[1]
        self.assertRegex(secret, r"^[A-Z2-7]{32}$")
        self.assertTrue(lines[-1].startswith("otpauth://totp/Sallyport:"))
        self.assertIn("secret=" + secret, lines[-1])
        self.assertIn("issuer=Sallyport", lines[-1])

    def test_list_json(self):
        self.add_user("alice", groups=["engineering", "ops"])
        self.add_user("bob", mfa=False)
        users = json.loads(self.relay("user", "list", "--json"))
        self.assertEqual([u["name"] for u in users], ["alice", "bob"])
        self.assertEqual(users[0]["groups"], "engineering,ops")
        self.assertTrue(users[0]["mfa"])
        self.assertFalse(users[1]["mfa"])
        self.assertEqual(users[1]["status"], "enabled")

    def test_bad_input(self):
        self.add_user("alice", mfa=False)
        self.assertIn("already exists",
                      self.relay_fails("user", "add", "alice",
                                       "--password-stdin", stdin="x\n"))
        self.relay_fails("user", "add", "bad name", "--password-stdin",
                         stdin="x\n", code=2)
        self.relay_fails("user", "add", "carol", code=2)
        self.assertIn("no password",
                      self.relay_fails("user", "add", "carol",
                                       "--password-stdin", stdin=""))
        self.assertIn("no user", self.relay_fails("user", "disable", "zed"))

    def test_disable_enable_remove(self):
        self.add_user("dave", mfa=False)
        self.relay("user", "disable", "dave")
        users = json.loads(self.relay("user", "list", "--json"))
        self.assertEqual(users[0]["status"], "disabled")
        self.relay("user", "enable", "dave")
        users = json.loads(self.relay("user", "list", "--json"))
        self.assertEqual(users[0]["status"], "enabled")
        self.relay("user", "remove", "dave")
        self.assertEqual(json.loads(self.relay("user", "list", "--json")), [])
        events = [a["event"] for a in self.audit()]
        for e in ["user_add", "user_disable", "user_enable", "user_remove"]:
            self.assertIn(e, events)


if __name__ == "__main__":
    unittest.main()
