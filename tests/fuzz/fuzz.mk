# fuzz.mk: the fuzz drivers (included by the Makefile).
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="model tensor"]
#       builds each driver with clang -fsanitize=fuzzer,address,undefined into build/fuzz/,
#       seeds build/fuzz/corpus_<driver> from the ONNX test data (tests/fuzz/make_corpus.sh)
#       and fuzzes each driver for FUZZ_SECONDS. It keeps going after a crash (libFuzzer fork
#       mode), saves every crashing input in build/fuzz/artifacts/<driver>/ and fails at the
#       end if there is any. Replay one with: build/fuzz/fuzz_<driver> FILE
#   make fuzz-check
#       replays the corpora and tests/fuzz/regress/<driver>/ once, without fuzzing, with the
#       ordinary compiler and the unit-asan sanitizers (like SQLite's fuzzcheck).
#
# Drivers: model (loader + planner + kernels), tensor (TensorProto decoding), npy and json
# for the codecs, csvnum (CSV numbers and the float printer, differential against strtof),
# predict (serve's /predict fast path against its general path), v2bin (serve's V2 body
# parser with the binary tensor extension), event (the stream event parser), reading (MQTT
# sensor readings -> events) and manifest (the edge agent's update manifest, round-tripped);
# the serve ones link src/serve/sv_body.c alone, event src/stream/sm_event.c, reading
# sm_reading.c, manifest ag_manifest.c (FUZZ_SERVE lists them).
# Their contract is in tests/fuzz/fuzz_common.h; fuzz_model also checks the model API's
# (tests/fuzz/model_walk.h). To fuzz the XGBoost model.json loader alone, give it JSON seeds
# and its dictionary:
#   build/fuzz/fuzz_model -dict=tests/fuzz/xgboost.dict -max_len=131072 -max_total_time=120 DIR

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS ?= model tensor $(if $(wildcard src/codec/codec_npy.h),npy) $(if $(wildcard src/codec/codec_json.h),json) \
                $(if $(wildcard src/codec/codec_csv.h),csvnum) predict v2bin event reading manifest
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g $(FUZZ_SAN) -Iinclude -Isrc -Isrc/runtime
FUZZ_SERVE   := src/serve/sv_body.c src/stream/sm_event.c src/stream/sm_reading.c src/edge/agent/ag_manifest.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(RUNTIME_SRC) $(BASE_SRC) $(CODEC_SRC) $(PREDICT_SRC) $(FUZZ_SERVE))
# libFuzzer options: bounded time and memory per input; in fork mode go on after a finding.
FUZZ_OPTS ?= -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
FUZZ_FORK ?= -fork=$(FUZZ_JOBS) -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1

.PHONY: fuzz fuzz-build fuzz-corpus fuzz-check
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h tests/fuzz/model_walk.h tests/fuzz/shortest_ref.h $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(LDLIBS)

fuzz-build: $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_TARGETS))

# rebuilt when make_corpus.sh changes (a new driver's corpus appears in an existing tree)
$(FUZZ_DIR)/corpus.stamp: tests/fuzz/make_corpus.sh
	@sh tests/fuzz/make_corpus.sh $(FUZZ_DIR) && touch $@

fuzz-corpus: $(FUZZ_DIR)/corpus.stamp

fuzz: fuzz-build fuzz-corpus
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/artifacts/$$t $(FUZZ_DIR)/corpus_$$t; \
	  case $$t in model|tensor) dict=onnx;; csvnum|predict|v2bin|event|reading|manifest) dict=json;; *) dict=$$t;; esac; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz_$$t $(FUZZ_OPTS) $(FUZZ_FORK) -max_total_time=$(FUZZ_SECONDS) \
	    -dict=tests/fuzz/$$dict.dict -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ \
	    $(FUZZ_DIR)/corpus_$$t $$(test -d tests/fuzz/regress/$$t && echo tests/fuzz/regress/$$t) \
	    > $(FUZZ_DIR)/fuzz_$$t.log 2>&1; \
	  grep -E '^#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|crash|timeout|oom' $(FUZZ_DIR)/fuzz_$$t.log | tail -n 4; \
	  n=$$(ls $(FUZZ_DIR)/artifacts/$$t | wc -l); \
	  if [ "$$n" -gt 0 ]; then echo "fuzz_$$t: $$n finding(s) in $(FUZZ_DIR)/artifacts/$$t (log: $(FUZZ_DIR)/fuzz_$$t.log)"; fail=1; fi; \
	done; exit $$fail

# ---- replay without libFuzzer -----------------------------------------------------------

FUZZ_CHECK_BUILD := build/asan
FUZZ_CHECK_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

FUZZ_CHECK_SERVE := $(patsubst %.c,$(FUZZ_CHECK_BUILD)/%.o,$(FUZZ_SERVE))

$(FUZZ_DIR)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_common.h tests/fuzz/model_walk.h tests/fuzz/shortest_ref.h \
                      $(FUZZ_CHECK_BUILD)/libmlship.a $(FUZZ_CHECK_BUILD)/libmlship_codec.a \
                      $(FUZZ_CHECK_BUILD)/libmlship_base.a $(FUZZ_CHECK_BUILD)/libmlship_predict.a $(FUZZ_CHECK_SERVE)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(FUZZ_CHECK_FLAGS) -Iinclude -Isrc -o $@ \
	  tests/fuzz/replay.c $< $(FUZZ_CHECK_SERVE) $(FUZZ_CHECK_BUILD)/libmlship_predict.a \
	  $(FUZZ_CHECK_BUILD)/libmlship_codec.a $(FUZZ_CHECK_BUILD)/libmlship_base.a \
	  $(FUZZ_CHECK_BUILD)/libmlship.a $(LDLIBS)

# The sanitized libraries are the unit-asan ones (same flags, same tree). Inside that
# sub-make BUILD is build/asan and the Makefile's own rules build them.
ifneq ($(BUILD),$(FUZZ_CHECK_BUILD))
$(FUZZ_CHECK_BUILD)/libmlship.a $(FUZZ_CHECK_BUILD)/libmlship_codec.a $(FUZZ_CHECK_BUILD)/libmlship_base.a \
$(FUZZ_CHECK_BUILD)/libmlship_predict.a $(FUZZ_CHECK_SERVE): FORCE_FUZZ_LIBS
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_CHECK_BUILD) OPT=-O1 CFLAGS="$(FUZZ_CHECK_FLAGS)" $@

.PHONY: FORCE_FUZZ_LIBS
FORCE_FUZZ_LIBS:
endif

fuzz-check: $(addprefix $(FUZZ_DIR)/replay_,$(FUZZ_TARGETS)) fuzz-corpus
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_DIR)/replay_$$t $(FUZZ_DIR)/corpus_$$t \
	    $$(test -d tests/fuzz/regress/$$t && echo tests/fuzz/regress/$$t) \
	    > $(FUZZ_DIR)/replay_$$t.log 2>&1 || fail=1; \
	  grep -E '^FAILED|inputs,' $(FUZZ_DIR)/replay_$$t.log | tail -n 30; \
	done; \
	if [ $$fail -ne 0 ]; then echo "fuzz-check: failures (logs: $(FUZZ_DIR)/replay_*.log)"; fi; \
	exit $$fail

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
