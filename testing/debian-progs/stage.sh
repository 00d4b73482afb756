#!/bin/bash
# Stage the dom0 payload for the rig (TEST_BIN): stage.sh OUTDIR
#   OUTDIR/            Debian's programs (unmodified) and the driver scripts
#   OUTDIR/lib/        Debian's Xen libraries from the fetched packages, with
#                      their sonames; never libxengnttab (the rig puts upstream's
#                      and ours under /opt/*/lib only). The driver scripts append
#                      /tests/bin/lib to the LD_LIBRARY_PATH the rig gives them.
# Run testing/debian-progs/fetch.sh first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
. "$HERE/../rig/common.sh"
P=$RIG_CACHE_DIR/debian-progs/pkgs
[ -f "$RIG_CACHE_DIR/debian-progs/current.env" ] || die "run testing/debian-progs/fetch.sh first"

rm -rf "$OUT"
mkdir -p "$OUT/lib"
XB=$P/xen-utils-$RIG_XEN/usr/lib/xen-$RIG_XEN/bin
for b in xenstored xen-init-dom0 vchan-socket-proxy depriv-fd-checker test-resource; do
    [ -x "$XB/$b" ] || die "$b missing from xen-utils-$RIG_XEN ($XB)"
    cp "$XB/$b" "$OUT/"
done
for b in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-exists \
         xenstore-rm xenstore-watch xenstore-chmod; do
    [ -x "$P/xenstore-utils/usr/bin/$b" ] || die "$b missing from xenstore-utils"
    cp "$P/xenstore-utils/usr/bin/$b" "$OUT/"
done
for d in "$P"/lib*; do
    # Each package ships the real file and a soname symlink: copy the file
    # under its soname only (the rig's cp -rL would duplicate a symlink).
    for f in "$d"/usr/lib/$RIG_MULTIARCH/lib*.so.*; do
        [ -L "$f" ] || continue
        case $(basename "$f") in libxengnttab*) die "libxengnttab in $d" ;; esac
        cp -L "$f" "$OUT/lib/"
    done
done
[ -e "$OUT/lib/libxenctrl.so.$RIG_XEN" ] || die "libxenctrl.so.$RIG_XEN not staged"
install -m 755 "$HERE"/scripts/*.sh "$OUT/"
log "debian-progs: staged $(ls "$OUT" | wc -l) files, $(ls "$OUT/lib" | wc -l) libraries in $OUT"
