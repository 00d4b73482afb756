#!/bin/bash
# Zero-copy display: the demo scenario in a PVH dom0 (rig RIG_DOM0_MODE=pvh,
# which loads the gntdev built to export in auto-translated domains), where
# vdispl-backend --zero-copy auto exports each frontend buffer as a dma-buf at
# DBUF_CREATE and releases it before answering DBUF_DESTROY. Passes only if the
# frames match pixel by pixel (run.sh) and every buffer was exported and
# released, with no refusal.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/rig/common.sh"
OUT=${DT_OUT:-$RIG_BUILD/display-zero-copy}
RIG_DOM0_MODE=pvh DT_OUT=$OUT "$TOP/display-test/run.sh" demo
log=$OUT/vdispl.log
exported=$(grep -c 'dma-buf exported' "$log" || true)
released=$(grep -c 'dma-buf released' "$log" || true)
refused=$(grep -c 'export refused' "$log" || true)
echo "zero-copy: $exported buffers exported as dma-bufs, $released released, $refused refusals (log: $log)"
if [ "$exported" -lt 2 ] || [ "$released" != "$exported" ] || [ "$refused" != 0 ]; then
    echo "FAIL zero-copy: every buffer must be exported and released"
    exit 1
fi
echo "PASS zero-copy"
