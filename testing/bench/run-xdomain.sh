#!/bin/sh
# Runs in the two-domain rig's dom0 (make bench-xdomain): the guest xd-GUEST
# shares 256 pages with dom0 (xd-hold), and dom0 maps them the way a backend
# maps a frontend's grants: map1 and map256 in rounds (rounds.sh), then steps
# on one of the guest's grants. Output as run-in-dom0.sh's, for report.py.
# Usage: run-xdomain.sh pv|pvh
. /tests/bin/xd-lib.sh
cd /tests/bin || exit 1
. ./rounds.sh
NAME=xd-$1
ROUNDS=${BENCH_ROUNDS:-24}  # even: report.py compares pairs of rounds
WORKLOADS="map1:800 map256:12"
ID=$(domid_of "$NAME") || die_now "no guest $NAME"
DIR=/local/domain/$ID/data/bench
seq=$(gcmd "$NAME" bg xd-hold 256 "$DIR") || die_now "guest agent"
refs=$(wait_key "$DIR/refs" 60) || die_now "the guest published no refs"

run() { # lib workload ops
    # shellcheck disable=SC2086  # refs is a word list
    LD_LIBRARY_PATH=/opt/$1/lib ./bench "$2" "$3" "$ID" $refs
}
rounds "$ROUNDS" "$WORKLOADS"
./steps 1000 "$ID" "${refs%% *}" || { echo "FAILED steps"; exit 1; }
xenstore-write "$DIR/done" 1
gresult "$NAME" "$seq" 60 > /dev/null || die_now "the guest's xd-hold failed"
echo "bench done"
