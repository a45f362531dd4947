# bookd — build, run, test.
# `make` builds; `make test` installs what is missing, builds and runs every
# test layer against a throwaway PostgreSQL; `make sanitize` does the same
# with ASan+UBSan.

CC      ?= cc
PKGS    := libpq libcrypto jansson libmicrohttpd libcurl
BUILD   ?= build
WERROR  ?= $(if $(CI),-Werror,)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wconversion -Wno-sign-conversion $(WERROR)
# OPT is the knob (make sanitize sets it); CFLAGS from the caller is added last.
OPT     ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -pthread $(WARN) -Isrc $(OPT) $(CFLAGS) \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm

CORE_SRC := $(wildcard src/core/*.c)
DB_SRC   := $(wildcard src/db/*.c)
INTEG_SRC := $(wildcard src/integrations/*.c)
LIB_SRC  := src/log.c src/log_sink.c $(CORE_SRC) $(DB_SRC) $(INTEG_SRC)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The server: HTTP glue, the API, the delivery worker, metrics,
# configuration, and the embedded OpenAPI document.
SERVER_SRC := src/config.c src/metrics.c src/metrics_history.c $(wildcard src/http/*.c) $(wildcard src/api/*.c) \
              $(wildcard src/outbox/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi_json.o \
              $(BUILD)/gen/web_assets.o
WEB_FILES := $(wildcard web/*)
LIB      := $(BUILD)/libbookd.a

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/tests/unit_tests
RACE_BIN := $(BUILD)/tests/race_tests
MAIN_BIN := $(BUILD)/bookd

.PHONY: all deps deps-test run test bench soak sanitize fuzz clean format devdb-start devdb-stop
all: $(MAIN_BIN) $(UNIT_BIN) $(RACE_BIN)

# What running needs; deps-test adds the test and benchmark toolchain.
deps:
	@scripts/deps.sh
deps-test:
	@scripts/deps.sh --test

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Made afresh each time: `ar r` into the old archive would keep the objects
# of source files that have since been removed.
$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/gen/openapi_json.c: openapi.json scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh $< api_openapi_json $@

$(BUILD)/gen/openapi_json.o: $(BUILD)/gen/openapi_json.c
	$(CC) -c $< -o $@

# The pages and their files (docs/web.md), built into the binary.
$(BUILD)/gen/web_assets.c: web $(WEB_FILES) scripts/embed_web.sh
	@mkdir -p $(dir $@)
	scripts/embed_web.sh web $@

$(BUILD)/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	$(CC) -Isrc -c $< -o $@

$(MAIN_BIN): $(BUILD)/src/main.o $(SERVER_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRC:%.c=$(BUILD)/%.o) $(SERVER_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(RACE_BIN): $(BUILD)/tests/race/race_tests.o $(BUILD)/tests/race/tap.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# `make run` builds the server only: no test toolchain, no test binaries.
run: deps
	@$(MAKE) --no-print-directory $(MAIN_BIN)
	@scripts/run.sh

bench: deps-test
	@$(MAKE) --no-print-directory all
	@bench/run.sh

# Faults of the database and of bookd under a booking load, each kind for
# SOAK_SECONDS (default 60); writes bench/RELIABILITY.md (scripts/soak.sh).
soak: deps-test
	@$(MAKE) --no-print-directory all
	@scripts/soak.sh

test: deps-test
	@$(MAKE) --no-print-directory all
	@scripts/test.sh $(BUILD)

# ASan+UBSan build in its own directory, then the same test run.
sanitize: deps-test
	@$(MAKE) --no-print-directory all BUILD=build-sanitize \
	  OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
	@ASAN_OPTIONS=detect_leaks=1 scripts/test.sh build-sanitize

# The libFuzzer harnesses of fuzz/, each for FUZZ_SECONDS (scripts/fuzz.sh:
# builds them into build/fuzz, prints TAP); new inputs they find stay in
# build/fuzz/corpus, not in fuzz/corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

devdb-start:
	@scripts/devdb.sh start
devdb-stop:
	@scripts/devdb.sh stop

format:
	clang-format -i $(LIB_SRC) src/main.c $(wildcard src/*/*.h) $(UNIT_SRC) $(wildcard tests/race/*.[ch])

clean:
	rm -rf build build-sanitize

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
