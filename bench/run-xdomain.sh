#!/bin/sh
# Runs in the two-domain rig's dom0 (make bench-xdomain): the guest xd-GUEST
# shares 256 pages with dom0 (xd-hold), and dom0 maps them the way a backend
# maps a frontend's grants: map1 and map256, rounds as in run-in-dom0.sh
# (A B B A, upstream first in odd rounds), then steps against one of the
# guest's grants. Output in run-in-dom0.sh's format, for bench/report.py.
# Usage: run-xdomain.sh pv|pvh
. /tests/bin/xd-lib.sh
cd /tests/bin || exit 1
NAME=xd-$1
ROUNDS=${BENCH_ROUNDS:-24}  # even: report.py compares pairs of rounds
WORKLOADS="map1:800 map256:12"
ID=$(domid_of "$NAME") || die_now "no guest $NAME"
DIR=/local/domain/$ID/data/bench
seq=$(gcmd "$NAME" bg xd-hold 256 "$DIR") || die_now "guest agent"
refs=$(wait_key "$DIR/refs" 60) || die_now "the guest published no refs"

r=1
while [ "$r" -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then order="upstream ours ours upstream"; else order="ours upstream upstream ours"; fi
    for w in $WORKLOADS; do
        name=${w%%:*}; ops=${w##*:}
        for lib in $order; do
            # shellcheck disable=SC2086  # refs is a word list
            out=$(LD_LIBRARY_PATH=/opt/$lib/lib ./bench "$name" "$ops" "$ID" $refs) ||
                { echo "FAILED $lib $name"; exit 1; }
            echo "time $r $lib $out"
        done
    done
    r=$((r + 1))
done
./steps 1000 "$ID" "${refs%% *}" || { echo "FAILED steps"; exit 1; }
xenstore-write "$DIR/done" 1
gresult "$NAME" "$seq" 60 > /dev/null || die_now "the guest's xd-hold failed"
echo "bench done"
