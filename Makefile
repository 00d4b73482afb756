# Entry points. README gives two commands: `make demo` (build the library and
# run its demonstration in a QEMU-booted Xen) and `make test` (every test).
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR     ?=
CARGO       ?= cargo

# cargo's output directory (CARGO_TARGET_DIR moves it, as for cargo).
CARGO_TARGET := $(or $(CARGO_TARGET_DIR),target)
SONAME   := libxengnttab.so.1
REALNAME := libxengnttab.so.1.2
BUILD    := build

# The architecture the rig boots (RIG_ARCH=amd64|arm64, testing/rig/release/arch-*.env)
# names the Rust target and cross-compiler its programs are built with.
RIG_ARCH ?= amd64
export RIG_ARCH
include testing/rig/release/arch-$(RIG_ARCH).env
# TARGET: the Rust target the library is built for; empty (the default on
# amd64) builds for this host into build/lib, another target (make lib
# TARGET=aarch64-unknown-linux-gnu) cross-builds into build/<target>/lib
# with that target's GNU toolchain (aarch64-linux-gnu-gcc).
TARGET ?= $(RIG_RUST_TARGET)
ifeq ($(TARGET),)
OUT_LIB    := $(BUILD)/lib
TARGET_DIR := $(CARGO_TARGET)
LIB_CC     := $(CC)
CARGO_TARGET_ARGS :=
else
OUT_LIB    := $(BUILD)/$(TARGET)/lib
TARGET_DIR := $(CARGO_TARGET)/$(TARGET)
LIB_CC     := $(subst -unknown-,-,$(TARGET))-gcc
CARGO_TARGET_ARGS := --target $(TARGET)
# cargo links the target's test programs with the same compiler.
export CARGO_TARGET_$(shell echo '$(TARGET)' | tr a-z- A-Z_)_LINKER := $(LIB_CC)
endif

.PHONY: all lib header install install-lib uninstall test host-test c-tests rust-xen-tests clean

all: lib

# The shipped library under upstream's names: the C ABI crate's staticlib,
# linked with GNU ld and upstream's own version script, which gives each
# export its node (VERS_1.0/1.1/1.2, parents recorded) and keeps the rest local.
# LIB_STRIP= keeps the symbols and debug information (the Debian build
# strips them into the -dbgsym package itself).
LIB_STRIP ?= -Wl,--strip-all
lib:
	$(CARGO) rustc --profile shipped -p xengnttab-capi --crate-type staticlib $(CARGO_TARGET_ARGS)
	mkdir -p $(OUT_LIB)
	$(LIB_CC) -shared -o $(OUT_LIB)/$(REALNAME) -fuse-ld=bfd \
		-Wl,--whole-archive $(TARGET_DIR)/shipped/libxengnttab_capi.a -Wl,--no-whole-archive \
		-Wl,--version-script=capi/libxengnttab.map -Wl,-soname,$(SONAME) \
		-Wl,--gc-sections $(LIB_STRIP) -Wl,-z,relro,-z,now -Wl,--as-needed -lgcc_s -lc
	ln -sf $(REALNAME) $(OUT_LIB)/$(SONAME)
	ln -sf $(SONAME) $(OUT_LIB)/libxengnttab.so

# Refresh the committed header from the build's cbindgen output.
header:
	$(CARGO) build --release -p xengnttab-capi
	cp "$$(ls -t $(CARGO_TARGET)/release/build/xengnttab-capi-*/out/xengnttab.h | head -1)" include/xengnttab.h

install: install-lib install-vdispl

# The library, its header and pkg-config file.
install-lib: lib
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

# Programs for the architecture's domains: built for this host, or
# cross-built against the architecture's Xen packages (testing/rig/fetch.sh unpacks
# them; build/<arch>/xensysroot) into build/<arch>/.
ARCH_BUILD := $(BUILD)$(if $(RIG_ARCH_SUB),/$(RIG_ARCH_SUB))
ifneq ($(RIG_CROSS),)
XEN_SYSROOT = $(CURDIR)/$(RIG_BUILD)/xensysroot
CROSS_C = CC=$(LIB_CC) XGT_LIBDIR=$(CURDIR)/$(OUT_LIB) SYSLIBDIR=$(XEN_SYSROOT)/usr/lib/$(RIG_MULTIARCH) \
	SYS_CPPFLAGS=-I$(XEN_SYSROOT)/usr/include \
	SYS_LDFLAGS="-L$(XEN_SYSROOT)/usr/lib/$(RIG_MULTIARCH) -Wl,-rpath-link,$(XEN_SYSROOT)/usr/lib/$(RIG_MULTIARCH)"
CROSS_DEPS := rig-fetch
endif

c-tests: lib $(CROSS_DEPS)
	$(MAKE) -C testing/c-tests BIN=$(CURDIR)/$(ARCH_BUILD)/c-tests/bin $(CROSS_C)

# Rust tests that need /dev/xen (the safe API's and the C ABI's): built
# here, run in dom0.
rust-xen-tests:
	mkdir -p $(ARCH_BUILD)/rust-tests
	{ $(CARGO) test --release --no-run --message-format=json -p xengnttab --test xen $(CARGO_TARGET_ARGS); \
	  $(CARGO) test --release --no-run --message-format=json -p xengnttab-capi --test xen_capi $(CARGO_TARGET_ARGS); } 2>/dev/null \
		| sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' > $(ARCH_BUILD)/rust-tests/list
	test "$$(wc -l < $(ARCH_BUILD)/rust-tests/list)" -eq 2

# Tests that need no Xen: unit tests, kernel-ABI and C-ABI checks, the
# stand-in suites, fuzzer and stress; then each crate on its rust-version.
host-test: lib
	$(MAKE) lib TARGET=aarch64-unknown-linux-gnu
	$(CARGO) test --release --workspace
	testing/check-msrv.sh

# The real-Xen suites run once per Debian release the rig boots (RIG_DEBIAN,
# testing/rig/release/): `make test-debian13` runs them for Debian 13 alone.
XEN_SUITES := xen-test debian-progs-test xdomain-test xdomain-test-pvh-dom0 display-test display-test-zero-copy
TEST_RELEASES := 12 13
.PHONY: host-deps test-arm64 $(TEST_RELEASES:%=test-debian%)
$(TEST_RELEASES:%=test-debian%): test-debian%:
	$(MAKE) RIG_DEBIAN=$* $(XEN_SUITES)
# arm64 (RIG_ARCH=arm64: Debian 12, testing/rig/README.md): every suite that applies
# there (no PVH dom0: an arm64 dom0 is auto-translated already, and
# display-test is zero-copy there), about 8 minutes.
ARM64_SUITES := xen-test debian-progs-test xdomain-test display-test
test-arm64:
	$(MAKE) RIG_ARCH=arm64 RIG_DEBIAN=12 $(ARM64_SUITES)
# make stops at the first failing suite, so reaching the summary means all passed.
test: host-test $(TEST_RELEASES:%=test-debian%) test-arm64
	@echo "suites: $(words host-test $(foreach r,$(TEST_RELEASES),$(XEN_SUITES)) $(ARM64_SUITES)) passed, 0 failed (real-Xen suites on Debian $(TEST_RELEASES) amd64 and Debian 12 arm64)"

# The host packages building and testing need (installed with apt; root).
host-deps:
	testing/rig/host-deps.sh

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

include testing/rig/rig.mk
include packaging/packaging.mk
include testing/debian-progs/debian-progs.mk
include testing/xdomain/xdomain.mk
include testing/display-test/display-test.mk
include vdispl/vdispl.mk

# Benchmark: ours vs upstream in one boot of the rig (results in BENCHMARKS.md).
# QEMU's -icount makes the guest's clock count instructions, so a figure
# measures the guest's work and not the host's noise; BENCH_QEMU_ARGS= (empty)
# measures wall-clock time instead.
BENCH_QEMU_ARGS ?= -icount shift=2,sleep=off
# Instructions per operation outside the kernel, each library, on this machine
# (no Xen: testing/bench/host/count.sh runs bench.c under callgrind and a stand-in for
# the device files).
# (For the architecture's dom0: cross-built for arm64, into build/arm64/bench.)
BENCH_BIN := $(ARCH_BUILD)/bench/bin
.PHONY: bench-bins
bench-bins: lib
	mkdir -p $(BENCH_BIN)
	$(LIB_CC) -std=gnu99 -Wall -Wextra -Werror -O2 -Iinclude -o $(BENCH_BIN)/bench testing/bench/bench.c -L$(OUT_LIB) -lxengnttab
	$(LIB_CC) -std=gnu99 -Wall -Wextra -Werror -O2 -o $(BENCH_BIN)/steps testing/bench/steps.c

# Size and load time of the shipped library beside Debian's (no Xen).
.PHONY: bench-size
bench-size: lib
	mkdir -p $(BUILD)/bench/bin
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -o $(BUILD)/bench/bin/loadtime testing/bench/size/loadtime.c -ldl
	testing/bench/size/size.sh $(OUT_LIB)/$(REALNAME) /usr/lib/x86_64-linux-gnu/libxengnttab.so.1.2 $(BUILD)/bench/bin/loadtime

.PHONY: bench-host
bench-host: bench-bins
	$(CC) -std=gnu99 -Wall -Wextra -Werror -O2 -shared -fPIC -o $(BUILD)/bench/bin/fake-devices.so testing/bench/host/fake-devices.c -ldl
	testing/bench/host/count.sh $(BUILD)/bench/bin/bench $(CURDIR)/$(BUILD)/bench/bin/fake-devices.so $(CURDIR)/$(OUT_LIB)

# strace counts system calls in dom0: the host's, or Debian's for the architecture.
STRACE = $(if $(RIG_CROSS),"$$(testing/rig/debian-file.sh strace usr/bin/strace)","$$(command -v strace)")
.PHONY: bench
bench: bench-bins
	cp testing/bench/run-in-dom0.sh testing/bench/rounds.sh $(BENCH_BIN)/
	cp $(STRACE) $(BENCH_BIN)/strace
	SUITE=testing/bench/suite.txt TEST_BIN=$(BENCH_BIN) RUST_LIST=/nonexistent RIG_TEST_TIMEOUT=1500 \
		RIG_BOOT_TIMEOUT=1800 RIG_QEMU_ARGS="$(BENCH_QEMU_ARGS)" testing/rig/run.sh
	python3 testing/bench/report.py $(RIG_BUILD)/rig/results/dom0/bench.ours.out

# map1 and map256 across domains, as a backend maps a frontend's grants: a PV
# guest shares, dom0 maps (testing/bench/run-xdomain.sh, in the two-domain rig).
# BENCH_DOM0=pvh runs it in a PVH dom0.
BENCH_DOM0 ?= pv
XD_BENCH_OUT = $(RIG_BUILD)/bench-xdomain-$(BENCH_DOM0)
.PHONY: bench-xdomain
bench-xdomain: bench-bins xdomain-progs
	rm -rf $(ARCH_BUILD)/bench/xdomain-bin && mkdir -p $(ARCH_BUILD)/bench/xdomain-bin
	cp $(BENCH_BIN)/bench $(BENCH_BIN)/steps testing/bench/run-xdomain.sh testing/bench/rounds.sh $(ARCH_BUILD)/bench/xdomain-bin/
	XD_EXTRA_BIN=$(CURDIR)/$(ARCH_BUILD)/bench/xdomain-bin XD_LIBS=ours XD_SUITE=$(CURDIR)/testing/bench/suite-xdomain.txt \
		RIG_DOM0_MODE=$(BENCH_DOM0) RIG_OUT=$(CURDIR)/$(XD_BENCH_OUT) RIG_TEST_TIMEOUT=1500 \
		RIG_BOOT_TIMEOUT=2400 RIG_QEMU_ARGS="$(BENCH_QEMU_ARGS)" testing/xdomain/run.sh
	python3 testing/bench/report.py $(XD_BENCH_OUT)/results/dom0/pv-bench.ours.out

# The demonstration: `demo-lib` shows the library's calls in dom0 of a
# QEMU-booted Xen; `display-demo` (testing/display-test/) boots Xen with a guest whose
# para-virtual display is served by vdispl-backend on this library, and leaves
# the captured frames in build/display/frames/.
.PHONY: demo demo-lib
# First the host packages it needs (nothing to do once installed).
demo:
	$(MAKE) host-deps
	$(MAKE) demo-lib display-demo

demo-lib: lib
	$(CARGO) build --release -p xengnttab --example demo
	mkdir -p $(BUILD)/demo/bin
	cp $(CARGO_TARGET)/release/examples/demo $(BUILD)/demo/bin/
	SUITE=xengnttab/examples/demo-suite.txt TEST_BIN=$(BUILD)/demo/bin RUST_LIST=/nonexistent testing/rig/run.sh
	@echo "--- what the demo printed in dom0 ---"
	@cat $(RIG_BUILD)/rig/results/dom0/demo.ours.out
