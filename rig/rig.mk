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
