"""policy check|apply|show|explain through the real binary."""

import json
import unittest

from sallyport_test import RelayTest

POLICY = """\
resources:
  wiki:     {address: wiki.corp:443,  connector: paris-office}
  postgres: {address: 10.20.0.5:5432, connector: paris-office}
  ssh:      {address: "[2001:db8::5]:22", connector: paris-office}
groups:
  engineering: [alice, bob]
rules:
  - name: engineers-wiki-office-hours
    action: allow
    resources: [wiki]
    groups: [engineering]
    mfa: true
    countries: [FR, DE, GB]
    days: [mon-fri]
    hours: "08:00-19:00"
    timezone: Europe/Paris
    max_risk: 60
  - name: dba
    action: allow
    resources: [postgres, ssh]
    users: [bob]
  - name: no-sanctioned
    action: deny
    countries: [KP]
  - name: trial-wiki-freeze
    action: deny
    mode: report
    resources: [wiki]
default: deny
"""


class PolicyTest(RelayTest):
    def setUp(self):
        super().setUp()
        self.file = self.write("policy.yaml", POLICY)
        self.add_user("alice", mfa=False)
        self.add_user("bob", mfa=False, groups=["dba"])
        self.relay("policy", "apply", self.file)

    def explain(self, *args):
        out = self.relay("policy", "explain", "--json", *args)
        return json.loads(out)

    def test_show_is_the_applied_text(self):
        self.assertEqual(self.relay("policy", "show"), POLICY)

    def test_errors_have_file_line_column_and_change_nothing(self):
        bad = POLICY.replace("resources: [postgres, ssh]",
                             "resources: [postgres, shh]")
        path = self.write("bad.yaml", bad)
        for cmd in ["check", "apply"]:
            err = self.relay_fails("policy", cmd, path)
            line = err.strip().splitlines()[-1]
            self.assertRegex(line, r"^.*bad\.yaml:20:\d+: .*shh")
        self.assertEqual(self.relay("policy", "show"), POLICY)

    def test_syntax_error(self):
        path = self.write("broken.yaml", "rules: [\n")
        err = self.relay_fails("policy", "check", path)
        self.assertRegex(err, r"broken\.yaml:\d+:\d+: ")

    def test_unknown_connector_is_a_warning(self):
        r = self.run_relay("policy", "check", self.file)
        self.assertEqual(r.returncode, 0)
        self.assertIn('warning: resource "wiki" uses connector '
                      '"paris-office", which is not enrolled yet', r.stderr)

    def test_explain_allow_in_office_hours(self):
        # Thursday 3 December 2026, 09:00 UTC is 10:00 in Paris.
        e = self.explain("--user", "alice", "--to", "WIKI.corp:443",
                         "--country", "FR", "--at", "2026-12-03T09:00:00Z")
        self.assertEqual(e["decision"], "allow")
        self.assertEqual(e["rule"], "engineers-wiki-office-hours")
        self.assertEqual([r["name"] for r in e["rules"]],
                         ["engineers-wiki-office-hours", "dba",
                          "no-sanctioned", "trial-wiki-freeze"])
        self.assertTrue(e["rules"][0]["matched"])
        self.assertEqual(e["rules"][1]["failed"], "resources")

    def test_explain_text_first_word(self):
        out = self.relay("policy", "explain", "--user", "alice", "--to",
                         "wiki.corp:443", "--country", "FR", "--at",
                         "2026-12-03T18:30:00Z")
        # 19:30 in Paris: outside the window.
        self.assertTrue(out.startswith("deny - reason=no_allow_rule\n"), out)
        self.assertIn("engineers-wiki-office-hours      failed: hours", out)

    def test_explain_dst(self):
        # 25 October 2026: Paris leaves summer time at 01:00 UTC.  07:30
        # UTC on Friday 23 October is 09:30 CEST: inside.  06:30 UTC on
        # Monday 26 October is 07:30 CET: outside.
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "DE", "--at", "2026-10-23T06:30:00Z")
        self.assertEqual(e["decision"], "allow")
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "DE", "--at", "2026-10-26T06:30:00Z")
        self.assertEqual(e["decision"], "deny")
        self.assertEqual(e["rules"][0]["failed"], "hours")

    def test_explain_conditions(self):
        at = ["--at", "2026-12-03T09:00:00Z"]
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "US", *at)
        self.assertEqual(e["rules"][0]["failed"], "countries")
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "FR", "--no-mfa", *at)
        self.assertEqual(e["rules"][0]["failed"], "mfa")
        e = self.explain("--user", "bob", "--to", "10.20.0.5:5432",
                         "--country", "KP", *at)
        self.assertEqual(e["decision"], "deny")
        self.assertEqual(e["rule"], "no-sanctioned")
        self.assertEqual(e["reason"], "deny_rule")
        e = self.explain("--user", "bob", "--to", "[2001:DB8:0::5]:22", *at)
        self.assertEqual(e["decision"], "allow")
        self.assertEqual(e["rule"], "dba")

    def test_explain_report_mode_never_enforces(self):
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "FR", "--at", "2026-12-03T09:00:00Z")
        self.assertEqual(e["decision"], "allow")
        self.assertEqual(e["report_rule"], "trial-wiki-freeze")
        self.assertTrue(e["rules"][3]["matched"])

    def test_explain_risk_cap(self):
        e = self.explain("--user", "alice", "--to", "wiki.corp:443",
                         "--country", "FR", "--risk", "70", "--at",
                         "2026-12-03T09:00:00Z")
        self.assertEqual(e["decision"], "deny")
        self.assertEqual(e["rules"][0]["failed"], "max_risk")

    def test_explain_unknown_user_and_resource(self):
        e = self.explain("--user", "mallory", "--to", "wiki.corp:443")
        self.assertEqual((e["decision"], e["reason"]),
                         ("deny", "unknown_user"))
        e = self.explain("--user", "alice", "--to", "intranet.corp:443")
        self.assertEqual((e["decision"], e["reason"]),
                         ("deny", "no_resource"))
        self.assertIsNone(e["resource"])

    def test_disabled_user_is_denied(self):
        self.relay("user", "disable", "bob")
        e = self.explain("--user", "bob", "--to", "10.20.0.5:5432")
        self.assertEqual(e["reason"], "user_disabled")

    def test_unregistered_device_has_no_tags(self):
        out = self.relay("policy", "explain", "--user", "bob", "--to",
                         "10.20.0.5:5432", "--device", "laptop-42")
        self.assertIn("device=laptop-42 (not registered)", out)

    def test_bad_explain_arguments(self):
        self.relay_fails("policy", "explain", "--user", "a", code=2)
        self.relay_fails("policy", "explain", "--user", "a", "--to", "x:1",
                         "--at", "yesterday", code=2)
        self.relay_fails("policy", "explain", "--user", "a", "--to", "x:1",
                         "--country", "France", code=2)

    def test_apply_is_audited(self):
        events = [a for a in self.audit() if a["event"] == "policy_apply"]
        self.assertEqual(events[-1]["rules"], 4)


if __name__ == "__main__":
    unittest.main()
