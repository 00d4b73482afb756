#!/usr/bin/env bash
# Installing ours changes no other package (run by `make deb-test`, after
# test-package.sh), for the Debian release RIG_DEBIAN. A throwaway dpkg root
# holds Debian's Xen packages for real (libxengnttab1, its helpers,
# libxenmisc, libxen-dev and the Xen libraries those need) at the oldest
# version apt lists: on Debian 12 the point release's, older than the
# security update apt would install, as on a host installed from the point
# release whose lists are newer; on Debian 13 the only one. Then:
#   1. build-deb.sh, with that root as the installed system (INSTALLED_ADMINDIR),
#      makes ours Provide exactly that version;
#   2. apt-get install -s of both our packages against that root installs
#      ours, removes libxengnttab1 and changes nothing else;
#   3. the same with ours built to Provide another version (the candidate
#      where it is newer, else one that is not installed) changes Debian's Xen
#      packages: check 2 can fail. (That was the defect: ours Provided the
#      candidate, and installing it upgraded ten Xen packages.)
# KEEP=1 keeps the work dir. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/test-root.sh

OLD=$(listed_versions libxengnttab1 | tail -n1)
[[ -n $OLD ]] || fail "apt lists no version of libxengnttab1 for Debian $RIG_DEBIAN"
CAND=$(candidate_of libxengnttab1)
step "Debian $RIG_DEBIAN's Xen packages at $OLD in the root (candidate: $CAND)"
download_debian "$DEBS" "$OLD"
[[ $DEBIAN_VER == "$OLD" ]] || fail "could not download libxengnttab1=$OLD"
bootstrap_root "$ROOT" "$DEBS" "$OLD" "$RT_DEB" "$DEV_DEB"
D -i "$DEBS"/*.deb >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i Debian's packages:"$'\n'"$(cat "$WORK/dpkg.log")"
for p in "${REAL[@]}"; do expect_status "$p" ii; done
audit

# ours_for WHAT [XEN_DEB_VERSION]: build ours into $WORK/WHAT against the
# root's dpkg database; prints nothing, sets RT and DEV.
ours_for() {
  XEN_DEB_VERSION=${2:-} INSTALLED_ADMINDIR=$ROOT/var/lib/dpkg DEB_OUT=$WORK/$1 \
    bash packaging/build-deb.sh >"$WORK/build-$1.log" 2>&1 || fail "build-deb.sh ($1):"$'\n'"$(cat "$WORK/build-$1.log")"
  RT=$(deb_in "$WORK/$1" libxengnttab1-rs)
  DEV=$(deb_in "$WORK/$1" libxengnttab-rs-dev)
}

step "1. ours built with this root as the installed system"
ours_for default
provides=$(dpkg-deb -f "$RT" Provides)
[[ $provides == "libxengnttab1 (= $OLD)" ]] || fail "ours Provides '$provides', not the installed libxengnttab1 (= $OLD)"
pass "ours Provides the installed version: $provides"

step "2. apt-get install -s of ours against the root"
out=$(apt_simulate "$ROOT" "$RT" "$DEV") || fail "apt-get install -s refused ours:"$'\n'"$out"
only_ours_changes "Xen $OLD installed, candidate $CAND" "$out"

step "3. the same with ours Providing another version (the check can fail)"
other=$CAND
[[ $other != "$OLD" ]] || other=$OLD+other
ours_for other "$other"
refused=
out=$(apt_simulate "$ROOT" "$RT" "$DEV") || refused="apt refuses the install: $(grep '^E:' <<<"$out" | head -n1)"
{ grep -E '^(Inst|Remv) ' <<<"$out" || true; } | sed 's/^/   | /'
changed=$(grep -E '^(Inst|Remv) ' <<<"$out" | awk '{print $2}' |
  grep -vxE 'libxengnttab1-rs|libxengnttab-rs-dev|libxengnttab1' | tr '\n' ' ' || true)
[[ -n $changed || -n $refused ]] || fail "ours Providing $other changed nothing else: check 2 could not fail"
pass "ours Providing $other would not install cleanly: ${changed:+it changes }${changed}${refused}"

echo "deb-test (no side effects): PASS ($checks checks, $((SECONDS - T0)) s)"
