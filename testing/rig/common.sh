# Shared settings for the rig scripts (sourced, not run).
# Paths are absolute so scripts work from any directory.
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$RIG_DIR/../.." && pwd)

die() { echo "rig: ERROR: $*" >&2; exit 1; }
log() { echo "rig: $*" >&2; }

# The Debian release the rig boots: RIG_DEBIAN=12 (default) or 13. Its settings
# (codename, Xen and Linux series, cache/build subdirectory) are in
# testing/rig/release/debian<N>.env. Each release has its own cache,
# RIG_CACHE_DIR = RIG_CACHE[/subdir], and its own outputs, RIG_BUILD = build[/subdir].
export RIG_DEBIAN=${RIG_DEBIAN:-12}
[ -f "$RIG_DIR/release/debian$RIG_DEBIAN.env" ] ||
    die "RIG_DEBIAN=$RIG_DEBIAN: no testing/rig/release/debian$RIG_DEBIAN.env (releases: $(cd "$RIG_DIR/release" && ls | sed 's/debian\(.*\)\.env/\1/' | tr '\n' ' '))"
. "$RIG_DIR/release/debian$RIG_DEBIAN.env"
RIG_CACHE=${RIG_CACHE:-$HOME/.cache/xengnttab-rig}
RIG_CACHE_DIR=$RIG_CACHE${RIG_SUB:+/$RIG_SUB}
RIG_BUILD=$TOP/build${RIG_SUB:+/$RIG_SUB}
RIG_OUT=${RIG_OUT:-$RIG_BUILD/${RIG_OUT_NAME:-rig}}   # a caller's default name, e.g. rig-xdomain
# The host's own release runs with the host's apt and tools; another release
# gets a private apt state and build chroot in its cache (testing/rig/debs.sh, kbuild.sh).
RIG_NATIVE=0
[ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = "$RIG_CODENAME" ] && RIG_NATIVE=1

# dom0 mode: RIG_DOM0_MODE=pv (default) or pvh. A PVH dom0 needs hardware-assisted
# paging (Debian's Xen has no shadow paging) and an IOMMU (without one Xen panics
# building a PVH dom0), hence q35 + amd-iommu + SVM/NPT under TCG. A virtio disk
# hung at boot in a PVH dom0, so the results disk is then an AHCI (SATA) disk on
# q35's built-in controller: /dev/sda in dom0 (modules ahci + sd_mod).
RIG_DOM0_MODE=${RIG_DOM0_MODE:-pv}
case $RIG_DOM0_MODE in
    pv)  RIG_RESULTS_DEV=/dev/vda RIG_DISK_MODULES="virtio_pci virtio_blk" ;;
    pvh) RIG_RESULTS_DEV=/dev/sda RIG_DISK_MODULES="ahci sd_mod" ;;
    *)   die "RIG_DOM0_MODE must be pv or pvh (is '$RIG_DOM0_MODE')" ;;
esac
