#!/usr/bin/env bash
# `make sbuild-test`: the packages sbuild built from the source package
# (build[/<release>]/sbuild/) against `make deb`'s for the same release
# (build[/<release>]/deb/): the same packages, each with the same files
# (paths, modes, owners, link targets; the -dbgsym files are named by build
# id, which differs between compilers), the same control fields that make ours
# stand in for Debian's, and the same library interface (soname, needed
# libraries, exported symbols with their versions); then lintian on sbuild's
# .changes and the .dsc, judged as capi/tests/debian.rs judges make deb's.
# Control fields that may differ with the compiler (Depends: the C library
# symbols the Rust standard library uses) are shown, not failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. testing/rig/common.sh
NAME=test-sbuild
fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
ok() { echo "   ok: $*"; }

REF=$RIG_BUILD/deb
SB=$RIG_BUILD/sbuild
WORK=$(mktemp -d "/tmp/xengnttab-$NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
pkgs() { for f in "$1"/*.deb; do dpkg-deb -f "$f" Package; done | LC_ALL=C sort; }
deb_of() { local f; for f in "$1"/"$2"_*.deb; do echo "$f"; return; done; }
[[ -n $(pkgs "$REF") ]] || fail "no packages in $REF (make deb RIG_DEBIAN=$RIG_DEBIAN)"
[[ -n $(pkgs "$SB") ]] || fail "no packages in $SB (make sbuild RIG_DEBIAN=$RIG_DEBIAN)"
[[ $(pkgs "$REF") == "$(pkgs "$SB")" ]] ||
  fail "different packages: make deb: $(pkgs "$REF" | xargs); sbuild: $(pkgs "$SB" | xargs)"
ok "the same packages: $(pkgs "$SB" | xargs)"

# "mode owner path[ -> target]", build ids masked.
files() {
  dpkg-deb -c "$1" | awk '{$3 = $4 = $5 = ""; print}' |
    sed -E -e 's|\.build-id/[0-9a-f]{2}/|.build-id/XX/|' -e 's|/XX/[0-9a-f]+\.debug|/XX/ID.debug|' | LC_ALL=C sort
}
for p in $(pkgs "$SB"); do
  a=$(deb_of "$REF" "$p") b=$(deb_of "$SB" "$p")
  diff -u <(files "$a") <(files "$b") >"$WORK/files.diff" ||
    fail "$p: the files differ (make deb -, sbuild +):"$'\n'"$(cat "$WORK/files.diff")"
  for field in Package Version Architecture Multi-Arch Section Priority Provides Conflicts Replaces Recommends Pre-Depends; do
    [[ $(dpkg-deb -f "$a" "$field") == "$(dpkg-deb -f "$b" "$field")" ]] ||
      fail "$p: $field differs: make deb '$(dpkg-deb -f "$a" "$field")', sbuild '$(dpkg-deb -f "$b" "$field")'"
  done
  da=$(dpkg-deb -f "$a" Depends) db=$(dpkg-deb -f "$b" Depends)
  [[ $da == "$db" ]] || echo "   note: $p: Depends differs: make deb '$da', sbuild '$db'"
  ok "$p $(dpkg-deb -f "$b" Version): $(files "$b" | wc -l) files, as make deb's"
done

# The library's interface.
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
abi() {
  local d=$WORK/$2 so
  dpkg-deb -x "$1" "$d"
  so=$d/usr/lib/$MA/libxengnttab.so.1.2
  [[ -f $so ]] || fail "no libxengnttab.so.1.2 in $1"
  readelf -d "$so" | sed -n 's/.*(\(SONAME\|NEEDED\)).*\[\(.*\)\]/\1 \2/p'
  readelf -V "$so" | sed -n 's/.*Name: \(VERS_[0-9.]*\).*/verdef \1/p' | LC_ALL=C sort -u
  objdump -T "$so" | awk '$4 != "*UND*" && $2 == "g" {print "export", $NF, $(NF-1)}' | LC_ALL=C sort
}
abi "$(deb_of "$REF" libxengnttab1-rs)" ref >"$WORK/ref.abi"
abi "$(deb_of "$SB" libxengnttab1-rs)" sb >"$WORK/sb.abi"
diff -u "$WORK/ref.abi" "$WORK/sb.abi" >"$WORK/abi.diff" ||
  fail "the library's interface differs (make deb -, sbuild +):"$'\n'"$(cat "$WORK/abi.diff")"
ok "the same library interface: $(sed -n 's/^SONAME //p' "$WORK/sb.abi"), $(grep -c '^export' "$WORK/sb.abi") exports"

# lintian, as capi/tests/debian.rs runs it on make deb's .changes.
for f in "$SB"/*.changes build/source/*.dsc; do
  out=$(lintian --fail-on error,warning --allow-root "$f" 2>&1) || fail "lintian $f:"$'\n'"$out"
  ! grep -qE '^(E|W):' <<<"$out" || fail "lintian $f:"$'\n'"$out"
  ok "lintian clean: ${f#"$TOP"/}"
done
echo "sbuild-test: PASS (Debian $RIG_DEBIAN)"
