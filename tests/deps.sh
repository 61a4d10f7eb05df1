#!/bin/sh
# Installs the Debian 12 packages that building, the tests and the demo
# need.  Safe to run again: it only calls apt-get when something is
# missing.  Needs root (it uses sudo when run as another user).
set -eu

# chromium and chromium-driver run the login page's test; headless
# Chromium takes no typed keys without a single font, hence the font.
pkgs="build-essential cmake pkg-config clang git
      libuv1-dev libmbedtls-dev liblmdb-dev libyaml-dev libmaxminddb-dev
      libcmocka-dev oathtool openssl curl python3 tzdata lmdb-utils
      libmaxmind-db-writer-perl clang-format chromium chromium-driver
      fonts-dejavu-core"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing="$missing $p"
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends $missing
fi

# The free country database relay.yaml points at by default (PDDL, from
# the npm registry; docs/geoip.md).  Without npm, or offline, the relay
# still runs: GeoIP is then off and country rules cannot match.
if [ ! -e /usr/share/sallyport/country.mmdb ]; then
  if command -v npm >/dev/null 2>&1; then
    $sudo sh "$(dirname "$0")/geo/fetch-country-db.sh" ||
      echo "deps: could not fetch the country database; GeoIP stays off" >&2
  else
    echo "deps: no npm, so no country database; see docs/geoip.md" >&2
  fi
fi
