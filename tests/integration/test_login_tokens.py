"""Login with a real TOTP from oathtool, tokens, lockouts, revocation."""

import json
import time
import unittest

from sallyport_test import RelayTest, totp


class LoginTest(RelayTest):
    def setUp(self):
        super().setUp()
        self.secret = self.add_user("alice", groups=["engineering"])

    def test_login_with_oathtool_code(self):
        r = self.login("alice", otp=totp(self.secret), source="127.0.0.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertRegex(out["token"], r"^spt_[A-Za-z0-9_-]{43}$")
        expires = time.mktime(time.strptime(out["expires"],
                                            "%Y-%m-%dT%H:%M:%SZ"))
        # 12 hours, the default token_ttl (mktime reads local time).
        self.assertAlmostEqual(expires - time.mktime(time.gmtime()),
                               12 * 3600, delta=120)
        tokens = json.loads(self.relay("token", "list", "--json"))
        self.assertEqual(len(tokens), 1)
        self.assertEqual(tokens[0]["source"], "127.0.0.2")
        self.assertTrue(tokens[0]["mfa"])
        # The store never holds the token itself.
        with open(self.state + "/store.mdb", "rb") as f:
            self.assertNotIn(out["token"].encode(), f.read())

    def test_code_is_never_accepted_twice(self):
        code = totp(self.secret)
        self.assertEqual(self.login("alice", otp=code).returncode, 0)
        r = self.login("alice", otp=code)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.audit()[-1]["reason"], "otp_replayed")

    def test_wrong_password_and_code(self):
        r = self.login("alice", password="wrong", otp=totp(self.secret))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.strip(), "sallyport-relay: login: login failed")
        self.assertEqual(self.audit()[-1]["reason"], "bad_password")
        self.assertEqual(self.login("alice", otp="000000").returncode, 1)
        self.assertIn(self.audit()[-1]["reason"], ["bad_otp", "otp_replayed"])
        self.assertEqual(self.login("alice").returncode, 1)
        self.assertEqual(self.audit()[-1]["reason"], "missing_otp")
        self.assertEqual(self.login("nobody", otp="123456").returncode, 1)
        self.assertEqual(self.audit()[-1]["reason"], "unknown_user")

    def test_lockout_after_five_failures(self):
        for _ in range(5):
            self.assertEqual(self.login("alice", password="x",
                                        otp="000000").returncode, 1)
        r = self.login("alice", otp=totp(self.secret))
        self.assertEqual(r.returncode, 1)
        self.assertIn("locked out for", r.stderr)
        self.assertEqual(self.audit()[-1]["reason"], "locked_user")

    def test_no_mfa_user(self):
        self.add_user("svc", password="pw", mfa=False)
        r = self.login("svc", password="pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(json.loads(self.relay("token", "list", "--user",
                                               "svc", "--json"))[0]["mfa"])

    def test_disable_revokes_tokens_and_blocks_login(self):
        self.assertEqual(self.login("alice", otp=totp(self.secret))
                         .returncode, 0)
        self.relay("user", "disable", "alice")
        self.assertEqual(json.loads(self.relay("token", "list", "--json")),
                         [])
        self.assertEqual(self.login("alice", otp=totp(self.secret, "now + 30 seconds"))
                         .returncode, 1)
        self.assertEqual(self.audit()[-1]["reason"], "user_disabled")

    def test_revoke_by_id_and_user(self):
        self.add_user("svc", password="pw", mfa=False)
        self.login("svc", password="pw")
        self.login("svc", password="pw", source="::1")
        tokens = json.loads(self.relay("token", "list", "--json"))
        self.assertEqual(len(tokens), 2)
        self.assertIn("revoked 1 token", self.relay("token", "revoke",
                                                    tokens[0]["id"]))
        self.assertIn("no token", self.relay_fails("token", "revoke",
                                                   tokens[0]["id"]))
        self.assertIn("revoked 1 token", self.relay("token", "revoke",
                                                    "--user", "svc"))
        self.assertEqual(json.loads(self.relay("token", "list", "--json")),
                         [])


if __name__ == "__main__":
    unittest.main()
