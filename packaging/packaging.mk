# Debian packages (see packaging/README.md), for the release RIG_DEBIAN (12 by
# default; testing/rig/rig.mk):
#   make deb        build[/<release>]/deb/: libxengnttab1-rs, its -dbgsym, libxengnttab-rs-dev,
#                   vdispl-backend and its -dbgsym (dpkg-buildpackage with debian/)
#   make deb-test   install them into a throwaway dpkg root of that release over
#                   Debian's libxengnttab1 and check replacement, loading and
#                   restore; then that installing them changes no other package
# XEN_DEB_VERSION (default: the installed libxengnttab1 on a host of that
# release, else apt's candidate) is the Debian version the runtime package Provides.
.PHONY: deb deb-test source-package sbuild sbuild-test

deb: lib $(CROSS_DEPS)
	XEN_DEB_VERSION='$(XEN_DEB_VERSION)' bash packaging/build-deb.sh

deb-test: deb
	bash packaging/test-package.sh
	bash packaging/test-no-upgrades.sh

# The source package built by sbuild in a clean chroot, offline
# (packaging/README.md, "sbuild"); minutes and the network, so not in make test:
#   make source-package  build/source/: the tracked files and vendor/ (the crates), .dsc + .tar.xz
#   make sbuild          build[/<release>]/sbuild/: sbuild's packages (Debian 13 unless RIG_DEBIAN is given)
#   make sbuild-test     those against make deb's: files, control, library interface; lintian
SBUILD_DEBIAN := $(if $(filter command environment,$(origin RIG_DEBIAN)),$(RIG_DEBIAN),13)
source-package:
	bash packaging/build-source.sh

sbuild: source-package
	RIG_DEBIAN=$(SBUILD_DEBIAN) bash packaging/sbuild.sh

sbuild-test: sbuild
	$(MAKE) RIG_DEBIAN=$(SBUILD_DEBIAN) deb
	RIG_DEBIAN=$(SBUILD_DEBIAN) bash packaging/test-sbuild.sh
