#!/bin/bash
# Fetch and cache everything the rig needs from Debian's archive, then build the
# dma-buf-enabled gntdev module. Idempotent: each artifact has a stamp file named
# after its exact version, so a cached run only asks apt for version numbers.
# Writes $RIG_CACHE/current.env, which the other scripts read.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mkdir -p "$RIG_CACHE"/{debs,pkgs,stamps}

# Host tools (CI is root on a fresh Debian 12).
ensure_host_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing host packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
              --no-install-recommends "${missing[@]}"; } ||
        die "cannot install host packages: ${missing[*]}"
}

# fetch_pkg NAME VERSION: download (once) and extract to $RIG_CACHE/pkgs/NAME.
# Never installs. Fails naming the package if apt cannot get it.
fetch_pkg() {
    local name=$1 ver=$2 stamp="$RIG_CACHE/stamps/pkg-$1_${2//[:\/]/_}"
    [ -e "$stamp" ] && return
    log "fetching $name=$ver"
    rm -f "$RIG_CACHE/debs/${name}_"*.deb
    (cd "$RIG_CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver" >&2) ||
        die "cannot download package $name=$ver"
    local deb
    deb=$(ls "$RIG_CACHE/debs/${name}_"*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "package $name downloaded no .deb"
    rm -rf "$RIG_CACHE/pkgs/$name"
    dpkg-deb -x "$deb" "$RIG_CACHE/pkgs/$name" || die "cannot extract $deb"
    touch "$stamp"
}

ABI=$(rig_abi)
KREL=$ABI-amd64
XENLIBS="libxengnttab1 libxentoollog1 libxentoolcore1 libxenevtchn1"
# One apt-cache call for all versions (each call costs ~0.5 s).
declare -A VER=()
while read -r n v; do VER[$n]=$v; done < <(
    apt-cache policy "linux-image-$KREL" xen-hypervisor-4.17-amd64 busybox-static $XENLIBS |
    awk '/^[^ ]/ {n = $1; sub(/:$/, "", n)} /Candidate:/ {print n, $2}')
for p in "linux-image-$KREL" xen-hypervisor-4.17-amd64 busybox-static $XENLIBS; do
    [ -n "${VER[$p]:-}" ] && [ "${VER[$p]}" != "(none)" ] || die "package $p not known to apt"
done
KVER=${VER[linux-image-$KREL]}
XENVER=${VER[xen-hypervisor-4.17-amd64]}

ensure_host_pkgs qemu-system-x86 cpio busybox-static gzip xz-utils kmod make gcc libc6-dev \
    libxen-dev "linux-headers-$KREL" python3

fetch_pkg xen-hypervisor-4.17-amd64 "$XENVER"
fetch_pkg "linux-image-$KREL" "$KVER"
fetch_pkg busybox-static "${VER[busybox-static]}"
for p in $XENLIBS; do fetch_pkg "$p" "${VER[$p]}"; done

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
    fetch_pkg linux-source-6.1 "$KVER"
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
