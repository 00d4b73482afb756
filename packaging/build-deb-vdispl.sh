#!/usr/bin/env bash
# Build build/deb/vdispl-backend_<ver>_<arch>.deb from target/release (run by
# `make deb-vdispl`, and by `make deb`): the display backend, its systemd
# unit, man page and configuration file (a conffile). See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build-deb-vdispl: error: $*" >&2; exit 1; }
for tool in dpkg dpkg-deb dpkg-shlibdeps strip gzip md5sum; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install dpkg-dev binutils)"
done
BIN=target/release/vdispl-backend
[[ -x $BIN ]] || die "$BIN missing: run 'make vdispl-bin' first"
ARCH=$(dpkg --print-architecture)
VERSION=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' vdispl/Cargo.toml | head -1)
[[ -n $VERSION ]] || die "no version in vdispl/Cargo.toml"
MAINTAINER=${DEB_MAINTAINER:-xengnttab-rs developer <dev@xengnttab-rs.invalid>}
P=vdispl-backend
OUT=build/deb
STAGE=$OUT/stage-$P
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
rm -rf "$STAGE" && mkdir -p "$STAGE" "$OUT"
rm -f "$OUT/$P"_*.deb
umask 022

shl=$(mktemp -d)
trap 'rm -rf "$shl"' EXIT
mkdir -p "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$P" "$P" >"$shl/debian/control"
cp "$BIN" "$shl/bin"
DEPENDS=$(cd "$shl" && dpkg-shlibdeps -O -e bin 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ $DEPENDS == *libc6* ]] || die "dpkg-shlibdeps gave no libc6 dependency: '$DEPENDS'"

R=$STAGE
install -d -m 0755 "$R/DEBIAN" "$R/usr/sbin" "$R/lib/systemd/system" "$R/usr/share/man/man8" "$R/etc" "$R/usr/share/doc/$P"
strip --remove-section=.comment --remove-section=.note --strip-unneeded -o "$R/usr/sbin/vdispl-backend" "$BIN"
chmod 0755 "$R/usr/sbin/vdispl-backend"
sed -e 's|@SBINDIR@|/usr/sbin|' vdispl/dist/vdispl-backend.service >"$R/lib/systemd/system/vdispl-backend.service"
gzip -9n <vdispl/dist/vdispl-backend.8 >"$R/usr/share/man/man8/vdispl-backend.8.gz"
install -m 0644 vdispl/dist/vdispl-backend.conf "$R/etc/vdispl-backend.conf"
install -m 0644 packaging/copyright "$R/usr/share/doc/$P/copyright"
cat >"$R/usr/share/doc/$P/changelog" <<EOC
$P ($VERSION) unstable; urgency=medium

  * Packaged from the xengnttab-rs tree (vdispl/).

 -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOC
gzip -9n "$R/usr/share/doc/$P/changelog"
chmod 0644 "$R"/lib/systemd/system/* "$R"/usr/share/man/man8/* "$R/usr/share/doc/$P"/*
echo /etc/vdispl-backend.conf >"$R/DEBIAN/conffiles"
# Like dh_installsystemd: reload units; the service is not started on its
# own (it needs a card and a configuration first): systemctl enable --now.
cat >"$R/DEBIAN/postinst" <<'EOC'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
EOC
cat >"$R/DEBIAN/prerm" <<'EOC'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
  systemctl --system stop vdispl-backend.service >/dev/null 2>&1 || true
fi
EOC
cat >"$R/DEBIAN/postrm" <<'EOC'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
EOC
chmod 0755 "$R/DEBIAN/postinst" "$R/DEBIAN/prerm" "$R/DEBIAN/postrm"
(cd "$R" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs -r md5sum) >"$R/DEBIAN/md5sums"
cat >"$R/DEBIAN/control" <<EOC
Package: $P
Source: xengnttab-rs
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$R" | cut -f1)
Depends: $DEPENDS
Recommends: xen-utils-common
Section: admin
Priority: optional
Description: Xen para-virtual display backend on a DRM/KMS screen
 Serves Xen guests' para-virtual displays (displif, Linux drm_xen_front)
 from the backend domain: each guest connector is shown on a connector of
 a DRM/KMS card, with page flips on the card and zero copies where the
 kernel allows (backend-allocated buffers are the card's own scanout
 buffers, granted to the guest); map-and-copy otherwise. Frames can also
 be written as PNG files. Built on the Rust xengnttab library (linked in).
EOC
chmod 0644 "$R/DEBIAN/control" "$R/DEBIAN/md5sums" "$R/DEBIAN/conffiles"
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT/" >/dev/null
rm -rf "$STAGE"
echo "build-deb-vdispl: built $(ls "$OUT/$P"_*.deb) (Depends: $DEPENDS)"
