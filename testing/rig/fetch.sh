#!/bin/bash
# Fetch and cache everything the rig needs for the release under test
# (RIG_DEBIAN) from Debian's archive, then build the dma-buf-enabled gntdev
# module. Idempotent: each artifact has a stamp file named after its exact
# version, so a cached run only asks apt for version numbers.
# Writes $RIG_CACHE_DIR/current.env, which the other scripts read.
# For a release other than the host's, also the dom0 userland (its own glibc
# and libraries) and a build root with its compiler and kernel headers.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_DIR/debs.sh"

main() {
    mkdir -p "$RIG_CACHE_DIR"/{debs,pkgs,stamps}
    ABI=$(rig_abi)
    KREL=$ABI-amd64
    local hyp=xen-hypervisor-$RIG_XEN-amd64 src=linux-source-$RIG_LINUX p
    XENLIBS="libxengnttab1 libxentoollog1 libxentoolcore1 libxenevtchn1"
    declare -A VER=()
    candidate_versions VER "linux-image-$KREL" "$hyp" busybox-static $XENLIBS

    ensure_host_pkgs qemu-system-x86 cpio busybox-static gzip xz-utils kmod make gcc libc6-dev \
        libxen-dev python3 $([ "$RIG_NATIVE" = 0 ] || echo "linux-headers-$KREL")

    fetch_pkg "$RIG_CACHE_DIR" "$hyp" VER
    fetch_pkg "$RIG_CACHE_DIR" "linux-image-$KREL" VER
    KVER=${VER[linux-image-$KREL]}
    fetch_pkg "$RIG_CACHE_DIR" busybox-static VER
    for p in $XENLIBS; do fetch_pkg "$RIG_CACHE_DIR" "$p" VER; done
    XENVER=${VER[$hyp]}

    # Multiboot needs the uncompressed (32-bit ELF) hypervisor.
    XEN_ELF=$RIG_CACHE_DIR/xen-$XENVER.elf
    if [ ! -s "$XEN_ELF" ]; then
        zcat "$RIG_CACHE_DIR/pkgs/$hyp/boot/xen-$RIG_XEN-amd64.gz" > "$XEN_ELF.tmp"
        mv "$XEN_ELF.tmp" "$XEN_ELF"
    fi
    KPKG=$RIG_CACHE_DIR/pkgs/linux-image-$KREL
    VMLINUZ=$KPKG/boot/vmlinuz-$KREL
    [ -s "$VMLINUZ" ] || die "no kernel image at $VMLINUZ"
    MODDIR=$(usr_moved "$KPKG" "lib/modules/$KREL")
    local base=${MODDIR%/lib/modules/*}
    # The .deb has no modules.dep (the package's postinst makes it): make it here.
    if [ ! -s "$MODDIR/modules.dep" ]; then
        depmod -b "$base" "$KREL" || die "depmod failed for $KREL"
    fi
    [ -s "$MODDIR/modules.dep" ] || die "no modules.dep in $MODDIR"

    BUSYBOX=$(usr_moved "$RIG_CACHE_DIR/pkgs/busybox-static" bin/busybox)
    userland
    [ "$RIG_NATIVE" = 1 ] || buildroot

    # The dma-buf gntdev needs linux-source of exactly the image's version.
    GNTDEV_DIR=$RIG_CACHE_DIR/gntdev-$KVER
    if [ ! -e "$RIG_CACHE_DIR/stamps/gntdev-$KVER" ]; then
        VER[$src]=$KVER
        fetch_pkg "$RIG_CACHE_DIR" "$src" VER exact
        write_env
        "$RIG_DIR/build-gntdev.sh" "$RIG_CACHE_DIR/pkgs/$src" "$GNTDEV_DIR"
        touch "$RIG_CACHE_DIR/stamps/gntdev-$KVER"
        # The 150 MB source is needed only for this build: drop it (and its stamp).
        rm -rf "$RIG_CACHE_DIR/pkgs/$src" "$RIG_CACHE_DIR"/debs/"$src"_*.deb "$RIG_CACHE_DIR"/stamps/pkg-"$src"_*
    fi
    write_env
    log "fetch done (Debian $RIG_DEBIAN: kernel $KREL $KVER, xen $XENVER)"
}

# usr_moved PKGDIR PATH: PKGDIR/PATH, or PKGDIR/usr/PATH where the release
# has moved it under /usr (Debian 13: kernel modules, busybox).
usr_moved() {
    local p
    for p in "$1/$2" "$1/usr/$2"; do [ -e "$p" ] && echo "$p" && return; done
    die "no $2 (or usr/$2) in $1"
}

# The libraries of the release's Xen programs (the lib* packages they depend
# on, plus libgcc-s1, which glibc dlopens): on the host for the host's own
# release, else unpacked with their dependencies into USERLAND, dom0's
# /usr/lib. Never libxengnttab: the rig places the libraries under test itself.
userland() {
    local libs
    libs=$(rig_apt_cache show --no-all-versions "xen-utils-$RIG_XEN" xenstore-utils qemu-system-xen |
           sed -n 's/^Depends: //p' | tr ',' '\n' | sed -e 's/[(|].*//' -e 's/[[:space:]]//g' |
           grep '^lib' | grep -vx libxengnttab1 | LC_ALL=C sort -u)
    [ -n "$libs" ] || apt_stale "no library dependencies found for xen-utils-$RIG_XEN"
    if [ "$RIG_NATIVE" = 1 ]; then
        USERLAND=
        # shellcheck disable=SC2086
        ensure_host_pkgs $libs libgcc-s1
    else
        USERLAND=$RIG_CACHE_DIR/userland
        # shellcheck disable=SC2086
        make_root "$USERLAND" $libs libgcc-s1 -x libxengnttab1
    fi
}

# Kernel modules for another release are built with that release's compiler
# and tools (they need its glibc): a chroot of its gcc, make, shell tools and
# exactly the image's headers (testing/rig/kbuild.sh).
buildroot() {
    local h=linux-headers-$KREL deps
    deps=$(rig_apt_cache show --no-all-versions "$h" | sed -n 's/^Depends: //p' | tr ',' '\n' |
           sed -e 's/[(|].*//' -e 's/[[:space:]]//g' | grep -E '^(gcc-|linux-kbuild-)')
    [ -n "$deps" ] || apt_stale "no compiler dependency found for $h"
    BUILDROOT=$RIG_CACHE_DIR/buildroot
    # shellcheck disable=SC2086
    make_root "$BUILDROOT" "$h=$KVER" "linux-headers-$ABI-common=$KVER" $deps \
        make dash bash coreutils sed grep mawk findutils diffutils xz-utils kmod
    # What maintainer scripts would do: the awk alternative.
    [ -e "$BUILDROOT/usr/bin/awk" ] || ln -s mawk "$BUILDROOT/usr/bin/awk"
}

write_env() {
    cat > "$RIG_CACHE_DIR/current.env" <<ENV
RIG_DEBIAN=$RIG_DEBIAN
ABI=$ABI
KREL=$KREL
KVER=$KVER
XENVER=$XENVER
XEN_ELF=$XEN_ELF
VMLINUZ=$VMLINUZ
MODDIR=$MODDIR
BUSYBOX=$BUSYBOX
GNTDEV_KO=$GNTDEV_DIR/xen-gntdev.ko
GNTDEV_EXPFIX_KO=$GNTDEV_DIR/xen-gntdev-expfix.ko
XENLIB_PKGS="$RIG_CACHE_DIR/pkgs/libxentoollog1 $RIG_CACHE_DIR/pkgs/libxentoolcore1 $RIG_CACHE_DIR/pkgs/libxenevtchn1"
UPSTREAM_GNTTAB_PKG=$RIG_CACHE_DIR/pkgs/libxengnttab1
USERLAND=$USERLAND
BUILDROOT=${BUILDROOT:-}
ENV
}

apt_retrying main
