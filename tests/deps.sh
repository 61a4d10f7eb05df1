#!/bin/sh
# Installs the Debian 12 packages that building, the tests and the demo
# need.  Safe to run again: it only calls apt-get when something is
# missing.  Needs root (it uses sudo when run as another user).
set -eu

pkgs="build-essential cmake pkg-config clang git
      libuv1-dev libmbedtls-dev liblmdb-dev libyaml-dev libmaxminddb-dev
      libcmocka-dev oathtool openssl curl python3 tzdata lmdb-utils
      libmaxmind-db-writer-perl clang-format"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
  --no-install-recommends $missing
