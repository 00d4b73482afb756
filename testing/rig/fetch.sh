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
    KREL=$ABI-$RIG_DEB_ARCH
    local hyp=xen-hypervisor-$RIG_XEN-$RIG_DEB_ARCH src=linux-source-$RIG_LINUX p
    XENLIBS="libxengnttab1 libxentoollog1 libxentoolcore1 libxenevtchn1"
    declare -A VER=()
    candidate_versions VER "linux-image-$KREL" "$hyp" busybox-static $XENLIBS

    # shellcheck disable=SC2046
    ensure_host_pkgs $(arch_host_pkgs) cpio busybox-static gzip xz-utils kmod make gcc libc6-dev \
        libxen-dev python3 $([ "$RIG_NATIVE" = 0 ] || echo "linux-headers-$KREL")

    fetch_pkg "$RIG_CACHE_DIR" "$hyp" VER
    fetch_pkg "$RIG_CACHE_DIR" "linux-image-$KREL" VER
    KVER=${VER[linux-image-$KREL]}
    fetch_pkg "$RIG_CACHE_DIR" busybox-static VER
    for p in $XENLIBS; do fetch_pkg "$RIG_CACHE_DIR" "$p" VER; done
    XENVER=${VER[$hyp]}

    # The hypervisor as QEMU's -kernel takes it: x86's multiboot loader needs
    # the uncompressed (32-bit ELF) image; arm64's is already a plain Image.
    XEN_ELF=$RIG_CACHE_DIR/xen-$XENVER.elf
    if [ ! -s "$XEN_ELF" ]; then
        case $RIG_DEB_ARCH in
            amd64) zcat "$RIG_CACHE_DIR/pkgs/$hyp/boot/xen-$RIG_XEN-amd64.gz" > "$XEN_ELF.tmp" ;;
            *) cp "$RIG_CACHE_DIR/pkgs/$hyp/boot/xen-$RIG_XEN-$RIG_DEB_ARCH" "$XEN_ELF.tmp" ;;
        esac
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
    if [ -n "$RIG_CROSS" ]; then cross_roots
    elif [ "$RIG_NATIVE" = 0 ]; then buildroot; fi

    # The dma-buf gntdev, and drm_xen_front where the image lacks it (Debian's
    # arm64 kernel), need linux-source of exactly the image's version.
    GNTDEV_DIR=$RIG_CACHE_DIR/gntdev-$KVER
    local want_front=0
    grep -q '/drm_xen_front\.ko' "$MODDIR/modules.dep" || want_front=1
    if [ ! -e "$RIG_CACHE_DIR/stamps/gntdev-$KVER" ] ||
       { [ "$want_front" = 1 ] && [ ! -e "$RIG_CACHE_DIR/stamps/drm-xen-front-$KVER" ]; }; then
        VER[$src]=$KVER
        fetch_pkg "$RIG_CACHE_DIR" "$src" VER exact
        write_env
        if [ ! -e "$RIG_CACHE_DIR/stamps/gntdev-$KVER" ]; then
            "$RIG_DIR/build-gntdev.sh" "$RIG_CACHE_DIR/pkgs/$src" "$GNTDEV_DIR"
            touch "$RIG_CACHE_DIR/stamps/gntdev-$KVER"
        fi
        if [ "$want_front" = 1 ]; then
            "$RIG_DIR/build-drm-xen-front.sh" "$RIG_CACHE_DIR/pkgs/$src" "$GNTDEV_DIR"
            touch "$RIG_CACHE_DIR/stamps/drm-xen-front-$KVER"
        fi
        # The 150 MB source is needed only for these builds: drop it (and its stamp).
        rm -rf "$RIG_CACHE_DIR/pkgs/$src" "$RIG_CACHE_DIR"/debs/"$src"_*.deb "$RIG_CACHE_DIR"/stamps/pkg-"$src"_*
    fi
    # drm_xen_front goes into the image's module tree, so that images take it
    # (with its dependencies) like any of Debian's modules.
    if [ "$want_front" = 1 ]; then
        mkdir -p "$MODDIR/extra"
        cp "$GNTDEV_DIR/drm_xen_front.ko" "$MODDIR/extra/"
        depmod -b "$base" "$KREL" || die "depmod failed for $KREL"
    fi
    dmabuf_reader
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

# The test module that reads exported dma-bufs from the kernel
# (testing/xdomain/kmod: gntdev's dma-bufs have no mmap), built once per kernel and
# version of its source; dom0 images carry it (mkinitrd.sh).
dmabuf_reader() {
    local k=$TOP/testing/xdomain/kmod sum w
    sum=$(cat "$k/Kbuild" "$k/xd_dmabuf_reader.c" | md5sum | cut -c1-12)
    READER_KO=$RIG_CACHE_DIR/gntdev-$KVER/reader-$sum/xd_dmabuf_reader.ko
    [ -s "$READER_KO" ] && return
    write_env
    w=$(dirname "$READER_KO")
    rm -rf "$w" && mkdir -p "$w"
    cp "$k/Kbuild" "$k/xd_dmabuf_reader.c" "$w/"
    "$RIG_DIR/kbuild.sh" "$w" > "$w/build.log" 2>&1 || { cat "$w/build.log" >&2; die "building testing/xdomain/kmod failed"; }
    [ -s "$READER_KO" ] || die "testing/xdomain/kmod built no xd_dmabuf_reader.ko"
}

# The host packages of this architecture: its emulator, and for another
# architecture the cross-compiler and C library.
arch_host_pkgs() {
    case $RIG_DEB_ARCH in
        amd64) echo qemu-system-x86 ;;
        arm64) echo qemu-system-arm ;;
        *) die "no emulator known for $RIG_DEB_ARCH" ;;
    esac
    [ -z "$RIG_CROSS" ] || echo "gcc-$RIG_MULTIARCH libc6-dev-$RIG_DEB_ARCH-cross"
}

# Another architecture: modules are cross-built with the host's compiler
# against exactly the image's headers and the host-architecture build tools
# of the same version (KHEADERS; testing/rig/kbuild.sh), and programs for its domains
# against its Xen libraries and headers (XEN_SYSROOT, also linked as
# build/<arch>/xensysroot for the Makefiles), all unpacked, never installed.
cross_roots() {
    local host h
    host=$(dpkg --print-architecture)
    h=$RIG_CACHE_DIR/kheaders/usr/src/linux-headers
    KHEADERS=$RIG_CACHE_DIR/kheaders
    make_root "$KHEADERS" "linux-headers-$KREL=$KVER" "linux-headers-$ABI-common=$KVER" \
        "linux-kbuild-$RIG_LINUX:$host=$KVER"
    # The headers' Makefile names the common headers by their installed path.
    grep -q "$KHEADERS" "$h-$KREL/Makefile" ||
        sed -i "s|/usr/src/|$KHEADERS/usr/src/|g" "$h-$KREL/Makefile"
    XEN_SYSROOT=$RIG_CACHE_DIR/xensysroot
    declare -A XV=()
    candidate_versions XV libxen-dev libxenstore4
    make_root "$XEN_SYSROOT" "libxen-dev=${XV[libxen-dev]}" "libxenstore4=${XV[libxenstore4]}" \
        $(for p in $XENLIBS; do echo "$p=${VER[$p]}"; done)
    mkdir -p "$RIG_BUILD"
    ln -sfn "$XEN_SYSROOT" "$RIG_BUILD/xensysroot"
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
DMABUF_READER_KO=${READER_KO:-}
XENLIB_PKGS="$RIG_CACHE_DIR/pkgs/libxentoollog1 $RIG_CACHE_DIR/pkgs/libxentoolcore1 $RIG_CACHE_DIR/pkgs/libxenevtchn1"
UPSTREAM_GNTTAB_PKG=$RIG_CACHE_DIR/pkgs/libxengnttab1
USERLAND=$USERLAND
BUILDROOT=${BUILDROOT:-}
KHEADERS=${KHEADERS:-}
XEN_SYSROOT=${XEN_SYSROOT:-}
ENV
}

apt_retrying main
