# Real-Xen test rig (see rig/README.md). Included by the top-level Makefile.
# lib, c-tests and rust-xen-tests are defined elsewhere.
.PHONY: xen-test rig-fetch rig-selftest

xen-test: lib c-tests rust-xen-tests
	rig/run.sh

rig-fetch:
	rig/fetch.sh

# The rig checking itself (Debian's library stands in for ours).
rig-selftest:
	RIG_SELFTEST=1 rig/run.sh

# The plain suite in a PVH dom0 (rig/pvh/README.md): rig/pvh/suite.txt, i.e.
# c-tests/suite.txt minus the tests that crash a PVH dom0 kernel.
.PHONY: xen-test-pvh
# Without the Rust API's dom0 tests: they map dom0's own grants, which panics a
# PVH dom0 kernel (rig/pvh/README.md).
xen-test-pvh: lib c-tests
	RIG_DOM0_MODE=pvh RIG_OUT=$(CURDIR)/build/rig-pvh SUITE=$(CURDIR)/rig/pvh/suite.txt RUST_LIST=/nonexistent rig/run.sh
