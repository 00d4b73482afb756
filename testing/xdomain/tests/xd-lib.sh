# Helpers for the dom0 side of the cross-domain tests (sourced by /tests/bin/xd-*).
# Output contract as in c-tests: "key: value" lines on stdout, '#' comments;
# deterministic (no domids, refs, times). Guests are named xd-pv / xd-pvh.
. /etc/rig.conf
export PATH=/bin:/usr/bin:/usr/sbin:/usr/lib/xen-$RIG_XEN/bin:/tests/bin
XD=/tmp/xd
# xd_type [pv|pvh]: the guest type to create for a test asking for one
# (default pv). arm64 has one kind, auto-translated, which xl calls "pvh":
# the suites' pv/pvh choices are x86's.
xd_type() { if [ "$(uname -m)" = aarch64 ]; then echo pvh; else echo "${1:-pv}"; fi; }
CONSOLE_DIR=/var/log/xen/console
mkdir -p "$XD"
failed=0
obs() { echo "$1: $2"; }
bad() { echo "# FAIL: $*"; failed=1; }
finish() { [ "$failed" = 0 ] || { echo "# failed" >&2; exit 1; }; exit 0; }
die_now() { bad "$*"; echo "xd: $*" >&2; finish; }

# Console of guest NAME on stderr (shown by the report when the test fails).
show_console() {
    echo "---- console of $1 ($CONSOLE_DIR/guest-$1.log) ----" >&2
    tr -d '\r' < "$CONSOLE_DIR/guest-$1.log" 2>/dev/null | tail -n 60 >&2
    echo "----" >&2
}
domid_of() { xl domid "$1" 2>/dev/null; }

. /tests/bin/xd-wait.sh

# Guest agent (see guest-init). gcmd NAME VERB ARGS...: prints the seq.
gcmd() {
    local name=$1 id seqf seq; shift
    id=$(domid_of "$name") || return 1
    seqf=$XD/$name.seq
    seq=$(( $(cat "$seqf" 2>/dev/null || echo 0) + 1 ))
    echo "$seq" > "$seqf"
    xenstore-write "/local/domain/$id/data/cmd/$seq" "$*" || return 1
    echo "$seq"
}
# gresult NAME SEQ SECONDS: waits for the job; prints its stdout with keys
# prefixed "guest."; returns its exit status (124 when it did not finish).
gresult() {
    local id rc
    id=$(domid_of "$1") || return 1
    rc=$(wait_key "/local/domain/$id/data/res/$2/rc" "$3") || { echo "# guest job $2 did not finish in $3 s"; return 124; }
    # (xenstore values lose their final newline: add it back)
    { xenstore-read -R "/local/domain/$id/data/res/$2/out" 2>/dev/null; echo; } | sed -e '/^$/d' -e '/^#/!s/^/guest./'
    if [ "$rc" != 0 ]; then
        echo "# guest job $2 exit status $rc; its stderr:"
        { xenstore-read -R "/local/domain/$id/data/res/$2/err" 2>/dev/null; echo; } | sed 's/^/#   /'
    fi
    return "$rc"
}
# grun NAME SECONDS PROG ARGS...: run in the guest and wait.
grun() {
    local name=$1 t=$2 seq; shift 2
    seq=$(gcmd "$name" run "$@") || return 1
    gresult "$name" "$seq" "$t"
}

# gntdev mappings (lines of /proc/PID/maps naming /dev/xen/gntdev) of a daemon.
gntdev_maps() { grep /dev/xen/gntdev "/proc/$1/maps" 2>/dev/null | grep -c . ; }
pid_of() { cat "$XD/$1.pid" 2>/dev/null; }
