# Real-Xen test rig (see testing/rig/README.md). Included by the top-level Makefile.
# lib, c-tests and rust-xen-tests are defined elsewhere.

# The Debian release the rig boots: make RIG_DEBIAN=13 ... (default 12). Its
# settings come from the same file the scripts read; RIG_BUILD is where that
# release's rig outputs go (build/ for 12, build/debian13/ for 13).
RIG_DEBIAN ?= 12
export RIG_DEBIAN
include testing/rig/release/debian$(RIG_DEBIAN).env
RIG_BUILD := $(BUILD)$(if $(RIG_ARCH_SUB),/$(RIG_ARCH_SUB))$(if $(RIG_SUB),/$(RIG_SUB))
.PHONY: xen-test rig-fetch rig-selftest

xen-test: lib c-tests rust-xen-tests
	testing/rig/run.sh

rig-fetch:
	testing/rig/fetch.sh

# The rig checking itself (Debian's library stands in for ours).
rig-selftest:
	RIG_SELFTEST=1 testing/rig/run.sh

# The plain suite in a PVH dom0 (testing/rig/pvh/README.md): testing/rig/pvh/suite.txt, i.e.
# testing/c-tests/suite.txt minus the tests that crash a PVH dom0 kernel.
.PHONY: xen-test-pvh
# Without the Rust API's dom0 tests: they map dom0's own grants, which panics a
# PVH dom0 kernel (testing/rig/pvh/README.md).
xen-test-pvh: lib c-tests
	RIG_DOM0_MODE=pvh RIG_OUT=$(CURDIR)/$(RIG_BUILD)/rig-pvh SUITE=$(CURDIR)/rig/pvh/suite.txt RUST_LIST=/nonexistent testing/rig/run.sh
