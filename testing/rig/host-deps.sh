#!/bin/bash
# Install the host packages that building, `make demo` and `make test` need
# (a Debian 12 host, root): compiler and binutils, the reference library and
# headers the host tests compare with, QEMU and the initramfs tools. The rig
# downloads everything a domain runs itself (testing/rig/fetch.sh). Through
# testing/rig/debs.sh: stale apt lists are updated once and the install retried; a
# package no version of can be installed fails the run, named.
# Not here: sbuild, mmdebstrap and uidmap, which only `make sbuild` (not in
# `make test`) needs; packaging/sbuild.sh installs them itself.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_DIR/debs.sh"
HOST_PKGS=(
  build-essential pkg-config binutils make dpkg-dev  # C tests, relink, objdump/objcopy, packaging
  debhelper lintian                                  # the debian/ source package and its checks
  linux-libc-dev                                     # kernel headers for the ABI test
  libxengnttab1 libxen-dev libxenevtchn1             # the reference library and headers
  qemu-system-x86 cpio busybox-static xz-utils kmod  # the real-Xen rig
  qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross  # arm64: its rig, cross builds
  python3 strace
)
apt_retrying ensure_host_pkgs "${HOST_PKGS[@]}"
# The Rust standard library for the arm64 builds (make lib TARGET=...).
command -v rustup > /dev/null || die "rustup not found: the arm64 builds need its aarch64-unknown-linux-gnu target"
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu >&2 || die "rustup target add aarch64-unknown-linux-gnu failed"
