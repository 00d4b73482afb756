#!/bin/bash
# debian-file.sh PACKAGE PATH: print the path of PATH inside Debian's PACKAGE
# for RIG_ARCH / RIG_DEBIAN, downloading and unpacking the package (never
# installing it) into that rig's cache first if needed (the stamps
# testing/rig/fetch.sh uses). For host tests and benchmarks that need another
# architecture's file: Debian's arm64 libxengnttab.so.1.2, its strace.
# PATH may name @MULTIARCH@, the architecture's library directory name.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_DIR/debs.sh"
[ $# = 2 ] || die "usage: debian-file.sh PACKAGE PATH"
apt_retrying fetch_pkgs "$RIG_CACHE_DIR" "$1" >&2
f=$RIG_CACHE_DIR/pkgs/$1/${2//@MULTIARCH@/$RIG_MULTIARCH}
[ -e "$f" ] || die "no $2 in Debian's $1 ($RIG_DEB_ARCH)"
echo "$f"
