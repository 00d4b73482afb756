# Debian packages for the rigs (sourced by rig/fetch.sh, debian-progs/fetch.sh,
# xdomain/fetch.sh; the caller defines log and die). Host tools are installed
# with apt; everything a domain runs is downloaded and unpacked into a cache,
# never installed. A package apt cannot get fails the run, named.

# candidate_versions ARRAY PKG...: apt's candidate version of each package into
# the associative array ARRAY, in one apt-cache call (each costs ~0.5 s).
candidate_versions() {
    local -n _versions=$1
    shift
    local n v p
    while read -r n v; do _versions[$n]=$v; done < <(
        apt-cache policy "$@" | awk '/^[^ ]/ {n = $1; sub(/:$/, "", n)} /Candidate:/ {print n, $2}')
    for p in "$@"; do
        [ -n "${_versions[$p]:-}" ] && [ "${_versions[$p]}" != "(none)" ] ||
            die "package $p not known to apt (apt-get update?)"
    done
}

# ensure_host_pkgs PKG...: apt-get install what is missing (CI is root on a
# fresh Debian 12; one apt-get update if the lists are stale).
ensure_host_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing host packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
        { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
              --no-install-recommends "${missing[@]}"; } ||
        die "cannot install host packages: ${missing[*]}"
}

# fetch_pkg CACHE NAME VERSION: download (once, stamped by version) and
# extract to CACHE/pkgs/NAME (CACHE has debs/, pkgs/, stamps/).
fetch_pkg() {
    local cache=$1 name=$2 ver=$3 deb
    local stamp="$cache/stamps/pkg-${name}_${ver//[:\/]/_}"
    [ -e "$stamp" ] && return
    mkdir -p "$cache"/{debs,pkgs,stamps}
    log "fetching $name=$ver"
    rm -f "$cache/debs/${name}_"*.deb
    (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$name=$ver" >&2) ||
        die "cannot download package $name=$ver"
    deb=$(ls "$cache/debs/${name}_"*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "package $name downloaded no .deb"
    rm -rf "$cache/pkgs/$name"
    dpkg-deb -x "$deb" "$cache/pkgs/$name" || die "cannot extract $deb"
    touch "$stamp"
}
