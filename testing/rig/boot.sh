#!/bin/bash
# Boot Xen + dom0 under QEMU (TCG) once: boot.sh INITRD RESULTS_DIR [NAME]
# Console goes to $RIG_OUT/NAME.console.log. dom0 writes a tar of /results to a
# raw virtio disk; after QEMU exits it is unpacked into RESULTS_DIR.
# Fails unless the console shows @@RIG-DONE and the results hold DONE: QEMU
# exits 0 even when dom0 crashes (-no-reboot), so its status proves nothing.
# Settings (env): RIG_BOOT_TIMEOUT (s, 300), RIG_MEM (1536; arm64 2048), RIG_DOM0_MEM (1024M),
# RIG_CPU (RIG_BASE_CPU of testing/rig/release/arch-*.env; RIG_HAP_CPU for PVH/HVM domains), RIG_XEN_ARGS,
# RIG_DOM0_ARGS, RIG_RESULTS_MB (64), RIG_QEMU_ARGS (extra, e.g. -machine q35),
# RIG_DOM0_MODE (pv; pvh adds -machine q35 -device amd-iommu, -cpu
# RIG_HAP_CPU unless RIG_CPU is set, Xen dom0=pvh iommu=1, and puts the
# results disk on q35's AHCI controller instead of virtio), RIG_VGA (QEMU's
# -vga card, e.g. cirrus; default QEMU's), RIG_SCREENDUMP=1 (a QMP socket, and
# testing/rig/screendump.py dumps the display to $RIG_OUT/NAME.screens/TAG.ppm whenever
# the console shows "@@RIG-SCREENDUMP TAG").
set -euo pipefail
. "$(dirname "$0")/common.sh"
INITRD=$1 RESULTS=$2 NAME=${3:-dom0}
. "$RIG_CACHE_DIR/current.env"

TIMEOUT=${RIG_BOOT_TIMEOUT:-$((300 * RIG_TIME_SCALE))}
LOG=$RIG_OUT/$NAME.console.log
IMG=$RIG_OUT/$NAME.results.img
mkdir -p "$RIG_OUT"
rm -f "$IMG" && truncate -s "${RIG_RESULTS_MB:-64}M" "$IMG"  # fresh, all zeros
rm -rf "$RESULTS"

CPU=${RIG_CPU:-$RIG_BASE_CPU}
DISK=(-drive "file=$IMG,format=raw,if=virtio")
MODE_XEN_ARGS="" MODE_DOM0_ARGS=""
if [ "$RIG_DOM0_MODE" = pvh ]; then
    [ "$RIG_ARCH" = amd64 ] || die "RIG_DOM0_MODE=pvh is x86 only (an $RIG_ARCH dom0 is auto-translated anyway)"
    CPU=${RIG_CPU:-$RIG_HAP_CPU}
    DISK=(-machine q35 -device amd-iommu
          -drive "file=$IMG,format=raw,if=none,id=results" -device ide-hd,drive=results,bus=ide.0)
    MODE_XEN_ARGS="dom0=pvh iommu=1"
    # An oops in a PVH dom0 left init stuck until the boot timeout: panic
    # instead, so Xen reboots and QEMU (-no-reboot) ends at once.
    MODE_DOM0_ARGS="oops=panic"
fi
DOM0_MEM="dom0_mem=${RIG_DOM0_MEM:-1024M},max:${RIG_DOM0_MEM:-1024M}"
DOM0_ARGS="console=hvc0 quiet $MODE_DOM0_ARGS ${RIG_DOM0_ARGS:-}"
EXTRA=()
# (arm64's virt machine takes no -vga: the card is a PCI device,
# RIG_VGA_DEVICE or <RIG_VGA>-vga, which screendumps must name: QEMU's first
# console there is not the card)
[ -z "${RIG_VGA:-}${RIG_VGA_DEVICE:-}" ] || case $RIG_ARCH in
    amd64) EXTRA+=(-vga "$RIG_VGA") ;;
    *) EXTRA+=(-device "${RIG_VGA_DEVICE:-$RIG_VGA-vga},id=screen"); export RIG_SCREEN_DEVICE=screen ;;
esac
WATCHER=
if [ "${RIG_SCREENDUMP:-0}" = 1 ]; then
    SOCK=$RIG_OUT/$NAME.qmp SHOTS=$RIG_OUT/$NAME.screens
    rm -rf "$SHOTS" "$SOCK" && mkdir -p "$SHOTS"
    : > "$LOG"
    EXTRA+=(-qmp "unix:$SOCK,server=on,wait=off")
    python3 "$RIG_DIR/screendump.py" "$LOG" "$SOCK" "$SHOTS" &
    WATCHER=$!
fi
# The machine per architecture. x86: Xen is a multiboot kernel, dom0's kernel
# (with its command line) and initramfs are multiboot modules. arm64: the virt
# machine with its EL2 (virtualization=on) and GICv3; Xen is a plain Image
# and QEMU's guest-loader puts dom0's kernel and initramfs in memory and
# names them in the device tree (addresses below 0x40000000 + RAM, clear of
# Xen); the results disk is virtio-mmio, which needs no PCI in dom0.
case $RIG_ARCH in
    amd64)
        XEN_ARGS="$MODE_XEN_ARGS console=com1 $DOM0_MEM ${RIG_XEN_ARGS:-}"
        MACHINE=(qemu-system-x86_64 -accel tcg -cpu "$CPU" -m "${RIG_MEM:-1536}"
                 -kernel "$XEN_ELF" -append "$XEN_ARGS" -initrd "$VMLINUZ $DOM0_ARGS,$INITRD") ;;
    arm64)
        XEN_ARGS="console=dtuart dom0_max_vcpus=1 $DOM0_MEM ${RIG_XEN_ARGS:-}"
        DISK=(-drive "file=$IMG,format=raw,if=none,id=results" -device virtio-blk-device,drive=results)
        MACHINE=(qemu-system-aarch64 -accel tcg -machine virt,virtualization=on,gic-version=3
                 -cpu "$CPU" -m "${RIG_MEM:-2048}" -kernel "$XEN_ELF" -append "$XEN_ARGS"
                 -device "guest-loader,addr=0x49000000,kernel=$VMLINUZ,bootargs=$DOM0_ARGS rdinit=/init"
                 -device "guest-loader,addr=0x50000000,initrd=$INITRD") ;;
    *) die "no machine for RIG_ARCH=$RIG_ARCH" ;;
esac
log "booting $NAME ($RIG_ARCH$([ "$RIG_ARCH" != amd64 ] || echo " $RIG_DOM0_MODE") dom0, timeout ${TIMEOUT}s, console: $LOG)"
start=$(date +%s)
set +e
# shellcheck disable=SC2086  # RIG_QEMU_ARGS is a word list
timeout -k 10 "$TIMEOUT" "${MACHINE[@]}" -smp 1 -nographic -no-reboot \
    "${DISK[@]}" -nic none "${EXTRA[@]}" ${RIG_QEMU_ARGS:-} \
    < /dev/null > "$LOG" 2>&1
qrc=$?
set -e
if [ -n "$WATCHER" ]; then
    sleep 0.5  # a marker in the last lines of the console
    kill "$WATCHER" 2>/dev/null; wait "$WATCHER" 2>/dev/null || true
fi
log "$NAME: QEMU ended after $(( $(date +%s) - start ))s (status $qrc)"

STATUS=$RIG_OUT/$NAME.boot-status  # "ok" or the failure reason, for run.sh
echo "unknown" > "$STATUS"
fail() {
    echo "$*" > "$STATUS"
    echo "rig: BOOT FAILED ($NAME): $*" >&2
    echo "---- last 40 console lines ($LOG) ----" >&2
    tr -d '\r' < "$LOG" | tail -n 40 >&2
    echo "----" >&2
    exit 1
}
# Extract whatever dom0 wrote, even on failure: partial results help.
mkdir -p "$RESULTS"
tar -xf "$IMG" -C "$RESULTS" --strip-components=1 2>/dev/null || true
[ "$qrc" = 124 ] && fail "timed out after ${TIMEOUT}s (hang?)"
[ "$qrc" = 0 ] || fail "QEMU exited with status $qrc"
grep -q '^@@RIG-ERROR' <(tr -d '\r' < "$LOG") && fail "$(tr -d '\r' < "$LOG" | grep -m1 '@@RIG-ERROR')"
grep -q '@@RIG-DONE' "$LOG" || fail "no @@RIG-DONE on the console (dom0 crashed or stopped early)"
[ -f "$RESULTS/DONE" ] || fail "results disk holds no DONE marker"
echo ok > "$STATUS"
log "$NAME: boot ok"
