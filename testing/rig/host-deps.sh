#!/bin/bash
# Install the host packages that building, `make demo` and `make test` need
# (a Debian 12 host, root): compiler and binutils, the reference library and
# headers the host tests compare with, QEMU and the initramfs tools. The rig
# downloads everything a domain runs itself (testing/rig/fetch.sh). Through
# testing/rig/debs.sh: stale apt lists are updated once and the install retried; a
# package no version of can be installed fails the run, named.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_DIR/debs.sh"
HOST_PKGS=(
  build-essential pkg-config binutils make dpkg-dev  # C tests, relink, objdump/objcopy, packaging
  debhelper lintian                                  # the debian/ source package and its checks
  linux-libc-dev                                     # kernel headers for the ABI test
  libxengnttab1 libxen-dev libxenevtchn1             # the reference library and headers
  qemu-system-x86 cpio busybox-static xz-utils kmod  # the real-Xen rig
  python3 strace
)
apt_retrying ensure_host_pkgs "${HOST_PKGS[@]}"
