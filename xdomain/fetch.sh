#!/bin/bash
# Fetch Debian's Xen toolstack and QEMU for the two-domain rig (never installed:
# apt-get download + dpkg-deb -x into $RIG_CACHE_DIR/xdomain/pkgs), after rig/fetch.sh.
# Their shared libraries come from the host (installed with apt here, like
# rig/fetch.sh does for its tools), so mkinitrd.sh's ldd closure finds them.
# Writes $RIG_CACHE_DIR/xdomain/current.env. Fails naming any package it cannot get.
set -euo pipefail
. "$(dirname "$0")/../rig/common.sh"
XC=$RIG_CACHE_DIR/xdomain
mkdir -p "$XC"/{debs,pkgs,stamps}

# Programs we run (unpacked, not installed).
PROGS="xen-utils-4.17 xenstore-utils qemu-system-xen qemu-system-data"
# Libraries those programs load (installed on the host for the ldd closure).
HOSTLIBS="libxenmisc4.17 libxenstore4 libxencall1 libxenforeignmemory1 libxendevicemodel1
 libxenhypfs1 libyajl2 libncurses6 libtinfo6 libext2fs2 libuuid1 liblzma5 libzstd1 zlib1g
 libfdt1 libglib2.0-0 libjpeg62-turbo libpixman-1-0 libspice-server1 libusb-1.0-0"

. "$(dirname "$0")/../rig/debs.sh"
# shellcheck disable=SC2086
ensure_host_pkgs $HOSTLIBS
declare -A VER=()
# shellcheck disable=SC2086
candidate_versions VER $PROGS
for p in $PROGS; do fetch_pkg "$XC" "$p" "${VER[$p]}"; done
P=$XC/pkgs
for f in xen-utils-4.17/usr/lib/xen-4.17/bin/xl xen-utils-4.17/usr/lib/xen-4.17/bin/xenstored \
         xen-utils-4.17/usr/lib/xen-4.17/bin/xenconsoled xen-utils-4.17/usr/lib/xen-4.17/bin/xen-init-dom0 \
         xen-utils-4.17/usr/lib/xen-4.17/bin/vchan-socket-proxy xenstore-utils/usr/bin/xenstore-read \
         qemu-system-xen/usr/libexec/xen-qemu-system-i386 qemu-system-data/usr/share/qemu/keymaps; do
    [ -e "$P/$f" ] || die "expected $f in the fetched packages (layout changed?)"
done
echo "XD_PKGS=$P" > "$XC/current.env"
log "xdomain fetch done"
