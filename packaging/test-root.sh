# Sourced by packaging/test-package.sh and test-no-upgrades.sh, from the top
# of the tree: the release (testing/rig/common.sh, RIG_DEBIAN), checks and their
# output, a work directory (KEEP=1 keeps it) with a throwaway dpkg root
# ($ROOT) and a directory for Debian's packages ($DEBS), our packages
# ($RT_DEB, $DEV_DEB), Debian's Xen packages of the release at one version,
# and apt's view of installing ours.
TOP=$PWD
T0=$SECONDS
. testing/rig/common.sh
. testing/rig/debs.sh
NAME=$(basename "$0" .sh)

fail() { echo "$NAME: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
ok() { echo "   ok: $*"; }
checks=0
pass() { checks=$((checks + 1)); ok "$@"; }

for tool in dpkg dpkg-deb dpkg-query dpkg-divert apt-get apt-cache ldconfig cc strip objdump cmp pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool not found (needs dpkg, dpkg-dev, apt, libc-bin, gcc, binutils, pkg-config)"
done
[[ $(id -u) == 0 ]] || fail "must run as root (dpkg --root installs files owned by root)"

ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || cc -print-multiarch)
shopt -s nullglob
rt=("$RIG_BUILD"/deb/libxengnttab1-rs_*_"$ARCH".deb)
dev=("$RIG_BUILD"/deb/libxengnttab-rs-dev_*_"$ARCH".deb)
shopt -u nullglob
((${#rt[@]} == 1 && ${#dev[@]} == 1)) || fail "expected one runtime and one -dev .deb in $RIG_BUILD/deb (run 'make deb')"
RT_DEB=${rt[0]}
DEV_DEB=${dev[0]}

WORK=$(mktemp -d "/tmp/xengnttab-$NAME.XXXXXX")
chmod 0755 "$WORK"   # apt-get download drops privileges to _apt
cleanup() { if [[ ${KEEP:-0} == 1 ]]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
ROOT=$WORK/root
DEBS=$WORK/debs
mkdir -p "$DEBS"
echo "$NAME: Debian $RIG_DEBIAN, root $ROOT; packages ${RT_DEB#"$TOP"/} ${DEV_DEB#"$TOP"/}"

D() { dpkg --root="$ROOT" --force-script-chrootless --log=/dev/null "$@"; }
status() { dpkg-query --root="$ROOT" -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' ' || true; }
audit() {
  local out
  out=$(D --audit 2>&1) || fail "dpkg --audit failed: $out"
  [[ -z $out ]] || fail "dpkg --audit reports problems:"$'\n'"$out"
  pass "dpkg --audit: database consistent, all dependencies satisfied"
}
expect_status() { # package abbrev
  local s; s=$(status "$1")
  [[ $s == "$2" ]] || fail "$1 status '$s', expected '$2'"
  pass "$1 status $2"
}

# The Debian packages under test with ours: the library, its two helper
# libraries, a dependant at >= (libxenmisc, libxenctrl etc.) and one at =
# (libxen-dev). All built from Xen's source: they always share one version.
MISC=libxenmisc$RIG_XEN
REAL=(libxengnttab1 libxentoolcore1 libxentoollog1 "$MISC" libxen-dev)

# download_debian DIR VERSION: the REAL packages at VERSION into DIR; sets
# DEBIAN_VER to the version got: VERSION or, where the archive no longer
# serves it even with fresh lists, the one apt fell back to (said on stderr).
download_debian() {
  apt_retrying _download_debian "$@" >&2
  DEBIAN_VER=$(dpkg-deb -f "$(deb_in "$1" libxengnttab1)" Version)
}
_download_debian() {
  declare -A v=([libxengnttab1]=$2)
  rm -f "$1"/*.deb
  download_deb "$1" libxengnttab1 v
  download_at "$1" "${v[libxengnttab1]}" "${REAL[@]:1}"
}
deb_in() { local f=("$1/$2"_*.deb); [[ -f ${f[0]} ]] || fail "no downloaded .deb for $2 in $1"; echo "${f[0]}"; }

# bootstrap_root ROOT DEBS_DIR VERSION DEB...: an empty dpkg database in ROOT
# ready for DEBS_DIR's packages and DEB...: their dependencies that are other
# packages of Xen's source (libxencall1, libxenstore4...) are downloaded into
# DEBS_DIR at VERSION too and listed in SIBLINGS (.debs) for the caller to
# install with Debian's library; every other dependency (libc6...) is
# installed as a status-only stub (no files) at apt's candidate. So every
# dependency check on the packages under test is real, and apt sees Xen's
# packages as the archive's own.
bootstrap_root() {
  local root=$1 debs=$2 ver=$3 n v stubs stubbed=() sib=()
  shift 3
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers" \
    "$root/var/log" "$root/etc"
  touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
  echo "/usr/lib/$MA" >"$root/etc/ld.so.conf"
  stubs=$(deps_not_in "$debs" "$@")
  # shellcheck disable=SC2086
  while read -r n v; do [[ $v == "$ver" ]] && sib+=("$n"); done < <(
    rig_apt_cache madison $stubs 2>/dev/null | awk -F'|' '{gsub(/ /, "", $1); gsub(/ /, "", $2); print $1, $2}')
  apt_retrying download_at "$debs" "$ver" "${sib[@]}" >&2
  SIBLINGS=()
  for n in "${sib[@]}"; do SIBLINGS+=("$(deb_in "$debs" "$n")"); done
  stubs=$(deps_not_in "$debs" "$@")
  declare -A cand=() ma=()
  # shellcheck disable=SC2086
  candidate_versions cand $stubs
  # Multi-Arch as in the archive: apt takes a stub without it for another
  # package than the archive's.
  # shellcheck disable=SC2086
  while read -r n v; do ma[$n]=$v; done < <(rig_apt_cache show --no-all-versions $stubs 2>/dev/null |
    awk '/^Package:/ {p = $2} /^Multi-Arch:/ {print p, $2}')
  for n in $stubs; do
    cat >>"$root/var/lib/dpkg/status" <<EOF
Package: $n
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 0
Maintainer: deb-test stub <stub@invalid>
Architecture: $ARCH
Version: ${cand[$n]}${ma[$n]:+
Multi-Arch: ${ma[$n]}}
Description: status-only stub for the deb-test root

EOF
    : >"$root/var/lib/dpkg/info/$n.list"
    : >"$root/var/lib/dpkg/info/$n.md5sums"
    stubbed+=("$n")
  done
  pass "Xen's ${sib[*]} at $ver to install for real; stubbed as installed (status only): ${stubbed[*]}"
}
# deps_not_in DEBS_DIR DEB...: the packages the .debs in DEBS_DIR and DEB...
# depend on that are neither among them nor ours.
deps_not_in() {
  local debs=$1 f have
  shift
  have=$(for f in "$debs"/*.deb "$@"; do dpkg-deb -f "$f" Package; done)
  # shellcheck disable=SC2046
  for f in "$debs"/*.deb "$@"; do dpkg-deb -f "$f" Pre-Depends; dpkg-deb -f "$f" Depends; done |
    tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*//' -e 's/:any//' -e 's/[[:space:]]//g' | grep . | LC_ALL=C sort -u |
    grep -vxF -e libxengnttab1-rs -e libxengnttab-rs-dev $(printf -- '-e %s ' $have) || true
}
# download_at DIR VERSION PKG...: each PKG at exactly VERSION into DIR.
download_at() {
  local dir=$1 p
  declare -A v=()
  shift
  for p in "${@:2}"; do v[$p]=$1; download_deb "$dir" "$p" v exact; done
}

# apt_simulate ROOT DEB...: apt-get install -s of DEB... against ROOT's dpkg
# database ("" for the host's) and the release's package lists: its output
# and status (it changes nothing).
apt_simulate() {
  local root=$1
  shift
  rig_apt_get -s -o "Dir::State::status=$root/var/lib/dpkg/status" install "$@" 2>&1
}

# only_ours_changes WHERE APT_LINES: the simulation installs ours, removes
# libxengnttab1 and installs, upgrades or removes nothing else.
only_ours_changes() {
  local other
  grep -E '^(Inst|Remv) ' <<<"$2" | sed 's/^/   | /'
  grep -q '^Inst libxengnttab1-rs ' <<<"$2" || fail "apt would not install libxengnttab1-rs ($1)"
  other=$(grep -E '^(Inst|Remv) ' <<<"$2" | awk '{print $1, $2}' | grep -vxE 'Inst libxengnttab1-rs|Inst libxengnttab-rs-dev|Remv libxengnttab1' || true)
  [[ -z $other ]] || fail "installing ours would also change other packages ($1):"$'\n'"$other"
  pass "apt installs ours removing only libxengnttab1, changing nothing else ($1)"
}
