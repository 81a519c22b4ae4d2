#!/usr/bin/env bash
# Installs whatever the local e2e stack needs and is missing: PostgreSQL, Redis,
# wrk and curl from apt, and the Tansu Kafka broker built with cargo.
# Silent when everything is already there; one line per thing it installs.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Build tools for librdkafka (bundled by rdkafka) and OpenSSL for the HTTP client.
APT_PACKAGES=(postgresql redis-server wrk curl build-essential pkg-config libssl-dev zlib1g-dev)
APT_LOG=$INSTALL_LOG_DIR/apt.log
TANSU_LOG=$INSTALL_LOG_DIR/tansu-build.log

apt_installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# Another apt/dpkg run may hold the lock (e.g. a provisioning script): wait for it
# instead of failing.
apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900 "$@" >>"$APT_LOG" 2>&1 ||
    { show_log_tail "$APT_LOG"; die "apt-get $* failed (log: $APT_LOG)"; }
}

tansu_ok() {
  [[ -x $TANSU_BIN && -f $TANSU_MARKER ]] &&
    [[ $("$TANSU_BIN" --version 2>/dev/null) == "tansu $TANSU_VERSION" ]] &&
    [[ $(<"$TANSU_MARKER") == "$TANSU_MARKER_TEXT" ]]
}

# Pid of a cargo build installing into TANSU_ROOT that this script did not start
# (e.g. one kicked off by machine provisioning), if any.
foreign_tansu_build() {
  local cmdline
  for cmdline in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' 2>/dev/null <"$cmdline" | grep -q "^[^ ]*cargo install .*--root $TANSU_ROOT "; then
      basename "$(dirname "$cmdline")"
      return 0
    fi
  done
  return 1
}

install_apt_packages() {
  local pkg missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    apt_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "must be root to install: ${missing[*]}"
  mkdir -p "$INSTALL_LOG_DIR"
  for pkg in "${missing[@]}"; do
    info "installing $pkg (apt, log: $APT_LOG)"
  done
  apt_get update
  apt_get install -y "${missing[@]}"
  [[ -x $PG_BIN_DIR/initdb ]] || die "PostgreSQL installed but $PG_BIN_DIR/initdb is missing (not version 15?)"
}

install_tansu() {
  tansu_ok && return 0
  mkdir -p "$INSTALL_LOG_DIR" "$TANSU_ROOT"
  # Two install.sh runs at once must not build twice: the second waits here.
  exec 9>"$TANSU_ROOT.lock"
  flock 9
  local pid
  while pid=$(foreign_tansu_build); do
    info "waiting for the tansu build already running (pid $pid, log: $TANSU_LOG)"
    while [[ -d /proc/$pid ]]; do sleep 5; done
  done
  if ! tansu_ok; then
    command -v cargo >/dev/null ||
      die "cargo not found: install a Rust toolchain (1.85 or newer, e.g. with rustup) to build tansu"
    # A build that finished without writing the marker (e.g. the one waited for
    # above) is only confirmed: cargo sees the same version and features
    # already installed and returns at once.
    if [[ -x $TANSU_BIN ]]; then
      info "checking tansu $TANSU_VERSION install (cargo, features $TANSU_FEATURES; log: $TANSU_LOG)"
    else
      info "installing tansu $TANSU_VERSION (cargo, features $TANSU_FEATURES; 6-15 min; log: $TANSU_LOG)"
    fi
    CARGO_TARGET_DIR=$TANSU_TARGET_DIR cargo install --root "$TANSU_ROOT" tansu \
      --version "$TANSU_VERSION" --locked --features "$TANSU_FEATURES" >>"$TANSU_LOG" 2>&1 ||
      { show_log_tail "$TANSU_LOG"; die "tansu build failed (log: $TANSU_LOG)"; }
    [[ $("$TANSU_BIN" --version 2>/dev/null) == "tansu $TANSU_VERSION" ]] ||
      die "$TANSU_BIN does not report version $TANSU_VERSION after the build"
    echo "$TANSU_MARKER_TEXT" >"$TANSU_MARKER"
  fi
  exec 9>&-
}

install_apt_packages
install_tansu
