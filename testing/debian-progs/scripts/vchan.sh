#!/bin/sh
# Debian's vchan-socket-proxy, server and client in dom0 (domid 0 to domid 0),
# in stdin/stdout mode, on the library under test: the server shares the ring
# with gntshr, the client maps it with xengnttab_map_grant_ref_notify. xenstored
# (also on the library under test) carries the ring refs.
# Arguments: cases S:C (bytes server->client : bytes client->server), pushed in
# both directions at once; both received streams are compared byte for byte.
# Each proxy reads its stdin from a FIFO held open by a feeder until both sides
# have received everything: on EOF the proxy closes the vchan and the peer
# drops whatever is still in the ring.
. /tests/bin/dp-common.sh
xs_start || finish

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
complete() { [ "$(size "$D/c.out")" -ge "$S" ] && [ "$(size "$D/s.out")" -ge "$C" ]; }
# feed IN: write IN to stdout (a FIFO), keep it open until both outputs are
# complete and the script has looked at the proxies (or 150 s pass), then close.
feed() {
    cat "$1"
    n=1500
    while [ "$n" -gt 0 ]; do
        complete && [ -e "$D/release" ] && break
        sleep 0.1; n=$((n - 1))
    done
}
# maps_of PID PATTERN: how many mappings of PATTERN the process holds.
maps_of() { grep -c "$2" "/proc/$1/maps" 2>/dev/null; }

k=0
for case in "$@"; do
    k=$((k + 1))
    S=${case%:*} C=${case#*:}
    D=$W/case$k; mkdir -p "$D"
    t="case$k"
    obs "$t.bytes" "server->client $S, client->server $C"
    head -c "$S" /dev/urandom > "$D/s.in"
    head -c "$C" /dev/urandom > "$D/c.in"
    mkfifo "$D/s.fifo" "$D/c.fifo"
    node=/local/domain/0/data/dp-vchan-$k
    vchan-socket-proxy -m server -s "$node-state" 0 "$node" - \
        < "$D/s.fifo" > "$D/s.out" 2> "$D/s.err" &
    sp=$!; started "$sp"
    vchan-socket-proxy -m client 0 "$node" - < "$D/c.fifo" > "$D/c.out" 2> "$D/c.err" &
    cp=$!; started "$cp"
    feed "$D/s.in" > "$D/s.fifo" &
    fs=$!; started "$fs"
    feed "$D/c.in" > "$D/c.fifo" &
    fc=$!; started "$fc"
    # While both proxies are connected: each loaded the library under test, the
    # server shares the ring through gntalloc, the client maps it through gntdev.
    wait_for 150 complete || fail "$t: data incomplete after 150 s"
    for who in server:$sp client:$cp; do
        p=${who#*:} who=${who%:*}
        check_lib "$t.$who.libxengnttab" "$p"
        obs "$t.$who.maps" "gntalloc $(maps_of "$p" /dev/xen/gntalloc), gntdev $(maps_of "$p" /dev/xen/gntdev)"
    done
    touch "$D/release"
    # The proxies exit once the feeders close their stdin.
    wait_for 180 sh -c "! kill -0 $sp 2>/dev/null && ! kill -0 $cp 2>/dev/null" ||
        fail "$t: the proxies did not exit"
    wait "$sp"; check "$t.server.rc" $? 0
    wait "$cp"; check "$t.client.rc" $? 0
    check "$t.state" "$(xenstore-read "$node-state" 2>&1)" running
    check "$t.to-client.bytes" "$(size "$D/c.out")" "$S"
    check "$t.to-server.bytes" "$(size "$D/s.out")" "$C"
    cmp -s "$D/s.in" "$D/c.out" && r=identical || r=different
    check "$t.to-client" "$r" identical
    cmp -s "$D/c.in" "$D/s.out" && r=identical || r=different
    check "$t.to-server" "$r" identical
    for f in s.err c.err; do
        if [ -s "$D/$f" ]; then fail "$t: $f not empty"; show "$D/$f"; fi
    done
    stop_pid "$fs"; stop_pid "$fc"
    rm -f "$D"/*.in "$D"/*.out   # several MiB each, in dom0's RAM
done
xs_stop
finish
