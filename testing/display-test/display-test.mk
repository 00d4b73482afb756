# Para-virtual display end to end (testing/display-test/README.md). Included by the
# top-level Makefile. Each target boots the QEMU Xen rig once (PV dom0).
.PHONY: display-test display-demo display-bench
display-test: lib
	testing/display-test/run.sh test

# Brings the display up and leaves the captured frames in build/display/frames/.
display-demo: lib
	testing/display-test/run.sh demo

# Two boots: performance (suite-bench.txt), then fairness (suite-fairness.txt).
display-bench: lib
	testing/display-test/run.sh bench
	testing/display-test/run.sh fairness

# The same display in a PVH dom0, zero-copy (testing/display-test/zero-copy.sh).
.PHONY: display-test-zero-copy
display-test-zero-copy: lib
	testing/display-test/zero-copy.sh
