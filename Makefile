# calib - build, test, install.
#
#   make            build/libcalib.a, build/libcalib.so, build/calib
#   make demo       install what is needed, train, calibrate, report
#   make check      install what is needed, run every test
#   make asan       the test suite under AddressSanitizer + UBSan
#   make install    PREFIX=/usr/local (DESTDIR honoured)

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
B       ?= build

CC      ?= cc
OPT     ?= -O2 -g
WARN     = -std=c11 -Wall -Wextra -Wpedantic -Wconversion -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
           -Wcast-qual -Wformat=2 -Wundef -Wvla -Wdouble-promotion
ifdef WERROR
WARN    += -Werror
endif
CPPFLAGS += -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L
CFLAGS  ?=
ALL_CFLAGS = $(WARN) $(OPT) -fPIC -pthread $(SANITIZE) $(CFLAGS)
LDLIBS_CALIB = -ljansson -llbfgs -lz -lm -lpthread
LDFLAGS ?=

LIB_SRC  = $(wildcard src/*.c)
LIB_OBJ  = $(LIB_SRC:src/%.c=$(B)/obj/lib/%.o)
CLI_SRC  = $(wildcard cli/*.c)
CLI_OBJ  = $(CLI_SRC:cli/%.c=$(B)/obj/cli/%.o)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(TEST_SRC:tests/%.c=$(B)/tests/%)
EX_SRC   = $(wildcard examples/*.c)
EX_BIN   = $(EX_SRC:examples/%.c=$(B)/examples/%)
# fuzz targets (fuzz/fuzz_TARGET.c) and their replay drivers; see below
FUZZ_TARGETS  = npy npz csv toplabel model
REPLAY_BIN    = $(FUZZ_TARGETS:%=$(B)/fuzz/replay_%)
FUZZ_SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all
HDR      = include/calib.h $(wildcard src/*.h)

.PHONY: all lib cli tests examples check demo deps deps-demo deps-full asan FORCE \
        install uninstall \
        clean bench fuzz tradeoff

all: $(B)/libcalib.a $(B)/libcalib.so $(B)/calib $(B)/calib.pc

lib: $(B)/libcalib.a $(B)/libcalib.so

# Objects depend on the flags they were built with: `make check` (with
# -Werror) after a plain `make` rebuilds them instead of trusting them.
$(B)/cflags.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS) $(CPPFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(ALL_CFLAGS) $(CPPFLAGS)' > $@

FORCE:

$(B)/obj/lib/%.o: src/%.c $(HDR) $(B)/cflags.stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(B)/obj/cli/%.o: cli/%.c include/calib.h $(wildcard cli/*.h) $(B)/cflags.stamp
	@mkdir -p $(@D)
	$(CC) -Iinclude $(ALL_CFLAGS) -D_POSIX_C_SOURCE=200809L -c $< -o $@

$(B)/libcalib.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libcalib.so: $(LIB_OBJ)
	$(CC) -shared -pthread $(SANITIZE) -Wl,-soname,libcalib.so.0 -o $@ $^ \
	    $(LDFLAGS) $(LDLIBS_CALIB)

# The CLI links the static library: it runs from build/ without install.
$(B)/calib: $(CLI_OBJ) $(B)/libcalib.a
	$(CC) -pthread $(SANITIZE) -o $@ $(CLI_OBJ) $(B)/libcalib.a \
	    $(LDFLAGS) $(LDLIBS_CALIB)

$(B)/calib.pc: calib.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' $< > $@

# Tests see the internal headers too (tests of internal helpers).
$(B)/tests/%: tests/%.c tests/check.h $(B)/libcalib.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) -o $@ $< $(B)/libcalib.a \
	    $(LDFLAGS) $(LDLIBS_CALIB)

$(B)/examples/%: examples/%.c $(B)/libcalib.a
	@mkdir -p $(@D)
	$(CC) -Iinclude $(ALL_CFLAGS) -D_POSIX_C_SOURCE=200809L -o $@ $< \
	    $(B)/libcalib.a $(LDFLAGS) $(LDLIBS_CALIB)

tests: $(TEST_BIN) $(REPLAY_BIN)
examples: $(EX_BIN)

# The bench (docs/performance.md): its small programs, then the run.
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(B)/bench/%)

$(B)/bench/%: bench/%.c $(B)/libcalib.a
	@mkdir -p $(@D)
	$(CC) -Iinclude $(ALL_CFLAGS) -D_POSIX_C_SOURCE=200809L -o $@ $< \
	    $(B)/libcalib.a $(LDFLAGS) $(LDLIBS_CALIB)

bench: deps-full
	$(MAKE) all $(BENCH_BIN)
	sh bench/run.sh $(B)

# Debian packages: see scripts/install-deps.sh for each set.
deps:
	@sh scripts/install-deps.sh check
deps-demo:
	@sh scripts/install-deps.sh demo
deps-full:
	@sh scripts/install-deps.sh full

check: deps
	$(MAKE) WERROR=1 all tests examples
	sh tests/run.sh $(B)

# The test suite again, built with AddressSanitizer and UBSan.
asan:
	$(MAKE) B=build-asan WERROR=1 OPT="-O1 -g -fno-omit-frame-pointer" \
	    SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	    all tests examples
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/run.sh build-asan

demo: deps-demo
	$(MAKE) all examples
	sh scripts/demo.sh

# The lambda trade-off of the joint loss (scripts/tradeoff.sh).
tradeoff: deps-demo
	$(MAKE) all examples
	sh scripts/tradeoff.sh

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(BINDIR)
	install -m 644 include/calib.h $(DESTDIR)$(INCDIR)/calib.h
	install -m 644 $(B)/libcalib.a $(DESTDIR)$(LIBDIR)/libcalib.a
	install -m 755 $(B)/libcalib.so $(DESTDIR)$(LIBDIR)/libcalib.so.0
	ln -sf libcalib.so.0 $(DESTDIR)$(LIBDIR)/libcalib.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCDIR@|$(INCDIR)|' calib.pc.in \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/calib.pc
	install -m 755 $(B)/calib $(DESTDIR)$(BINDIR)/calib
	@# refresh the dynamic linker's cache for a real install as root
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && \
	    command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/calib.h $(DESTDIR)$(LIBDIR)/libcalib.a \
	    $(DESTDIR)$(LIBDIR)/libcalib.so $(DESTDIR)$(LIBDIR)/libcalib.so.0 \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/calib.pc $(DESTDIR)$(BINDIR)/calib

clean:
	rm -rf build build-asan build-fuzz

# Fuzzing with clang's libFuzzer: `make fuzz` builds build-fuzz/fuzz_TARGET
# for each reader (fuzz/fuzz_TARGET.c). The replay drivers
# $(B)/fuzz/replay_TARGET run the same targets over fuzz/corpus and
# fuzz/regressions without libFuzzer, in `make check` and `make asan`.
# See docs/robustness.md.

fuzz:
	$(MAKE) B=build-fuzz CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
	    SANITIZE="-fsanitize=fuzzer-no-link $(FUZZ_SANITIZE)" \
	    $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

$(B)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(B)/libcalib.a
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) -pthread -fsanitize=fuzzer \
	    $(FUZZ_SANITIZE) -o $@ $< $(B)/libcalib.a $(LDFLAGS) $(LDLIBS_CALIB)

$(B)/fuzz/replay_%: fuzz/replay.c fuzz/fuzz_%.c fuzz/fuzz_common.h \
                    $(B)/libcalib.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ fuzz/replay.c fuzz/fuzz_$*.c \
	    $(B)/libcalib.a $(LDFLAGS) $(LDLIBS_CALIB)
