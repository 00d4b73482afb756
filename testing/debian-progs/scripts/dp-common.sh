# Sourced by the debian-progs driver scripts in dom0 (busybox sh).
# The rig runs each script with LD_LIBRARY_PATH=/opt/<lib>/lib and RIG_LIB=<lib>;
# everything started from here inherits it, so Debian's programs (and the
# daemons) load the libxengnttab under test. Debian's other Xen libraries come
# from /tests/bin/lib (appended, so /opt/<lib>/lib is searched first).
# Output rules: stdout holds deterministic `key: value` lines; `#` lines are
# comments (ignored by the rig); exit status 0 only if every check held.
DP=/tests/bin
export PATH=$DP:/bin
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$DP/lib"
RIG_LIB=${RIG_LIB:-unknown}
W=/tmp/dp-$RIG_LIB-$(basename "$0" .sh)   # work dir of this run
PIDFILE=/tmp/dp-started.pids               # everything the scripts started
FAILS=0
rm -rf "$W" && mkdir -p "$W"

obs() { echo "$1: $2"; }
# check KEY VALUE EXPECTED: print the observation, count a mismatch.
check() {
    echo "$1: $2"
    if [ "$2" != "$3" ]; then
        echo "# FAIL: $1: expected '$3'"
        FAILS=$((FAILS + 1))
    fi
}
fail() { echo "# FAIL: $*"; FAILS=$((FAILS + 1)); }
# show FILE: a file's lines as comments (diagnostics for a failed check).
show() { [ -s "$1" ] && sed "s|^|#   $(basename "$1"): |" "$1" | head -n 40; true; }
finish() { [ "$FAILS" = 0 ] && exit 0; echo "# $FAILS check(s) failed"; exit 1; }

# --- processes: started ones are killed by id at exit (also on a timeout) ---
started() { echo "$1" >> "$PIDFILE"; }
alive() { kill -0 "$1" 2>/dev/null; }
stop_pid() {  # TERM, then KILL after 3 s
    alive "$1" || return 0
    kill "$1" 2>/dev/null
    for _ in $(seq 30); do alive "$1" || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null; sleep 0.2
}
cleanup() {
    [ -f "$PIDFILE" ] || return 0
    for p in $(tac "$PIDFILE"); do stop_pid "$p"; done
    rm -f "$PIDFILE"
}
# A previous run killed by the rig's timeout may have left daemons behind.
cleanup
trap 'cleanup' EXIT
trap 'cleanup; exit 143' TERM INT

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
    n=$(($1 * 10)); shift
    while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
    return 1
}

# check_lib KEY PID: the process mapped the library under test (and no other
# libxengnttab). Printed without the path, which differs between the two runs.
check_lib() {
    l=$(grep -o '/[^ ]*libxengnttab[^ ]*' "/proc/$2/maps" 2>/dev/null | sort -u)
    if [ "$l" = "/opt/$RIG_LIB/lib/libxengnttab.so.1" ]; then
        obs "$1" "the library under test"
    else
        obs "$1" "other: $(echo $l)"; fail "pid $2 mapped '$l'"
    fi
}

# --- C xenstored on the library under test, then xen-init-dom0 ---
XS_SOCK=/var/run/xenstored/socket
xs_start() {
    mkdir -p /var/run/xenstored /var/lib/xenstored /var/lib/xen /var/run/xen \
             /var/log/xen /etc/xen
    rm -f "$XS_SOCK" /var/run/xenstored/socket_ro
    xenstored -N > "$W/xenstored.log" 2>&1 &
    XS_PID=$!
    started "$XS_PID"
    if wait_for 10 test -S "$XS_SOCK" && alive "$XS_PID"; then
        obs xenstored.socket up
    else
        obs xenstored.socket missing
        fail "xenstored did not come up"; show "$W/xenstored.log"
        return 1
    fi
    # The daemon really loaded the library under test and holds a gntdev fd.
    check_lib xenstored.libxengnttab "$XS_PID"
    g=$(ls -l "/proc/$XS_PID/fd" 2>/dev/null | grep -c '/dev/xen/gntdev$')
    check xenstored.gntdev-fds "$g" 1
    xen-init-dom0 > "$W/xen-init-dom0.log" 2>&1
    rc=$?
    check xen-init-dom0.rc "$rc" 0
    [ "$rc" = 0 ] || show "$W/xen-init-dom0.log"
    check dom0.domid "$(xenstore-read /local/domain/0/domid 2>&1)" 0
    check dom0.name "$(xenstore-read /local/domain/0/name 2>&1)" Domain-0
}
xs_stop() {
    if alive "$XS_PID"; then obs xenstored.alive-at-end yes
    else obs xenstored.alive-at-end no; fail "xenstored died"; show "$W/xenstored.log"; fi
    stop_pid "$XS_PID"
}
