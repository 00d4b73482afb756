#!/bin/bash
# Zero-copy display in a PVH dom0 (rig RIG_DOM0_MODE=pvh, which loads the
# gntdev built to export in auto-translated domains): suite-pvh.txt through
# run.sh (screendumps of QEMU's display checked pixel by pixel), then the
# backend's log: be-alloc=1 buffers on the card, zero-copy; be-alloc=0
# buffers exported as dma-bufs (no refusal from the kernel here), offered to
# the card, which refuses them (cirrus: 32-bit DMA mask), so mapped and copied.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/testing/rig/common.sh"
OUT=${DT_OUT:-$RIG_BUILD/display-zero-copy}
rc=0
RIG_DOM0_MODE=pvh DT_OUT=$OUT "$TOP/testing/display-test/run.sh" pvh || rc=1
log=$OUT/results/dom0/display/vdispl.log
zc=$(grep -c "zero-copy: the card's dumb buffer" "$log" || true)
card=$(grep -c "map-and-copy (the card refused" "$log" || true)
exported=$(grep -c "map-and-copy (the card refused the guest's dma-buf" "$log" || true)
refused=$(grep -c 'export refused' "$log" || true)
echo "zero-copy: $zc buffers on the card (be-alloc=1); be-alloc=0: $exported exported and refused by the card, $card copied, $refused kernel refusals (log: $log)"
if [ "$zc" -lt 2 ] || [ "$exported" -lt 1 ] || [ "$card" -lt 2 ] || [ "$refused" != 0 ]; then
    echo "FAIL zero-copy: be-alloc=1 buffers must be on the card and be-alloc=0 buffers exported"
    rc=1
fi
[ "$rc" = 0 ] && echo "PASS zero-copy" || echo "FAIL zero-copy"
exit "$rc"
