# mlship build. `make` builds build/mlship and build/libmlship.a; `make test` runs every test;
# `make run` serves the example model. Targets install their apt packages when missing.

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
LDLIBS  = -lcjson -lm -lpthread

RUNTIME_SRC := $(sort $(wildcard src/runtime/*.c src/runtime/ops/*.c))
CODEC_SRC   := $(sort $(wildcard src/codec/*.c))
CLI_SRC     := $(sort $(wildcard src/cli/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

RUNTIME_OBJ := $(call obj,$(RUNTIME_SRC))
CODEC_OBJ   := $(call obj,$(CODEC_SRC))
CLI_OBJ     := $(call obj,$(CLI_SRC))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps run test unit unit-asan conformance badinput fuzz install clean bench

all: $(BUILD)/mlship $(BUILD)/libmlship.a

deps:
	@sh scripts/deps.sh build

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libmlship.a: $(RUNTIME_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libmlship_codec.a: $(CODEC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mlship: $(CLI_OBJ) $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a tests/unit/mstest.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a $(LDLIBS)

$(BUILD)/conformance: tests/conformance.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a $(LDLIBS)

# The CLI tests' tensor comparer (tests/cli/test_cli.sh builds it on demand).
$(BUILD)/tcompare: tests/cli/tcompare.c $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmlship_codec.a $(BUILD)/libmlship.a $(LDLIBS)

# ---- tests ------------------------------------------------------------------------------

unit: $(UNIT_BIN)
	@sh tests/run_unit.sh $(BUILD)/tests

# The unit tests once more under AddressSanitizer + UBSan, in a separate build tree.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  unit

conformance: $(BUILD)/conformance
	$(BUILD)/conformance --baseline tests/conformance_baseline.txt --table docs/CONFORMANCE.md

# Until `mlship serve` lands, the main job scores the example model's request.
run: deps all
	$(BUILD)/mlship predict examples/fraud/model.onnx examples/fraud/request.json

test:
	@sh scripts/deps.sh test
	@sh tests/run_all.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BUILD)/mlship $(DESTDIR)$(PREFIX)/bin/mlship
	install -m 644 $(BUILD)/libmlship.a $(DESTDIR)$(PREFIX)/lib/libmlship.a
	install -m 644 include/mlship.h $(DESTDIR)$(PREFIX)/include/mlship.h

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# fuzz drivers (clang + libFuzzer): rules in tests/fuzz/fuzz.mk
-include tests/fuzz/fuzz.mk
