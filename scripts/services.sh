#!/bin/sh
# Starts (and stops) a throwaway PostgreSQL 15, Redis, nats-server (JetStream) and mosquitto for
# the tests, on 127.0.0.1, on free
# ports, with their data in a temporary directory. Installs the Debian packages when missing.
#
#   scripts/services.sh start   # writes build/services.env: MLSHIP_TEST_PG_URL, MLSHIP_TEST_REDIS_URL,
#                               # MLSHIP_TEST_NATS (host:port), MLSHIP_TEST_MQTT (host:port)
#   . build/services.env        # then run the tests
#   scripts/services.sh stop    # stops both, removes the directory and build/services.env
#
# PostgreSQL refuses to run as root, so initdb and pg_ctl run as the `postgres` user that the
# Debian package creates. Authentication is `trust` on 127.0.0.1 only: these are test servers.
set -e
cd "$(dirname "$0")/.."
ENV=${MLSHIP_SERVICES_ENV:-build/services.env}
PGBIN=/usr/lib/postgresql/15/bin

as_postgres() { # command string, run as the postgres user (we are root in CI)
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

free_port() { # a TCP port nobody listens on now
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    while :; do
      p=$(awk 'BEGIN{srand(); print 20000 + int(rand() * 40000)}')
      ss -ltn 2>/dev/null | grep -q ":$p " || { echo "$p"; return; }
    done
  fi
}

wait_port() { # port log: until something accepts on 127.0.0.1:port (10 s)
  i=0
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$2" >&2; exit 1; }; sleep 0.1
  done
}

install_missing() {
  missing=""
  for p in postgresql-15 redis-server nats-server mosquitto; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
}

start() {
  if [ -f "$ENV" ]; then echo "services already started ($ENV); run '$0 stop' first" >&2; exit 1; fi
  install_missing
  mkdir -p build
  dir=$(mktemp -d /tmp/mlship-services.XXXXXX)
  chmod 755 "$dir"
  mkdir "$dir/pg" "$dir/redis" "$dir/nats" "$dir/mqtt"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg"
  # mosquitto started as root drops to its own user, which must write its log and store
  [ "$(id -u)" -eq 0 ] && id mosquitto >/dev/null 2>&1 && chown mosquitto "$dir/mqtt"

  pgport=$(free_port)
  as_postgres "$PGBIN/initdb -D '$dir/pg/data' -U postgres --auth=trust -E UTF8 --no-sync >'$dir/pg/initdb.log' 2>&1" ||
    { cat "$dir/pg/initdb.log" >&2; exit 1; }
  as_postgres "$PGBIN/pg_ctl -D '$dir/pg/data' -l '$dir/pg/server.log' -w -t 60 \
    -o \"-p $pgport -k '$dir/pg' -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null" ||
    { cat "$dir/pg/server.log" >&2; exit 1; }
  as_postgres "$PGBIN/createdb -h 127.0.0.1 -p $pgport -U postgres mlship"

  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
  i=0
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$dir/redis/redis.log" >&2; exit 1; }; sleep 0.1
  done

  # JetStream with file storage under the directory, the server's default sync_interval
  # (docs/queue-nats.md says what that means for durability)
  nport=$(free_port)
  nats-server -a 127.0.0.1 -p "$nport" -js -sd "$dir/nats/js" -P "$dir/nats/nats.pid" \
    -l "$dir/nats/nats.log" >/dev/null 2>&1 &
  # mosquitto 2.0 drops QoS 1 messages past max_queued_messages (1000 by default) for a slow
  # subscriber while the publisher is acknowledged: the tests' broker queues without a limit
  mport=$(free_port)
  printf '%s\n' "listener $mport 127.0.0.1" "allow_anonymous true" "persistence true" \
    "persistence_location $dir/mqtt/" "max_queued_messages 0" "max_inflight_messages 0" \
    "pid_file $dir/mqtt/mosquitto.pid" "log_dest file $dir/mqtt/mosquitto.log" \
    >"$dir/mqtt/mosquitto.conf"
  mosquitto -c "$dir/mqtt/mosquitto.conf" -d
  wait_port "$nport" "$dir/nats/nats.log"
  wait_port "$mport" "$dir/mqtt/mosquitto.log"

  cat > "$ENV" <<EOF
MLSHIP_SERVICES_DIR=$dir
MLSHIP_TEST_PG_PORT=$pgport
MLSHIP_TEST_REDIS_PORT=$rport
MLSHIP_TEST_PG_URL=postgresql://postgres@127.0.0.1:$pgport/mlship?connect_timeout=10
MLSHIP_TEST_REDIS_URL=redis://127.0.0.1:$rport/0
MLSHIP_TEST_NATS=127.0.0.1:$nport
MLSHIP_TEST_MQTT=127.0.0.1:$mport
export MLSHIP_TEST_PG_URL MLSHIP_TEST_REDIS_URL MLSHIP_TEST_NATS MLSHIP_TEST_MQTT
EOF
  echo "postgresql://postgres@127.0.0.1:$pgport/mlship?connect_timeout=10"
  echo "redis://127.0.0.1:$rport/0"
  echo "nats://127.0.0.1:$nport"
  echo "mqtt://127.0.0.1:$mport"
}

stop() {
  [ -f "$ENV" ] || { echo "no services running ($ENV missing)"; return 0; }
  dir=$(sed -n 's/^MLSHIP_SERVICES_DIR=//p' "$ENV")
  rport=$(sed -n 's/^MLSHIP_TEST_REDIS_PORT=//p' "$ENV")
  case "$dir" in /tmp/mlship-services.*) ;; *) echo "bad $ENV" >&2; exit 1 ;; esac
  if [ -d "$dir/pg/data" ]; then
    as_postgres "$PGBIN/pg_ctl -D '$dir/pg/data' -m fast -w stop >/dev/null" || true
  fi
  if [ -n "$rport" ]; then redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true; fi
  for pidf in "$dir/nats/nats.pid" "$dir/mqtt/mosquitto.pid"; do # stopped by PID
    [ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
  done
  rm -rf "$dir" "$ENV"
  echo "services stopped"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
