#!/usr/bin/env bash
# Install test of build[/<release>]/deb/*.deb (run by `make deb-test`, after
# `make deb`) for the Debian release RIG_DEBIAN (12 by default) in a throwaway
# dpkg root of that release, never touching the host's package database.
# Debian's packages are all taken at the version ours Provides:
#   1. Debian's real libxengnttab1 (+ libxentoolcore1, libxentoollog1) and a
#      dependant, libxenmisc<xen> (libxenctrl etc.), go in first.
#   2. Our libxengnttab1-rs replaces libxengnttab1 (Conflicts/Replaces/
#      Provides): dpkg accepts it with the dependant installed, the loader
#      resolves libxengnttab.so.1 to our file, a program linked against
#      Debian's library runs on ours.
#   3. Dependants install with ours in place: libxenmisc<xen> (>= version)
#      and libxen-dev (= exact version).
#   4. libxengnttab-rs-dev diverts libxen-dev's header/.so/.pc and builds a
#      client via pkg-config; removing it puts libxen-dev's files back.
#   5. Restore: ours out, Debian's libxengnttab1 back and loaded again.
#   6. On a host of that release, apt's resolver (simulation) installs ours
#      removing only libxengnttab1 and changing nothing else.
# The other Xen libraries those need go in for real with Debian's library;
# everything else is stubbed as installed in the root's status file (status
# only, no files), so dependency checks are real for the packages under test
# (test-root.sh). KEEP=1 keeps the work dir. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. packaging/test-root.sh
HOST_DIVERSIONS=$(dpkg-divert --list '*xengnttab*')
BUILT_LIB=$TOP/build/lib/libxengnttab.so.1.2
[[ -f $BUILT_LIB ]] || fail "$BUILT_LIB missing (run 'make lib')"
LIBD=$ROOT/usr/lib/$MA

# ---- Debian's packages, at the version ours Provides --------------------------
PROVIDES=$(dpkg-deb -f "$RT_DEB" Provides)
WANT=${PROVIDES#"libxengnttab1 (= "}
WANT=${WANT%")"}
[[ $PROVIDES == "libxengnttab1 (= $WANT)" ]] || fail "our Provides '$PROVIDES' is not libxengnttab1 (= VERSION)"
step "downloading Debian $RIG_DEBIAN's ${REAL[*]} at $WANT"
download_debian "$DEBS" "$WANT"
if [[ $DEBIAN_VER != "$WANT" ]]; then
  # The archive no longer serves what ours Provides (an older installed
  # version): test ours built for the version it does serve.
  echo "   $WANT is not downloadable any more: testing ours rebuilt to Provide $DEBIAN_VER" >&2
  XEN_DEB_VERSION=$DEBIAN_VER DEB_OUT=$WORK/ours bash packaging/build-deb.sh >/dev/null
  RT_DEB=$(deb_in "$WORK/ours" libxengnttab1-rs)
  DEV_DEB=$(deb_in "$WORK/ours" libxengnttab-rs-dev)
  PROVIDES=$(dpkg-deb -f "$RT_DEB" Provides)
fi
deb_of() { deb_in "$DEBS" "$1"; }
for p in "${REAL[@]}"; do deb_of "$p" >/dev/null; done
pass "downloaded ${REAL[*]} ($DEBIAN_VER)"
[[ $PROVIDES == "libxengnttab1 (= $DEBIAN_VER)" ]] || fail "our Provides '$PROVIDES' is not libxengnttab1 (= $DEBIAN_VER)"
pass "our package Provides: $PROVIDES"
DEBX=$WORK/debian-lib
dpkg-deb -x "$(deb_of libxengnttab1)" "$DEBX"
DEVX=$WORK/debian-dev
dpkg-deb -x "$(deb_of libxen-dev)" "$DEVX"
# What our package must have installed: the library it carries, whose code is
# the one `make lib` built (the same .text; the package's copy keeps a link to
# its -dbgsym debug information, build/lib's is stripped).
OURS=$WORK/ours.so
dpkg-deb --fsys-tarfile "$RT_DEB" | tar -xO "./usr/lib/$MA/libxengnttab.so.1.2" >"$OURS"
objcopy -O binary --only-section=.text "$OURS" "$WORK/ours.text"
objcopy -O binary --only-section=.text "$BUILT_LIB" "$WORK/built.text"
cmp -s "$WORK/ours.text" "$WORK/built.text" || fail "the packaged library's code is not build/lib/libxengnttab.so.1.2's"
pass "the packaged library's code (.text, $(stat -c %s "$WORK/ours.text") bytes) is build/lib's"
cmp -s "$OURS" "$DEBX/usr/lib/$MA/libxengnttab.so.1.2" && fail "our library is byte-identical to Debian's?"

# ---- bootstrap the throwaway root --------------------------------------------
step "bootstrapping dpkg root"
bootstrap_root "$ROOT" "$DEBS" "$DEBIAN_VER" "$RT_DEB" "$DEV_DEB"

# A program linked against Debian's library that prints which libxengnttab
# file it runs on (path and inode, from /proc/self/maps).
cat >"$WORK/which.c" <<'EOF'
#include <stdio.h>
#include <string.h>
struct xentoollog_logger;
typedef struct xengntdev_handle xengnttab_handle;
xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags);
int xengnttab_close(xengnttab_handle *xgt);
int main(void)
{
    /* Without /dev/xen this fails (NULL) on both libraries: calling it is
     * what binds the versioned symbol. */
    xengnttab_handle *h = xengnttab_open(NULL, 0);
    if (h)
        xengnttab_close(h);
    FILE *m = fopen("/proc/self/maps", "r");
    char line[4096], last[4096] = "";
    unsigned long ino;
    char path[4096];
    while (m && fgets(line, sizeof line, m))
        if (sscanf(line, "%*s %*s %*s %*s %lu %4095s", &ino, path) == 2 &&
            strstr(path, "libxengnttab") && strcmp(path, last)) {
            printf("%lu %s\n", ino, path);
            strcpy(last, path);
        }
    return 0;
}
EOF

loaded_is() { # loaded_is EXPECTED_FILE WHAT: program + loader resolve to it
  local out ino path n
  out=$(LD_LIBRARY_PATH=$LIBD "$WORK/which" 2>/dev/null) || fail "test program failed to run"
  n=$(wc -l <<<"$out")
  [[ $n == 1 ]] || fail "expected one libxengnttab mapping, got:"$'\n'"$out"
  read -r ino path <<<"$out"
  [[ $path == "$LIBD/libxengnttab.so.1.2" ]] || fail "program loaded $path, not $LIBD/libxengnttab.so.1.2"
  [[ $ino == $(stat -c %i "$path") ]] || fail "mapped inode $ino is not $path's"
  cmp -s "$path" "$1" || fail "the loaded $path is not $2"
  pass "program linked against Debian's library runs on $2 (maps: $path, inode $ino)"
  out=$(LD_LIBRARY_PATH=$LIBD LD_DEBUG=libs "$WORK/which" 2>&1 >/dev/null | grep 'calling init: .*libxengnttab' || true)
  [[ $out == *"$LIBD/libxengnttab.so.1"* ]] || fail "LD_DEBUG=libs shows no init of $LIBD/libxengnttab.so.1: $out"
  pass "LD_DEBUG=libs: loader initialised $LIBD/libxengnttab.so.1"
  ldconfig -r "$ROOT" || fail "ldconfig -r $ROOT failed"
  out=$(ldconfig -r "$ROOT" -p | grep 'libxengnttab.so.1 ' || true)
  [[ $out == *"=> /usr/lib/$MA/libxengnttab.so.1" ]] || fail "root's ld.so.cache: '$out'"
  [[ $(readlink "$LIBD/libxengnttab.so.1") == libxengnttab.so.1.2 ]] || fail "ldconfig changed the SONAME link"
  cmp -s "$LIBD/libxengnttab.so.1" "$1" || fail "libxengnttab.so.1 in the root does not resolve to $2"
  pass "ldconfig -r: libxengnttab.so.1 => /usr/lib/$MA/libxengnttab.so.1 -> libxengnttab.so.1.2 = $2"
}

# ---- 1. Debian's library and a dependant -------------------------------------
step "1. installing Debian's libxengnttab1 and dependant $MISC"
D -i "$(deb_of libxentoolcore1)" "$(deb_of libxentoollog1)" "$(deb_of libxengnttab1)" "${SIBLINGS[@]}" \
  >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i Debian's libxengnttab1:"$'\n'"$(cat "$WORK/dpkg.log")"
D -i "$(deb_of $MISC)" >"$WORK/dpkg.log" 2>&1 \
  || fail "dpkg -i $MISC:"$'\n'"$(cat "$WORK/dpkg.log")"
expect_status libxengnttab1 ii
expect_status $MISC ii
cmp -s "$LIBD/libxengnttab.so.1" "$DEBX/usr/lib/$MA/libxengnttab.so.1.2" || fail "Debian's library not in place"
pass "libxengnttab.so.1 -> Debian's libxengnttab.so.1.2"
audit
cc -o "$WORK/which" "$WORK/which.c" "$LIBD/libxengnttab.so.1" -Wl,-rpath-link,"$LIBD" \
  || fail "cannot link the test program against Debian's library"
objdump -T "$WORK/which" | grep -q 'VERS_1.0.*xengnttab_open' || fail "test program does not bind xengnttab_open@VERS_1.0"
pass "test program linked against Debian's library (binds xengnttab_open@VERS_1.0)"
loaded_is "$DEBX/usr/lib/$MA/libxengnttab.so.1.2" "Debian's library"

# ---- 2. ours replaces it --------------------------------------------------------
step "2. installing ours over it (dpkg -i ${RT_DEB##*/})"
D -i "$RT_DEB" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i ours:"$'\n'"$(cat "$WORK/dpkg.log")"
grep -i -E 'remov|replac|conflict' "$WORK/dpkg.log" | sed 's/^/   | /' || true
expect_status libxengnttab1-rs ii
s=$(status libxengnttab1)
[[ $s != ii && $s != i* ]] || fail "Debian's libxengnttab1 still installed ($s)"
pass "Debian's libxengnttab1 removed by dpkg (status '${s:-unknown}')"
expect_status $MISC ii
owner=$(dpkg-query --root="$ROOT" -S "/usr/lib/$MA/libxengnttab.so.1.2" 2>&1) || fail "dpkg -S: $owner"
[[ $owner == "libxengnttab1-rs:$ARCH: /usr/lib/$MA/libxengnttab.so.1.2" || $owner == "libxengnttab1-rs: /usr/lib/$MA/libxengnttab.so.1.2" ]] \
  || fail "library owned by '$owner'"
pass "dpkg -S: $owner"
[[ $(stat -c %a "$LIBD/libxengnttab.so.1.2") == 644 ]] || fail "library mode is not 0644"
pass "installed library mode 0644"
cmp -s "$LIBD/libxengnttab.so.1.2" "$OURS" || fail "installed file differs from the package's"
pass "installed libxengnttab.so.1.2 = the package's ($(stat -c %s "$OURS") bytes)"
out=$(D --verify libxengnttab1-rs 2>&1) && [[ -z $out ]] || fail "dpkg --verify (md5sums): $out"
pass "dpkg --verify libxengnttab1-rs: md5sums match"
audit
loaded_is "$OURS" "our library"

# ---- 3. dependants install with ours in place ---------------------------------
step "3. dependants with ours in place"
for p in $MISC libxen-dev; do
  dep=$(dpkg-deb -f "$(deb_of "$p")" Depends | tr ',' '\n' | grep -o 'libxengnttab1 ([^)]*)')
  D -i "$(deb_of "$p")" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i $p with ours in place:"$'\n'"$(cat "$WORK/dpkg.log")"
  expect_status "$p" ii
  pass "$p (Depends: $dep) accepted by dpkg with ours in place"
done
expect_status libxengnttab1-rs ii
audit

# ---- 4. development package ----------------------------------------------------
step "4. installing ${DEV_DEB##*/} over libxen-dev's files"
D -i "$DEV_DEB" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i ours -dev:"$'\n'"$(cat "$WORK/dpkg.log")"
expect_status libxengnttab-rs-dev ii
DIVERTED=(/usr/include/xengnttab.h "/usr/lib/$MA/libxengnttab.so" "/usr/lib/$MA/pkgconfig/xengnttab.pc")
check_diverted() {
  local f
  for f in "${DIVERTED[@]}"; do
    dpkg-divert --root="$ROOT" --list "$f" | grep -q "diversion of $f to $f.distrib by libxengnttab-rs-dev" \
      || fail "$f is not diverted"
    if [[ -L $DEVX$f ]]; then
      [[ $(readlink "$ROOT$f.distrib") == "$(readlink "$DEVX$f")" ]] || fail "$f.distrib is not libxen-dev's"
    else
      cmp -s "$ROOT$f.distrib" "$DEVX$f" || fail "$f.distrib is not libxen-dev's"
    fi
  done
  cmp -s "$ROOT/usr/include/xengnttab.h" include/xengnttab.h || fail "/usr/include/xengnttab.h is not ours"
  [[ $(readlink "$LIBD/libxengnttab.so") == libxengnttab.so.1 ]] || fail "libxengnttab.so link"
  grep -q "^libdir=/usr/lib/$MA\$" "$LIBD/pkgconfig/xengnttab.pc" || fail "xengnttab.pc libdir"
  grep -q 'Rust' "$LIBD/pkgconfig/xengnttab.pc" || fail "xengnttab.pc is not ours"
  pass "libxen-dev's xengnttab.h, libxengnttab.so, xengnttab.pc diverted to *.distrib; ours in place"
}
check_diverted
audit
PCENV=(env PKG_CONFIG_LIBDIR="$LIBD/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$ROOT")
flags=$("${PCENV[@]}" pkg-config --cflags --libs xengnttab) || fail "pkg-config xengnttab failed in the root"
cat >"$WORK/client.c" <<'EOF'
#include <stddef.h>
#include <xengnttab.h>
int main(void) { xengnttab_handle *h = xengnttab_open(NULL, 0); if (h) xengnttab_close(h); return 0; }
EOF
# shellcheck disable=SC2086
cc -o "$WORK/client" "$WORK/client.c" $flags || fail "cannot build a client with the -dev package ($flags)"
LD_LIBRARY_PATH=$LIBD "$WORK/client" 2>/dev/null || fail "client built with the -dev package failed"
pass "client built with pkg-config ($flags) against the root and run on ours"
D -i "$(deb_of libxen-dev)" >"$WORK/dpkg.log" 2>&1 || fail "reinstalling libxen-dev over the diversions:"$'\n'"$(cat "$WORK/dpkg.log")"
check_diverted
pass "reinstalling libxen-dev keeps the diversions"
D -r libxengnttab-rs-dev >"$WORK/dpkg.log" 2>&1 || fail "dpkg -r ours -dev:"$'\n'"$(cat "$WORK/dpkg.log")"
for f in "${DIVERTED[@]}"; do
  [[ -z $(dpkg-divert --root="$ROOT" --list "$f") ]] || fail "$f still diverted after removal"
  [[ ! -e $ROOT$f.distrib && ! -L $ROOT$f.distrib ]] || fail "$f.distrib left behind"
done
cmp -s "$ROOT/usr/include/xengnttab.h" "$DEVX/usr/include/xengnttab.h" || fail "libxen-dev's header not restored"
cmp -s "$LIBD/pkgconfig/xengnttab.pc" "$DEVX/usr/lib/$MA/pkgconfig/xengnttab.pc" || fail "libxen-dev's xengnttab.pc not restored"
[[ $(readlink "$LIBD/libxengnttab.so") == "$(readlink "$DEVX/usr/lib/$MA/libxengnttab.so")" ]] || fail "libxen-dev's .so link not restored"
pass "dpkg -r libxengnttab-rs-dev: diversions removed, libxen-dev's three files back"
audit

# ---- 5. restore Debian's library ----------------------------------------------
step "5. restoring Debian's libxengnttab1"
D -r --force-depends libxengnttab1-rs >"$WORK/dpkg.log" 2>&1 || fail "dpkg -r ours:"$'\n'"$(cat "$WORK/dpkg.log")"
D -i "$(deb_of libxengnttab1)" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i Debian's libxengnttab1 again:"$'\n'"$(cat "$WORK/dpkg.log")"
expect_status libxengnttab1 ii
s=$(status libxengnttab1-rs)
[[ $s != i* ]] || fail "ours still installed ($s)"
pass "libxengnttab1-rs removed (status '${s:-unknown}')"
expect_status $MISC ii
expect_status libxen-dev ii
out=$(D --verify libxengnttab1 2>&1) && [[ -z $out ]] || fail "dpkg --verify libxengnttab1: $out"
pass "dpkg --verify libxengnttab1: Debian's files intact"
audit
loaded_is "$DEBX/usr/lib/$MA/libxengnttab.so.1.2" "Debian's library"

# ---- 6. apt's resolver on the host (simulation only, changes nothing) ------------
# (In a root of the release, with Xen installed at the version ours Provides
# or older: packaging/test-no-upgrades.sh.)
if [[ $RIG_NATIVE == 1 ]]; then
  step "6. apt-get install -s of both packages on this host (simulation)"
  out=$(apt_simulate "" "$RT_DEB" "$DEV_DEB") || fail "apt-get install -s refused ours:"$'\n'"$out"
  only_ours_changes "this host" "$out"
  [[ $(dpkg-divert --list '*xengnttab*') == "$HOST_DIVERSIONS" ]] || fail "the host's diversions changed"
  pass "host's dpkg database untouched (diversions unchanged)"
fi

echo "deb-test: PASS ($checks checks, $((SECONDS - T0)) s)"
