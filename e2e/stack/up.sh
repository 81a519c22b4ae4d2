#!/usr/bin/env bash
# Starts PostgreSQL, Redis and a Tansu Kafka broker on 127.0.0.1 for the e2e
# tests, reusing any already running for this state dir, and writes
# $WHGW_STACK_DIR/env with the connection settings for the gateway and tests.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DB_NAME=webhook_gateway
DB_USER=flowx
DB_PASSWORD=flowx
KAFKA_TOPIC=${KAFKA_TOPIC_PROCESS_START_OUT:-ai.flowx.core.trigger.start-for-event.process.v1}
KAFKA_PARTITIONS=${WHGW_KAFKA_PARTITIONS:-1}
case ${WHGW_KAFKA_STORAGE:-memory} in
  memory) KAFKA_STORAGE=memory://tansu/ ;;
  # Tansu resolves sqlite:// paths against its working directory (the state dir).
  sqlite) KAFKA_STORAGE=sqlite://./kafka.db ;;
  *) die "WHGW_KAFKA_STORAGE must be memory or sqlite, not '$WHGW_KAFKA_STORAGE'" ;;
esac

"$HERE/install.sh"
# Tansu writes ANSI colour codes into its log unless told not to.
export NO_COLOR=1
REDIS_SERVER_BIN=$(command -v redis-server)

mkdir -p "$LOG_DIR" "$RUN_DIR" "$STACK_DIR/pg" "$STACK_DIR/redis"
touch "$STACK_MARKER"

# Run from the state dir: tansu loads a .env from its working directory, and
# nothing the services write should land in the caller's directory.
# setsid detaches them from the caller's terminal, so a Ctrl-C there does not
# take the stack down with it.
start_detached() {
  local log=$1
  shift
  (cd "$STACK_DIR" && exec setsid "$@" >"$log" 2>&1 </dev/null) &
}

pg_running() {
  [[ -s $PG_DATA/postmaster.pid ]] && as_postgres "$PG_BIN_DIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

start_postgres() {
  local log=$LOG_DIR/postgres.log
  if pg_running; then
    PG_PORT=$(sed -n 4p "$PG_DATA/postmaster.pid")
    return 0
  fi
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    mkdir -p "$PG_DATA" "$PG_SOCK"
    if ((EUID == 0)); then
      chown postgres: "$STACK_DIR/pg" "$PG_DATA" "$PG_SOCK"
      runuser -u postgres -- test -x "$PG_DATA" ||
        die "user postgres cannot reach $PG_DATA; choose a WHGW_STACK_DIR it can traverse"
    fi
    as_postgres "$PG_BIN_DIR/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --no-sync \
      >"$LOG_DIR/initdb.log" 2>&1 ||
      { show_log_tail "$LOG_DIR/initdb.log"; die "initdb failed (log: $LOG_DIR/initdb.log)"; }
    # Throwaway data: trade durability for speed.
    cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  PG_PORT=$(pick_port 5432)
  touch "$log"
  ((EUID != 0)) || chown postgres: "$log"
  as_postgres "$PG_BIN_DIR/pg_ctl" -D "$PG_DATA" -l "$log" -o "-p $PG_PORT" -W start >/dev/null
  wait_until postgres "$log" 30 "" "$PG_BIN_DIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

create_database() {
  "$PG_BIN_DIR/psql" -qAtX -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" >/dev/null <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER;
  END IF;
END \$\$;
ALTER ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
}

start_redis() {
  local log=$LOG_DIR/redis.log pidfile=$RUN_DIR/redis.pid
  if pid_alive "$pidfile" redis-server; then
    REDIS_PORT=$(<"$RUN_DIR/redis.port")
    return 0
  fi
  REDIS_PORT=$(pick_port 6379)
  start_detached "$log" "$REDIS_SERVER_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$STACK_DIR/redis"
  echo $! >"$pidfile"
  echo "$REDIS_PORT" >"$RUN_DIR/redis.port"
  wait_until redis "$log" 15 "$pidfile" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
}

start_tansu() {
  local log=$LOG_DIR/tansu.log pidfile=$RUN_DIR/tansu.pid url
  if pid_alive "$pidfile" tansu; then
    KAFKA_PORT=$(<"$RUN_DIR/tansu.port")
    [[ $(<"$RUN_DIR/tansu.storage") == "$KAFKA_STORAGE" ]] ||
      warn "tansu already runs with $(<"$RUN_DIR/tansu.storage"); run down.sh first to switch storage"
    return 0
  fi
  KAFKA_PORT=$(pick_port 9092)
  url=tcp://127.0.0.1:$KAFKA_PORT
  start_detached "$log" "$TANSU_BIN" broker --listener-url "$url" \
    --advertised-listener-url "$url" --storage-engine "$KAFKA_STORAGE"
  echo $! >"$pidfile"
  echo "$KAFKA_PORT" >"$RUN_DIR/tansu.port"
  echo "$KAFKA_STORAGE" >"$RUN_DIR/tansu.storage"
  wait_until tansu "$log" 15 "$pidfile" tcp_open "$KAFKA_PORT"
}

tansu_topic() {
  (cd "$STACK_DIR" && "$TANSU_BIN" topic "$@" --broker "tcp://127.0.0.1:$KAFKA_PORT")
}

# `topic list` prints the topics as one JSON array.
topic_exists() {
  [[ $(tansu_topic list) == *"\"name\":\"$KAFKA_TOPIC\""* ]]
}

# Topics are not auto-created. Creating one that exists fails, so look first.
ensure_topic() {
  topic_exists && return 0
  tansu_topic create "$KAFKA_TOPIC" --partitions "$KAFKA_PARTITIONS" >>"$LOG_DIR/topic.log" 2>&1 || true
  topic_exists
}

write_env() {
  local tmp=$STACK_DIR/env.tmp
  cat >"$tmp" <<EOF
export SPRING_DATASOURCE_URL=jdbc:postgresql://127.0.0.1:$PG_PORT/$DB_NAME
export SPRING_DATASOURCE_USERNAME=$DB_USER
export SPRING_DATASOURCE_PASSWORD=$DB_PASSWORD
export SPRING_DATA_REDIS_HOST=127.0.0.1
export SPRING_DATA_REDIS_PORT=$REDIS_PORT
export SPRING_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export KAFKA_TOPIC_PROCESS_START_OUT=$KAFKA_TOPIC
export WHGW_STACK_DIR=$STACK_DIR
export WHGW_TANSU_BIN=$TANSU_BIN
export WHGW_REDIS_SERVER_BIN=$REDIS_SERVER_BIN
export WHGW_PG_BIN_DIR=$PG_BIN_DIR
export WHGW_PG_ADMIN_URL=$PG_ADMIN_URL
EOF
  mv "$tmp" "$STACK_DIR/env"
}

start_postgres
PG_ADMIN_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
create_database
start_redis
start_tansu
wait_until "kafka topic $KAFKA_TOPIC" "$LOG_DIR/topic.log" 15 "$RUN_DIR/tansu.pid" ensure_topic
write_env

printf '%-9s %-16s pid %-7s log %s\n' \
  postgres "127.0.0.1:$PG_PORT" "$(head -n 1 "$PG_DATA/postmaster.pid")" "$LOG_DIR/postgres.log" \
  redis "127.0.0.1:$REDIS_PORT" "$(<"$RUN_DIR/redis.pid")" "$LOG_DIR/redis.log" \
  tansu "127.0.0.1:$KAFKA_PORT" "$(<"$RUN_DIR/tansu.pid")" "$LOG_DIR/tansu.log"
info "env: source $STACK_DIR/env"
