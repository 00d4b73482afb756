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

