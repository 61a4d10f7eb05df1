"""policy explain --from: GeoIP lookups through the real binary, against
the test databases that tests/geo/make-test-mmdb.pl writes at build time
(BUILD/tests/geo).  In them 127.0.0.2 is FR and AS3215, 127.0.0.3 US and
AS15169, 127.0.0.4 DE and AS3320, 127.0.0.5 KP, 127.0.0.6 BR, and
127.0.0.1 is unknown."""

import json
import os
import re
import unittest

from sallyport_test import BUILD, RelayTest

GEO = os.path.join(BUILD, "tests", "geo")

POLICY = """\
resources:
  wiki: {address: wiki.corp:443, connector: paris-office}
  git:  {address: git.corp:22,   connector: paris-office}
  crm:  {address: crm.corp:443,  connector: paris-office}
rules:
  - name: wiki-from-europe
    action: allow
    resources: [wiki]
    countries: [FR, DE]
  - name: git-from-known-networks
    action: allow
    resources: [git]
    asns: [3215, 3320]
  - name: crm-outside-us
    action: allow
    resources: [crm]
    not_countries: [US]
  - name: no-sanctioned
    action: deny
    countries: [KP]
default: deny
"""


class GeoExplainTest(RelayTest):
    def setUp(self):
        super().setUp()
        self.set_geoip(os.path.join(GEO, "maxmind-country.mmdb"),
                       os.path.join(GEO, "maxmind-asn.mmdb"))
        self.add_user("alice", mfa=False)
        self.relay("policy", "apply", self.write("policy.yaml", POLICY))

    def set_geoip(self, country, asn):
        """Points relay.yaml's geoip and geoip_asn at the given files."""
        path = os.path.join(self.state, "relay.yaml")
        with open(path) as f:
            text = f.read()
        text = re.sub(r"(?m)^geoip:.*$", "geoip: " + json.dumps(country),
                      text)
        text = re.sub(r"(?m)^geoip_asn:.*$",
                      "geoip_asn: " + json.dumps(asn), text)
        with open(path, "w") as f:
            f.write(text)

    def explain(self, source, dest, *args):
        out = self.relay("policy", "explain", "--json", "--user", "alice",
                         "--to", dest, "--from", source, *args)
        return json.loads(out)

    def failed(self, e, rule):
        return {r["name"]: r["failed"] for r in e["rules"]}[rule]

    def test_known_european_address(self):
        e = self.explain("127.0.0.2", "wiki.corp:443")
        self.assertEqual((e["decision"], e["rule"]),
                         ("allow", "wiki-from-europe"))
        self.assertEqual((e["country"], e["asn"]), ("FR", 3215))
        e = self.explain("127.0.0.2", "git.corp:22")
        self.assertEqual((e["decision"], e["rule"]),
                         ("allow", "git-from-known-networks"))
        e = self.explain("127.0.0.2", "crm.corp:443")
        self.assertEqual((e["decision"], e["rule"]),
                         ("allow", "crm-outside-us"))
        e = self.explain("127.0.0.4", "git.corp:22")
        self.assertEqual((e["decision"], e["country"], e["asn"]),
                         ("allow", "DE", 3320))

    def test_us_address_fails_each_condition(self):
        e = self.explain("127.0.0.3", "wiki.corp:443")
        self.assertEqual((e["decision"], e["reason"]),
                         ("deny", "no_allow_rule"))
        self.assertEqual((e["country"], e["asn"]), ("US", 15169))
        self.assertEqual(self.failed(e, "wiki-from-europe"), "countries")
        e = self.explain("127.0.0.3", "git.corp:22")
        self.assertEqual(self.failed(e, "git-from-known-networks"), "asns")
        e = self.explain("127.0.0.3", "crm.corp:443")
        self.assertEqual(e["decision"], "deny")
        self.assertEqual(self.failed(e, "crm-outside-us"), "not_countries")

    def test_deny_rule_wins(self):
        e = self.explain("127.0.0.5", "crm.corp:443")
        self.assertEqual((e["decision"], e["rule"], e["reason"]),
                         ("deny", "no-sanctioned", "deny_rule"))
        self.assertEqual((e["country"], e["asn"]), ("KP", 0))
        self.assertIsNone(self.failed(e, "crm-outside-us"))

    def test_unknown_address_fails_closed(self):
        for source in ["127.0.0.1", "::1"]:
            e = self.explain(source, "crm.corp:443")
            self.assertEqual((e["country"], e["asn"]), ("XX", 0))
            self.assertEqual(e["decision"], "deny")
            self.assertEqual(self.failed(e, "crm-outside-us"),
                             "not_countries")
            e = self.explain(source, "wiki.corp:443")
            self.assertEqual(self.failed(e, "wiki-from-europe"),
                             "countries")
            e = self.explain(source, "git.corp:22")
            self.assertEqual(self.failed(e, "git-from-known-networks"),
                             "asns")

    def test_mapped_address_and_asn_override(self):
        e = self.explain("::ffff:127.0.0.2", "wiki.corp:443")
        self.assertEqual((e["decision"], e["country"]), ("allow", "FR"))
        e = self.explain("127.0.0.3", "git.corp:22", "--asn", "3320")
        self.assertEqual((e["decision"], e["country"], e["asn"]),
                         ("allow", "US", 3320))

    def test_text_context_line(self):
        out = self.relay("policy", "explain", "--user", "alice", "--to",
                         "wiki.corp:443", "--from", "127.0.0.2")
        self.assertTrue(out.startswith("allow wiki-from-europe "), out)
        self.assertIn(" country=FR asn=3215 ", out)
        out = self.relay("policy", "explain", "--user", "alice", "--to",
                         "wiki.corp:443", "--from", "81.2.69.160")
        self.assertIn(" country=GB asn=0 ", out)

    def test_ip_location_db_layout(self):
        self.set_geoip(os.path.join(GEO, "iplocdb-country.mmdb"), "")
        e = self.explain("127.0.0.6", "crm.corp:443")
        self.assertEqual((e["decision"], e["country"], e["asn"]),
                         ("allow", "BR", 0))
        e = self.explain("127.0.0.2", "wiki.corp:443")
        self.assertEqual((e["decision"], e["country"]), ("allow", "FR"))
        e = self.explain("127.0.0.2", "git.corp:22")
        self.assertEqual(self.failed(e, "git-from-known-networks"), "asns")

    def test_unusable_database_is_one_clear_line(self):
        missing = os.path.join(self.tmp, "missing.mmdb")
        self.set_geoip(missing, "")
        err = self.relay_fails("policy", "explain", "--user", "alice",
                               "--to", "wiki.corp:443", "--from",
                               "127.0.0.2")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(missing + ": No such file or directory", err)
        self.assertIn("relay.yaml", err)
        self.assertIn("docs/geoip.md", err)

        # Without --from the databases are not needed.
        out = self.relay("policy", "explain", "--json", "--user", "alice",
                         "--to", "wiki.corp:443", "--country", "FR")
        self.assertEqual(json.loads(out)["decision"], "allow")

        self.set_geoip(os.path.join(GEO, "maxmind-country.mmdb"),
                       os.path.join(GEO, "iplocdb-country.mmdb"))
        err = self.relay_fails("policy", "explain", "--user", "alice",
                               "--to", "wiki.corp:443", "--from",
                               "127.0.0.2")
        self.assertIn("iplocdb-country.mmdb: not an ASN database", err)

        self.set_geoip(os.path.join(GEO, "other-layout.mmdb"), "")
        err = self.relay_fails("policy", "explain", "--user", "alice",
                               "--to", "wiki.corp:443", "--from",
                               "127.0.0.2")
        self.assertIn("neither the MaxMind layout", err)

        self.set_geoip("", "")
        err = self.relay_fails("policy", "explain", "--user", "alice",
                               "--to", "wiki.corp:443", "--from",
                               "127.0.0.2")
        self.assertIn("geoip is empty", err)


if __name__ == "__main__":
    unittest.main()
