# Helpers for display-test's dom0 scripts (on top of xdomain's xd-lib.sh).
# Frames and logs of each run go to $XD_RESULTS/display/ (the results disk).
. /tests/bin/xd-lib.sh
DT=/tmp/dt
OUT=${XD_RESULTS:-/results/dom0}/display
mkdir -p "$DT/frames" "$OUT"
BLOG=$DT/vdispl.log
backend_pid() { cat "$DT/vdispl.pid" 2>/dev/null; }
# (an empty pid must not reach kill: busybox "kill -0 ''" signals our own group)
backend_alive() { local p; p=$(backend_pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# CPU time (utime+stime, in clock ticks) of the backend so far.
backend_ticks() { awk '{print $14 + $15}' "/proc/$(backend_pid)/stat" 2>/dev/null || echo 0; }

# dt_create NAME EXTRA-CMDLINE VDISPL-LIST [pv|pvh]: xl create a guest (256 MB,
# PV unless told; arm64's one type there: xd_type) with these vdispl devices;
# waits for its data/ready.
dt_create() {
    local name=$1 extra=$2 vd=$3 type
    type=$(xd_type "${4:-}")
    cat > "$XD/$name.cfg" <<CFG
name = "$name"
type = "$type"
kernel = "/xd/vmlinuz"
ramdisk = "/xd/guest.initrd.gz"
extra = "console=hvc0 quiet xdlib=$RIG_LIB $extra"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_crash = "preserve"
vdispl = [ $vd ]
CFG
    rm -f "$CONSOLE_DIR/guest-$name.log"
    if ! timeout 90 xl create "$XD/$name.cfg" > "$XD/$name.create.log" 2>&1; then
        cat "$XD/$name.create.log" >&2
        die_now "xl create $name failed"
    fi
    obs "$name.xl_create" ok
    ID=$(domid_of "$name")
    wait_key "/local/domain/$ID/data/ready" 90 > /dev/null || { show_console "$name"; die_now "$name did not write data/ready within 90 s"; }
    obs "$name.ready" yes
}
# dt_destroy NAME
dt_destroy() {
    timeout 60 xl destroy "$1" > "$XD/$1.destroy.log" 2>&1 || { cat "$XD/$1.destroy.log" >&2; bad "xl destroy $1 failed"; }
    local i=0; while domid_of "$1" > /dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
    cp "$CONSOLE_DIR/guest-$1.log" "$OUT/$1.console.log" 2>/dev/null
}
# dt_collect NAME PREFIX: move the backend's PNGs PREFIX-* to $OUT/NAME/.
dt_collect() {
    mkdir -p "$OUT/$1"
    echo "$2" > "$OUT/$1/prefix"
    n=$(ls "$DT/frames" | grep -c "^$2-")
    [ "$n" = 0 ] || mv "$DT/frames/$2"-* "$OUT/$1/"
    obs "$1.pngs" "$n"
}

# The KMS card (its kernel driver) and the connector guests are shown on
# (DT_CARD_DRIVER, DT_CONNECTOR: run.sh writes them for the architecture).
. /tests/bin/dt-card.env
# The card's /dev/dri/cardN (vgem may be card0).
kms_card() {
    local c
    for c in /sys/class/drm/card[0-9]*; do
        case $c in *-*) continue ;; esac  # connectors, not cards
        [ "$(basename "$(readlink "$c/device/driver")")" = "$DT_CARD_DRIVER" ] && { echo "/dev/dri/$(basename "$c")"; return 0; }
    done
    return 1
}
# Framebuffers on the card that the backend made (debugfs: "allocated by").
kms_backend_fbs() {
    local n
    n=$(kms_card) || { echo 0; return; }
    n=${n#/dev/dri/card}
    [ -d /sys/kernel/debug/dri ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    n=$(grep -c 'allocated by = vdispl-backend' "/sys/kernel/debug/dri/$n/framebuffer" 2>/dev/null)
    echo "${n:-0}"
}
# What the backend process holds: mappings of the card and of gntdev, and
# dma-buf descriptors. All 0 once no guest is connected.
backend_holdings() {
    local p; p=$(backend_pid)
    echo "card_maps=$(grep -c /dev/dri "/proc/$p/maps" 2>/dev/null) gntdev_maps=$(grep -c /dev/xen/gntdev "/proc/$p/maps" 2>/dev/null) dmabuf_fds=$(ls -l "/proc/$p/fd" 2>/dev/null | grep -c dmabuf) card_fbs=$(kms_backend_fbs)"
}
