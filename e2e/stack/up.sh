#!/usr/bin/env bash
# Starts PostgreSQL, Redis, a Tansu Kafka broker, a Keycloak-shaped OIDC provider
# and SpiceDB on 127.0.0.1 for the e2e tests, reusing any already running for this
# state dir, and writes $WHGW_STACK_DIR/env with the connection settings for the
# gateway and tests.
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
OIDC_REALM=flowx
OIDC_GATEWAY_CLIENT=webhook-gateway
OIDC_ADMIN_CLIENT=flowx-webhook-gateway-sa
# Test users are client-credentials clients, so tests get their tokens without a browser.
OIDC_TEST_USERS=(alice bob mallory)
SECRETS_DIR=$STACK_DIR/secrets
SPICEDB_SERVER=$HERE/spicedb/serve.sh
SPICEDB_BOOTSTRAP=$HERE/spicedb/test-relationships.yaml

"$HERE/install.sh"
# Tansu writes ANSI colour codes into its log unless told not to.
export NO_COLOR=1
REDIS_SERVER_BIN=$(command -v redis-server)

mkdir -p "$LOG_DIR" "$RUN_DIR" "$STACK_DIR/pg" "$STACK_DIR/redis" "$STACK_DIR/oidc"
(umask 077 && mkdir -p "$SECRETS_DIR")
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

# A random secret, made once per state dir so that it stays the same across up.sh runs.
stack_secret() {
  local file=$SECRETS_DIR/$1
  [[ -s $file ]] || (umask 077 && od -vAn -N24 -tx1 /dev/urandom | tr -d ' \n' >"$file")
  cat "$file"
}

# The OIDC provider's clients: the gateway's two (Keycloak names a service account's
# user service-account-<client id>) and one per test user.
write_oidc_clients() {
  local id sep=''
  {
    echo '{'
    for id in "$OIDC_GATEWAY_CLIENT" "$OIDC_ADMIN_CLIENT"; do
      printf '%s  "%s": {"secret": "%s", "username": "service-account-%s"}' \
        "$sep" "$id" "$(stack_secret "oidc-$id")" "$id"
      sep=$',\n'
    done
    for id in "${OIDC_TEST_USERS[@]}"; do
      printf '%s  "%s": {"secret": "%s"}' "$sep" "$id" "$(stack_secret "oidc-$id")"
    done
    printf '\n}\n'
  } >"$STACK_DIR/oidc/clients.json"
}

oidc_token_ok() {
  curl -fsS -o /dev/null -u "$OIDC_GATEWAY_CLIENT:$(stack_secret "oidc-$OIDC_GATEWAY_CLIENT")" \
    -d grant_type=client_credentials "$OIDC_ISSUER/protocol/openid-connect/token"
}

start_oidc() {
  local log=$LOG_DIR/oidc.log pidfile=$RUN_DIR/oidc.pid server=$STACK_DIR/oidc/server.mjs
  if pid_alive "$pidfile" "$server"; then
    OIDC_PORT=$(<"$RUN_DIR/oidc.port")
    OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT/realms/$OIDC_REALM
    return 0
  fi
  OIDC_PORT=$(pick_port 8180)
  OIDC_ISSUER=http://127.0.0.1:$OIDC_PORT/realms/$OIDC_REALM
  # Node looks for the server's imports beside the file, so the server runs from a copy
  # in the state dir next to a link to the installed packages.
  cp "$HERE/oidc/server.mjs" "$server"
  ln -sfn "$OIDC_ROOT/node_modules" "$STACK_DIR/oidc/node_modules"
  write_oidc_clients
  start_detached "$log" env OIDC_HOST=127.0.0.1 OIDC_PORT="$OIDC_PORT" OIDC_REALM="$OIDC_REALM" \
    OIDC_AUDIENCE="$OIDC_GATEWAY_CLIENT" OIDC_CLIENTS_FILE="$STACK_DIR/oidc/clients.json" \
    OIDC_TEST_MINT=1 node "$server"
  echo $! >"$pidfile"
  echo "$OIDC_PORT" >"$RUN_DIR/oidc.port"
  wait_until oidc "$log" 30 "$pidfile" curl -fsS -o /dev/null "http://127.0.0.1:$OIDC_PORT/health"
  oidc_token_ok || die "oidc is up but issues no token to $OIDC_GATEWAY_CLIENT (log: $log)"
}

start_spicedb() {
  local log=$LOG_DIR/spicedb.log pidfile=$RUN_DIR/spicedb.pid
  SPICEDB_KEY=$(stack_secret spicedb-preshared-key)
  if pid_alive "$pidfile" spicedb/server.py; then
    SPICEDB_PORT=$(<"$RUN_DIR/spicedb.port")
    return 0
  fi
  SPICEDB_PORT=$(pick_port 50051)
  # The key goes in the environment, where ps does not show it.
  start_detached "$log" env SPICEDB_GRPC_PRESHARED_KEY="$SPICEDB_KEY" "$SPICEDB_SERVER" \
    --grpc-addr "127.0.0.1:$SPICEDB_PORT" --datastore-bootstrap-files "$SPICEDB_BOOTSTRAP"
  echo $! >"$pidfile"
  echo "$SPICEDB_PORT" >"$RUN_DIR/spicedb.port"
  wait_until spicedb "$log" 30 "$pidfile" tcp_open "$SPICEDB_PORT"
  # A real CheckPermission per assertion of the bootstrap file, through the port and the
  # key. No bytecode: check.py imports server.py, whose cache would land in the clone.
  SPICEDB_GRPC_PRESHARED_KEY=$SPICEDB_KEY PYTHONDONTWRITEBYTECODE=1 "$VENV_PYTHON" "$HERE/spicedb/check.py" \
    --grpc-addr "127.0.0.1:$SPICEDB_PORT" "$SPICEDB_BOOTSTRAP" >>"$log" 2>&1 ||
    { show_log_tail "$log"; die "spicedb is up but its permissions are not the expected ones (log: $log)"; }
}

test_clients() {
  local id sep=''
  for id in "${OIDC_TEST_USERS[@]}"; do
    printf '%s%s:%s' "$sep" "$id" "$(stack_secret "oidc-$id")"
    sep=,
  done
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
export SECURITY_OAUTH2_BASE_SERVER_URL=http://127.0.0.1:$OIDC_PORT
export SECURITY_OAUTH2_REALM=$OIDC_REALM
export SECURITY_OAUTH2_CLIENT_CLIENT_ID=$OIDC_GATEWAY_CLIENT
export SECURITY_OAUTH2_CLIENT_CLIENT_SECRET=$(stack_secret "oidc-$OIDC_GATEWAY_CLIENT")
export SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_ID=$OIDC_ADMIN_CLIENT
export SECURITY_OAUTH2_SERVICE_ACCOUNT_ADMIN_CLIENT_SECRET=$(stack_secret "oidc-$OIDC_ADMIN_CLIENT")
export FLOWX_LIB_CASCLIENT_SPICEDB_HOST=127.0.0.1
export FLOWX_LIB_CASCLIENT_SPICEDB_PORT=$SPICEDB_PORT
export FLOWX_LIB_CASCLIENT_SPICEDB_TOKEN=$SPICEDB_KEY
export WHGW_OIDC_URL=http://127.0.0.1:$OIDC_PORT
export WHGW_OIDC_ISSUER=$OIDC_ISSUER
export WHGW_OIDC_TEST_CLIENTS=$(test_clients)
export WHGW_SPICEDB_SERVER=$SPICEDB_SERVER
export WHGW_SPICEDB_BOOTSTRAP=$SPICEDB_BOOTSTRAP
EOF
  mv "$tmp" "$STACK_DIR/env"
}

start_postgres
PG_ADMIN_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
create_database
start_redis
start_tansu
wait_until "kafka topic $KAFKA_TOPIC" "$LOG_DIR/topic.log" 15 "$RUN_DIR/tansu.pid" ensure_topic
start_oidc
start_spicedb
write_env

printf '%-9s %-16s pid %-7s log %s\n' \
  postgres "127.0.0.1:$PG_PORT" "$(head -n 1 "$PG_DATA/postmaster.pid")" "$LOG_DIR/postgres.log" \
  redis "127.0.0.1:$REDIS_PORT" "$(<"$RUN_DIR/redis.pid")" "$LOG_DIR/redis.log" \
  tansu "127.0.0.1:$KAFKA_PORT" "$(<"$RUN_DIR/tansu.pid")" "$LOG_DIR/tansu.log" \
  oidc "127.0.0.1:$OIDC_PORT" "$(<"$RUN_DIR/oidc.pid")" "$LOG_DIR/oidc.log" \
  spicedb "127.0.0.1:$SPICEDB_PORT" "$(<"$RUN_DIR/spicedb.pid")" "$LOG_DIR/spicedb.log"
info "env: source $STACK_DIR/env"
