#!/bin/bash
# Fetch and cache everything the rig needs from Debian's archive, then build the
# dma-buf-enabled gntdev module. Idempotent: each artifact has a stamp file named
# after its exact version, so a cached run only asks apt for version numbers.
# Writes $RIG_CACHE/current.env, which the other scripts read.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$RIG_CACHE"/{debs,pkgs,stamps}

. "$(dirname "$0")/debs.sh"

ABI=$(rig_abi)
KREL=$ABI-amd64
XENLIBS="libxengnttab1 libxentoollog1 libxentoolcore1 libxenevtchn1"
declare -A VER=()
candidate_versions VER "linux-image-$KREL" xen-hypervisor-4.17-amd64 busybox-static $XENLIBS
KVER=${VER[linux-image-$KREL]}
XENVER=${VER[xen-hypervisor-4.17-amd64]}

ensure_host_pkgs qemu-system-x86 cpio busybox-static gzip xz-utils kmod make gcc libc6-dev \
    libxen-dev "linux-headers-$KREL" python3

fetch_pkg "$RIG_CACHE" xen-hypervisor-4.17-amd64 "$XENVER"
fetch_pkg "$RIG_CACHE" "linux-image-$KREL" "$KVER"
fetch_pkg "$RIG_CACHE" busybox-static "${VER[busybox-static]}"
for p in $XENLIBS; do fetch_pkg "$RIG_CACHE" "$p" "${VER[$p]}"; done

# Multiboot needs the uncompressed (32-bit ELF) hypervisor.
XEN_ELF=$RIG_CACHE/xen-$XENVER.elf
if [ ! -s "$XEN_ELF" ]; then
    zcat "$RIG_CACHE"/pkgs/xen-hypervisor-4.17-amd64/boot/xen-4.17-amd64.gz > "$XEN_ELF.tmp"
    mv "$XEN_ELF.tmp" "$XEN_ELF"
fi
VMLINUZ=$RIG_CACHE/pkgs/linux-image-$KREL/boot/vmlinuz-$KREL
[ -s "$VMLINUZ" ] || die "no kernel image at $VMLINUZ"
MODDIR=$RIG_CACHE/pkgs/linux-image-$KREL/lib/modules/$KREL
# The .deb has no modules.dep (the package's postinst makes it): make it here.
if [ ! -s "$MODDIR/modules.dep" ]; then
    depmod -b "$RIG_CACHE/pkgs/linux-image-$KREL" "$KREL" || die "depmod failed for $KREL"
fi
[ -s "$MODDIR/modules.dep" ] || die "no modules.dep in $MODDIR"

# The dma-buf gntdev needs linux-source of exactly the image's version.
GNTDEV_DIR=$RIG_CACHE/gntdev-$KVER
if [ ! -e "$RIG_CACHE/stamps/gntdev-$KVER" ]; then
    fetch_pkg "$RIG_CACHE" linux-source-6.1 "$KVER"
    "$RIG_DIR/build-gntdev.sh" "$RIG_CACHE/pkgs/linux-source-6.1" "$KREL" "$GNTDEV_DIR"
    touch "$RIG_CACHE/stamps/gntdev-$KVER"
    # The 140 MB source is needed only for this build: drop it (and its stamp).
    rm -rf "$RIG_CACHE/pkgs/linux-source-6.1" "$RIG_CACHE"/debs/linux-source-6.1_*.deb \
        "$RIG_CACHE"/stamps/pkg-linux-source-6.1_*
fi

cat > "$RIG_CACHE/current.env" <<ENV
ABI=$ABI
KREL=$KREL
KVER=$KVER
XENVER=$XENVER
XEN_ELF=$XEN_ELF
VMLINUZ=$VMLINUZ
MODDIR=$MODDIR
BUSYBOX=$RIG_CACHE/pkgs/busybox-static/bin/busybox
GNTDEV_KO=$GNTDEV_DIR/xen-gntdev.ko
GNTDEV_EXPFIX_KO=$GNTDEV_DIR/xen-gntdev-expfix.ko
XENLIB_PKGS="$RIG_CACHE/pkgs/libxentoollog1 $RIG_CACHE/pkgs/libxentoolcore1 $RIG_CACHE/pkgs/libxenevtchn1"
UPSTREAM_GNTTAB_PKG=$RIG_CACHE/pkgs/libxengnttab1
ENV
log "fetch done (kernel $KREL $KVER, xen $XENVER)"
