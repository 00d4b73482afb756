#!/usr/bin/env bash
# The source package that sbuild builds (run by `make source-package`): the
# files git tracks (and new ones staged) as they are in the working tree, not
# build/ or target/, plus the crates of Cargo.lock as vendor/ (`cargo vendor
# --locked`), because sbuild builds with no network; debian/rules builds from
# vendor/ when it is there. `dpkg-source -b` then writes
# build/source/<source>_<ver>.dsc and .tar.xz. See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build-source: error: $*" >&2; exit 1; }
for tool in git cargo tar dpkg-source dpkg-parsechangelog; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install git dpkg-dev; cargo: rustup)"
done
SRC=$(dpkg-parsechangelog -SSource)
VER=$(dpkg-parsechangelog -SVersion)
OUT=$PWD/build/source
DIR=$OUT/$SRC-$VER
rm -rf "$OUT"
mkdir -p "$OUT"

# `git stash create` makes a commit of the tracked files' uncommitted changes
# without touching the tree or the stash list; with none, HEAD is the tree.
TREE=$(git stash create)
git archive --prefix="$SRC-$VER/" "${TREE:-HEAD}" | tar -x -C "$OUT"
FROM="commit $(git rev-parse --short HEAD)"
[[ -z $TREE ]] || FROM="the tracked files as they are now (uncommitted changes on $FROM)"
echo "build-source: $SRC $VER from $FROM"

# cargo vendor prints the config that uses vendor/; debian/rules writes its own.
(cd "$DIR" && cargo vendor --locked --quiet vendor >/dev/null) || die "cargo vendor failed"
echo "build-source: vendored $(ls "$DIR/vendor" | wc -l) crates ($(du -sh "$DIR/vendor" | cut -f1))"

# dpkg-source's default --tar-ignore drops files such as .gitignore anywhere in
# the tree, and some crates have nested ones that cargo's vendor checksums
# list (a missing one fails the build). A pattern of our own replaces the
# defaults; the export has no VCS files for them to catch.
(cd "$OUT" && dpkg-source --tar-ignore=.git -b "$SRC-$VER" >"$OUT/dpkg-source.log" 2>&1) ||
  die "dpkg-source -b failed:"$'\n'"$(tail -20 "$OUT/dpkg-source.log")"
DSC=$OUT/${SRC}_$VER.dsc
TAR=$OUT/${SRC}_$VER.tar.xz
[[ -f $DSC && -f $TAR ]] || die "dpkg-source made no $DSC and $TAR"
# Every exported and vendored file is in the tarball.
diff <(cd "$OUT" && find "$SRC-$VER" ! -type d | LC_ALL=C sort) \
     <(tar -tJf "$TAR" | grep -v '/$' | LC_ALL=C sort) >"$OUT/missing.diff" ||
  die "the tarball does not hold exactly the exported files:"$'\n'"$(head -20 "$OUT/missing.diff")"
rm -rf "$DIR" "$OUT/missing.diff"
echo "build-source: $DSC ($(du -h "$TAR" | cut -f1) tarball)"
