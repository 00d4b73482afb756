#!/bin/bash
# Download and unpack (never install) the release's Xen user-space programs and
# their Xen libraries into the rig cache: $RIG_CACHE_DIR/debian-progs/{debs,pkgs,stamps}.
# Idempotent: one stamp per package, named after its exact version, so a cached
# run only asks apt for version numbers. Fails naming any package apt cannot get.
# libxengnttab1 is not fetched here: the rig's own fetch.sh provides upstream's.
set -euo pipefail
. "$(dirname "$0")/../rig/common.sh"
. "$RIG_DIR/debs.sh"
C=$RIG_CACHE_DIR/debian-progs

# The programs (xen-utils-<xen>: xenstored, xen-init-dom0, vchan-socket-proxy,
# depriv-fd-checker, test-resource; xenstore-utils: xenstore-*) and the Xen
# libraries they load (libxenmisc<xen>: libxenctrl, libxenvchan, libxenlight...).
PKGS="xen-utils-$RIG_XEN xenstore-utils libxenmisc$RIG_XEN libxenstore4 libxencall1
      libxenforeignmemory1 libxendevicemodel1 libxenhypfs1 libxenevtchn1
      libxentoollog1 libxentoolcore1"

main() {
    declare -A VER=()
    # shellcheck disable=SC2086
    candidate_versions VER $PKGS
    # shellcheck disable=SC2086
    for p in $PKGS; do fetch_pkg "$C" "$p" VER; done
    {
        echo "DP_PKGDIR=$C/pkgs"
        for p in $PKGS; do echo "# $p ${VER[$p]}"; done
    } > "$C/current.env"
    log "debian-progs fetch done ($(echo $PKGS | wc -w) packages, xen-utils-$RIG_XEN ${VER[xen-utils-$RIG_XEN]})"
}
apt_retrying main
