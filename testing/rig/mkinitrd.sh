#!/bin/bash
# Build a busybox initramfs for one domain: mkinitrd.sh ROLE OUT.gz
# ROLE picks testing/rig/ROLE/init and the module list; ROLE=dom0 also packs the test
# payload. A guest initramfs later is the same builder with another ROLE.
# Inputs (env, defaults relative to the repository):
#   OURS_LIB   our library     (build[/<rust target>]/lib/libxengnttab.so.1.2)
#   SUITE      suite list      (testing/c-tests/suite.txt)
#   TEST_BIN   test programs   (build[/<arch>]/c-tests/bin)
#   RUST_LIST  rust tests list (build[/<arch>]/rust-tests/list, may be absent; mode "ours")
#   RIG_TEST_TIMEOUT  per-run timeout in seconds inside the domain (120: the
#                     slowest run, stress, takes 16-33 s; CI machines vary)
# Also writes $RIG_OUT/ROLE.suite.txt: the effective suite, for report.py.
set -euo pipefail
. "$(dirname "$0")/common.sh"
ROLE=$1 OUT=$2
# RIG_INIT: another /init (e.g. testing/xdomain/dom0-init). RIG_EXTRA_ROOT: a directory
# tree merged into the image (toolstack, guest images); its programs' libraries
# are resolved like the tests'. RIG_CONF_EXTRA: lines appended to /etc/rig.conf.
INIT=${RIG_INIT:-$RIG_DIR/$ROLE/init}
[ -f "$INIT" ] || die "no init for role $ROLE ($INIT)"
[ -f "$RIG_CACHE_DIR/current.env" ] || die "run testing/rig/fetch.sh first"
. "$RIG_CACHE_DIR/current.env"

OURS_LIB=${OURS_LIB:-$RIG_LIB_DIR/libxengnttab.so.1.2}
SUITE=${SUITE:-$TOP/testing/c-tests/suite.txt}
TEST_BIN=${TEST_BIN:-$RIG_ARCH_BUILD/c-tests/bin}
RUST_LIST=${RUST_LIST:-$RIG_ARCH_BUILD/rust-tests/list}

# Modules each role loads (dependencies are added from modules.dep).
# RIG_DISK_MODULES (common.sh) carry the results disk: virtio_pci/virtio_blk
# in a PV dom0, ahci/sd_mod in a PVH dom0 (RIG_DOM0_MODE=pvh). RIG_DOM0_MODULES
# adds more for dom0 (e.g. cirrus, the KMS driver of QEMU's -vga cirrus).
case $ROLE in
    dom0) MODULES="xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc drm drm_shmem_helper vgem $RIG_DISK_MODULES ${RIG_DOM0_MODULES:-}" ;;
    *)    MODULES=${RIG_MODULES:?set RIG_MODULES for role $ROLE} ;;
esac

ST=$(mktemp -d)
trap 'rm -rf "$ST"' EXIT
MA=$RIG_MULTIARCH  # the architecture's library directory
mkdir -p "$ST"/{bin,dev,proc,sys,tmp,etc,lib64,lib/$MA,usr/lib/$MA}
mkdir -p "$ST/lib/modules/$KREL" "$ST/tests/bin" "$ST/opt/upstream/lib" "$ST/opt/ours/lib"

# busybox with one link per applet
cp "$BUSYBOX" "$ST/bin/busybox"
# Another architecture's busybox cannot run here: the host's of the same
# release (busybox-static, same applets) lists them.
BB_LIST=$BUSYBOX
[ -z "$RIG_CROSS" ] || BB_LIST=busybox
for a in $("$BB_LIST" --list); do [ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"; done
install -m 755 "$INIT" "$ST/init"
if [ -n "${RIG_EXTRA_ROOT:-}" ]; then
    [ -d "$RIG_EXTRA_ROOT" ] || die "RIG_EXTRA_ROOT $RIG_EXTRA_ROOT is not a directory"
    cp -a "$RIG_EXTRA_ROOT/." "$ST/"
fi

# --- kernel modules, in load order (dependencies first) ---
declare -A SEEN=()
ORDER=()
mod_path() {  # module name -> path relative to MODDIR ('-' and '_' are equivalent)
    local re=${1//[-_]/[-_]}
    { grep -oE "^([^:]*/)?${re}\.ko(\.xz)?:" "$MODDIR/modules.dep" || true; } | head -n1 | tr -d :
}
add_module() {
    local p
    p=$(mod_path "$1")
    if [ -z "$p" ]; then
        grep -qE "/${1//[-_]/[-_]}\.ko$" "$MODDIR/modules.builtin" && return  # built in
        die "kernel module $1 not found in $MODDIR"
    fi
    [ -n "${SEEN[$p]:-}" ] && return
    SEEN[$p]=1
    local deps d
    deps=$(grep -E "^$p:" "$MODDIR/modules.dep" | cut -d: -f2)
    # modprobe loads the listed dependencies from last to first
    for d in $(echo $deps | tr ' ' '\n' | tac); do d=$(basename "${d%.xz}"); add_module "${d%.ko}"; done
    ORDER+=("$p")
}
for m in $MODULES; do add_module "$m"; done
# Linux 6.12's modules are .ko.xz: unpacked here, so that busybox's insmod
# needs no decompressor; the image is compressed as a whole anyway.
for p in "${ORDER[@]}"; do
    mkdir -p "$ST/lib/modules/$KREL/$(dirname "$p")"
    case $p in
        *.xz) xz -dc "$MODDIR/$p" > "$ST/lib/modules/$KREL/${p%.xz}" || die "cannot unpack $p" ;;
        *) cp "$MODDIR/$p" "$ST/lib/modules/$KREL/$p" ;;
    esac
done
# Our dma-buf gntdev replaces the stock one; the export-fix variant rides along.
GNTDEV_PATH=$(mod_path xen-gntdev)
cp "$GNTDEV_KO" "$ST/lib/modules/$KREL/${GNTDEV_PATH%.xz}"
mkdir -p "$ST/lib/modules/extra"
cp "$GNTDEV_EXPFIX_KO" "$ST/lib/modules/extra/xen-gntdev-expfix.ko"
# The test module that reads exported dma-bufs (testing/rig/fetch.sh), for dom0's tests.
[ "$ROLE" != dom0 ] || cp "$DMABUF_READER_KO" "$ST/lib/modules/extra/xd_dmabuf_reader.ko"
printf '%s\n' "${ORDER[@]%.xz}" > "$ST/etc/modules.load"

# --- libraries ---
# Debian's helper libraries in the normal path; libxengnttab only under /opt.
for d in $XENLIB_PKGS; do cp -a "$d"/usr/lib/$MA/*.so.* "$ST/usr/lib/$MA/"; done
cp -L "$UPSTREAM_GNTTAB_PKG/usr/lib/$MA/libxengnttab.so.1" "$ST/opt/upstream/lib/libxengnttab.so.1"

if [ "$ROLE" = dom0 ]; then
    [ -f "$OURS_LIB" ] || die "our library not found: $OURS_LIB (make lib, or set OURS_LIB)"
    [ -f "$SUITE" ] || die "suite not found: $SUITE"
    cp -L "$OURS_LIB" "$ST/opt/ours/lib/libxengnttab.so.1"
    # Effective suite: the C suite plus one "ours" line per Rust test binary.
    grep -vE '^[[:space:]]*(#|$)' "$SUITE" > "$ST/tests/suite.txt" || true
    awk 'NF < 3 || ($2 != "both" && $2 != "ours") {print "  " $0; bad=1} END {exit bad}' \
        "$ST/tests/suite.txt" || die "bad lines in $SUITE (want: NAME both|ours COMMAND [ARGS...])"
    # All of TEST_BIN goes in (tests may run helpers); suite commands must exist.
    [ -d "$TEST_BIN" ] || die "test programs not found: $TEST_BIN"
    cp -rL "$TEST_BIN/." "$ST/tests/bin/"
    for cmd in $(awk '{print $3}' "$ST/tests/suite.txt" | sort -u); do
        [ -x "$ST/tests/bin/$cmd" ] || die "suite command $cmd not found (or not executable) in $TEST_BIN"
    done
    if [ -f "$RUST_LIST" ]; then
        while read -r bin; do
            [ -n "$bin" ] || continue
            case $bin in /*) ;; *) bin=$TOP/$bin ;; esac
            [ -f "$bin" ] || die "rust test $bin (from $RUST_LIST) not found"
            file=$(basename "$bin")
            name=rust-$(sed -E 's/-[0-9a-f]{16}$//' <<<"$file")  # drop cargo's hash
            [ ! -e "$ST/tests/bin/$file" ] || die "rust test $file clashes with a C test"
            cp -L "$bin" "$ST/tests/bin/$file"
            # The Rust tests that need Xen are #[ignore]d on plain hosts.
            echo "$name ours $file --include-ignored --test-threads=1" >> "$ST/tests/suite.txt"
        done < "$RUST_LIST"
    fi
    awk '{print $1}' "$ST/tests/suite.txt" | sort | uniq -d | grep . &&
        die "duplicate test names in the suite (above)"
    mkdir -p "$RIG_OUT"
    cp "$ST/tests/suite.txt" "$RIG_OUT/$ROLE.suite.txt"
fi

# ld.so plus the ldd closure of every ELF in the payload, and libgcc_s (dlopen'ed
# by glibc for pthread_cancel, so ldd misses it). The release's userland is
# the host's (USERLAND empty) or, for another release, its own glibc and
# libraries unpacked in USERLAND: then its own ld.so lists the closure, which
# must come from USERLAND or the image, never from the host.
U=${USERLAND:-}
LIBDIRS=$U/usr/lib/$MA
[ -n "$U" ] || LIBDIRS=/lib/$MA
mkdir -p "$ST/$(dirname "$RIG_LDSO")"
cp -L "$U/$RIG_LDSO" "$ST/$RIG_LDSO"
cp -L "$LIBDIRS/libgcc_s.so.1" "$ST/lib/$MA/"
LIBPATH=$ST/opt/upstream/lib:$ST/usr/lib/$MA${U:+:$LIBDIRS}
list_libs() {  # the loader's view of ELF file $1 (ldd's output format)
    if [ -z "$U" ]; then LD_LIBRARY_PATH=$LIBPATH ldd "$1" 2>&1
    elif [ -n "$RIG_CROSS" ]; then needed_closure "$1"
    else "$U/$RIG_LDSO" --inhibit-cache --library-path "$LIBPATH" --list "$1" 2>&1; fi
}
# Another architecture's loader cannot run here: its closure is read from
# the NEEDED entries (readelf reads any ELF), searched along LIBPATH as ld.so
# would, printed as ldd prints it.
needed_closure() {
    local todo=("$1") seen=" " f n d found
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]} todo=("${todo[@]:1}")
        for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
            case $seen in *" $n "*) continue ;; esac
            seen+="$n " found=
            for d in ${LIBPATH//:/ }; do [ -e "$d/$n" ] && { found=$(readlink -f "$d/$n"); break; }; done
            if [ -z "$found" ]; then echo "	$n => not found"; continue; fi
            echo "	$n => $found (0x0)"
            todo+=("$found")
        done
    done
}
while read -r f; do
    head -c4 "$f" | grep -q 'ELF' || continue
    out=$(list_libs "$f") || continue  # static: nothing to add
    if grep -q 'not found' <<<"$out"; then die "$f: missing libraries: $(grep 'not found' <<<"$out")"; fi
    while read -r soname _ path _; do
        case $soname in libxengnttab.so*|/*|"${RIG_LDSO##*/}") continue ;; esac  # only under /opt; ld.so is in place
        case $U:$path in :*|*:"$ST"/*|"$U":"$U"/*) ;;
            *) die "$f needs $soname, found only on the host ($path), not in Debian $RIG_DEBIAN's userland" ;;
        esac
        [ -e "$ST/lib/$MA/$soname" ] || [ -e "$ST/usr/lib/$MA/$soname" ] ||
            cp -L "$path" "$ST/lib/$MA/$soname"
    done < <(grep '=> /' <<<"$out")
done < <(find "$ST/tests" "$ST/opt" "$ST/usr/lib" -type f
           for d in usr/bin usr/sbin usr/libexec; do [ ! -d "$ST/$d" ] || find "$ST/$d" -type f; done)

# Nothing may find a libxengnttab without LD_LIBRARY_PATH.
stray=$(cd "$ST" && find . -name 'libxengnttab*' ! -path './opt/upstream/lib/*' ! -path './opt/ours/lib/*')
[ -z "$stray" ] || die "libxengnttab outside /opt in the initramfs: $stray"

cat > "$ST/etc/rig.conf" <<CONF
RIG_DOMAIN=$ROLE
RIG_RESULTS_DEV=$RIG_RESULTS_DEV
RIG_DOM0_MODE=$RIG_DOM0_MODE
RIG_TEST_TIMEOUT=${RIG_TEST_TIMEOUT:-$((120 * RIG_TIME_SCALE))}
KREL=$KREL
RIG_XEN=$RIG_XEN
${RIG_CONF_EXTRA:-}
CONF

mkdir -p "$(dirname "$OUT")"
(cd "$ST" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "initramfs $OUT ($(du -h "$OUT" | cut -f1), ${#ORDER[@]} modules)"
