#!/bin/bash
# Build the out-of-tree kernel module whose Kbuild file and sources are in DIR
# for the rig's kernel: kbuild.sh DIR (the .ko files land in DIR).
# The host's own release builds against the installed linux-headers-<abi>.
# Another release's kernel tools need that release's glibc and compiler, so
# the build runs in its build root (testing/rig/fetch.sh: its gcc, make and exactly
# the image's headers) with chroot, on a scratch copy of DIR. Another
# architecture's modules are cross-built with the host's compiler against the
# image's unpacked headers and build tools (KHEADERS, testing/rig/fetch.sh).
set -euo pipefail
. "$(dirname "$0")/common.sh"
DIR=$(cd "$1" && pwd)
. "$RIG_CACHE_DIR/current.env"
if [ -n "$RIG_CROSS" ]; then
    HDRS=$KHEADERS/usr/src/linux-headers-$KREL
    [ -d "$HDRS" ] || die "no linux-headers-$KREL in $KHEADERS (testing/rig/fetch.sh)"
    exec make -s -C "$HDRS" M="$DIR" ARCH="$RIG_KARCH" CROSS_COMPILE="$RIG_CROSS" modules
fi
if [ -z "$BUILDROOT" ]; then
    HDRS=/usr/src/linux-headers-$KREL
    [ -d "$HDRS" ] || die "missing $HDRS (apt-get install linux-headers-$KREL)"
    exec make -s -C "$HDRS" M="$DIR" modules
fi
[ -d "$BUILDROOT/usr/src/linux-headers-$KREL" ] || die "no linux-headers-$KREL in $BUILDROOT (testing/rig/fetch.sh)"
[ -c "$BUILDROOT/dev/null" ] || { mkdir -p "$BUILDROOT/dev" && mknod -m 666 "$BUILDROOT/dev/null" c 1 3; }
mkdir -p "$BUILDROOT/build" "$BUILDROOT/tmp"
W=$(mktemp -d "$BUILDROOT/build/XXXXXX")
trap 'rm -rf "$W"' EXIT
cp -a "$DIR/." "$W/"
chroot "$BUILDROOT" /usr/bin/env -i PATH=/usr/bin:/usr/sbin HOME=/ LC_ALL=C.UTF-8 \
    make -s -C "/usr/src/linux-headers-$KREL" M="/build/${W##*/}" modules
cp -a "$W/." "$DIR/"
