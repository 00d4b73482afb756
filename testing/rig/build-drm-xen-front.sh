#!/bin/bash
# Build drm_xen_front (the para-virtual display frontend, CONFIG_DRM_XEN_FRONTEND)
# out of tree for an image whose kernel lacks it (Debian's arm64 kernel; its
# dependency xen-front-pgdir-shbuf is there): build-drm-xen-front.sh
# LINUX_SOURCE_PKG_DIR OUTDIR -> OUTDIR/drm_xen_front.ko, through testing/rig/kbuild.sh,
# from the driver's own Makefile, unchanged.
set -euo pipefail
. "$(dirname "$0")/common.sh"
OUT=$2
linux_source "$1" 'drivers/gpu/drm/xen/*'
D=${SRC}drivers/gpu/drm/xen
sed 's/^obj-$(CONFIG_DRM_XEN_FRONTEND)/obj-m/' "$D/Makefile" > "$D/Kbuild"
grep -q '^obj-m' "$D/Kbuild" || die "drivers/gpu/drm/xen/Makefile has no obj-\$(CONFIG_DRM_XEN_FRONTEND) line"
"$RIG_DIR/kbuild.sh" "$D" >&2 || die "drm_xen_front build failed"
mkdir -p "$OUT"
cp "$D/drm_xen_front.ko" "$OUT/"
log "built $OUT/drm_xen_front.ko"
