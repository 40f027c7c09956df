# engines/sqlite.sh: the embedded queue (a SQLite file, WAL, synchronous=FULL) for
# tests/faults/test_engine_faults.sh. No broker: nothing to kill, restart or cut, so only the
# workers are killed, and poison messages are sent.
ENGINE_FAULTS="worker-kill poison"
ENGINE_ORDERED=0 # one stream, two workers: per-key order is not promised

engine_check() { return 0; }
engine_start() { echo "sqlite://$1/queue.db"; } # DIR -> the queue URL
engine_store() { echo "sqlite://$1/store.db"; }
engine_stop() { :; }
