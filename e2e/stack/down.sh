#!/usr/bin/env bash
# Stops the services up.sh started for $WHGW_STACK_DIR and deletes that
# directory, unless --keep is given. Does nothing when nothing is there.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

keep=false
case ${1:-} in
  '') ;;
  --keep) keep=true ;;
  *) die "usage: $0 [--keep]" ;;
esac

[[ -d $STACK_DIR ]] || exit 0
[[ -f $STACK_MARKER ]] || die "$STACK_DIR was not created by up.sh; not touching it"

stop_pidfile spicedb "$RUN_DIR/spicedb.pid" spicedb/server.py
stop_pidfile oidc "$RUN_DIR/oidc.pid" "$STACK_DIR/oidc/server.mjs"
stop_pidfile tansu "$RUN_DIR/tansu.pid" tansu
stop_pidfile redis "$RUN_DIR/redis.pid" redis-server

if [[ -s $PG_DATA/postmaster.pid ]]; then
  pg_pid=$(head -n 1 "$PG_DATA/postmaster.pid")
  if as_postgres "$PG_BIN_DIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    as_postgres "$PG_BIN_DIR/pg_ctl" -D "$PG_DATA" stop -m fast -w -t 30 >/dev/null
    info "stopped postgres (pid $pg_pid)"
  fi
fi

$keep || rm -rf "$STACK_DIR"
