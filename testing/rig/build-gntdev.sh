#!/bin/bash
# Build Debian's gntdev out of tree with CONFIG_XEN_GNTDEV_DMABUF (Debian's kernel
# lacks it, so its gntdev answers the dma-buf ioctls with ENOTTY).
# Usage: build-gntdev.sh LINUX_SOURCE_PKG_DIR OUTDIR (after testing/rig/fetch.sh has
# written current.env; the build itself is testing/rig/kbuild.sh's).
# Produces OUTDIR/xen-gntdev.ko (dma-buf on) and OUTDIR/xen-gntdev-expfix.ko (also
# without GNTMAP_device_map for auto-translated exporters; for PVH/HVM domains).
set -euo pipefail
. "$(dirname "$0")/common.sh"
OUT=$2
linux_source "$1" 'drivers/xen/gntdev*'

# variant DIR PATCH...: copy the sources, apply the patches (must apply exactly), build.
variant() {
    local dir=$WORK/$1 p; shift
    mkdir -p "$dir"
    cp -r "$SRC/drivers" "$dir/"
    for p in "$@"; do
        patch -d "$dir" -p0 --forward --batch --quiet < "$RIG_DIR/$p" ||
            die "patch $p does not apply to $(basename "$TARBALL")"
    done
    cat > "$dir/drivers/xen/Kbuild" <<'KB'
obj-m := xen-gntdev.o
xen-gntdev-y := gntdev.o gntdev-dmabuf.o
ccflags-y += -DCONFIG_XEN_GNTDEV_DMABUF=1
KB
    "$RIG_DIR/kbuild.sh" "$dir/drivers/xen" >&2 || die "gntdev build ($1) failed"
}
variant dmabuf gntdev-dmabuf-build.patch
variant expfix gntdev-dmabuf-build.patch gntdev-export-autotranslated.patch

mkdir -p "$OUT"
cp "$WORK/dmabuf/drivers/xen/xen-gntdev.ko" "$OUT/xen-gntdev.ko"
cp "$WORK/expfix/drivers/xen/xen-gntdev.ko" "$OUT/xen-gntdev-expfix.ko"
log "built $OUT/xen-gntdev.ko and xen-gntdev-expfix.ko"
