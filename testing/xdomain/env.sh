# Sourced by testing/xdomain/run.sh and testing/display-test/run.sh, after testing/rig/common.sh and
# with XDIR set: fetches (or finds in the cache) the rig's packages and the
# two-domain ones (toolstack, QEMU), loads their paths, and finds our library
# (OURS_LIB, default build[/<rust target>]/lib/libxengnttab.so.1.2).
"$RIG_DIR/fetch.sh"
"$XDIR/fetch.sh"
. "$RIG_CACHE_DIR/current.env"
. "$RIG_CACHE_DIR/xdomain/current.env"
OURS_LIB=${OURS_LIB:-$RIG_LIB_DIR/libxengnttab.so.1.2}
[ -f "$OURS_LIB" ] || die "our library not found: $OURS_LIB (make lib)"
