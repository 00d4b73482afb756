#!/bin/bash
# The two-domain rig: fetch, build the guest and dom0 initramfs, boot Xen twice
# (once per library: xenstored/xenconsoled/QEMU and the guests all use it), then
# judge both boots' results together with testing/rig/report.py.
# Settings: OURS_LIB, RIG_OUT (build[/<release>]/rig-xdomain), XD_SUITE (testing/xdomain/suite.txt),
# XD_LIBS ("upstream ours"), RIG_BOOT_TIMEOUT (per boot, 480 x RIG_TIME_SCALE), RIG_TEST_TIMEOUT (150 x the same),
# RIG_DOM0_MODE (pv; pvh: a PVH dom0 with xen-gntdev-expfix.ko, output in
# build/rig-xdomain-pvh, suite suite-pvh-dom0.txt unless XD_SUITE is set),
# XD_EXTRA_BIN (a directory of more programs for dom0's /tests/bin: the
# cross-domain benchmark's).
set -euo pipefail
XDIR=$(cd "$(dirname "$0")" && pwd)
RIG_OUT_NAME=rig-xdomain
if [ "${RIG_DOM0_MODE:-pv}" = pvh ]; then
    XD_SUITE=${XD_SUITE:-$XDIR/suite-pvh-dom0.txt}
    RIG_OUT_NAME=rig-xdomain-pvh
fi
. "$XDIR/../rig/common.sh"
[ "$RIG_ARCH" = amd64 ] || XD_SUITE=${XD_SUITE:-$XDIR/suite-$RIG_ARCH.txt}
export RIG_OUT
t0=$(date +%s)
. "$XDIR/env.sh"
BIN=$RIG_ARCH_BUILD/xdomain/bin
[ -x "$BIN/xd-toolstack" ] || die "test programs not built: make -C testing/xdomain"
t1=$(date +%s)

# --- guest image: tests, xenstore-utils, vchan-socket-proxy, both libraries ---
STAGE=$RIG_OUT/stage
rm -rf "$STAGE" && mkdir -p "$STAGE"/{guest,dom0}
G=$STAGE/guest
XB=usr/lib/xen-$RIG_XEN/bin
mkdir -p "$G/tests/bin" "$G/usr/bin" "$G/$XB" "$G/opt/ours/lib"
cp -a "$BIN/." "$G/tests/bin/"
cp -a "$XD_PKGS"/xenstore-utils/usr/bin/xenstore* "$G/usr/bin/"
cp -a "$XD_PKGS/xen-utils-$RIG_XEN/$XB/vchan-socket-proxy" "$G/$XB/"
cp -L "$OURS_LIB" "$G/opt/ours/lib/libxengnttab.so.1"
# The kernel test module that reads exported dma-bufs (built by testing/rig/fetch.sh).
mkdir -p "$G/lib/modules/extra"
cp "$DMABUF_READER_KO" "$G/lib/modules/extra/"
RIG_INIT=$XDIR/guest-init RIG_EXTRA_ROOT=$G \
RIG_MODULES="xen-evtchn xen-gntdev xen-gntalloc xenfs xen-blkfront drm drm_shmem_helper vgem" \
    "$RIG_DIR/mkinitrd.sh" guest "$RIG_OUT/guest.initrd.gz"

# --- dom0 image: toolstack, QEMU, guest kernel + initramfs ---
D=$STAGE/dom0
mkdir -p "$D/xd" "$D/$XB" "$D/usr/bin" "$D/usr/libexec" "$D/usr/share/qemu"
cp "$VMLINUZ" "$D/xd/vmlinuz"
cp "$RIG_OUT/guest.initrd.gz" "$D/xd/guest.initrd.gz"
for b in xl xenstored xenconsoled xen-init-dom0 vchan-socket-proxy libxl-save-helper; do
    cp -a "$XD_PKGS/xen-utils-$RIG_XEN/$XB/$b" "$D/$XB/"
done
cp -a "$XD_PKGS"/xenstore-utils/usr/bin/xenstore* "$D/usr/bin/"
if [ "$RIG_ARCH" = amd64 ]; then  # (testing/xdomain/fetch.sh: QEMU is amd64's only)
    cp -a "$XD_PKGS/qemu-system-xen/usr/libexec/xen-qemu-system-i386" "$D/usr/libexec/"
    cp -a "$XD_PKGS/qemu-system-data/usr/share/qemu/keymaps" "$D/usr/share/qemu/"
fi
[ -z "${XD_EXTRA_BIN:-}" ] || { mkdir -p "$D/tests/bin" && cp -a "$XD_EXTRA_BIN/." "$D/tests/bin/"; }
SUITE=${XD_SUITE:-$XDIR/suite.txt} TEST_BIN=$BIN RUST_LIST=/nonexistent OURS_LIB=$OURS_LIB \
RIG_INIT=$XDIR/dom0-init RIG_EXTRA_ROOT=$D RIG_TEST_TIMEOUT=${RIG_TEST_TIMEOUT:-$((150 * RIG_TIME_SCALE))} \
    "$RIG_DIR/mkinitrd.sh" dom0 "$RIG_OUT/dom0.initrd.gz"
t2=$(date +%s)

# --- one boot per library ---
export RIG_CPU=${RIG_CPU:-$RIG_HAP_CPU} RIG_MEM=${RIG_MEM:-2048}
export RIG_BOOT_TIMEOUT=${RIG_BOOT_TIMEOUT:-$((480 * RIG_TIME_SCALE))}
MERGED=$RIG_OUT/results
rm -rf "$MERGED" && mkdir -p "$MERGED/dom0"
LIBS=${XD_LIBS:-upstream ours}
# boot_lib LIB: one boot with LIB's library for every program; writes
# "STATUS SECONDS" to $RIG_OUT/xd-LIB.outcome (STATUS "ok" or why it failed).
boot_lib() {
    local lib=$1 attempt status b0
    b0=$(date +%s)
    # A boot that hangs or crashes is retried once: TCG's nested SVM has been
    # seen to freeze a whole dom0 (1 boot in 6, with Debian's library as with
    # ours). Said loudly, kept on disk, and a second failure fails the run.
    # A test that fails inside a completed boot is never retried.
    for attempt in 1 2; do
        if RIG_DOM0_ARGS="xdlib=$lib" "$RIG_DIR/boot.sh" "$RIG_OUT/dom0.initrd.gz" \
                "$RIG_OUT/results-$lib" "xd-$lib"; then
            status=ok
            break
        fi
        status=$(cat "$RIG_OUT/xd-$lib.boot-status")
        if [ "$attempt" = 1 ]; then
            cp "$RIG_OUT/xd-$lib.console.log" "$RIG_OUT/xd-$lib.failed-boot.console.log"
            log "WARNING: boot with the $lib library failed ($status); retrying once" \
                "(console of the failed boot: $RIG_OUT/xd-$lib.failed-boot.console.log)"
            echo "$status" > "$RIG_OUT/xd-$lib.retried"
        fi
    done
    echo "$status $(( $(date +%s) - b0 ))" > "$RIG_OUT/xd-$lib.outcome"
}
# Each boot is one single-threaded QEMU (-smp 1), so with two cores the two
# libraries' boots run side by side, halving the suite's time. XD_PARALLEL=0
# runs them one after the other.
parallel=${XD_PARALLEL:-$(( $(nproc) >= 2 ))}
for lib in $LIBS; do
    rm -f "$RIG_OUT/xd-$lib.outcome" "$RIG_OUT/xd-$lib.retried"
    if [ "$parallel" = 1 ]; then boot_lib "$lib" & else boot_lib "$lib"; fi
done
wait
boot_args=() times=() retried=()
for lib in $LIBS; do
    read -r status secs < "$RIG_OUT/xd-$lib.outcome" || status="no outcome" secs=?
    [ "$status" = ok ] || boot_args+=(--boot-failed "dom0-$lib=$status")
    [ -f "$RIG_OUT/xd-$lib.retried" ] && retried+=("$lib: $(cat "$RIG_OUT/xd-$lib.retried")")
    times+=("$lib ${secs}s")
    R=$RIG_OUT/results-$lib/dom0
    if [ -d "$R" ]; then
        cp -r "$R/." "$MERGED/dom0/"
        mv "$MERGED/dom0/runs.tsv" "$MERGED/dom0/runs-$lib.tsv" 2>/dev/null || true
        [ -d "$R/console" ] && mv "$MERGED/dom0/console" "$MERGED/dom0/console-$lib"
    fi
done
log "times: fetch $((t1 - t0))s, images $((t2 - t1))s, boots ($([ "$parallel" = 1 ] && echo "side by side" || echo "one after the other")): ${times[*]}, all $(( $(date +%s) - t0 ))s"
((${#retried[@]} == 0)) || log "WARNING: boots retried after a hang or crash: ${retried[*]}"
echo "results: $MERGED/dom0/ (guest consoles in console-<lib>/), consoles: $RIG_OUT/xd-<lib>.console.log"
exec python3 "$RIG_DIR/report.py" "$MERGED" --suite "dom0=$RIG_OUT/dom0.suite.txt" \
    --differences "$XDIR/differences.txt" "${boot_args[@]}"
