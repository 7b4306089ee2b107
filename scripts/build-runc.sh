#!/usr/bin/env bash
# Builds runc >= 1.2 (the first with idmapped mounts, `linux.mountExtensions.idmap.enabled` in
# `runc features`) from Debian's own source package and installs it as /usr/local/sbin/runc, on
# Debian 12 (bookworm; also works on 13). Neither release has it: only unstable does, built against a
# newer glibc, so installing that binary would drag libc6 and friends along. Instead the same source
# (orig tarball + Debian's patches) is compiled here against the installed system's libc and
# libseccomp, and no installed package changes version (checked at the end).
#
# How, without touching the system's package state:
# - A private apt instance under $cache/apt (its own sources, lists and cache; /etc/apt is not
#   modified) knows Debian 13's and unstable's source indexes and Debian 13's binary index. apt checks
#   every file it downloads against those signed indexes.
# - Go toolchain: Debian 13's golang-1.24-go and golang-1.24-src .debs, unpacked with `dpkg -x` into
#   $cache/toolchain (not installed; the go binaries are statically linked, so they run on 12).
# - runc's Debian source is "+ds" (vendor/ stripped) and Debian builds it in GOPATH mode against its
#   golang-*-dev packages. The same is done here from those packages' sources: each orig tarball is laid
#   out in a private GOPATH at its Go import path, with the package's Debian patches when its
#   .debian.tar is downloadable (the mirror behind apt may lack some; then the orig tarball is used as
#   is, and this script says so). The set is pinned below (GO_SOURCES) so a build is reproducible.
# - runc is built with the build tags from debian/rules and the version string Debian sets, so
#   `runc --version` says e.g. "runc version 1.3.6+ds1" / "commit: 1.3.6+ds1-1".
#
# Idempotent: does nothing when $dest already reports the wanted version. Downloads and the
# toolchain are cached in $cache. Run as root. Prints each step and stops at the first failure.
#
# Bookworm packages it installs when missing (BUILD_PACKAGES): gcc libc6-dev pkgconf libseccomp-dev
# patch xz-utils debian-archive-keyring ca-certificates
#
# Environment: RUNC_DEB_VERSION (default below), CRIUS_BUILD_CACHE (/var/cache/crius-build),
# RUNC_DEST (/usr/local/sbin/runc), RUNC_FORCE_BUILD=1 to rebuild even when installed.
set -euo pipefail

RUNC_DEB_VERSION=${RUNC_DEB_VERSION:-1.3.6+ds1-1}
GO_PKG=golang-1.24 # Debian 13's Go; runc 1.3 needs >= 1.23
cache=${CRIUS_BUILD_CACHE:-/var/cache/crius-build}
dest=${RUNC_DEST:-/usr/local/sbin/runc}
BUILD_PACKAGES=(gcc libc6-dev pkgconf libseccomp-dev patch xz-utils debian-archive-keyring ca-certificates)

# runc's Go dependencies: Debian source package, version, Go import path (the directory it takes in
# GOPATH). Chosen so that each is at least the version runc's go.mod requires (or what Debian's
# runc patches need), preferring Debian 13's version when it qualifies (stable: it stays in the
# archive) and otherwise unstable's; all of them build together with runc 1.3.6.
# cilium-ebpf stays at 0.17.3 (= go.mod): newer ones dropped ProgramInfo.RunCount, which
# opencontainers-cgroups 0.0.5 uses. go-criu is v7 because Debian's runc patch 0004 moves to it.
GO_SOURCES='
golang-github-checkpoint-restore-go-criu 7.2.0+ds1-4 github.com/checkpoint-restore/go-criu/v7
golang-github-cilium-ebpf 0.17.3+ds1-4 github.com/cilium/ebpf
golang-github-containerd-console 1.0.5-1 github.com/containerd/console
golang-github-coreos-go-systemd 22.6.0-1 github.com/coreos/go-systemd/v22
golang-github-cyphar-filepath-securejoin 0.5.2-2 github.com/cyphar/filepath-securejoin
golang-github-docker-go-units 0.5.0-1 github.com/docker/go-units
golang-dbus 5.1.0-1 github.com/godbus/dbus/v5
golang-github-moby-sys 0.0~git20250819.9dc3a90-1 github.com/moby/sys
golang-github-mrunalp-fileutils 0.5.1-1 github.com/mrunalp/fileutils
golang-github-opencontainers-cgroups 0.0.5-3 github.com/opencontainers/cgroups
golang-github-opencontainers-specs 1.2.1-2 github.com/opencontainers/runtime-spec
golang-github-opencontainers-selinux 1.15.1-1 github.com/opencontainers/selinux
golang-github-seccomp-libseccomp-golang 0.10.0-4 github.com/seccomp/libseccomp-golang
golang-logrus 1.9.3-2 github.com/sirupsen/logrus
golang-github-urfave-cli 1.22.17-2 github.com/urfave/cli
golang-github-vishvananda-netlink 1.3.0-2 github.com/vishvananda/netlink
golang-github-vishvananda-netns 0.0.5-1 github.com/vishvananda/netns
golang-golang-x-net 1:0.58.0-1 golang.org/x/net
golang-golang-x-sys 0.47.0+dfsg-1 golang.org/x/sys
golang-google-protobuf 1.36.5-1 google.golang.org/protobuf
'

step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf 'build-runc: %s\n' "$*" >&2; exit 1; }
trap 'printf "build-runc: failed at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
export LC_ALL=C

[ "$(id -u)" = 0 ] || die "run as root (it installs build packages and $dest)"
[ -r /etc/os-release ] && . /etc/os-release
[ "${ID:-}" = debian ] || die "this builds runc from Debian's source packages and needs Debian 12 or 13 (found ${PRETTY_NAME:-an unknown system})"
case "${VERSION_CODENAME:-}" in
  bookworm | trixie) ;;
  *) die "supported on Debian 12 (bookworm) and 13 (trixie), not '${VERSION_CODENAME:-?}': newer releases carry runc >= 1.2 in their own archive" ;;
esac

runc_upstream=${RUNC_DEB_VERSION#*:}
runc_upstream=${runc_upstream%-*}

# The installed binary has the wanted version when both lines Debian's build sets match.
have_wanted_runc() {
  [ -x "$dest" ] || return 1
  local out
  out=$("$dest" --version 2>/dev/null) || return 1
  grep -qx "runc version $runc_upstream" <<<"$out" && grep -qx "commit: $RUNC_DEB_VERSION" <<<"$out"
}

if [ "${RUNC_FORCE_BUILD:-0}" != 1 ] && have_wanted_runc; then
  step "runc $RUNC_DEB_VERSION is already installed at $dest: nothing to do"
  "$dest" --version | sed 's/^/    /'
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.build-runc.lock"
flock 9 # one build at a time (setup.sh may run concurrently with a manual call)

pkg_versions() { dpkg-query -W -f '${Package}:${Architecture} ${Version}\n' | sort; }
# Taken before anything is installed: every package installed now must keep its version.
before=$(pkg_versions)

export DEBIAN_FRONTEND=noninteractive
installed_version() { dpkg-query -W -f '${Status} ${Version}' "$1" 2>/dev/null | awk '$3 == "installed" {print $4}'; }
missing=()
for p in "${BUILD_PACKAGES[@]}"; do
  [ -n "$(installed_version "$p")" ] && continue
  # A -dev package must match its installed runtime library: ask for exactly that version, so a
  # newer -dev in bookworm-updates/-security cannot pull an upgrade of libc6 or libseccomp2.
  case $p in
    libc6-dev) v=$(installed_version libc6) ;;
    libseccomp-dev) v=$(installed_version libseccomp2) ;;
    *) v= ;;
  esac
  missing+=("$p${v:+=$v}")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing build packages from the system's own archive: ${missing[*]}"
  sim=$(apt-get -s install --no-install-recommends "${missing[@]}" 2>&1) || {
    note "apt-get could not resolve them; refreshing the system's package lists once"
    apt-get update -qq
    sim=$(apt-get -s install --no-install-recommends "${missing[@]}" 2>&1) || die "apt-get cannot install ${missing[*]}:
$sim"
  }
  # "Inst pkg [old] (new ...)" would upgrade an installed package: refuse rather than move the system.
  if grep -q '^Inst [^ ]* \[' <<<"$sim"; then
    die "installing ${missing[*]} would upgrade installed packages; install them yourself (or bring the system up to date within its release) and run this again:
$(grep '^Inst [^ ]* \[' <<<"$sim")"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- private apt instance -------------------------------------------------------------------------
arch=$(dpkg --print-architecture)
aptdir=$cache/apt
mkdir -p "$aptdir"/sources.list.d "$aptdir"/preferences.d "$aptdir"/lists/partial "$aptdir"/cache/archives/partial
cat >"$aptdir/sources.list.d/debian.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Architectures: $arch
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$aptdir/apt.conf" <<EOF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$aptdir/sources.list.d";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$aptdir/preferences.d";
Dir::State::Lists "$aptdir/lists";
Dir::State::status "/dev/null";
Dir::Cache "$aptdir/cache";
APT::Sandbox::User "root";
Acquire::Languages "none";
EOF
papt() { APT_CONFIG=$aptdir/apt.conf "$@"; }
private_lists_ready=0 private_lists_refreshed=0
# private_update [force]: refreshes the private lists when older than a day (or when forced).
private_update() {
  [ "$private_lists_ready" = 1 ] && [ "${1:-}" != force ] && return 0
  if [ "${1:-}" = force ] ||
    [ -z "$(find "$aptdir/lists" -maxdepth 1 -name '*Sources*' -mmin -1440 2>/dev/null)" ] ||
    [ -z "$(find "$aptdir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
    step "refreshing the private apt lists in $aptdir (Debian 13 + unstable sources, Debian 13 binaries; /etc/apt untouched)"
    papt apt-get update -qq || die "apt-get update of the private lists failed (is deb.debian.org reachable through apt?)"
    private_lists_refreshed=1
  fi
  private_lists_ready=1
}

# --- Go toolchain ---------------------------------------------------------------------------------
tooldir=$cache/toolchain
goroot_of() { echo "$1/usr/lib/go-${GO_PKG#golang-}"; }
goroot=""
if [ -f "$tooldir/current" ] && [ -x "$(goroot_of "$(cat "$tooldir/current")")/bin/go" ]; then
  goroot=$(goroot_of "$(cat "$tooldir/current")")
  step "Go toolchain: cached ($goroot)"
else
  private_update
  gover=$(papt apt-cache policy "$GO_PKG-go" | awk '/Candidate:/ {print $2}')
  [ -n "$gover" ] && [ "$gover" != "(none)" ] || die "$GO_PKG-go is not in Debian 13's package index"
  step "Go toolchain: $GO_PKG-go and $GO_PKG-src $gover from Debian 13, unpacked (not installed) into $tooldir"
  debs=$tooldir/debs
  mkdir -p "$debs"
  (cd "$debs" && papt apt-get download -qq "$GO_PKG-go=$gover" "$GO_PKG-src=$gover") ||
    die "downloading $GO_PKG-go/$GO_PKG-src $gover failed"
  root=$tooldir/$GO_PKG-$gover
  rm -rf "$root.tmp" && mkdir -p "$root.tmp"
  for d in "$debs/${GO_PKG}-go_${gover#*:}_$arch.deb" "$debs/${GO_PKG}-src_${gover#*:}_all.deb"; do
    [ -f "$d" ] || die "expected $d after apt-get download"
    dpkg -x "$d" "$root.tmp"
  done
  rm -rf "$root" && mv "$root.tmp" "$root"
  echo "$root" >"$tooldir/current"
  goroot=$(goroot_of "$root")
fi
export GOROOT=$goroot PATH=$goroot/bin:$PATH
# GOPATH mode like dh-golang; nothing is ever fetched by go itself.
export GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GOENV=off GOTELEMETRY=off CGO_ENABLED=1
export GOCACHE=$cache/go-build-cache
go_version=$(go version) || die "the unpacked Go toolchain does not run: $goroot/bin/go"
note "$go_version"

# --- sources --------------------------------------------------------------------------------------
srcdir=$cache/src
mkdir -p "$srcdir"

# fetch_all < "PKG VERSION ..." lines: downloads those source packages' files into $srcdir with one
# apt-get call (once per package; a stamp records it). The orig (or native) tarball is required; the
# .dsc and .debian.tar may be missing on the mirror (apt-get then exits non-zero for them).
fetch_all() {
  local pkg ver rest want=() names=() stamp
  while read -r pkg ver rest; do
    [ -n "$pkg" ] || continue
    stamp="$srcdir/.fetched-${pkg}_${ver//:/%}"
    [ -f "$stamp" ] || { want+=("$pkg=$ver"); names+=("$pkg"); }
  done
  [ ${#want[@]} -gt 0 ] || { note "all cached"; return 0; }
  private_update
  local index w known
  index=$(papt apt-cache showsrc "${names[@]}" 2>/dev/null | awk '/^Package:/ {p = $2} /^Version:/ {print p "=" $2}') || true
  for w in "${want[@]}"; do
    grep -qxF -- "$w" <<<"$index" && continue
    if [ "$private_lists_refreshed" = 0 ]; then # lists from an earlier run may predate the version
      private_update force
      index=$(papt apt-cache showsrc "${names[@]}" 2>/dev/null | awk '/^Package:/ {p = $2} /^Version:/ {print p "=" $2}') || true
      grep -qxF -- "$w" <<<"$index" && continue
    fi
    known=$(awk -F= -v p="${w%%=*}" '$1 == p {printf "%s ", $2}' <<<"$index")
    die "${w%%=*} ${w#*=} is not in Debian's source indexes (any more?); versions there: ${known:-none} - update GO_SOURCES/RUNC_DEB_VERSION in $0"
  done
  note "downloading ${#want[@]} source package(s): ${want[*]}"
  local log
  log=$(cd "$srcdir" && papt apt-get source -qq --download-only "${want[@]}" 2>&1) || true
  for w in "${want[@]}"; do
    pkg=${w%%=*} ver=${w#*=}
    orig_tarball "$pkg" "$ver" >/dev/null ||
      die "could not download the source tarball of $pkg $ver: $(grep -F "${pkg}_" <<<"$log" | grep -E '^(E|Err):' | head -3)"
    touch "$srcdir/.fetched-${pkg}_${ver//:/%}"
  done
}
uver() { local v=${1#*:}; echo "${v%-*}"; }
orig_tarball() {
  local f
  for f in "$srcdir/${1}_$(uver "$2").orig.tar."{xz,gz,bz2} "$srcdir/${1}_${2#*:}.tar."{xz,gz}; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
debian_tarball() {
  local f
  for f in "$srcdir/${1}_${2#*:}.debian.tar."{xz,gz,bz2}; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# unpack PKG VERSION DIR: the orig tarball into DIR, then Debian's patches (debian/patches/series).
# Prints what was applied, for the record.
unpack() {
  local pkg=$1 ver=$2 dir=$3 orig deb tmp
  orig=$(orig_tarball "$pkg" "$ver")
  mkdir -p "$dir"
  tar -xf "$orig" -C "$dir" --strip-components=1 || die "unpacking $orig failed"
  if deb=$(debian_tarball "$pkg" "$ver"); then
    tmp=$(mktemp -d)
    tar -xf "$deb" -C "$tmp" || die "unpacking $deb failed"
    local n=0 line p opts
    if [ -f "$tmp/debian/patches/series" ]; then
      while read -r line; do
        line=${line%%#*}
        [ -n "${line// /}" ] || continue
        read -r p opts <<<"$line"
        (cd "$dir" && patch -s -f --no-backup-if-mismatch ${opts:--p1} <"$tmp/debian/patches/$p") ||
          die "Debian patch $p of $pkg $ver does not apply"
        n=$((n + 1))
      done <"$tmp/debian/patches/series"
    fi
    rm -rf "$tmp"
    note "$pkg $ver: orig + $n Debian patch(es)"
  else
    note "$pkg $ver: orig only (its .debian.tar is not on the mirror)"
  fi
}

step "sources of runc $RUNC_DEB_VERSION and its Go dependencies (Debian source packages, cached in $srcdir)"
fetch_all <<<"runc $RUNC_DEB_VERSION
$GO_SOURCES"
debian_tarball runc "$RUNC_DEB_VERSION" >/dev/null ||
  die "runc_$RUNC_DEB_VERSION.debian.tar.* could not be downloaded: its patches and debian/rules (build tags, version) are needed"

# --- build ----------------------------------------------------------------------------------------
work=$cache/runc-build
step "laying out GOPATH in $work"
rm -rf "$work" && mkdir -p "$work"
export GOPATH=$work/gopath
rundir=$GOPATH/src/github.com/opencontainers/runc
unpack runc "$RUNC_DEB_VERSION" "$rundir"
mkdir -p "$work/debian" && tar -xf "$(debian_tarball runc "$RUNC_DEB_VERSION")" -C "$work/debian"
while read -r pkg ver imp; do
  [ -n "$pkg" ] || continue
  unpack "$pkg" "$ver" "$GOPATH/src/$imp"
done <<<"$GO_SOURCES"

# The build tags and the version string exactly as Debian's debian/rules sets them.
tags=$(sed -n 's/^TAGS[[:space:]]*:=[[:space:]]*//p' "$work/debian/debian/rules")
[ -n "$tags" ] || die "could not read TAGS from runc's debian/rules"
grep -q 'main.version=$(DEB_VERSION_UPSTREAM) -X main.gitCommit=$(DEB_VERSION)' "$work/debian/debian/rules" ||
  die "runc's debian/rules no longer sets main.version/main.gitCommit as this script expects; check it"
ldflags="-X main.version=$runc_upstream -X main.gitCommit=$RUNC_DEB_VERSION"

cd "$rundir"
unresolved=$(go list -e -deps -tags "$tags" -f '{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}' . 2>&1) ||
  die "go list failed: $unresolved"
[ -z "$unresolved" ] || die "Go packages runc imports that no entry of GO_SOURCES provides:
$unresolved"

step "go build runc (tags: $tags; $ldflags)"
go build -trimpath -buildmode=pie -tags "$tags" -ldflags "$ldflags" -o "$work/runc" . ||
  die "go build of runc failed"

"$work/runc" --version | sed 's/^/    /'
"$work/runc" features | tr -d ' \n' | grep -q '"idmap":{"enabled":true}' ||
  die "the built runc does not report linux.mountExtensions.idmap.enabled"

step "installing $dest"
install -D -m 0755 "$work/runc" "$dest.new"
mv -f "$dest.new" "$dest"
have_wanted_runc || die "$dest does not report version $RUNC_DEB_VERSION after installing"
"$dest" --version | sed 's/^/    /'

rm -rf "$work" # the sources stay cached as tarballs in $srcdir; the unpacked tree is rebuilt each time

after=$(pkg_versions)
changed=$(comm -23 <(echo "$before") <(echo "$after"))
[ -z "$changed" ] || die "installed packages changed version during the build (this must never happen):
$changed"
step "done: runc $RUNC_DEB_VERSION at $dest; no installed package changed"
