#!/bin/sh
# check_layers.sh: fails when a source file includes a header of a layer it may not use.
# The allowed arrows are the ones docs/ARCHITECTURE.md states ("Layers and include arrows");
# keep the two in step. A layer is the first folder under src/ (src/runtime/ops is runtime);
# a header is named by its folder ("store/store.h"), except the runtime's: "mlship.h" is its
# public API, a bare "ms_*.h" one of its internals.
# Usage: sh scripts/check_layers.sh   -> one line per violation, then "N passed, N failed"
cd "$(dirname "$0")/.." || exit 2

allowed() { # layer -> the layers it may include (besides itself); "public" = mlship.h
  case $1 in
    cli)     echo "serve stream batch edge predict codec store queue base public internal" ;;
    serve)   echo "stream batch predict codec store queue base public" ;;
    stream)  echo "queue predict codec store base public" ;;
    batch)   echo "predict codec store base public" ;;
    edge)    echo "predict codec base public internal" ;;  # export reads runtime internals
    edge/wasm) echo "public" ;;  # the WebAssembly glue: the runtime's public API only
    predict) echo "codec base public" ;;
    codec)   echo "base public" ;;
    # store, queue and base speak ms_status/ms_error from mlship.h (base keeps that error type)
    store)   echo "base public" ;;
    queue)   echo "base public" ;;
    base)    echo "public" ;;    # mlship.h only, for ms_status / ms_error
    runtime) echo "public internal" ;;
    *)       echo "UNKNOWN" ;;
  esac
}

header_layer() { # include path -> layer it belongs to
  case $1 in
    mlship.h) echo public ;;
    */*)      echo "${1%%/*}" ;;
    ms_*.h)   echo internal ;;
    *)        echo "" ;;   # a local header of the same folder (e.g. tests) or a system one
  esac
}

pass=0; fail=0
for f in $(find src -name '*.[ch]' | sort); do
  layer=$(echo "$f" | cut -d/ -f2)
  case $f in src/edge/wasm/*) layer=edge/wasm ;; esac
  ok=$(allowed "$layer")
  if [ "$ok" = UNKNOWN ]; then
    echo "FAIL $f: folder src/$layer is not a known layer (add it to scripts/check_layers.sh and docs/ARCHITECTURE.md)"
    fail=$((fail + 1)); continue
  fi
  bad=0
  for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
    hl=$(header_layer "$h")
    [ -z "$hl" ] || [ "$hl" = "$layer" ] && continue
    [ "$layer" = runtime ] && [ "$hl" = internal ] && continue
    case " $ok " in *" $hl "*) continue ;; esac
    echo "FAIL $f includes \"$h\": $layer may not use $hl"
    bad=1
  done
  if [ $bad -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "layers: $pass passed, $fail failed"
[ $fail -eq 0 ]
