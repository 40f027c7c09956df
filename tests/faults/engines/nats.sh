# engines/nats.sh: NATS JetStream for tests/faults/test_engine_faults.sh: a nats-server -js of
# its own on a free port, file storage in the case's directory, killed with SIGKILL and
# restarted on the same port and store directory (JetStream recovers its streams from the
# files; a process kill loses nothing acknowledged, docs/queue-nats.md); the workers reach it
# through the test's proxy, which cuts and heals their connections. Results go to a SQLite
# store (the default).
ENGINE_FAULTS="worker-kill broker-kill proxy-cut poison"
ENGINE_ORDERED=0 # one stream, two workers: per-key order is not promised
# libnats reconnects and buffers inside the client: a 2.5 s cut never reaches the worker, so
# its queue_up gauge stays 1 through it (a gap of the NATS backend: it should report the
# client's disconnected state); nothing is lost either way, which the checker proves
ENGINE_SELF_RECONNECT=1

engine_check() {
  command -v nats-server >/dev/null && return 0
  echo "nats-server not installed"; return 1
}

nats_up() { # wait until it accepts connections
  i=0; while [ $i -lt 100 ]; do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $NATS_PORT), 1)" 2>/dev/null && return 0
    sleep 0.05; i=$((i + 1)); done
  return 1
}

nats_run() {
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$NATS_DIR/js" >>"$NATS_DIR/nats.log" 2>&1 &
  NATS_PID=$!; track_pid "$NATS_PID"
  nats_up
}

engine_start() { # DIR -> the queue URL
  NATS_DIR=$1/nats; mkdir -p "$NATS_DIR"
  NATS_PORT=$(free_port)
  nats_run || return 1
  echo "nats://127.0.0.1:$NATS_PORT/events"
}
engine_addr() { echo "127.0.0.1 $NATS_PORT"; }
engine_url_via() { echo "nats://127.0.0.1:$1/events"; }
engine_kill9() { kill -9 "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; }
engine_restart() { nats_run; }
engine_stop() { kill "$NATS_PID" 2>/dev/null; wait "$NATS_PID" 2>/dev/null; }
