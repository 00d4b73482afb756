# Sourced by run-in-dom0.sh and run-xdomain.sh (busybox sh): the benchmark's
# rounds. rounds ROUNDS "NAME:OPS ...": each round runs the two libraries as
# A B B A (A is upstream in odd rounds, ours in even ones), so that noise hits
# both alike and a steady drift cancels within the round; ROUNDS is even, as
# report.py compares pairs of rounds. The caller defines run LIB NAME OPS,
# which prints bench's output line. Prints "time ROUND LIB <bench line>" and
# "bytes LIB NAME N" lines for report.py; exits on a failed run.
rounds() {
    r=1
    while [ "$r" -le "$1" ]; do
        if [ $((r % 2)) -eq 1 ]; then order="upstream ours ours upstream"; else order="ours upstream upstream ours"; fi
        for w in $2; do
            name=${w%%:*}; ops=${w##*:}
            for lib in $order; do
                out=$(run "$lib" "$name" "$ops") || { echo "FAILED $lib $name"; exit 1; }
                echo "$out" | grep -v '^#' | sed "s/^/time $r $lib /"
                echo "$out" | grep '^# bytes' | sed "s/^# bytes copied per frame: /bytes $lib $name /"
            done
        done
        r=$((r + 1))
    done
}
