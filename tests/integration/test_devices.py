"""device add|revoke|list, and device_tags decided through explain."""

import json
import os
import stat
import subprocess
import unittest

from sallyport_test import RelayTest

POLICY = """\
resources:
  wiki: {address: wiki.corp:443, connector: paris}
rules:
  - name: managed-only
    action: allow
    resources: [wiki]
    users: [alice, bob]
    device_tags: [managed]
"""


class DeviceTest(RelayTest):
    def setUp(self):
        super().setUp()
        self.add_user("alice", mfa=False)
        self.add_user("bob", mfa=False)
        self.relay("policy", "apply", self.write("p.yaml", POLICY))
        self.out = os.path.join(self.tmp, "devices")

    def decide(self, user, device):
        return json.loads(self.relay("policy", "explain", "--json", "--user",
                                     user, "--to", "wiki.corp:443",
                                     "--device", device))

    def test_add_writes_key_cert_and_ca(self):
        self.relay("device", "add", "laptop-42", "--user", "alice", "--tags",
                   "managed,encrypted", "--out", self.out)
        key = os.path.join(self.out, "laptop-42.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        r = subprocess.run(["openssl", "verify", "-CAfile",
                            os.path.join(self.out, "ca.crt"),
                            os.path.join(self.out, "laptop-42.crt")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        devices = json.loads(self.relay("device", "list", "--json"))
        self.assertEqual(devices[0]["tags"], "managed,encrypted")
        self.assertEqual(devices[0]["status"], "active")

    def test_tags_decide(self):
        self.relay("device", "add", "laptop-42", "--user", "alice", "--tags",
                   "managed", "--out", self.out)
        self.relay("device", "add", "byod-1", "--user", "alice", "--out",
                   self.out)
        self.assertEqual(self.decide("alice", "laptop-42")["decision"],
                         "allow")
        e = self.decide("alice", "byod-1")
        self.assertEqual(e["rules"][0]["failed"], "device_tags")
        # Another user's device counts as no device.
        self.assertEqual(self.decide("bob", "laptop-42")["decision"], "deny")
        self.assertEqual(self.decide("alice", "nope")["decision"], "deny")
        self.relay("device", "revoke", "laptop-42")
        self.assertEqual(self.decide("alice", "laptop-42")["decision"],
                         "deny")

    def test_bad_input(self):
        self.assertIn("no user", self.relay_fails(
            "device", "add", "d1", "--user", "zed", "--out", self.out))
        self.relay_fails("device", "add", "d1", "--user", "alice", code=2)
        self.relay_fails("device", "add", "d 1", "--user", "alice", "--out",
                         self.out, code=2)
        self.relay("device", "add", "d1", "--user", "alice", "--out",
                   self.out)
        self.assertIn("revoke it first", self.relay_fails(
            "device", "add", "d1", "--user", "alice", "--out", self.out))
        self.assertIn("no device", self.relay_fails("device", "revoke", "d9"))


if __name__ == "__main__":
    unittest.main()
