#!/usr/bin/env bash
# Idempotent machine + project setup for subsec (Debian 12, offline apart from apt and npm).
#
#   1. Installs the Debian packages the project needs, if any is missing (as root; otherwise it
#      prints the command to run). Waits for another apt/dpkg run instead of fighting it.
#   2. Picks the Node that runs subsec (scripts/runtime-node.sh: Node 24 LTS; installs the pinned
#      Node 24 from the npm registry into ~/.cache/subsec/node when the system's Node is another
#      major and SUBSEC_SETUP_NODE names none) and runs everything below with it.
#   3. Installs node_modules with `npm ci` when they are missing or older than package-lock.json
#      (mediasoup's own postinstall is skipped; our postinstall builds or restores the worker),
#      otherwise just makes sure the mediasoup worker is in place (fast when cached).
#
# Fast (well under 2 s) when everything is already there.
#   4. Makes uWebSockets.js loadable on this machine's glibc and checks that it loads
#      (scripts/prepare-uws.mjs).
# Env: SUBSEC_SETUP_NODE=/path/to/node          use this Node (>= 22) instead
#      SUBSEC_SETUP_SKIP_APT=1           don't check/install Debian packages
#      SUBSEC_SETUP_SKIP_WORKER_BUILD=1  don't build/restore the mediasoup worker
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

PACKAGES=(
  # mediasoup worker build (scripts/build-mediasoup-worker.mjs) and its shared libraries
  meson ninja-build pkg-config g++
  # the network lab builds its link emulator (loadtest/netlab/native/linkemu.c) with gcc on first use
  gcc
  libuv1-dev libssl-dev libsrtp2-dev libflatbuffers-dev flatbuffers-compiler
  # media tools, browser for WebRTC tests, redis, SRT tools, TURN server
  ffmpeg fonts-dejavu-core chromium redis-server srt-tools coturn
  # bench:hls compares the LL-HLS origin with nginx serving the same files
  nginx-light
  # ingest interop tests: GStreamer's rtmp2sink (RTMP publisher) and its RTSP server via python3-gi
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gir1.2-gst-rtsp-server-1.0 python3-gi
)

missing_packages() {
  # One dpkg-query call; prints the packages that are not fully installed ("ii").
  local installed
  installed="$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$1 == "ii" { sub(/:.*/, "", $2); print $2 }')" || true
  local p
  for p in "${PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
  done
}

wait_for_apt() {
  # Another process (e.g. a provisioning run logging to /tmp/apt.log) may hold the apt/dpkg locks.
  local locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)
  local waited=0
  while fuser "${locks[@]}" >/dev/null 2>&1 || pgrep -x 'apt-get|apt|dpkg|unattended-upgr' >/dev/null 2>&1; do
    if (( waited == 0 )); then
      log "another apt/dpkg run is in progress; waiting for it (see /tmp/apt.log if present)..."
    fi
    sleep 3
    waited=$((waited + 3))
    (( waited < 1800 )) || die "apt/dpkg still busy after 30 min; giving up"
  done
}

install_packages() {
  local missing=("$@")
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]}
  run as root: sudo $0   (or: sudo apt-get install -y ${missing[*]})"
  fi
  wait_for_apt
  # Another run may have just installed them.
  mapfile -t missing < <(missing_packages)
  (( ${#missing[@]} == 0 )) && return 0

  local apt_opts=(-o DPkg::Lock::Timeout=600 -y -q)
  # apt-get update only when some missing package has no install candidate (e.g. empty lists).
  local p policy need_update=0
  for p in "${missing[@]}"; do
    policy="$(apt-cache policy "$p" 2>/dev/null || true)"
    if [[ "$policy" != *"Candidate: "[!\(]* ]]; then need_update=1; break; fi
  done
  if (( need_update )); then
    log "apt-get update"
    apt-get "${apt_opts[@]}" update
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
  mapfile -t missing < <(missing_packages)
  (( ${#missing[@]} == 0 )) || die "still missing after apt-get install: ${missing[*]}"
}

# --- 1. Debian packages -------------------------------------------------------------------------
if [[ "${SUBSEC_SETUP_SKIP_APT:-}" != 1 ]]; then
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this setup expects Debian 12"
  mapfile -t MISSING < <(missing_packages)
  if (( ${#MISSING[@]} > 0 )); then
    install_packages "${MISSING[@]}"
  fi
fi

# --- 2. Node modules + mediasoup worker ---------------------------------------------------------
NODE_BIN_DIR="$(bash scripts/runtime-node.sh --install)" || die "no Node to run subsec (see above)"
export PATH="$NODE_BIN_DIR:$PATH"

if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || ! -d node_modules/mediasoup ||
      package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci (the postinstall builds or restores the mediasoup worker)"
  # MEDIASOUP_WORKER_BIN set during install makes mediasoup skip its own postinstall (which
  # downloads from GitHub); it points at mediasoup's default path, where our postinstall
  # (scripts/build-mediasoup-worker.mjs) installs the worker.
  MEDIASOUP_WORKER_BIN="$ROOT/node_modules/mediasoup/worker/out/Release/mediasoup-worker" \
    npm ci --no-audit --no-fund
  # npm hides a successful postinstall's output; make sure the worker is really there.
  node scripts/build-mediasoup-worker.mjs
else
  node scripts/build-mediasoup-worker.mjs
fi
node scripts/prepare-uws.mjs
log "ok (Node $(node --version) from $NODE_BIN_DIR)"
