# Debian's own Xen programs on our library, in the rig's dom0 (testing/debian-progs/README.md).
# Included by the top-level Makefile; `lib` and BUILD are defined there.
#   make debian-progs-test       both boots below
#   make debian-progs-test-pv    one boot (qemu64 CPU): the whole suite, upstream vs ours
#   make debian-progs-test-pvh   one boot with QEMU's SVM+NPT CPU: test-resource's PVH half
# Each boot has its own output directory, so it never collides with other rig users.
.PHONY: debian-progs-fetch debian-progs-stage debian-progs-test debian-progs-test-pv debian-progs-test-pvh

DP_BIN := $(RIG_BUILD)/debian-progs/bin
DP_RIG = SUITE=testing/debian-progs/$(1) TEST_BIN=$(DP_BIN) RUST_LIST=/nonexistent \
	DIFFERENCES=testing/debian-progs/differences.txt RIG_TEST_TIMEOUT=$$((300 * $(RIG_TIME_SCALE))) RIG_BOOT_TIMEOUT=$$((900 * $(RIG_TIME_SCALE)))

debian-progs-fetch:
	testing/debian-progs/fetch.sh

debian-progs-stage: debian-progs-fetch
	testing/debian-progs/stage.sh $(DP_BIN)

# The PVH boot is x86's: on arm64 test-resource's one configuration (an
# auto-translated ARM domain) runs in the main boot.
debian-progs-test: debian-progs-test-pv $(if $(filter amd64,$(RIG_ARCH)),debian-progs-test-pvh)

debian-progs-test-pv: lib debian-progs-stage
	$(call DP_RIG,suite.txt) RIG_OUT=$(CURDIR)/$(RIG_BUILD)/rig-debian testing/rig/run.sh

debian-progs-test-pvh: lib debian-progs-stage
	$(call DP_RIG,suite-pvh.txt) RIG_OUT=$(CURDIR)/$(RIG_BUILD)/rig-debian-pvh \
		RIG_CPU=$(RIG_HAP_CPU) RIG_MEM=2048 testing/rig/run.sh
