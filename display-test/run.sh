#!/bin/bash
# display-test/run.sh test|demo|bench: the para-virtual display end to end.
# Boots Xen under QEMU once (PV dom0 with Debian's toolstack on this
# project's library, as in xdomain/), starts vdispl-backend in dom0, then PV
# guests (256 MB) whose drm_xen_front it serves; dom0 runs suite-MODE.txt.
# On the host: rig/report.py judges the dom0 scripts, check-frames.py checks
# every captured PNG pixel by pixel. Exit status 0 only if both pass.
#   test:  map (be-alloc=0), map (be-alloc=1), hostile frontend
#   demo:  one guest, 8 frames; PNGs left in build/display/frames/
#   bench: flips/s and backend CPU per frame at 1024x768 and 1920x1080
# Settings: OURS_LIB, DT_OUT (build[/<release>]/display[-MODE]), RIG_BOOT_TIMEOUT,
# RIG_DEBIAN (rig/README.md).
set -euo pipefail
MODE=${1:-test}
case $MODE in test|demo|bench) ;; *) echo "usage: $0 test|demo|bench" >&2; exit 2 ;; esac
TOP=$(cd "$(dirname "$0")/.." && pwd)
unset RIG_OUT
[ -z "${DT_OUT:-}" ] || RIG_OUT=$DT_OUT
RIG_OUT_NAME=display$([ "$MODE" = demo ] || echo "-$MODE")
. "$TOP/rig/common.sh"
export RIG_OUT
DDIR=$TOP/display-test XDIR=$TOP/xdomain
t0=$(date +%s)
. "$XDIR/env.sh"

# --- programs: the backend, the hostile frontend, the guest's drawing program ---
(cd "$TOP" && cargo build -q -p vdispl --release "${RIG_CARGO_TARGET[@]}") || die "cargo build -p vdispl failed"
STAGE=$RIG_OUT/stage
rm -rf "$STAGE" && mkdir -p "$STAGE"/{guest,dom0,dom0-bin}
G=$STAGE/guest
mkdir -p "$G/tests/bin" "$G/usr/bin" "$G/opt/ours/lib"
"$RIG_CC" -O2 -Wall -Wextra -Werror -o "$G/tests/bin/dp-draw" "$DDIR/dp-draw.c" || die "building dp-draw failed"
cp "$RIG_TARGET_DIR/release/vdispl-hostile-frontend" "$XDIR/tests/xd-wait.sh" "$G/tests/bin/"
cp -a "$XD_PKGS"/xenstore-utils/usr/bin/xenstore* "$G/usr/bin/"
cp -L "$OURS_LIB" "$G/opt/ours/lib/libxengnttab.so.1"
t1=$(date +%s)

# --- guest image: xdomain's guest-init; drm_xen_front is loaded at boot
# (xdskip=drm_xen_front on the command line leaves it out for the hostile guest) ---
RIG_INIT=$XDIR/guest-init RIG_EXTRA_ROOT=$G \
RIG_MODULES="xen-evtchn xen-gntdev xen-gntalloc xenfs drm drm_kms_helper xen-front-pgdir-shbuf drm_xen_front" \
    "$RIG_DIR/mkinitrd.sh" guest "$RIG_OUT/guest.initrd.gz"

# --- dom0 image: toolstack, guest kernel + initramfs, backend, dom0 scripts ---
D=$STAGE/dom0 B=$STAGE/dom0-bin
XB=usr/lib/xen-$RIG_XEN/bin
mkdir -p "$D/xd" "$D/$XB" "$D/usr/bin"
cp "$VMLINUZ" "$D/xd/vmlinuz"
cp "$RIG_OUT/guest.initrd.gz" "$D/xd/guest.initrd.gz"
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper; do
    cp -a "$XD_PKGS/xen-utils-$RIG_XEN/$XB/$b" "$D/$XB/"
done
cp -a "$XD_PKGS"/xenstore-utils/usr/bin/xenstore* "$D/usr/bin/"
cp "$XDIR"/tests/{xd-lib.sh,xd-wait.sh,xd-toolstack} "$B/"
cp "$DDIR"/tests/* "$B/"
cp "$RIG_TARGET_DIR/release/vdispl-backend" "$B/"
SUITE=$DDIR/suite-$MODE.txt TEST_BIN=$B RUST_LIST=/nonexistent OURS_LIB=$OURS_LIB \
RIG_INIT=$XDIR/dom0-init RIG_EXTRA_ROOT=$D RIG_TEST_TIMEOUT=${RIG_TEST_TIMEOUT:-$((200 * RIG_TIME_SCALE))} \
    "$RIG_DIR/mkinitrd.sh" dom0 "$RIG_OUT/dom0.initrd.gz"
t2=$(date +%s)

# --- one boot, this project's library everywhere ---
export RIG_CPU=${RIG_CPU:-$RIG_HAP_CPU} RIG_MEM=${RIG_MEM:-2048} RIG_RESULTS_MB=${RIG_RESULTS_MB:-200}
export RIG_BOOT_TIMEOUT=${RIG_BOOT_TIMEOUT:-$((420 * RIG_TIME_SCALE))}
R=$RIG_OUT/results
boot_args=()
RIG_DOM0_ARGS="xdlib=ours" "$RIG_DIR/boot.sh" "$RIG_OUT/dom0.initrd.gz" "$R" display ||
    boot_args+=(--boot-failed "dom0=$(cat "$RIG_OUT/display.boot-status")")
t3=$(date +%s)
log "times: fetch+build $((t1 - t0))s, images $((t2 - t1))s, boot $((t3 - t2))s"
echo "results: $R/dom0/ (display/: PNGs, backend log, guest consoles); console: $RIG_OUT/display.console.log"
rc=0
python3 "$RIG_DIR/report.py" "$R" --suite "dom0=$RIG_OUT/dom0.suite.txt" "${boot_args[@]}" || rc=1

# --- the frames, pixel by pixel ---
V=$R/dom0/display
check() {  # check KIND NAME SIZE COUNT
    local p
    p=$(cat "$V/$2/prefix" 2>/dev/null) || { echo "FAIL frames $2: no frames directory (the run did not get that far)"; rc=1; return; }
    python3 "$DDIR/check-frames.py" "$1" "$V/$2" "$p" "$3" "$4" | sed '/^ok /d' || rc=1
}
case $MODE in
    test)
        check pattern dt-map 1024x768 8
        check pattern dt-map-bealloc 1024x768 8
        check hostile dt-hostile 64x32 30 ;;
    demo)
        check pattern dt-map 1024x768 8
        F=$RIG_OUT/frames
        rm -rf "$F" && mkdir -p "$F"
        cp "$V"/dt-map/*.png "$F/" 2>/dev/null || true
        cp "$V/vdispl.log" "$RIG_OUT/vdispl.log" 2>/dev/null || true
        echo "frames the guest drew, as the backend captured them: $F/ ($(ls "$F" | grep -c png) PNGs)"
        echo "backend log: $RIG_OUT/vdispl.log" ;;
    bench)
        echo
        if [ "${RIG_DOM0_MODE:-pv}" = pvh ]; then
            echo "vdispl-backend, zero-copy mode (dma-buf export, be-alloc=0), PVH dom0 and PV guest under QEMU TCG, flip-done sent at once"
        else
            echo "vdispl-backend, map mode (be-alloc=0), PV dom0 and PV guest under QEMU TCG, flip-done sent at once"
        fi
        printf '%-10s %-12s %7s %9s %8s %22s\n' mode png flips seconds fps "backend CPU ms/frame"
        found=0
        for t in bench-1024 bench-1080 bench-1024-png; do
            l=$(grep '^bench:' "$R/dom0/$t.ours.out" 2>/dev/null) || { echo "FAIL $t: no result"; rc=1; continue; }
            echo "$l" | awk '{printf "%-10s %-12s %7s %9s %8s %22s\n", $2, $14, $4, $6, $8, $12}'
            found=$((found + 1))
        done
        [ "$found" = 3 ] || rc=1 ;;
esac
[ "$rc" = 0 ] && echo "display-test $MODE: PASS" || echo "display-test $MODE: FAIL"
exit "$rc"
