#!/bin/bash
# testing/display-test/run.sh test|demo|bench|fairness|pvh: the para-virtual display end to end.
# Boots Xen under QEMU once (PV dom0 with Debian's toolstack on this
# project's library, as in testing/xdomain/), starts vdispl-backend in dom0, then PV
# guests (256 MB) whose drm_xen_front it serves; dom0 runs suite-MODE.txt.
# On the host: testing/rig/report.py judges the dom0 scripts, check-frames.py checks
# every captured PNG pixel by pixel. Exit status 0 only if both pass.
#   test:  map (be-alloc=0), map (be-alloc=1), hostile frontend
#   demo:  one guest, 8 frames; PNGs left in build[/<release>]/display/frames/
#   bench: flip latency, flips/s and backend CPU per frame, zero-copy vs
#          map-and-copy
#   fairness: a good guest's flips next to a flooding guest, per CPU share
#   pvh:   zero-copy and export in a PVH dom0 (run with RIG_DOM0_MODE=pvh)
# Settings: OURS_LIB, DT_OUT (build[/<release>]/display[-MODE]), DT_SUITE
# (suite-MODE.txt), RIG_BOOT_TIMEOUT, RIG_DEBIAN (testing/rig/README.md).
set -euo pipefail
MODE=${1:-test}
case $MODE in test|demo|bench|fairness|pvh) ;; *) echo "usage: $0 test|demo|bench|fairness|pvh" >&2; exit 2 ;; esac
TOP=$(cd "$(dirname "$0")/../.." && pwd)
unset RIG_OUT
[ -z "${DT_OUT:-}" ] || RIG_OUT=$DT_OUT
RIG_OUT_NAME=display$([ "$MODE" = demo ] || echo "-$MODE")
. "$TOP/testing/rig/common.sh"
export RIG_OUT
DDIR=$TOP/testing/display-test XDIR=$TOP/testing/xdomain
t0=$(date +%s)
. "$XDIR/env.sh"
# dom0 has a KMS card; the host takes screendumps of QEMU's display when
# dom0 asks (testing/rig/README.md). amd64: QEMU -vga cirrus. arm64:
# virtio-gpu, as QEMU's cirrus-vga on the virt machine shows a blank 8x1
# display whatever dom0 draws (testing/display-test/README.md); the tests
# find the card by its driver and show guests on its connector by name.
case $RIG_ARCH in
    amd64) export RIG_VGA=cirrus DT_CARD_DRIVER=cirrus DT_CONNECTOR=VGA-1 card_modules=cirrus ;;
    *) export RIG_VGA_DEVICE=virtio-gpu-pci,xres=1024,yres=768,vectors=0 DT_CARD_DRIVER=virtio-pci DT_CONNECTOR=Virtual-1
       card_modules="virtio_pci virtio-gpu" ;;
esac
export RIG_SCREENDUMP=1 RIG_DOM0_MODULES="$card_modules ${RIG_DOM0_MODULES:-}"

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
printf 'DT_CARD_DRIVER=%s\nDT_CONNECTOR=%s\n' "$DT_CARD_DRIVER" "$DT_CONNECTOR" > "$B/dt-card.env"
cp "$RIG_TARGET_DIR/release/vdispl-backend" "$B/"
# Timeouts (seconds, times the architecture's scale): per test run, and for
# the whole boot.
case $MODE in
    fairness) test_s=600 boot_s=1500 ;;
    bench) test_s=300 boot_s=1500 ;;
    *) test_s=300 boot_s=600 ;;
esac
SUITE=${DT_SUITE:-$DDIR/suite-$MODE.txt} TEST_BIN=$B RUST_LIST=/nonexistent OURS_LIB=$OURS_LIB \
RIG_INIT=$XDIR/dom0-init RIG_EXTRA_ROOT=$D RIG_TEST_TIMEOUT=${RIG_TEST_TIMEOUT:-$((test_s * RIG_TIME_SCALE))} \
    "$RIG_DIR/mkinitrd.sh" dom0 "$RIG_OUT/dom0.initrd.gz"
t2=$(date +%s)

# --- one boot, this project's library everywhere ---
export RIG_CPU=${RIG_CPU:-$RIG_HAP_CPU} RIG_MEM=${RIG_MEM:-2048} RIG_RESULTS_MB=${RIG_RESULTS_MB:-200}
export RIG_BOOT_TIMEOUT=${RIG_BOOT_TIMEOUT:-$((boot_s * RIG_TIME_SCALE))}
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
S=$RIG_OUT/display.screens
screen() {  # screen NAME FRAME: QEMU's display when NAME held FRAME
    [ -f "$S/$1-f$2.ppm" ] || { echo "FAIL screen $1: no screendump $S/$1-f$2.ppm ($(cat "$S/dumps.log" 2>/dev/null | tr '\n' ';'))"; rc=1; return; }
    python3 "$DDIR/check-frames.py" screen "$S/$1-f$2.ppm" 1024x768 "$2" || rc=1
}
check() {  # check KIND NAME SIZE COUNT
    local p
    p=$(cat "$V/$2/prefix" 2>/dev/null) || { echo "FAIL frames $2: no frames directory (the run did not get that far)"; rc=1; return; }
    python3 "$DDIR/check-frames.py" "$1" "$V/$2" "$p" "$3" "$4" | sed '/^ok /d' || rc=1
}
case $MODE in
    test)
        check pattern dt-map 1024x768 8
        check pattern dt-map-bealloc 1024x768 8
        check hostile dt-hostile 64x32 30
        screen dt-kms-zc 7
        screen dt-kms-map 8
        screen dt-kms-stop 9 ;;
    demo)
        screen dt-demo 7
        check pattern dt-demo 1024x768 8
        F=$RIG_OUT/frames
        rm -rf "$F" && mkdir -p "$F"
        cp "$V"/dt-demo/*.png "$F/" 2>/dev/null || true
        cp "$V/vdispl.log" "$RIG_OUT/vdispl.log" 2>/dev/null || true
        python3 "$DDIR/ppm2png.py" "$S/dt-demo-f7.ppm" "$RIG_OUT/screen.png" 2>/dev/null || { echo "FAIL: no screendump to show"; rc=1; }
        echo "frames the guest drew, as the backend captured them: $F/ ($(ls "$F" | grep -c png) PNGs)"
        echo "the guest's screen on QEMU's display (a screendump): $RIG_OUT/screen.png"
        echo "backend log: $RIG_OUT/vdispl.log" ;;
    pvh)
        screen dt-kms-zc 7
        screen dt-kms-exp 8 ;;
    bench)
        echo
        echo "vdispl-backend on the cirrus KMS card, $([ "${RIG_DOM0_MODE:-pv}" = pvh ] && echo PVH || echo PV) dom0 under QEMU TCG; flip-done at the card's flip (no screen: at once)"
        printf '%-10s %-13s %-8s %-5s %-5s %6s %7s %12s %12s %22s\n' mode placement be-alloc guest round flips fps "lat avg ms" "lat max ms" "backend CPU ms/frame"
        found=0
        for t in zc-1024-a1 cp-1024-b1 cp-1024-b2 zc-1024-a2 zc-1280-a1 cp-1280-b1 cp-1280-b2 zc-1280-a2 pv-1024 ns-1080; do
            l=$(grep '^bench:' "$R/dom0/$t.ours.out" 2>/dev/null) || { echo "FAIL $t: no result"; rc=1; continue; }
            echo "$l" | awk -v r="${t##*-}" '{printf "%-10s %-13s %-8s %-5s %-5s %6s %7s %12s %12s %22s\n", $2, $20, $22, $24, r, $4, $8, $16, $18, $12}'
            found=$((found + 1))
        done
        [ "$found" = 10 ] || rc=1 ;;
    fairness)
        echo
        echo "fairness: a good guest's flips (PV, map-and-copy on the card) before, during and after another guest floods its own device"
        grep '^fairness:' "$R/dom0/fairness.ours.out" 2>/dev/null || { echo "FAIL fairness: no result"; rc=1; }
        grep -q 'flood.cut_off: ' "$R/dom0/fairness.ours.out" 2>/dev/null || { echo "FAIL fairness: the flooding device was not cut off"; rc=1; } ;;
esac
[ "$rc" = 0 ] && echo "display-test $MODE: PASS" || echo "display-test $MODE: FAIL"
exit "$rc"
