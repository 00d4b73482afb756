#!/bin/bash
# Fetch Debian's Xen toolstack and QEMU for the two-domain rig (never installed:
# apt-get download + dpkg-deb -x into $RIG_CACHE/xdomain/pkgs), after rig/fetch.sh.
# Their shared libraries come from the host (installed with apt here, like
# rig/fetch.sh does for its tools), so mkinitrd.sh's ldd closure finds them.
# Writes $RIG_CACHE/xdomain/current.env. Fails naming any package it cannot get.
set -euo pipefail
. "$(dirname "$0")/../rig/common.sh"
XC=$RIG_CACHE/xdomain
mkdir -p "$XC"/{debs,pkgs,stamps}

# Programs we run (unpacked, not installed).
PROGS="xen-utils-4.17 xenstore-utils qemu-system-xen qemu-system-data"
# Libraries those programs load (installed on the host for the ldd closure).
HOSTLIBS="libxenmisc4.17 libxenstore4 libxencall1 libxenforeignmemory1 libxendevicemodel1
 libxenhypfs1 libyajl2 libncurses6 libtinfo6 libext2fs2 libuuid1 liblzma5 libzstd1 zlib1g
 libfdt1 libglib2.0-0 libjpeg62-turbo libpixman-1-0 libspice-server1 libusb-1.0-0"

missing=()
for p in $HOSTLIBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing host libraries: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        die "cannot install host libraries: ${missing[*]}"
fi

declare -A VER=()
while read -r n v; do VER[$n]=$v; done < <(
    apt-cache policy $PROGS | awk '/^[^ ]/ {n = $1; sub(/:$/, "", n)} /Candidate:/ {print n, $2}')
for p in $PROGS; do
    v=${VER[$p]:-}
    [ -n "$v" ] && [ "$v" != "(none)" ] || die "package $p not known to apt"
    stamp=$XC/stamps/pkg-${p}_${v//[:\/]/_}
    [ -e "$stamp" ] && continue
    log "fetching $p=$v"
    rm -f "$XC/debs/${p}_"*.deb
    (cd "$XC/debs" && apt-get download -q -o APT::Sandbox::User=root "$p=$v" >&2) ||
        die "cannot download package $p=$v"
    deb=$(ls "$XC/debs/${p}_"*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "package $p downloaded no .deb"
    rm -rf "$XC/pkgs/$p"
    dpkg-deb -x "$deb" "$XC/pkgs/$p" || die "cannot extract $deb"
    touch "$stamp"
done
P=$XC/pkgs
for f in xen-utils-4.17/usr/lib/xen-4.17/bin/xl xen-utils-4.17/usr/lib/xen-4.17/bin/xenstored \
         xen-utils-4.17/usr/lib/xen-4.17/bin/xenconsoled xen-utils-4.17/usr/lib/xen-4.17/bin/xen-init-dom0 \
         xen-utils-4.17/usr/lib/xen-4.17/bin/vchan-socket-proxy xenstore-utils/usr/bin/xenstore-read \
         qemu-system-xen/usr/libexec/xen-qemu-system-i386 qemu-system-data/usr/share/qemu/keymaps; do
    [ -e "$P/$f" ] || die "expected $f in the fetched packages (layout changed?)"
done
echo "XD_PKGS=$P" > "$XC/current.env"
log "xdomain fetch done"
