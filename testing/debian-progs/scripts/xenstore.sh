#!/bin/sh
# C xenstored (Debian's) started on the library under test, xen-init-dom0, and
# the xenstore client tools talking to it over its UNIX socket.
# Proves: xenstored's start-up gnttab handle opens (it exits otherwise) and the
# daemon serves reads, writes, listings, watches and removals.
. /tests/bin/dp-common.sh

# The premise: xenstored exits when it cannot open its gnttab handle. In a
# private mount namespace, /dev/xen is rebuilt without gntdev (every other
# node kept); xenstored must then exit at once, not serve.
mk=""
for d in /dev/xen/*; do
    [ -c "$d" ] && [ "$d" != /dev/xen/gntdev ] || continue
    mk="$mk mknod $d c $((0x$(stat -c %t "$d"))) $((0x$(stat -c %T "$d"))) &&"
done
rm -f "$XS_SOCK"
mkdir -p /var/run/xenstored
timeout 20 unshare -m sh -c "mount -t tmpfs none /dev/xen && $mk exec xenstored -N" \
    > "$W/nognttab.log" 2>&1
rc=$?
obs no-gntdev.xenstored.rc "$rc"
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 143 ] ||
    { fail "xenstored without gntdev did not exit with an error"; }
grep -q 'Failed to open connection to gnttab' "$W/nognttab.log"
r=$?
check no-gntdev.xenstored.says-gnttab $r 0
[ "$r" = 0 ] || show "$W/nognttab.log"

xs_start || finish

# write + read back, exists, list, ls
xenstore-write /dp/a hello /dp/b "two words" /dp/dir/c 3
check write.rc $? 0
check read.a "$(xenstore-read /dp/a 2>&1)" hello
check read.b "$(xenstore-read /dp/b 2>&1)" "two words"
xenstore-exists /dp/dir/c; check exists.c.rc $? 0
xenstore-exists /dp/nope 2>/dev/null; check exists.nope.rc $? 1
check list "$(xenstore-list /dp 2>&1 | tr '\n' ' ')" "a b dir "
xenstore-ls /dp > "$W/ls.txt" 2>&1; check ls.rc $? 0
i=0; while read -r line; do i=$((i + 1)); obs "ls.$i" "$line"; done < "$W/ls.txt"
check ls.lines "$i" 4

# a value near the protocol's 4096-byte payload limit, read back intact
big=$(head -c 3000 /dev/zero | tr '\0' x)
xenstore-write /dp/big "$big"; check big.write.rc $? 0
check big.read.len "$(xenstore-read /dp/big | tr -d '\n' | wc -c)" 3000

# 200 keys in one transaction (xenstore-write writes all pairs in one)
args=""; for n in $(seq 200); do args="$args /dp/many/k$n v$n"; done
# shellcheck disable=SC2086
xenstore-write $args; check many.write.rc $? 0
check many.count "$(xenstore-list /dp/many | wc -l)" 200
check many.k137 "$(xenstore-read /dp/many/k137)" v137

# permissions: chmod, then read them back
xenstore-chmod /dp/a n0 r1; check chmod.rc $? 0
check chmod.perms "$(xenstore-ls -p /dp 2>&1 | grep '^a ' | sed 's/.*(//; s/)$//')" "n0,r1"

# a watch fires on registration and on a write
xenstore-watch -n 2 /dp/w > "$W/watch.out" 2>&1 &
wp=$!; started "$wp"
wait_for 10 test -s "$W/watch.out"
xenstore-write /dp/w fired
if wait_for 10 sh -c "! kill -0 $wp 2>/dev/null"; then obs watch.exited yes
else obs watch.exited no; fail "xenstore-watch got no second event"; fi
check watch.events "$(tr '\n' ' ' < "$W/watch.out")" "/dp/w /dp/w "

# removal
xenstore-rm /dp/many; check rm.rc $? 0
xenstore-exists /dp/many/k1 2>/dev/null; check rm.gone.rc $? 1
check list.after-rm "$(xenstore-list /dp 2>&1 | tr '\n' ' ')" "a b dir big w "

xs_stop
finish
