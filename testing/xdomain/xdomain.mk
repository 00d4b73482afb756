# Two-domain real-Xen tests (testing/xdomain/README.md). Included by the top-level Makefile.
.PHONY: xdomain-test xdomain-progs
xdomain-progs: lib $(CROSS_DEPS)
	$(MAKE) -C testing/xdomain BIN=$(CURDIR)/$(ARCH_BUILD)/xdomain/bin $(CROSS_C)

xdomain-test: xdomain-progs
	testing/xdomain/run.sh

# PVH dom0 (with xen-gntdev-expfix.ko) exporting a PV guest's grants as a
# dma-buf: testing/xdomain/suite-pvh-dom0.txt, both libraries, build/rig-xdomain-pvh.
.PHONY: xdomain-test-pvh-dom0
xdomain-test-pvh-dom0: xdomain-progs
	RIG_DOM0_MODE=pvh testing/xdomain/run.sh
