# Debian packages for everything in this project that gets them: the rigs,
# the package test, CI's host packages. Sourced after testing/rig/common.sh (log, die,
# RIG_CODENAME, RIG_NATIVE, RIG_CACHE_DIR). Host tools are installed with the
# host's apt; everything a domain runs is downloaded and unpacked into a
# cache, never installed. A package no version of can be had fails the run,
# named.
#
# Stale apt lists: a download or install that fails may only mean that the
# lists are older than the archive (it serves newer versions, or a newer
# kernel ABI, and dropped the ones listed). So a script runs its work as
# `apt_retrying FUNC`: when something fails for a reason fresh lists could
# cure, the first pass stops (apt_stale), apt-get update runs once, and FUNC
# runs again from the start, resolving every version anew; in that second
# pass a version the archive still does not serve falls back to the other
# versions apt lists, said on stderr.

# apt for the release under test: the host's own, or for another release a
# private state in the cache (own sources file, lists, archives; the host's
# apt configuration is untouched). The archive is the host's own Debian mirror.
RIG_APT_DIR=$RIG_CACHE_DIR/apt
# The host's own release on another architecture keeps the host's sources
# (its updates and security suites too, so both architectures get the same
# Xen and kernel builds) with private lists.
RIG_APT_OPTS=(-o APT::Sandbox::User=root -o DPkg::Lock::Timeout=600)
RIG_OWN_SOURCES=0
[ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = "$RIG_CODENAME" ] || RIG_OWN_SOURCES=1
if [ "$RIG_NATIVE" = 0 ]; then
    [ "$RIG_OWN_SOURCES" = 0 ] ||
        RIG_APT_OPTS+=(-o "Dir::Etc::sourcelist=$RIG_APT_DIR/sources.list" -o Dir::Etc::sourceparts=-)
    RIG_APT_OPTS+=(-o "Dir::State::Lists=$RIG_APT_DIR/lists" -o "Dir::Cache=$RIG_APT_DIR/cache"
                   -o "Dir::State::status=$RIG_APT_DIR/status")
    # Another architecture's packages (never installed): its lists, and the
    # host's architecture's too, for the kernel build tools that run on the host
    # (linux-kbuild) at exactly the image's version.
    [ "$(dpkg --print-architecture)" = "$RIG_DEB_ARCH" ] ||
        RIG_APT_OPTS+=(-o "APT::Architecture=$RIG_DEB_ARCH" -o "APT::Architectures::=$RIG_DEB_ARCH"
                       -o "APT::Architectures::=$(dpkg --print-architecture)")
fi
rig_apt_get() { apt-get "${RIG_APT_OPTS[@]}" "$@"; }
rig_apt_cache() { apt-cache "${RIG_APT_OPTS[@]}" "$@"; }

# host_suites: "URI SUITE" for every apt source of the host (sources.list
# format or deb822 .sources) serving the host's own codename or one of its
# suites (bookworm, bookworm-updates, bookworm-security), in apt's order.
host_suites() {
    local host
    host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    {
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
            awk '$1 == "deb" {print $2, $3}'
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            grep -v '^[[:space:]]*#' "$f" | awk -v RS= '
                /(^|\n)Enabled:[ \t]*no/ {next}
                {uris = suites = types = ""
                 n = split($0, l, "\n")
                 for (i = 1; i <= n; i++) {
                     if (l[i] ~ /^URIs:/) uris = substr(l[i], 6)
                     if (l[i] ~ /^Suites:/) suites = substr(l[i], 8)
                     if (l[i] ~ /^Types:/) types = " " substr(l[i], 7) " "
                 }
                 if (types !~ / deb /) next
                 split(uris, u, " "); m = split(suites, s, " ")
                 for (i = 1; i <= m; i++) print u[1], s[i]}'
        done
    } | awk -v c="$host" '$2 == c || index($2, c "-") == 1'
}

# host_archive: the URI of the host's main Debian archive: the first apt
# source serving the host's own codename, e.g. bookworm (not bookworm-security).
host_archive() {
    local host
    host=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    host_suites | awk -v c="$host" '$2 == c {print $1; exit}'
}

# rig_apt_init: make the private apt state (not for the host's own release);
# its lists are fetched the first time.
rig_apt_init() {
    [ "$RIG_NATIVE" = 0 ] || return 0
    local uri line
    if [ "$RIG_OWN_SOURCES" = 0 ]; then
        mkdir -p "$RIG_APT_DIR"/lists/partial "$RIG_APT_DIR"/cache/archives/partial
        touch "$RIG_APT_DIR/status"
        ls "$RIG_APT_DIR"/lists/*_Packages* > /dev/null 2>&1 || apt_update
        return 0
    fi
    uri=$(host_archive)
    [ -n "$uri" ] || die "cannot find the host's Debian archive in /etc/apt/sources.list{,.d/} (needed for $RIG_CODENAME's packages)"
    line="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $RIG_CODENAME main"
    mkdir -p "$RIG_APT_DIR"/lists/partial "$RIG_APT_DIR"/cache/archives/partial
    touch "$RIG_APT_DIR/status"
    if [ "$(cat "$RIG_APT_DIR/sources.list" 2>/dev/null)" != "$line" ]; then
        echo "$line" > "$RIG_APT_DIR/sources.list"
        rm -f "$RIG_APT_DIR"/lists/*_Packages*
    fi
    ls "$RIG_APT_DIR"/lists/*_Packages* > /dev/null 2>&1 || apt_update
}

# apt_update [host]: apt-get update of the release's lists (private or the
# host's), or with "host" of the host's own.
apt_update() {
    if [ "${1:-}" = host ] || [ "$RIG_NATIVE" = 1 ]; then
        log "apt-get update (the host's lists)"
        apt-get -q -o DPkg::Lock::Timeout=600 update >&2 || die "apt-get update failed"
    else
        log "apt-get update ($RIG_CODENAME, private lists in $RIG_APT_DIR)"
        rig_apt_get -q update >&2 || die "apt-get update failed for $RIG_CODENAME"
    fi
}

# apt_stale [--host] MESSAGE: a failure that fresh apt lists (the host's with
# --host) may cure. In the first pass of apt_retrying: end the pass (status 75,
# 76 for the host's lists) so the lists get updated; otherwise fail the run.
apt_stale() {
    local rc=75
    [ "$1" = --host ] && { rc=76; shift; }
    if [ "${RIG_APT_PASS:-}" = 1 ]; then
        log "$* (apt lists older than the archive?)"
        exit "$rc"
    fi
    die "$*"
}

# apt_retrying FUNC [ARGS...]: run FUNC in a subshell; if it ends with
# apt_stale, update the lists once and run it again (see the top).
apt_retrying() {
    local rc
    rig_apt_init
    set +e
    (set -e; RIG_APT_PASS=1; "$@")
    rc=$?
    set -e
    case $rc in 75) apt_update ;; 76) apt_update host ;; *) return "$rc" ;; esac
    log "apt lists updated; resolving every package again"
    (set -e; RIG_APT_PASS=2; "$@")
}

# rig_abi: kernel ABI of Debian's current image for the architecture, e.g.
# 6.1.0-56 (older ABIs vanish from the archive, so it is looked up, not
# pinned). RIG_ABI overrides.
rig_abi() {
    if [ -n "${RIG_ABI:-}" ]; then echo "$RIG_ABI"; return; fi
    local dep a=$RIG_DEB_ARCH
    dep=$(rig_apt_cache depends "linux-image-$a" 2>/dev/null |
          sed -n "s/.*Depends: linux-image-\\(.*\\)-$a\$/\\1/p" | head -n1)
    [ -n "$dep" ] || apt_stale "cannot find the kernel ABI from linux-image-$a"
    echo "$dep"
}

# candidate_versions ARRAY PKG...: apt's candidate version of each package into
# the associative array ARRAY, in one apt-cache call (each costs ~0.5 s).
candidate_versions() {
    local -n _versions=$1
    shift
    local n v p
    while read -r n v; do _versions[$n]=$v; done < <(
        rig_apt_cache policy "$@" | awk '/^[^ ]/ {n = $1; sub(/:$/, "", n)} /Candidate:/ {print n, $2}')
    for p in "$@"; do
        [ -n "${_versions[$p]:-}" ] && [ "${_versions[$p]}" != "(none)" ] ||
            apt_stale "package $p not known to apt ($RIG_CODENAME)"
    done
}

# candidate_of PKG: apt's candidate version of PKG, on stdout.
candidate_of() {
    declare -A _c=()
    candidate_versions _c "$1"
    echo "${_c[$1]}"
}

# listed_versions [host] PKG: every version apt lists for PKG, newest first
# (the release's apt, or the host's).
listed_versions() {
    local apt=(rig_apt_cache)
    [ "$1" = host ] && { apt=(apt-cache); shift; }
    "${apt[@]}" madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | awk '!seen[$0]++'
}

# download_deb DIR NAME ARRAY [exact]: download NAME at ${ARRAY[NAME]} into DIR.
# In the second pass another version apt lists is taken if that one is not
# served (not with "exact"), and ARRAY[NAME] is set to the version fetched.
download_deb() {
    # (local names with a prefix: ARRAY is the caller's variable, by name)
    local _dd_dir=$1 _dd_name=$2 _dd_exact=${4:-} _dd_v _dd_tried=()
    local -n _dd_ver=$3
    local _dd_want=${_dd_ver[$_dd_name]}
    for _dd_v in "$_dd_want" $([ "${RIG_APT_PASS:-}" = 1 ] || [ -n "$_dd_exact" ] || listed_versions "$_dd_name"); do
        case " ${_dd_tried[*]} " in *" $_dd_v "*) continue ;; esac
        _dd_tried+=("$_dd_v")
        [ "$_dd_v" = "$_dd_want" ] ||
            log "WARNING: $_dd_name=$_dd_want cannot be downloaded; falling back to $_dd_name=$_dd_v"
        if (cd "$_dd_dir" && rig_apt_get download -q "$_dd_name=$_dd_v" >&2); then
            _dd_ver[$_dd_name]=$_dd_v
            return 0
        fi
    done
    apt_stale "cannot download package $_dd_name (tried ${_dd_tried[*]/#/$_dd_name=})"
}

# fetch_pkg CACHE NAME ARRAY [exact]: download (once, stamped by version) and
# extract NAME at ${ARRAY[NAME]} to CACHE/pkgs/NAME (CACHE has debs/, pkgs/,
# stamps/). See download_deb for "exact" and the version actually fetched.
fetch_pkg() {
    local cache=$1 name=$2 deb
    local -n _fver=$3
    local stamp="$cache/stamps/pkg-${name}_${_fver[$name]//[:\/]/_}"
    [ -e "$stamp" ] && return
    mkdir -p "$cache"/{debs,pkgs,stamps}
    log "fetching $name=${_fver[$name]}"
    rm -f "$cache/debs/${name}_"*.deb
    download_deb "$cache/debs" "$name" "$3" "${4:-}"
    stamp="$cache/stamps/pkg-${name}_${_fver[$name]//[:\/]/_}"
    deb=$(cached_deb "$cache/debs" "$name")
    [ -n "$deb" ] || die "package $name downloaded no .deb"
    rm -rf "$cache/pkgs/$name"
    dpkg-deb -x "$deb" "$cache/pkgs/$name" || die "cannot extract $deb"
    touch "$stamp"
}

# fetch_pkgs CACHE PKG...: candidate version of each, then fetch_pkg.
fetch_pkgs() {
    local cache=$1 p
    shift
    declare -A _fp=()
    candidate_versions _fp "$@"
    for p in "$@"; do fetch_pkg "$cache" "$p" _fp; done
}

# ensure_host_pkgs PKG...: apt-get install on the host what is missing (CI is
# root on a fresh Debian 12). The host's own apt, whatever release is tested.
ensure_host_pkgs() {
    local missing=() p v ok
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing host packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    host_apt_install "${missing[@]}" && return
    [ "${RIG_APT_PASS:-}" = 1 ] && apt_stale --host "cannot install host packages ${missing[*]}"
    # Second pass: one at a time, falling back to other listed versions.
    for p in "${missing[@]}"; do
        ok=0
        for v in "" $(listed_versions host "$p"); do
            [ -z "$v" ] || log "WARNING: the candidate of $p cannot be installed; falling back to $p=$v"
            host_apt_install "$p${v:+=$v}" && { ok=1; break; }
        done
        [ "$ok" = 1 ] || die "cannot install host package $p (no version apt lists installs)"
    done
}
host_apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=600 "$@" >&2
}

# make_root DIR PKG... [-x PKG...]: DIR holds PKG... and everything they
# depend on (apt's resolution for an empty system, without Recommends),
# unpacked, except the packages after -x; usr-merged like a Debian system. A
# PKG given as NAME=VERSION is taken at that version without its dependencies.
# For a release other than the host's (private apt state, empty status).
# Remade only when a version changes (DIR.versions lists them).
make_root() {
    local dir=$1 want=() skip=" " n v deb d
    shift
    declare -A _mr=() exact=()
    local names=() out
    while [ $# -gt 0 ] && [ "$1" != -x ]; do
        case $1 in
            *=*) _mr[${1%%=*}]=${1#*=} exact[${1%%=*}]=exact names+=("${1%%=*}") ;;
            *) want+=("$1") ;;
        esac
        shift
    done
    [ $# -gt 0 ] && { shift; skip=" $* "; }
    out=$(rig_apt_get -s install --no-install-recommends "${want[@]}" 2>&1) ||
        apt_stale "apt cannot resolve ${want[*]} for $RIG_CODENAME: $(grep '^E:' <<<"$out" | head -n3)"
    while read -r n v; do
        case $skip in *" $n "*) continue ;; esac
        _mr[$n]=$v names+=("$n")
    done < <(sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1 \2/p' <<<"$out")
    local list
    list=$(for n in "${names[@]}"; do echo "$n=${_mr[$n]}"; done | LC_ALL=C sort)
    [ -d "$dir" ] && [ "$(cat "$dir.versions" 2>/dev/null)" = "$list" ] && return
    log "unpacking ${#names[@]} $RIG_CODENAME packages into $dir"
    mkdir -p "$RIG_CACHE_DIR/debs"
    for n in "${names[@]}"; do
        [ -n "$(cached_deb "$RIG_CACHE_DIR/debs" "$n" "${_mr[$n]}")" ] || download_deb "$RIG_CACHE_DIR/debs" "$n" _mr "${exact[$n]:-}"
    done
    rm -rf "$dir" "$dir.versions"
    mkdir -p "$dir/usr"
    # usr-merged: /bin, /lib... are links into /usr, as on an installed system.
    for d in bin sbin lib lib64; do mkdir -p "$dir/usr/$d" && ln -s "usr/$d" "$dir/$d"; done
    for n in "${names[@]}"; do
        deb=$(cached_deb "$RIG_CACHE_DIR/debs" "$n" "${_mr[$n]}")
        [ -n "$deb" ] || die "no .deb of $n=${_mr[$n]} in $RIG_CACHE_DIR/debs"
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --keep-directory-symlink ||
            die "cannot unpack $deb into $dir"
    done
    echo "$list" > "$dir.versions"
}

# cached_deb DIR NAME [VERSION]: the .deb of NAME (at VERSION) that apt-get
# download left in DIR, if any (apt writes an epoch's colon as %3a).
cached_deb() {
    local f v=${3:+${3//:/%3a}_}
    for f in "$1/${2%%:*}_$v"*.deb; do [ -f "$f" ] && echo "$f" && return; done
    return 0
}
