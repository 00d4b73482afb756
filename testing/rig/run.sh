#!/bin/bash
# The whole rig in one command: fetch, build the dom0 initramfs, boot, report.
# Exit status 0 only if the boot succeeded and every test passed.
#   RIG_SELFTEST=1       run the rig's own selftest (Debian's library stands in
#                        for ours unless OURS_LIB is set); =broken: a suite that
#                        must FAIL in places; =crash: a dom0 that crashes.
# Other settings: see mkinitrd.sh and boot.sh (OURS_LIB, SUITE, RIG_BOOT_TIMEOUT...).
set -euo pipefail
. "$(dirname "$0")/common.sh"
t0=$(date +%s)
"$RIG_DIR/fetch.sh"
t1=$(date +%s)

DIFFS=${DIFFERENCES:-$TOP/testing/c-tests/differences.txt}
if [ -n "${RIG_SELFTEST:-}" ]; then
    ST=$RIG_DIR/selftest
    case $RIG_SELFTEST in
        1) export SUITE=$ST/suite.txt ;;
        broken|crash) export SUITE=$ST/suite-$RIG_SELFTEST.txt ;;
        *) die "RIG_SELFTEST must be 1, broken or crash" ;;
    esac
    export TEST_BIN=$RIG_OUT/selftest/bin RUST_LIST=/nonexistent
    export OURS_LIB=${OURS_LIB:-$(. "$RIG_CACHE_DIR/current.env"; echo "$UPSTREAM_GNTTAB_PKG/usr/lib/$RIG_MULTIARCH/libxengnttab.so.1")}
    DIFFS=$ST/differences.txt
    "$ST/build.sh" "$TEST_BIN"
fi

"$RIG_DIR/mkinitrd.sh" dom0 "$RIG_OUT/dom0.initrd.gz"
t2=$(date +%s)
RESULTS=$RIG_OUT/results
boot_args=()
"$RIG_DIR/boot.sh" "$RIG_OUT/dom0.initrd.gz" "$RESULTS" dom0 ||
    boot_args=(--boot-failed "dom0=$(cat "$RIG_OUT/dom0.boot-status")")
t3=$(date +%s)
log "times: fetch $((t1 - t0))s, initramfs $((t2 - t1))s, boot+tests $((t3 - t2))s"
echo "results: $RESULTS/dom0/, console: $RIG_OUT/dom0.console.log"
exec python3 "$RIG_DIR/report.py" "$RESULTS" --suite "dom0=$RIG_OUT/dom0.suite.txt" \
    --differences "$DIFFS" "${boot_args[@]}"
