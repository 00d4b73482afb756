#!/bin/bash
# Fetch the release's Xen toolstack and QEMU for the two-domain rig (never
# installed: apt-get download + dpkg-deb -x into $RIG_CACHE_DIR/xdomain/pkgs),
# after testing/rig/fetch.sh, which provides the libraries they load (testing/rig/fetch.sh's
# userland: the host's for the host's own release, else the release's own).
# Writes $RIG_CACHE_DIR/xdomain/current.env. Fails naming any package it cannot get.
set -euo pipefail
. "$(dirname "$0")/../rig/common.sh"
. "$RIG_DIR/debs.sh"
XC=$RIG_CACHE_DIR/xdomain
XU=xen-utils-$RIG_XEN

# Debian builds qemu-system-xen (the disk backend of xd-disk) for amd64 only.
QEMU_PKGS="qemu-system-xen qemu-system-data" QEMU_FILES="qemu-system-xen/usr/libexec/xen-qemu-system-i386 qemu-system-data/usr/share/qemu/keymaps"
[ "$RIG_ARCH" = amd64 ] || QEMU_PKGS= QEMU_FILES=

main() {
    mkdir -p "$XC"/{debs,pkgs,stamps}
    # shellcheck disable=SC2086
    fetch_pkgs "$XC" "$XU" xenstore-utils $QEMU_PKGS
    local P=$XC/pkgs f XB=usr/lib/xen-$RIG_XEN/bin
    for f in "$XU/$XB/xl" "$XU/$XB/xenstored" "$XU/$XB/xenconsoled" "$XU/$XB/xen-init-dom0" \
             "$XU/$XB/vchan-socket-proxy" xenstore-utils/usr/bin/xenstore-read $QEMU_FILES; do
        [ -e "$P/$f" ] || die "expected $f in the fetched packages (layout changed?)"
    done
    echo "XD_PKGS=$P" > "$XC/current.env"
    log "xdomain fetch done"
}
apt_retrying main
