# Sourced by the build scripts: fetch an upstream tarball from Debian's source archive, verified.
#
# Debian 12 packages crun 1.8 and runc 1.1 (no idmapped mounts); the newer suites' binaries need
# glibc >= 2.38 and would drag libc6, systemd and base-files along. So crius builds the newer suites'
# *sources* against Debian 12's own libraries. Only deb-src lines are added for that: a deb-src line
# never offers a binary package, so nothing installed can move.

SRC_LIST=/etc/apt/sources.list.d/crius-src.sources
BUILD_CACHE=${CRIUS_BUILD_CACHE:-/var/cache/crius-build}

# Adds deb-src lines for trixie and sid (once) and refreshes the indexes when they are new.
ensure_debian_sources() {
  if [ ! -f "$SRC_LIST" ]; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$SRC_LIST"
    apt-get update -qq
  elif ! apt-cache showsrc crun 2>/dev/null | grep -q '^Version: 1\.2'; then
    apt-get update -qq
  fi
}

# upstream_tarball SOURCE VERSION -> prints the path of SOURCE's orig tarball for VERSION (Debian
# version, e.g. 1.21-1), downloaded into $BUILD_CACHE/src and checked against the SHA-256 in the signed
# Sources index. Only the orig tarball is needed (we build upstream's source with upstream's build, not
# Debian's packaging), and some mirrors lack the .dsc or .debian.tar.xz, so a partial fetch is fine.
upstream_tarball() {
  local src=$1 version=$2 dir=$BUILD_CACHE/src
  mkdir -p "$dir"
  local record file sum
  record=$(apt-cache showsrc "$src" | awk -v v="$version" '
    /^Package: / { keep = 0 } /^Version: / { keep = ($2 == v) }
    keep && /^Checksums-Sha256:/ { inside = 1; next } /^[A-Z]/ { inside = 0 }
    keep && inside && $3 ~ /\.orig\.tar\./ { print $1, $3; exit }')
  [ -n "$record" ] || { echo "no source package $src $version in the deb-src indexes (apt-cache showsrc $src)" >&2; return 1; }
  sum=${record%% *} file=${record#* }
  if [ ! -f "$dir/$file" ] || ! echo "$sum  $dir/$file" | sha256sum -c --quiet - >/dev/null 2>&1; then
    (cd "$dir" && apt-get source -qq --download-only "$src=$version" >/dev/null 2>&1 || true)
  fi
  [ -f "$dir/$file" ] || { echo "could not download $file (apt-get source --download-only $src=$version)" >&2; return 1; }
  echo "$sum  $dir/$file" | sha256sum -c --quiet - >/dev/null || { echo "$file does not match the Sources index" >&2; return 1; }
  echo "$dir/$file"
}

# installed_version BIN -> the version a runtime binary reports, or nothing.
installed_version() {
  [ -x "$1" ] || return 0
  "$1" --version 2>/dev/null | awk '/version/ { print $3; exit }'
}
