# Debian packaging targets (see packaging/README.md)
#   make deb        build/deb/libxengnttab1-rs_*.deb and libxengnttab-rs-dev_*.deb
#   make deb-test   install them into a throwaway dpkg root over Debian's
#                   libxengnttab1 and check replacement, loading and restore
# XEN_DEB_VERSION (default: apt's candidate of libxengnttab1) is the Debian
# version the runtime package Provides.
.PHONY: deb deb-test

deb: lib deb-vdispl
	XEN_DEB_VERSION='$(XEN_DEB_VERSION)' bash packaging/build-deb.sh

deb-test: deb
	bash packaging/test-package.sh
