# Para-virtual display end to end (display-test/README.md). Included by the
# top-level Makefile. Each target boots the QEMU Xen rig once (PV dom0).
.PHONY: display-test display-demo display-bench
display-test: lib
	display-test/run.sh test

# Brings the display up and leaves the captured frames in build/display/frames/.
display-demo: lib
	display-test/run.sh demo

# Two boots: performance (suite-bench.txt), then fairness (suite-fairness.txt).
display-bench: lib
	display-test/run.sh bench
	display-test/run.sh fairness

# The same display in a PVH dom0, zero-copy (display-test/zero-copy.sh).
.PHONY: display-test-zero-copy
display-test-zero-copy: lib
	display-test/zero-copy.sh
