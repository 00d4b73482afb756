#!/usr/bin/env bash
# Build the Debian packages (run by `make deb`) with the debian/ source
# package, `dpkg-buildpackage -b`:
#   libxengnttab1-rs        the runtime library, replacing Debian's libxengnttab1
#   libxengnttab1-rs-dbgsym its debug information
#   libxengnttab-rs-dev     header, .so link and pkg-config file, diverting
#                           libxen-dev's copies of those three files
# for the Debian release RIG_DEBIAN (12 by default; testing/rig/release/) and the
# architecture RIG_ARCH (amd64 by default; arm64 cross-builds, `-a arm64`)
# into build[/<arch>][/<release>]/deb/ (DEB_OUT). This script only decides what the
# runtime package Provides; debian/rules does the rest. See
# packaging/README.md for the design.
set -euo pipefail
cd "$(dirname "$0")/.."
. testing/rig/common.sh
. testing/rig/debs.sh

die() { echo "build-deb: error: $*" >&2; exit 1; }
for tool in dpkg-buildpackage dh objdump; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg-dev debhelper binutils)"
done
# The package version is debian/changelog's and the release, e.g. 1.2.0+deb13
# (debian/rules); the crate's version is the same.
CRATE=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' capi/Cargo.toml | head -1)
[[ $(dpkg-parsechangelog -SVersion) == "$CRATE" ]] || die "debian/changelog's version is not capi/Cargo.toml's ($CRATE)"
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
OUT=$(realpath -m "${DEB_OUT:-$RIG_BUILD/deb}")
mkdir -p "$OUT"
rm -f "$OUT"/*.deb "$OUT"/*.buildinfo "$OUT"/*.changes
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
# -d: the build dependencies are this tree's toolchain (rustup's cargo), not
# necessarily Debian's packages; a tree is built by one dpkg-buildpackage at
# a time (it writes debian/tmp and debian/files).
mkdir -p "$TOP/build"
exec 9>"$TOP/build/.deb.lock"
flock 9
# Another architecture: a cross build. Its C runtime is not installed here,
# so Debian's libc6 and libgcc-s1 of that architecture (from the rig's cache,
# testing/rig/fetch.sh), unpacked with their control files, stand in as package build
# trees that dpkg-shlibdeps searches first (debian/rules: -S).
CROSS=()
if [[ -n $RIG_CROSS ]]; then
  T=$OUT/shlibs-trees
  rm -rf "$T"
  for p in libc6 libgcc-s1; do
    deb=$(cached_deb "$RIG_CACHE_DIR/debs" "$p")
    [[ -n $deb ]] || die "no $p .deb in $RIG_CACHE_DIR/debs (make rig-fetch RIG_ARCH=$RIG_ARCH)"
    mkdir -p "$T/$p" && dpkg-deb -x "$deb" "$T/$p" && dpkg-deb -e "$deb" "$T/$p/DEBIAN" || die "cannot unpack $deb"
  done
  export DEB_SHLIBDEPS_TREES="$T/libc6 $T/libgcc-s1"
  CROSS=(-a "$RIG_DEB_ARCH")
fi
RIG_DEBIAN=$RIG_DEBIAN XEN_DEB_VERSION=$XEN_DEB_VERSION DEB_OUT=$OUT \
  dpkg-buildpackage -b -uc -us -d "${CROSS[@]}" \
    --buildinfo-file="$OUT/xengnttab-rs.buildinfo" --changes-file="$OUT/xengnttab-rs.changes" \
    --buildinfo-option=-u"$OUT" --changes-option=-u"$OUT" >"$OUT/build.log" 2>&1 ||
  die "dpkg-buildpackage failed; the end of $OUT/build.log:"$'\n'"$(tail -30 "$OUT/build.log")"
# debhelper's work files stay out of the tree (dpkg-buildpackage -b leaves them).
dh_clean
echo "build-deb: built for Debian $RIG_DEBIAN (Provides: libxengnttab1 (= $XEN_DEB_VERSION)):"
for f in "$OUT"/*.deb; do echo "  $f"; done
