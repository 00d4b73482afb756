#!/bin/bash
# Print the path of Debian's libxengnttab.so.1.2 for RIG_ARCH / RIG_DEBIAN,
# downloading and unpacking libxengnttab1 (never installing it) into that
# rig's cache first if needed (the same stamp rig/fetch.sh uses). For the
# host tests that compare another architecture's library with Debian's.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_DIR/debs.sh"
apt_retrying fetch_pkgs "$RIG_CACHE_DIR" libxengnttab1 >&2
lib=$RIG_CACHE_DIR/pkgs/libxengnttab1/usr/lib/$RIG_MULTIARCH/libxengnttab.so.1.2
[ -f "$lib" ] || die "no $lib in Debian's libxengnttab1 ($RIG_DEB_ARCH)"
echo "$lib"
