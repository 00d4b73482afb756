#!/usr/bin/env bash
# Build the Debian packages from an already built build/lib (run by `make deb`):
#   libxengnttab1-rs      the runtime library, replacing Debian's libxengnttab1
#   libxengnttab-rs-dev   header, .so link and pkg-config file, diverting
#                         libxen-dev's copies of those three files
# for the Debian release RIG_DEBIAN (12 by default; rig/release/) and the
# architecture RIG_ARCH (amd64 by default; arm64: the cross-built library)
# into build[/<arch>][/<release>]/deb/ (DEB_OUT). See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. rig/common.sh
. rig/debs.sh

die() { echo "build-deb: error: $*" >&2; exit 1; }
for tool in dpkg dpkg-deb dpkg-shlibdeps dpkg-architecture objdump strip gzip md5sum; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg-dev binutils)"
done

LIB=$RIG_LIB_DIR/libxengnttab.so.1.2
[[ -f $LIB && -f include/xengnttab.h && -f pkgconfig/xengnttab.pc.in ]] \
  || die "$LIB or include/xengnttab.h missing: run 'make lib' first"

ARCH=$RIG_DEB_ARCH
MULTIARCH=$RIG_MULTIARCH
# Another architecture's binutils read and strip its library.
STRIP=${RIG_CROSS}strip OBJDUMP=${RIG_CROSS}objdump
# Version: the C ABI crate's (capi/Cargo.toml) and the release it is built
# for, e.g. 1.2.0+deb13; native package (no Debian revision).
VERSION=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' capi/Cargo.toml | head -1)
[[ -n $VERSION ]] || die "no version in capi/Cargo.toml"
VERSION=$VERSION+deb$RIG_DEBIAN
# The Debian version we stand in for (Provides: libxengnttab1 (= this)): the
# libxengnttab1 installed (on this host if it runs that release, or in the
# dpkg database INSTALLED_ADMINDIR), so that installing ours satisfies every Xen
# package exactly as installed and apt upgrades none of them; else apt's
# candidate of that release. Override with `make deb XEN_DEB_VERSION=...`.
if [[ -z ${XEN_DEB_VERSION:-} ]]; then
  if [[ $RIG_NATIVE == 1 || -n ${INSTALLED_ADMINDIR:-} ]]; then
    XEN_DEB_VERSION=$(dpkg-query --admindir="${INSTALLED_ADMINDIR:-/var/lib/dpkg}" -W \
      -f='${db:Status-Abbrev} ${Version}' libxengnttab1 2>/dev/null | sed -n 's/^ii  *//p')
  fi
  [[ -n $XEN_DEB_VERSION ]] || XEN_DEB_VERSION=$(apt_retrying candidate_of libxengnttab1)
fi
XEN_UPSTREAM=${XEN_DEB_VERSION%-*}   # shlibs minimum, as Debian's: without revision
MAINTAINER=${DEB_MAINTAINER:-xengnttab-rs developer <dev@xengnttab-rs.invalid>}
RT=libxengnttab1-rs
DEV=libxengnttab-rs-dev
OUT=${DEB_OUT:-$RIG_BUILD/deb}
STAGE=$OUT/stage
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

rm -rf "$STAGE"
mkdir -p "$STAGE" "$OUT"
rm -f "$OUT"/*.deb
umask 022

# Runtime dependencies from the library's NEEDED entries and symbol versions.
shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir -p "$shl/debian"
printf 'Source: xengnttab-rs\n\nPackage: %s\nArchitecture: any\n' "$RT" >"$shl/debian/control"
cp "$LIB" "$shl/lib.so"
SHLIBDEPS=(dpkg-shlibdeps -O -e lib.so)
if [[ -n $RIG_CROSS ]]; then
  # Another architecture's C runtime is not installed here: its packages'
  # symbols files and libraries, from the rig's cache (rig/fetch.sh), stand
  # in as package build trees that dpkg-shlibdeps searches first (-S).
  . "$RIG_CACHE_DIR/current.env"
  for p in libc6 libgcc-s1; do
    deb=$(ls "$RIG_CACHE_DIR"/debs/"$p"_*_"$ARCH".deb 2>/dev/null | head -n1)
    [[ -n $deb ]] || die "no $p .deb for $ARCH in $RIG_CACHE_DIR/debs (make rig-fetch RIG_ARCH=$RIG_ARCH)"
    d=$shl/debian/$p
    mkdir -p "$d/DEBIAN" "$d/usr/lib/$MULTIARCH"
    dpkg-deb -e "$deb" "$d/control"
    cp "$d/control/symbols" "$d/DEBIAN/"
    SHLIBDEPS+=("-S$d")
  done
  cp -L "$USERLAND/usr/lib/$MULTIARCH/libc.so.6" "$shl/debian/libc6/usr/lib/$MULTIARCH/"
  cp -L "$USERLAND/usr/lib/$MULTIARCH/libgcc_s.so.1" "$shl/debian/libgcc-s1/usr/lib/$MULTIARCH/"
fi
SHLIBS_DEPENDS=$(cd "$shl" && eval "$(dpkg-architecture -a"$ARCH" -s 2>/dev/null)" &&
  "${SHLIBDEPS[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ $SHLIBS_DEPENDS == *libc6* ]] || die "dpkg-shlibdeps gave no libc6 dependency: '$SHLIBS_DEPENDS'"

doc() { # doc DIR PACKAGE: copyright and native changelog
  local d=$1/usr/share/doc/$2
  install -d -m 0755 "$d"
  install -m 0644 packaging/copyright "$d/copyright"
  cat >"$d/changelog" <<EOF
xengnttab-rs ($VERSION) unstable; urgency=medium

  * Packaged from the xengnttab-rs tree (Rust reimplementation of
    Xen's libxengnttab.so.1); see /usr/share/doc/$2/copyright.

 -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOF
  gzip -9n "$d/changelog"
  touch -d "@$SOURCE_DATE_EPOCH" "$d/changelog.gz"
}
md5sums() { # md5sums DIR: DEBIAN/md5sums of regular files
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort \
     | xargs -r md5sum) >"$1/DEBIAN/md5sums"
  chmod 0644 "$1/DEBIAN/md5sums"
}
installed_size() { du -sk --exclude=DEBIAN "$1" | cut -f1; }

# ---- runtime package ------------------------------------------------------
R=$STAGE/$RT
install -d -m 0755 "$R/DEBIAN" "$R/usr/lib/$MULTIARCH"
# Stripped as dh_strip would (the symbol table is not needed; the dynamic
# symbols and versions are untouched). test-package.sh compares with the same.
"$STRIP" --remove-section=.comment --remove-section=.note --strip-unneeded \
  -o "$R/usr/lib/$MULTIARCH/libxengnttab.so.1.2" "$LIB"
chmod 0644 "$R/usr/lib/$MULTIARCH/libxengnttab.so.1.2"
ln -s libxengnttab.so.1.2 "$R/usr/lib/$MULTIARCH/libxengnttab.so.1"
doc "$R" "$RT"
# Binaries built against us depend on libxengnttab1 exactly as Debian's
# shlibs make them (satisfied by Debian's package or by our Provides).
echo "libxengnttab 1 libxengnttab1 (>= $XEN_UPSTREAM)" >"$R/DEBIAN/shlibs"
{
  echo "libxengnttab.so.1 libxengnttab1 #MINVER#"
  echo "* Build-Depends-Package: libxen-dev"
  "$OBJDUMP" -T "$LIB" | awk '$2 == "g" && $4 != "*UND*" {print " " $NF "@" $(NF-1) " '"$XEN_UPSTREAM"'"}' \
    | LC_ALL=C sort -u
} >"$R/DEBIAN/symbols"
echo "activate-noawait ldconfig" >"$R/DEBIAN/triggers"
chmod 0644 "$R/DEBIAN/shlibs" "$R/DEBIAN/symbols" "$R/DEBIAN/triggers"
cat >"$R/DEBIAN/control" <<EOF
Package: $RT
Source: xengnttab-rs
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(installed_size "$R")
Depends: $SHLIBS_DEPENDS
Provides: libxengnttab1 (= $XEN_DEB_VERSION)
Conflicts: libxengnttab1
Replaces: libxengnttab1
Section: libs
Priority: optional
Multi-Arch: same
Description: Xen grant-table library libxengnttab.so.1 (Rust reimplementation)
 Drop-in replacement for Xen's libxengnttab.so.1 (grant-table mapping,
 copying and sharing between domains through /dev/xen/gntdev and
 /dev/xen/gntalloc), written in Rust. Same SONAME, exported symbols and
 symbol versions (VERS_1.0 to VERS_1.2) as Debian's libxengnttab1, which
 this package replaces: it provides libxengnttab1 so that the Xen tools,
 QEMU and the other Xen libraries keep working unchanged.
EOF
chmod 0644 "$R/DEBIAN/control"
md5sums "$R"

# ---- development package --------------------------------------------------
D=$STAGE/$DEV
install -d -m 0755 "$D/DEBIAN" "$D/usr/include" "$D/usr/lib/$MULTIARCH/pkgconfig"
install -m 0644 include/xengnttab.h "$D/usr/include/xengnttab.h"
ln -s libxengnttab.so.1 "$D/usr/lib/$MULTIARCH/libxengnttab.so"
sed -e 's|@PREFIX@|/usr|' -e "s|@LIBDIR@|/usr/lib/$MULTIARCH|" -e 's|@INCLUDEDIR@|/usr/include|' \
  pkgconfig/xengnttab.pc.in >"$D/usr/lib/$MULTIARCH/pkgconfig/xengnttab.pc"
chmod 0644 "$D/usr/lib/$MULTIARCH/pkgconfig/xengnttab.pc"
doc "$D" "$DEV"
# libxen-dev ships the same three paths: divert its copies aside while we are
# installed (dpkg-divert honours DPKG_ROOT, so this also works chrootless).
DIVERTED="/usr/include/xengnttab.h /usr/lib/$MULTIARCH/libxengnttab.so /usr/lib/$MULTIARCH/pkgconfig/xengnttab.pc"
cat >"$D/DEBIAN/preinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = install ] || [ "\$1" = upgrade ]; then
  for f in $DIVERTED; do
    dpkg-divert --package $DEV --rename --divert "\$f.distrib" --add "\$f" >/dev/null
  done
fi
EOF
cat >"$D/DEBIAN/postrm" <<EOF
#!/bin/sh
set -e
if [ "\$1" = remove ] || [ "\$1" = abort-install ] || [ "\$1" = disappear ]; then
  for f in $DIVERTED; do
    dpkg-divert --package $DEV --rename --divert "\$f.distrib" --remove "\$f" >/dev/null
  done
fi
EOF
chmod 0755 "$D/DEBIAN/preinst" "$D/DEBIAN/postrm"
cat >"$D/DEBIAN/control" <<EOF
Package: $DEV
Source: xengnttab-rs
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(installed_size "$D")
Depends: $RT (= $VERSION), libxen-dev
Section: libdevel
Priority: optional
Multi-Arch: same
Description: Xen grant-table library (Rust reimplementation) - development files
 Header xengnttab.h, the libxengnttab.so link and pkg-config file
 xengnttab.pc for the Rust reimplementation of Xen's libxengnttab.so.1.
 libxen-dev's copies of these three files are diverted to *.distrib while
 this package is installed and put back when it is removed; the Xen
 public headers (xen/grant_table.h, ...) still come from libxen-dev.
EOF
chmod 0644 "$D/DEBIAN/control"
md5sums "$D"

# ---- build ----------------------------------------------------------------
for p in "$R" "$D"; do
  find "$p" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  dpkg-deb --root-owner-group -Zxz --build "$p" "$OUT/" >/dev/null
done
rm -rf "$STAGE"
echo "build-deb: built for Debian $RIG_DEBIAN (Provides: libxengnttab1 (= $XEN_DEB_VERSION); Depends: $SHLIBS_DEPENDS):"
for f in "$OUT"/*.deb; do echo "  $f"; done
