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

# The library under upstream's names, for the tests and the rig.
lib:
	$(CARGO) build --release
	mkdir -p $(OUT_LIB)
	cp target/release/libxengnttab.so $(OUT_LIB)/$(REALNAME)
	ln -sf $(REALNAME) $(OUT_LIB)/$(SONAME)
	ln -sf $(SONAME) $(OUT_LIB)/libxengnttab.so

# Refresh the committed header from the build's cbindgen output.
header:
	$(CARGO) build --release
	cp "$$(ls -t target/release/build/xengnttab-*/out/xengnttab.h | head -1)" include/xengnttab.h

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 $(OUT_LIB)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libxengnttab.so
	install -m 0644 include/xengnttab.h $(DESTDIR)$(INCLUDEDIR)/xengnttab.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		pkgconfig/xengnttab.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/xengnttab.pc

uninstall:
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
	$(CARGO) test --release

test: host-test xen-test

clean:
	rm -rf $(BUILD)
	$(CARGO) clean

include rig/rig.mk
