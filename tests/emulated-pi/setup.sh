#!/usr/bin/env bash
# Builds an emulated Raspberry Pi on an x86 machine (cached, idempotent): Debian's qemu-aarch64-static and Debian
# bookworm's arm64 Node 18 unpacked into a private sysroot, for tests/pi-arm64.test.ts.
#
# The arm64 packages come from this machine's own apt sources through an apt state of their own (lists, cache,
# sources, an empty dpkg status so apt computes the whole closure); the host's dpkg never learns about arm64
# (no `dpkg --add-architecture`), and nothing is installed on the host except qemu-user-static.
#
#   tests/emulated-pi/setup.sh            set up once; later runs check the marker and do nothing
#   KILN_PI_CACHE=/somewhere …            cache folder (default ~/.cache/kiln/emulated-pi)
#   tests/emulated-pi/setup.sh --force    rebuild the sysroot (the downloaded .debs are reused)
set -euo pipefail

CACHE="${KILN_PI_CACHE:-$HOME/.cache/kiln/emulated-pi}"
SYSROOT="$CACHE/sysroot"
APT_DIR="$CACHE/apt"
MARKER="$CACHE/env"
QEMU=qemu-aarch64-static
say() { echo "emulated-pi: $*"; }
die() { echo "emulated-pi: $*" >&2; exit 1; }

force=false
case "${1:-}" in
  "") ;;
  --force) force=true ;;
  *) die "unknown option '$1' (supported: --force)" ;;
esac

# The marker is written last, after the arm64 Node has answered, so its presence means a finished setup.
if ! $force && [ -f "$MARKER" ] && command -v "$QEMU" >/dev/null && [ -x "$SYSROOT/usr/bin/node" ]; then
  say "already set up in $CACHE ($(sed -n 's/^KILN_PI_NODE_VERSION=//p' "$MARKER") arm64); nothing to do (--force rebuilds)"
  exit 0
fi

if ! command -v "$QEMU" >/dev/null; then
  [ "$(id -u)" = 0 ] || die "$QEMU is missing: install Debian's qemu-user-static (sudo apt-get install qemu-user-static), then run this again"
  say "installing qemu-user-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
command -v dpkg >/dev/null && command -v apt-get >/dev/null || die "needs Debian's apt-get and dpkg"
[ -f /etc/apt/sources.list.d/debian.sources ] || die "needs /etc/apt/sources.list.d/debian.sources (Debian bookworm's deb822 sources)"

# A private apt state for arm64.
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$APT_DIR/sources.list.d" "$APT_DIR/preferences.d"
sed -e '/^Architectures:/d' -e '/^Types:/a Architectures: arm64' /etc/apt/sources.list.d/debian.sources > "$APT_DIR/sources.list.d/debian.sources"
: > "$APT_DIR/status"
apt_arm64() {
  apt-get -q \
    -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
    -o Dir::State="$APT_DIR" -o Dir::State::Lists="$APT_DIR/lists" -o Dir::State::status="$APT_DIR/status" \
    -o Dir::Cache="$APT_DIR" -o Dir::Cache::archives="$APT_DIR/archives" \
    -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$APT_DIR/sources.list.d" \
    -o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts="$APT_DIR/preferences.d" \
    -o APT::Install-Recommends=false -o APT::Install-Suggests=false \
    -o APT::Sandbox::User=root -o Debug::NoLocking=true "$@"
}

if ! ls "$APT_DIR"/archives/nodejs_18.*_arm64.deb >/dev/null 2>&1; then
  say "fetching Debian bookworm's arm64 package lists (private apt state in $APT_DIR)"
  apt_arm64 update -qq
  say "downloading arm64 nodejs and its library closure"
  apt_arm64 -y -d install nodejs >/dev/null
fi
debs=("$APT_DIR"/archives/*_arm64.deb "$APT_DIR"/archives/*_all.deb)
mapfile -t debs < <(ls "${debs[@]}" 2>/dev/null)
[ ${#debs[@]} -gt 0 ] || die "apt downloaded no packages into $APT_DIR/archives"

say "unpacking ${#debs[@]} packages into $SYSROOT"
rm -rf "$SYSROOT.tmp"
mkdir -p "$SYSROOT.tmp"
for deb in "${debs[@]}"; do dpkg -x "$deb" "$SYSROOT.tmp"; done
rm -rf "$SYSROOT"
mv "$SYSROOT.tmp" "$SYSROOT"

say "checking the arm64 Node under $QEMU (takes a few seconds)"
answer="$("$QEMU" -L "$SYSROOT" "$SYSROOT/usr/bin/node" -e 'console.log(process.arch + " " + process.version)')" \
  || die "the arm64 node in $SYSROOT did not run under $QEMU"
arch="${answer%% *}" version="${answer#* }"
[ "$arch" = arm64 ] || die "expected process.arch arm64 from the emulated node, got '$answer'"
case "$version" in v18.*) ;; *) die "expected Node 18 (Debian bookworm) in the sysroot, got '$version'" ;; esac

cat > "$MARKER.tmp" <<EOF
# Written by tests/emulated-pi/setup.sh: run the arm64 Node as \$KILN_PI_QEMU -L \$KILN_PI_SYSROOT \$KILN_PI_NODE
KILN_PI_QEMU=$(command -v "$QEMU")
KILN_PI_SYSROOT=$SYSROOT
KILN_PI_NODE=$SYSROOT/usr/bin/node
KILN_PI_NODE_VERSION=$version
KILN_PI_ARCH=$arch
EOF
mv "$MARKER.tmp" "$MARKER"
say "ready: Node $version on $arch under $(command -v "$QEMU"), sysroot $SYSROOT ($(du -sh "$SYSROOT" | cut -f1))"
