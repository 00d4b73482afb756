# Shared settings for the rig scripts (sourced, not run).
# Paths are absolute so scripts work from any directory.
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$RIG_DIR/.." && pwd)
RIG_CACHE=${RIG_CACHE:-$HOME/.cache/xengnttab-rig}
RIG_OUT=${RIG_OUT:-$TOP/build/rig}

die() { echo "rig: ERROR: $*" >&2; exit 1; }
log() { echo "rig: $*" >&2; }

# Kernel ABI of Debian's current amd64 image, e.g. 6.1.0-56 (older ABIs vanish
# from the archive, so it is looked up, not pinned). RIG_ABI overrides.
rig_abi() {
    if [ -n "${RIG_ABI:-}" ]; then echo "$RIG_ABI"; return; fi
    local dep
    dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
          sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n1)
    [ -n "$dep" ] || die "cannot find the kernel ABI from linux-image-amd64 (apt-get update?)"
    echo "$dep"
}


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
