# engines/redis.sh: Redis Streams (and the Redis store on the same server) for
# tests/faults/test_engine_faults.sh: a redis-server of its own on a free port, AOF with
# appendfsync always (an acknowledged XADD/XACK is on disk before the reply), killed with
# SIGKILL and restarted on the same port and directory; the workers reach it through the
# test's proxy, which cuts and heals their connections.
ENGINE_FAULTS="worker-kill broker-kill proxy-cut poison"
ENGINE_ORDERED=0 # one stream, two workers: per-key order is not promised

engine_check() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  echo "redis-server not installed"; return 1
}

redis_up() { # wait until it answers
  i=0; while [ $i -lt 100 ]; do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; i=$((i + 1)); done
  return 1
}

redis_run() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --appendonly yes --appendfsync always --save '' \
    --dir "$REDIS_DIR" --daemonize no >>"$REDIS_DIR/redis.log" 2>&1 &
  REDIS_PID=$!; track_pid "$REDIS_PID"
  redis_up
}

engine_start() { # DIR -> the queue URL
  REDIS_DIR=$1/redis; mkdir -p "$REDIS_DIR"
  REDIS_PORT=$(free_port)
  redis_run || return 1
  echo "redis://127.0.0.1:$REDIS_PORT/events"
}
engine_store() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }
engine_addr() { echo "127.0.0.1 $REDIS_PORT"; }          # where the proxy forwards
engine_url_via() { echo "redis://127.0.0.1:$1/events"; }  # PROXYPORT -> the queue URL
engine_store_via() { echo "redis://127.0.0.1:$1/0"; }
engine_kill9() { kill -9 "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
engine_restart() { redis_run; }
engine_stop() { kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; }
