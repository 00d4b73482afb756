# Shared settings for the rig scripts (sourced, not run).
# Paths are absolute so scripts work from any directory.
RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$RIG_DIR/../.." && pwd)

die() { echo "rig: ERROR: $*" >&2; exit 1; }
log() { echo "rig: $*" >&2; }

# linux_source SRCPKG PATH-GLOB: unpack the files matching PATH-GLOB of the
# linux-source tarball in SRCPKG (the unpacked linux-source-<series> package)
# into a scratch directory WORK, removed at exit; SRC is the tree's top and
# TARBALL its name (the out-of-tree module builds).
linux_source() {
    TARBALL=$(ls "$1"/usr/src/linux-source-*.tar.xz) || die "no tarball in $1"
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
    log "extracting $2 from $(basename "$TARBALL")"
    tar -xJf "$TARBALL" -C "$WORK" --wildcards "*/$2" || die "cannot extract $2 from $TARBALL"
    SRC=$(echo "$WORK"/*/)
}

# The Debian release the rig boots: RIG_DEBIAN=12 (default) or 13. Its settings
# (codename, Xen and Linux series, cache/build subdirectory) are in
# testing/rig/release/debian<N>.env. Each release has its own cache,
# RIG_CACHE_DIR = RIG_CACHE[/subdir], and its own outputs, RIG_BUILD = build[/subdir].
export RIG_DEBIAN=${RIG_DEBIAN:-12}
[ -f "$RIG_DIR/release/debian$RIG_DEBIAN.env" ] ||
    die "RIG_DEBIAN=$RIG_DEBIAN: no testing/rig/release/debian$RIG_DEBIAN.env (releases: $(cd "$RIG_DIR/release" && ls | sed 's/debian\(.*\)\.env/\1/' | tr '\n' ' '))"
. "$RIG_DIR/release/debian$RIG_DEBIAN.env"
# The architecture: RIG_ARCH=amd64 (default) or arm64, settings in
# testing/rig/release/arch-<arch>.env (Debian architecture, library directory, loader,
# Rust target, cross-compiler). Each architecture has its own cache and
# outputs under RIG_ARCH_SUB (none for amd64).
export RIG_ARCH=${RIG_ARCH:-amd64}
[ -f "$RIG_DIR/release/arch-$RIG_ARCH.env" ] ||
    die "RIG_ARCH=$RIG_ARCH: no testing/rig/release/arch-$RIG_ARCH.env (architectures: $(cd "$RIG_DIR/release" && ls arch-*.env | sed 's/arch-\(.*\)\.env/\1/' | tr '\n' ' '))"
. "$RIG_DIR/release/arch-$RIG_ARCH.env"
case ",$RIG_TEST_RELEASES," in *",$RIG_DEBIAN,"*) ;;
    *) die "RIG_ARCH=$RIG_ARCH runs Debian $RIG_TEST_RELEASES only, not RIG_DEBIAN=$RIG_DEBIAN (testing/rig/README.md)" ;;
esac
RIG_CACHE=${RIG_CACHE:-$HOME/.cache/xengnttab-rig}
RIG_SUBDIR=${RIG_ARCH_SUB:+/$RIG_ARCH_SUB}${RIG_SUB:+/$RIG_SUB}
RIG_CACHE_DIR=$RIG_CACHE$RIG_SUBDIR
RIG_BUILD=$TOP/build$RIG_SUBDIR
RIG_ARCH_BUILD=$TOP/build${RIG_ARCH_SUB:+/$RIG_ARCH_SUB}  # the architecture's test programs (any release)
RIG_OUT=${RIG_OUT:-$RIG_BUILD/${RIG_OUT_NAME:-rig}}   # a caller's default name, e.g. rig-xdomain
# The library under test, as `make lib` (TARGET=the arch's Rust target) leaves it.
RIG_LIB_DIR=$TOP/build${RIG_RUST_TARGET:+/$RIG_RUST_TARGET}/lib
# Programs for the domains: the C compiler, cargo's target arguments and
# where its binaries land (for another architecture, cross-built with
# RIG_CROSS's gcc as linker, as the Makefile does).
RIG_CC=${RIG_CROSS:+${RIG_CROSS}gcc}
RIG_CC=${RIG_CC:-${CC:-cc}}
RIG_CARGO_TARGET=() RIG_TARGET_DIR=$TOP/target
if [ -n "$RIG_RUST_TARGET" ]; then
    RIG_CARGO_TARGET=(--target "$RIG_RUST_TARGET") RIG_TARGET_DIR=$TOP/target/$RIG_RUST_TARGET
    _t=${RIG_RUST_TARGET^^}
    export "CARGO_TARGET_${_t//-/_}_LINKER=$RIG_CC"
fi
# The host's own release and architecture run with the host's apt and tools;
# another gets a private apt state in its cache (testing/rig/debs.sh), and modules are
# built in a chroot of that release (testing/rig/kbuild.sh) or, for another
# architecture, with the host's cross-compiler against the image's headers.
RIG_NATIVE=0
[ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = "$RIG_CODENAME" ] &&
    [ "$(dpkg --print-architecture)" = "$RIG_DEB_ARCH" ] && RIG_NATIVE=1

# dom0 mode: RIG_DOM0_MODE=pv (default) or pvh. A PVH dom0 needs hardware-assisted
# paging (Debian's Xen has no shadow paging) and an IOMMU (without one Xen panics
# building a PVH dom0), hence q35 + amd-iommu + SVM/NPT under TCG. A virtio disk
# hung at boot in a PVH dom0, so the results disk is then an AHCI (SATA) disk on
# q35's built-in controller: /dev/sda in dom0 (modules ahci + sd_mod).
RIG_DOM0_MODE=${RIG_DOM0_MODE:-pv}
case $RIG_DOM0_MODE in
    pv)  RIG_RESULTS_DEV=/dev/vda RIG_DISK_MODULES="$RIG_VIRTIO virtio_blk" ;;
    pvh) RIG_RESULTS_DEV=/dev/sda RIG_DISK_MODULES="ahci sd_mod" ;;
    *)   die "RIG_DOM0_MODE must be pv or pvh (is '$RIG_DOM0_MODE')" ;;
esac
