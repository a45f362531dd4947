# bookd — build, run, test.
# `make` builds; `make test` installs what is missing, builds and runs every
# test layer against a throwaway PostgreSQL, then the layers that run the C
# code again on an ASan+UBSan build; `make sanitize` runs every layer on
# that build alone; `make install` (PREFIX, DESTDIR) installs it.

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
SERVER_SRC := src/config.c src/metrics.c src/metrics_history.c src/sd_notify.c \
              $(wildcard src/http/*.c) $(wildcard src/api/*.c) $(wildcard src/outbox/*.c)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/openapi_json.o \
              $(BUILD)/gen/web_assets.o
WEB_FILES := $(wildcard web/*)
SQL_FILES := $(wildcard migrations/*.sql sql/*.sql)
LIB      := $(BUILD)/libbookd.a

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/tests/unit_tests
RACE_BIN := $(BUILD)/tests/race_tests
MAIN_BIN := $(BUILD)/bookd

.PHONY: all deps deps-test run test bench soak sanitize sanitize-build fuzz clean format devdb-start devdb-stop \
        install uninstall FORCE
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

# The migrations and SQL function files `bookd migrate` applies, built into
# the binary (src/db/migrate.h says why). The directories are prerequisites
# too, so that a file removed is a file no longer built in.
$(BUILD)/gen/sql_files.c: migrations sql $(SQL_FILES) scripts/embed_sql.sh
	@mkdir -p $(dir $@)
	scripts/embed_sql.sh migrations sql $@

$(BUILD)/gen/sql_files.o: $(BUILD)/gen/sql_files.c
	$(CC) -Isrc -c $< -o $@

# `bookd --version`: BOOKD_VERSION of src/app.h (the one place the number
# is written) and, built from a git checkout, the commit. The stamp file is
# rewritten only when the commit changes, so main.o is rebuilt then only.
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null)
$(BUILD)/gen/commit: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(COMMIT)" ] || echo "$(COMMIT)" >$@
$(BUILD)/src/main.o: $(BUILD)/gen/commit
$(BUILD)/src/main.o: ALL_CFLAGS += -DBOOKD_COMMIT='"$(COMMIT)"'
FORCE:

$(MAIN_BIN): $(BUILD)/src/main.o $(SERVER_OBJ) $(BUILD)/gen/sql_files.o $(LIB)
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
# Then the primary of a two-node Patroni cluster lost under the same load
# (scripts/patroni_soak.sh: its "## Failover" section of the same file).
soak: deps-test
	@$(MAKE) --no-print-directory all
	@scripts/soak.sh; rc=$$?; scripts/patroni_soak.sh || rc=1; exit $$rc

# Every layer on the build, then the layers that run bookd's C code again
# on an ASan+UBSan build (scripts/test.sh); one summary line for both.
test: deps-test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory sanitize-build
	@SANITIZE_BUILD=build-sanitize scripts/test.sh $(BUILD)

# The ASan+UBSan build in its own directory, then every layer on it alone.
SANITIZE_OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
sanitize-build:
	@$(MAKE) --no-print-directory all BUILD=build-sanitize OPT="$(SANITIZE_OPT)"
sanitize: deps-test sanitize-build
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 scripts/test.sh build-sanitize

# The libFuzzer harnesses of fuzz/, each for FUZZ_SECONDS (scripts/fuzz.sh:
# builds them into build/fuzz, prints TAP); new inputs they find stay in
# build/fuzz/corpus, not in fuzz/corpus.
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Installs the binary, the systemd unit, the man page and the docs under
# PREFIX (default /usr/local), staged under DESTDIR when set (packaging):
#   make install                        /usr/local/bin/bookd, ...
#   make install PREFIX=/usr DESTDIR=/tmp/pkg
# The binary carries the web pages, the OpenAPI document, the migrations and
# the SQL function files: nothing else is read at run time. The unit is
# written with this PREFIX's binary and SYSCONFDIR's environment file (by
# default /etc/bookd/bookd.env, whatever the PREFIX: systemd units look
# there); that file is not installed (it holds the database password and the
# keys): the commented example goes with the docs, to copy from.
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/bookd
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR    ?= /etc
INSTALL       ?= install
DOC_FILES     := README.md docs/design.md docs/web.md openapi.json dist/bookd.env

install: $(MAIN_BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
	  $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(MAIN_BIN) $(DESTDIR)$(BINDIR)/bookd
	$(INSTALL) -m 0644 docs/bookd.1 $(DESTDIR)$(MANDIR)/man1/bookd.1
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	sed -e 's|/usr/local/bin/bookd|$(BINDIR)/bookd|g' -e 's|/etc/bookd/|$(SYSCONFDIR)/bookd/|g' \
	  dist/bookd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/bookd.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/bookd.service.tmp
	mv $(DESTDIR)$(SYSTEMDUNITDIR)/bookd.service.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/bookd.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/bookd $(DESTDIR)$(MANDIR)/man1/bookd.1 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/bookd.service $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

devdb-start:
	@scripts/devdb.sh start
devdb-stop:
	@scripts/devdb.sh stop

format:
	clang-format -i $(LIB_SRC) src/main.c $(wildcard src/*/*.h) $(UNIT_SRC) $(wildcard tests/race/*.[ch])

clean:
	rm -rf build build-sanitize

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
