# wait_key PATH SECONDS: prints PATH's value once it exists; status 1 after
# SECONDS. Sourced by xd-lib.sh (dom0), guest-init and xd-vchan-peer (guest).
# It sleeps on a xenstore watch instead of polling: all domains share the one
# emulated CPU, and every process a poll loop spawns is taken from the tests.
# The watch fires once when set, then on each write at or under PATH; it is
# re-armed every 2 s, so a write that races its setting is seen 2 s late at worst.
wait_key() {
    local end=$(( $(date +%s) + $2 ))
    while ! xenstore-read "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        timeout 2 xenstore-watch -n 2 "$1" > /dev/null 2>&1
    done
    return 0  # (a loop's status is its body's last: the watch's)
}
