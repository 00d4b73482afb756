#!/usr/bin/env bash
# Build the source package (build/source/, `make source-package`) with sbuild
# in a clean chroot of Debian RIG_DEBIAN (`make sbuild`: 13 unless given), in
# unshare mode, the build itself with no network, into
# build[/<release>]/sbuild/. The chroot is a tarball that mmdebstrap makes
# into the rig's cache (RIG_CACHE_DIR/sbuild/, remade after a week) from the
# host's own Debian mirror, read from its apt sources at run time: for the
# host's release its suites (main, updates, security), for another the
# rig's line for it (testing/rig/debs.sh). Installs sbuild, mmdebstrap and
# uidmap with apt if missing. SBUILD_ARGS: more sbuild options.
set -euo pipefail
cd "$(dirname "$0")/.."
. testing/rig/common.sh
. testing/rig/debs.sh

[[ $RIG_DEB_ARCH == "$(dpkg --print-architecture)" ]] ||
  die "sbuild builds for this host's architecture only (RIG_ARCH=$RIG_ARCH)"
DSC=$(ls "$TOP"/build/source/*.dsc 2>/dev/null | head -1)
[[ -n $DSC ]] || die "no source package in build/source/ (make source-package)"
apt_retrying ensure_host_pkgs sbuild mmdebstrap uidmap

# Unshare mode maps the chroot's users onto the invoking user's subordinate
# ids, which root has none of by default: give it 65536 above any in use.
user=$(id -un)
if ! grep -qs "^$user:" /etc/subuid || ! grep -qs "^$user:" /etc/subgid; then
  [[ $(id -u) == 0 ]] || die "no subordinate ids for $user in /etc/subuid and /etc/subgid (usermod --add-subuids, as root)"
  start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '$2 + $3 > m {m = $2 + $3} END {print (m > 100000 ? m : 100000)}')
  log "adding subordinate ids $start-$((start + 65535)) for $user to /etc/subuid and /etc/subgid (sbuild's unshare mode needs them)"
  usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$user"
fi

SIGNED='[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]'
if [[ $RIG_NATIVE == 1 ]]; then
  SOURCES=$(host_suites | awk -v s="$SIGNED" '{print "deb", s, $1, $2, "main"}')
else
  SOURCES=$(cat "$RIG_APT_DIR/sources.list")
fi
[[ -n $SOURCES ]] || die "no Debian archive found in the host's apt sources"
CHROOT=$RIG_CACHE_DIR/sbuild/$RIG_CODENAME-$RIG_DEB_ARCH.tar
mkdir -p "${CHROOT%/*}"
if [[ ! -s $CHROOT || $(cat "$CHROOT.sources" 2>/dev/null) != "$SOURCES" ||
      -n $(find "$CHROOT" -mtime +7) ]]; then
  log "mmdebstrap: $RIG_CODENAME chroot for sbuild into $CHROOT"
  mapfile -t lines <<<"$SOURCES"
  mmdebstrap --variant=buildd --arch="$RIG_DEB_ARCH" --skip=output/mknod --format=tar \
    "$RIG_CODENAME" "$CHROOT.new" "${lines[@]}" >"$CHROOT.log" 2>&1 ||
    die "mmdebstrap failed; the end of $CHROOT.log:"$'\n'"$(tail -20 "$CHROOT.log")"
  mv "$CHROOT.new" "$CHROOT" && echo "$SOURCES" >"$CHROOT.sources"
fi

OUT=$RIG_BUILD/sbuild
rm -rf "$OUT" && mkdir -p "$OUT"
# Only our options: an empty configuration instead of the user's
# (~/.config/sbuild/config.pl). sbuild itself updates the chroot's packages.
echo '1;' >"$OUT/config.pl"
log "sbuild: $(basename "$DSC") for Debian $RIG_DEBIAN ($RIG_CODENAME) into $OUT"
# --dist names the .changes' distribution only (the chroot is given): the
# changelog's, as dpkg-buildpackage (make deb) writes it and lintian wants.
# shellcheck disable=SC2086
SBUILD_CONFIG=$OUT/config.pl sbuild --chroot-mode=unshare --chroot="$CHROOT" \
  --dist="$(dpkg-parsechangelog -SDistribution)" --arch="$RIG_DEB_ARCH" --build-dir="$OUT" --nolog \
  --no-run-lintian --no-run-piuparts --no-run-autopkgtest ${SBUILD_ARGS:-} "$DSC" \
  >"$OUT/sbuild.log" 2>&1 ||
  die "sbuild failed; the end of $OUT/sbuild.log:"$'\n'"$(tail -40 "$OUT/sbuild.log")"
echo "sbuild: built for Debian $RIG_DEBIAN in a clean $RIG_CODENAME chroot:"
for f in "$OUT"/*.deb; do echo "  $f"; done
