#!/usr/bin/env bash
# make bench-size: what the shipped library's bytes are, and what loading it
# costs, beside Debian's. Loads are timed in alternating rounds (upstream,
# ours, ours, upstream, ...) and the median per library is printed.
set -euo pipefail
ours=$1 upstream=$2 loadtime=$3
rounds=${SIZE_ROUNDS:-10}

sections() { # FILE: sizes in bytes of the sections that make up a library
    readelf -S -W "$1" | sed 's/^ *\[ *[0-9]*\] *//' | while read -r name _type _addr _off size _; do
        case $name in
        .text | .rodata | .eh_frame | .eh_frame_hdr | .gcc_except_table | .data.rel.ro | .data | .dynsym | .dynstr)
            printf '%s=%d ' "$name" "$((16#$size))" ;;
        esac
    done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for lib in "$upstream" "$ours"; do
    echo "$(basename "$(dirname "$lib")")/$(basename "$lib"): $(stat -c %s "$lib") bytes; $(sections "$lib")"
    echo "  NEEDED: $(objdump -p "$lib" | awk '/NEEDED/ { printf "%s ", $2 }')"
done
: > /tmp/size-bench.$$.up
: > /tmp/size-bench.$$.ours
for ((i = 0; i < rounds; i++)); do
    if ((i % 2)); then order="ours up"; else order="up ours"; fi
    for which in $order; do
        lib=$upstream
        [[ $which == ours ]] && lib=$ours
        "$loadtime" "$lib" >> /tmp/size-bench.$$.$which
    done
done
up=$(median < /tmp/size-bench.$$.up)
us=$(median < /tmp/size-bench.$$.ours)
rm -f /tmp/size-bench.$$.up /tmp/size-bench.$$.ours
echo "load (dlopen + dlsym + dlclose), median of $rounds rounds of 2000: upstream $up us, ours $us us, ratio $(awk -v a="$us" -v b="$up" 'BEGIN { printf "%.2f", a / b }')"
