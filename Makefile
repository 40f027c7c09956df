# mlship build. `make` builds build/mlship and build/libmlship.a; `make test` runs every test;
# `make run` serves the example model (features from SQLite) over HTTP. Targets install their apt packages when missing.

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2
WARN     = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  ?= $(OPT) -g
# gcc 12 at -O2 only vectorises loops whose trip count it knows; kernels need the dynamic model
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
VECT    = -fvect-cost-model=dynamic
endif
ALL_CFLAGS = -std=c11 $(VECT) -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -Iinclude -Isrc -Isrc/runtime -MMD -MP
LDLIBS  = -lcjson -lmicrohttpd -lm -lpthread

# Store backends (src/store/): each is on by default; WITH_PG=0 etc. builds a stub that answers
# "built without PostgreSQL support". After changing a knob, `make clean` (objects keep the old).
WITH_SQLITE ?= 1
WITH_PG     ?= 1
WITH_REDIS  ?= 1
# PQ_LIB: a cross build links the target's libpq.so.5 by name (Debian's libpq-dev is not
# multiarch: installing the arm64 one would remove the host's), e.g. PQ_LIB=-l:libpq.so.5
PQ_LIB     ?= -lpq
# the agent's SHA-256 (libcrypto, which libcurl and libpq load anyway); a cross build names it
# the same way: CRYPTO_LIB=-l:libcrypto.so.3
CRYPTO_LIB ?= -lcrypto
STORE_LIBS  = $(if $(filter 1,$(WITH_SQLITE)),-lsqlite3) $(if $(filter 1,$(WITH_PG)),$(PQ_LIB)) \
              $(if $(filter 1,$(WITH_REDIS)),-lhiredis)
STORE_CFLAGS = -DMS_WITH_SQLITE=$(WITH_SQLITE) -DMS_WITH_PG=$(WITH_PG) \
               -DMS_WITH_REDIS=$(WITH_REDIS) -I/usr/include/postgresql
# Queue engines (src/queue/) beyond SQLite and Redis, the same way: WITH_NATS=0 (libnats-dev),
# WITH_KAFKA=0 (librdkafka-dev), WITH_MQTT=0 (libmosquitto-dev) build stubs that say so.
WITH_NATS  ?= 1
WITH_KAFKA ?= 1
WITH_MQTT  ?= 1
STORE_LIBS   += $(if $(filter 1,$(WITH_NATS)),-lnats) $(if $(filter 1,$(WITH_KAFKA)),-lrdkafka) \
                $(if $(filter 1,$(WITH_MQTT)),-lmosquitto)
STORE_CFLAGS += -DMS_WITH_NATS=$(WITH_NATS) -DMS_WITH_KAFKA=$(WITH_KAFKA) -DMS_WITH_MQTT=$(WITH_MQTT)

RUNTIME_SRC := $(sort $(wildcard src/runtime/*.c src/runtime/ops/*.c))
BASE_SRC    := $(sort $(wildcard src/base/*.c))
CODEC_SRC   := $(sort $(wildcard src/codec/*.c))
CLI_SRC     := $(sort $(wildcard src/cli/*.c))
STORE_SRC   := $(sort $(wildcard src/store/*.c))
QUEUE_SRC   := $(sort $(wildcard src/queue/*.c))
SERVE_SRC   := $(sort $(wildcard src/serve/*.c))
BATCH_SRC   := $(sort $(wildcard src/batch/*.c))
PREDICT_SRC := $(sort $(wildcard src/predict/*.c))
STREAM_SRC  := $(sort $(wildcard src/stream/*.c))
EDGE_SRC    := $(sort $(wildcard src/edge/*.c))
# the device agent's update logic (src/edge/agent/): libsodium for signatures, libcurl to fetch
AGENT_SRC   := $(sort $(wildcard src/edge/agent/*.c))
AGENT_LIBS   = -lsodium -lcurl $(CRYPTO_LIB)
# unit tests: tests/unit/test_*.c and, mirroring src/, tests/unit/<layer>/test_*.c; each is
# built into $(BUILD)/tests/<name> (names are unique across the folders)
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c tests/unit/*/test_*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

RUNTIME_OBJ := $(call obj,$(RUNTIME_SRC))
BASE_OBJ    := $(call obj,$(BASE_SRC))
CODEC_OBJ   := $(call obj,$(CODEC_SRC))
CLI_OBJ     := $(call obj,$(CLI_SRC))
STORE_OBJ   := $(call obj,$(STORE_SRC))
QUEUE_OBJ   := $(call obj,$(QUEUE_SRC))
SERVE_OBJ   := $(call obj,$(SERVE_SRC))
BATCH_OBJ   := $(call obj,$(BATCH_SRC))
PREDICT_OBJ := $(call obj,$(PREDICT_SRC))
STREAM_OBJ  := $(call obj,$(STREAM_SRC))
EDGE_OBJ    := $(call obj,$(EDGE_SRC))
AGENT_OBJ   := $(call obj,$(AGENT_SRC))
UNIT_BIN    := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRC))))

.PHONY: all deps run test unit unit-asan conformance cross core badinput fuzz install clean bench wasm

all: $(BUILD)/mlship $(BUILD)/libmlship.a

deps:
	@sh scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmlship.a: $(RUNTIME_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The edge core: the runtime without its mmap loader (ms_file.c) and XGBoost's JSON loader
# (ms_xgboost.c, which needs cJSON), with -DMS_NO_XGBOOST so model.json is refused by name.
# What a microcontroller or a browser links; tests/cross/run.sh builds it for every target:
#   make core BUILD=build/m4 CC=arm-none-eabi-gcc AR=arm-none-eabi-ar CORE_CFLAGS="-mcpu=... -Os"
CORE_SRC    := $(filter-out src/runtime/ms_file.c src/runtime/ms_xgboost.c,$(RUNTIME_SRC))
CORE_CFLAGS ?= $(OPT)
CORE_OBJ    := $(patsubst %.c,$(BUILD)/core/%.o,$(CORE_SRC))
# Flags added after CORE_CFLAGS for the files in CORE_HOT_SRC only (the wasm build's kernels)
CORE_HOT_CFLAGS ?=
CORE_HOT_SRC    ?=

$(BUILD)/core/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -DMS_NO_XGBOOST $(WARN) $(CORE_CFLAGS) $(if $(filter $<,$(CORE_HOT_SRC)),$(CORE_HOT_CFLAGS)) -Iinclude -Isrc -Isrc/runtime -MMD -MP -c $< -o $@

$(BUILD)/libmlship_core.a: $(CORE_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

core: $(BUILD)/libmlship_core.a

# The WebAssembly package (docs/wasm.md): the edge core built for wasm32 with wasi-libc linked
# statically, plus the glue in src/edge/wasm/, into web/mlship.wasm beside the committed
# web/mlship.mjs, package.json and README.md (`npm publish web/`). A reactor module (no main);
# its only imports are three WASI stdio calls mlship.mjs answers itself. SIMD128 and LTO; -Oz
# for all but the compute kernels (WASM_HOT_SRC, -O3): as fast as -O3 everywhere at less than
# half the bytes (measured against -O3, -O2, -Os and -Oz in docs/wasm.md).
WASM_CC    = clang-14 --target=wasm32-wasi
WASM_OPT  ?= -Oz -msimd128 -flto
WASM_HOT_OPT ?= -O3
WASM_HOT_SRC = src/runtime/ms_gemm.c src/runtime/ops/ops_conv.c src/runtime/ops/ops_pool.c \
  src/runtime/ms_trees.c
WASM_BUILD = $(BUILD)/wasm
WASM_LINK  = -mexec-model=reactor -Wl,--gc-sections -Wl,--strip-all -Wl,-z,stack-size=524288

wasm: web/mlship.wasm

web/mlship.wasm: src/edge/wasm/mw_glue.c $(CORE_SRC) include/mlship.h $(wildcard src/runtime/*.h src/runtime/ops/*.h)
	@sh scripts/deps.sh wasm
	@$(MAKE) --no-print-directory core BUILD=$(WASM_BUILD) CC="$(WASM_CC)" AR=llvm-ar-14 \
	  CORE_CFLAGS="$(WASM_OPT) -ffunction-sections -fdata-sections" \
	  CORE_HOT_CFLAGS="$(WASM_HOT_OPT)" CORE_HOT_SRC="$(WASM_HOT_SRC)"
	$(WASM_CC) -std=c11 $(WARN) $(WASM_OPT) $(WASM_HOT_OPT) -Iinclude $(WASM_LINK) src/edge/wasm/mw_glue.c \
	  $(WASM_BUILD)/libmlship_core.a -lm -o $@
	@echo "web/mlship.wasm: $$(wc -c < $@) bytes, $$(gzip -9c $@ | wc -c) gzipped"

# src/base/: the primitives every layer above the runtime shares (error text, clock, hash, URL
# and name rules); it includes only libc and mlship.h, and is linked last.
$(BUILD)/libmlship_base.a: $(BASE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libmlship_codec.a: $(CODEC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# src/predict/: the one way a row becomes a prediction (above codec and runtime; below batch,
# serve and the CLI).
$(BUILD)/libmlship_predict.a: $(PREDICT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(STORE_OBJ): ALL_CFLAGS += $(STORE_CFLAGS)
$(BUILD)/libmlship_store.a: $(STORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# src/stream/: stream workers and pipelines (above queue, predict, store and codec).
$(BUILD)/libmlship_stream.a: $(STREAM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# src/queue/: event streams (sqlite, redis, nats, kafka, mqtt); the same WITH_* knobs as the store.
$(QUEUE_OBJ): ALL_CFLAGS += $(STORE_CFLAGS)
$(BUILD)/libmlship_queue.a: $(QUEUE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Upper archives first, libmlship_base.a after the layers that call it, the runtime last.
UPPER_LIBS = $(BUILD)/libmlship_stream.a $(BUILD)/libmlship_predict.a $(BUILD)/libmlship_store.a $(BUILD)/libmlship_queue.a \
             $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a

# src/edge/ (export-c) and src/edge/agent/ are linked into the binary as objects, like serve and batch.
$(BUILD)/mlship: $(CLI_OBJ) $(SERVE_OBJ) $(BATCH_OBJ) $(EDGE_OBJ) $(AGENT_OBJ) $(UPPER_LIBS)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(SERVE_OBJ) $(BATCH_OBJ) $(EDGE_OBJ) $(AGENT_OBJ) $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS) $(AGENT_LIBS)

UNIT_DEPS = $(UPPER_LIBS) tests/unit/mstest.h
define unit_rule
$(BUILD)/tests/%: $(1)%.c $$(UNIT_DEPS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -Itests/unit -o $$@ $$< $$(UPPER_LIBS) $$(LDLIBS) $$(STORE_LIBS)
endef
$(foreach d,tests/unit/ $(filter-out tests/unit/serve/ tests/unit/agent/ tests/unit/edge/,$(sort $(dir $(wildcard tests/unit/*/test_*.c)))),$(eval $(call unit_rule,$(d))))
# edge's tests link the exporter's objects (src/edge/ is no archive)
$(BUILD)/tests/%: tests/unit/edge/%.c $(EDGE_OBJ) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Isrc/edge -o $@ $< $(EDGE_OBJ) $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS)

# serve's tests link the serve objects (and batch's, which serve calls) as the binary does
$(BUILD)/tests/%: tests/unit/serve/%.c $(SERVE_OBJ) $(BATCH_OBJ) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(SERVE_OBJ) $(BATCH_OBJ) $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS)

# the agent's tests link its objects and libraries
$(BUILD)/tests/%: tests/unit/agent/%.c $(AGENT_OBJ) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(AGENT_OBJ) $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS) $(AGENT_LIBS)

$(BUILD)/conformance: tests/conformance.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a $(LDLIBS)

# The CLI tests' tensor comparer (tests/cli/test_cli.sh builds it on demand).
$(BUILD)/tcompare: tests/cli/tcompare.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a $(LDLIBS)

# The streaming fault tests' producer and checker (tests/faults/test_engine_faults.sh), its queue
# probe (poison messages, dead letters) and the
# matrix suite's fixture tool, which that test uses to cut finite rows out of a fixture.
$(BUILD)/sm_check: tests/faults/sm_check.c $(UPPER_LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS)
$(BUILD)/qtool: tests/faults/qtool.c $(UPPER_LIBS)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(UPPER_LIBS) $(LDLIBS) $(STORE_LIBS)
# The fault matrix's loopback proxy (cut and heal a worker's broker connection) and its test.
$(BUILD)/tcp_proxy: tests/faults/tcp_proxy.c
	$(CC) $(ALL_CFLAGS) -o $@ $<
$(BUILD)/tcp_proxy_test: tests/faults/tcp_proxy_test.c
	$(CC) $(ALL_CFLAGS) -o $@ $< -lpthread
# librdkafka's mock Kafka cluster as a small process of its own, for the Kafka queue tests and
# bench (tests/tools/kmock.c; built only with WITH_KAFKA=1, and the unit tests use it when there).
$(BUILD)/kmock: tests/tools/kmock.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lrdkafka
$(BUILD)/mxtool: tests/matrix/mxtool.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship_base.a $(BUILD)/libmlship.a $(LDLIBS)

# ---- tests ------------------------------------------------------------------------------

unit: $(UNIT_BIN) $(if $(filter 1,$(WITH_KAFKA)),$(BUILD)/kmock)
	@MLSHIP_KMOCK=$(if $(filter 1,$(WITH_KAFKA)),$(BUILD)/kmock) sh tests/run_unit.sh $(BUILD)/tests

# The unit tests once more under AddressSanitizer + UBSan, in a separate build tree.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  unit

conformance: $(BUILD)/conformance
	$(BUILD)/conformance --baseline tests/conformance_baseline.txt --table docs/CONFORMANCE.md

# The runtime cross-built for Cortex-M4 (newlib, no OS; its unit tests run on QEMU's mps2-an386)
# AArch64 / armhf Linux (under qemu user mode) and wasm32-wasi (in Node): tests/cross/run.sh.
cross:
	@sh tests/cross/run.sh $(BUILD)/cross

# The example model served over HTTP with its features in SQLite (scripts/run_example.sh:
# loads examples/fraud/features.csv into build/example.db, writes the model repository
# examples/fraud/models, prints curl commands, then runs `mlship serve` in the foreground).
run: deps all
	@BUILD=$(BUILD) sh scripts/run_example.sh

test:
	@sh scripts/deps.sh test
	@sh tests/run_all.sh

# mlship.pc (from mlship.pc.in) names PREFIX, so `cc app.c $(pkg-config --cflags --libs mlship)`
# finds the header, the archive and what the archive needs (cJSON, libm). DESTDIR stages a
# package: files go under DESTDIR, the .pc still says PREFIX.
VERSION := $(shell sed -n 's/.*define MS_VERSION_STRING "\(.*\)"/\1/p' include/mlship.h)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/mlship $(DESTDIR)$(PREFIX)/bin/mlship
	install -m 644 $(BUILD)/libmlship.a $(DESTDIR)$(PREFIX)/lib/libmlship.a
	install -m 644 include/mlship.h $(DESTDIR)$(PREFIX)/include/mlship.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' mlship.pc.in >$(BUILD)/mlship.pc
	install -m 644 $(BUILD)/mlship.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/mlship.pc

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# fuzz drivers (clang + libFuzzer): rules in tests/fuzz/fuzz.mk
-include tests/fuzz/fuzz.mk
