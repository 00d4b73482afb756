# Entry points. README gives two commands: `make demo` (build the library and
# run its demonstration in a QEMU-booted Xen) and `make test` (every test).
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR     ?=
CARGO       ?= cargo

SONAME   := libxengnttab.so.1
REALNAME := libxengnttab.so.1.2
BUILD    := build
OUT_LIB  := $(BUILD)/lib

.PHONY: all lib header install uninstall test host-test c-tests rust-xen-tests clean

all: lib

# The shipped library under upstream's names. cargo's cdylib (linked by lld)
# has the right versioned exports, but lld does not record each version
# node's parent; so the staticlib is relinked with GNU ld and upstream's own
# map file, after dropping the `name@@VERS` aliases the .symver directives
# made (GNU ld would see them as second definitions).
lib:
	$(CARGO) build --release
	mkdir -p $(OUT_LIB) $(BUILD)/link
	objcopy --wildcard --strip-symbol='*@@VERS_1.*' target/release/libxengnttab.a $(BUILD)/link/libxengnttab.a
	$(CC) -shared -o $(OUT_LIB)/$(REALNAME) -fuse-ld=bfd \
		-Wl,--whole-archive $(BUILD)/link/libxengnttab.a -Wl,--no-whole-archive \
		-Wl,--version-script=src/capi/libxengnttab.map -Wl,-soname,$(SONAME) \
		-Wl,--gc-sections -Wl,--strip-debug -Wl,-z,relro,-z,now -Wl,--as-needed -lgcc_s -lc
	ln -sf $(REALNAME) $(OUT_LIB)/$(SONAME)
	ln -sf $(SONAME) $(OUT_LIB)/libxengnttab.so

# Refresh the committed header from the build's cbindgen output.
header:
	$(CARGO) build --release
	cp "$$(ls -t target/release/build/xengnttab-*/out/xengnttab.h | head -1)" include/xengnttab.h

install: lib install-vdispl
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 $(OUT_LIB)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libxengnttab.so
	install -m 0644 include/xengnttab.h $(DESTDIR)$(INCLUDEDIR)/xengnttab.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		pkgconfig/xengnttab.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/xengnttab.pc

uninstall: uninstall-vdispl
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libxengnttab.so
	rm -f $(DESTDIR)$(INCLUDEDIR)/xengnttab.h $(DESTDIR)$(PKGCONFIGDIR)/xengnttab.pc

c-tests: lib
	$(MAKE) -C c-tests

# Rust tests of the safe API that need /dev/xen: built here, run in dom0.
rust-xen-tests:
	mkdir -p $(BUILD)/rust-tests
	$(CARGO) test --release --no-run --message-format=json --test xen 2>/dev/null \
		| sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' > $(BUILD)/rust-tests/list
	test -s $(BUILD)/rust-tests/list

# Tests that need no Xen: unit tests, kernel-ABI and C-ABI checks.
host-test: lib
	$(CARGO) test --release --workspace

TEST_SUITES := host-test xen-test debian-progs-test xdomain-test xdomain-test-pvh-dom0 display-test display-test-zero-copy
# make stops at the first failing suite, so reaching the summary means all passed.
test: $(TEST_SUITES)
	@echo "suites: $(words $(TEST_SUITES)) passed, 0 failed"

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

include rig/rig.mk
include packaging/packaging.mk
include debian-progs/debian-progs.mk
include xdomain/xdomain.mk
include display-test/display-test.mk
include vdispl/vdispl.mk

# Benchmark: ours vs upstream in one boot of the rig (results in BENCHMARKS.md).
# QEMU's -icount makes the guest's clock count instructions, so a figure
# measures the guest's work and not the host's noise; BENCH_QEMU_ARGS= (empty)
# measures wall-clock time instead.
BENCH_QEMU_ARGS ?= -icount shift=2,sleep=off
# Instructions per operation outside the kernel, each library, on this machine
# (no Xen: bench/host/count.sh runs bench.c under callgrind and a stand-in for
# the device files).
.PHONY: bench-bins
bench-bins: lib
	mkdir -p $(BUILD)/bench/bin
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -Iinclude -o $(BUILD)/bench/bin/bench bench/bench.c -L$(OUT_LIB) -lxengnttab
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -o $(BUILD)/bench/bin/steps bench/steps.c

.PHONY: bench-host
bench-host: bench-bins
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -shared -fPIC -o $(BUILD)/bench/bin/fake-devices.so bench/host/fake-devices.c -ldl
	bench/host/count.sh $(BUILD)/bench/bin/bench $(CURDIR)/$(BUILD)/bench/bin/fake-devices.so $(CURDIR)/$(OUT_LIB)

.PHONY: bench
bench: bench-bins
	cp bench/run-in-dom0.sh bench/rounds.sh $(BUILD)/bench/bin/
	cp "$$(command -v strace)" $(BUILD)/bench/bin/strace
	SUITE=bench/suite.txt TEST_BIN=$(BUILD)/bench/bin RUST_LIST=/nonexistent RIG_TEST_TIMEOUT=1500 \
		RIG_BOOT_TIMEOUT=1800 RIG_QEMU_ARGS="$(BENCH_QEMU_ARGS)" rig/run.sh
	python3 bench/report.py build/rig/results/dom0/bench.ours.out

# map1 and map256 across domains, as a backend maps a frontend's grants: a PV
# guest shares, dom0 maps (bench/run-xdomain.sh, in the two-domain rig).
# BENCH_DOM0=pvh runs it in a PVH dom0.
BENCH_DOM0 ?= pv
XD_BENCH_OUT = $(BUILD)/bench-xdomain-$(BENCH_DOM0)
.PHONY: bench-xdomain
bench-xdomain: bench-bins xdomain-progs
	rm -rf $(BUILD)/bench/xdomain-bin && mkdir -p $(BUILD)/bench/xdomain-bin
	cp $(BUILD)/bench/bin/bench $(BUILD)/bench/bin/steps bench/run-xdomain.sh bench/rounds.sh $(BUILD)/bench/xdomain-bin/
	XD_EXTRA_BIN=$(CURDIR)/$(BUILD)/bench/xdomain-bin XD_LIBS=ours XD_SUITE=$(CURDIR)/bench/suite-xdomain.txt \
		RIG_DOM0_MODE=$(BENCH_DOM0) RIG_OUT=$(CURDIR)/$(XD_BENCH_OUT) RIG_TEST_TIMEOUT=1500 \
		RIG_BOOT_TIMEOUT=2400 RIG_QEMU_ARGS="$(BENCH_QEMU_ARGS)" xdomain/run.sh
	python3 bench/report.py $(XD_BENCH_OUT)/results/dom0/pv-bench.ours.out

# The demonstration: `demo-lib` shows the library's calls in dom0 of a
# QEMU-booted Xen; `display-demo` (display-test/) boots Xen with a guest whose
# para-virtual display is served by vdispl-backend on this library, and leaves
# the captured frames in build/display/frames/.
.PHONY: demo demo-lib
demo: demo-lib display-demo

demo-lib: lib
	$(CARGO) build --release --example demo
	mkdir -p $(BUILD)/demo/bin
	cp target/release/examples/demo $(BUILD)/demo/bin/
	SUITE=examples/demo-suite.txt TEST_BIN=$(BUILD)/demo/bin RUST_LIST=/nonexistent rig/run.sh
	@echo "--- what the demo printed in dom0 ---"
	@cat build/rig/results/dom0/demo.ours.out
