#!/bin/bash
# Download and unpack (never install) Debian's Xen user-space programs and their
# Xen libraries into the rig cache: $RIG_CACHE/debian-progs/{debs,pkgs,stamps}.
# Idempotent: one stamp per package, named after its exact version, so a cached
# run only asks apt for version numbers. Fails naming any package apt cannot get.
# libxengnttab1 is not fetched here: the rig's own fetch.sh provides upstream's.
set -euo pipefail
RIG_CACHE=${RIG_CACHE:-$HOME/.cache/xengnttab-rig}
C=$RIG_CACHE/debian-progs
die() { echo "debian-progs: ERROR: $*" >&2; exit 1; }
log() { echo "debian-progs: $*" >&2; }

# The programs (xen-utils-4.17: xenstored, xen-init-dom0, vchan-socket-proxy,
# depriv-fd-checker, test-resource; xenstore-utils: xenstore-*) and the Xen
# libraries they load (libxenmisc4.17: libxenctrl, libxenvchan, libxenlight...).
PKGS="xen-utils-4.17 xenstore-utils libxenmisc4.17 libxenstore4 libxencall1
      libxenforeignmemory1 libxendevicemodel1 libxenhypfs1 libxenevtchn1
      libxentoollog1 libxentoolcore1"

. "$(dirname "$0")/../rig/debs.sh"
declare -A VER=()
# shellcheck disable=SC2086
candidate_versions VER $PKGS
# shellcheck disable=SC2086
for p in $PKGS; do fetch_pkg "$C" "$p" "${VER[$p]}"; done
{
    echo "DP_PKGDIR=$C/pkgs"
    for p in $PKGS; do echo "# $p ${VER[$p]}"; done
} > "$C/current.env"
log "fetch done ($(echo $PKGS | wc -w) packages, xen-utils-4.17 ${VER[xen-utils-4.17]})"
