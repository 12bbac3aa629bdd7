#!/usr/bin/env bash
# A native x86-64 Node 18 for checking Kiln's Node 18 support (Debian bookworm's nodejs 18.20.4, what Raspberry Pi
# OS ships), unpacked into a cache without installing it: the machine's own Node stays the default.
#
#   tests/node18/setup.sh           set up once (later runs do nothing); prints the path of the node to use
#   KILN_NODE18_CACHE=/somewhere …  cache folder (default ~/.cache/kiln/node18-x64)
#   KILN_NODE18=$(tests/node18/setup.sh | tail -1) npx vitest run tests/agent-bundle.test.ts
#
# Debian builds node with some of its JavaScript dependencies outside the binary, at absolute paths under
# /usr/share/nodejs (cjs-module-lexer, undici, acorn), and node aborts at start when they are missing. Rather than
# write to /usr/share, the cached copy of libnode has that 17-character prefix replaced by /tmp/.kiln-node18, a
# symbolic link to the unpacked folder that the wrapper script (re)creates before each run.
set -euo pipefail

CACHE="${KILN_NODE18_CACHE:-$HOME/.cache/kiln/node18-x64}"
ROOT="$CACHE/root"
WRAPPER="$CACHE/node"
LINK=/tmp/.kiln-node18
say() { echo "node18: $*" >&2; }
die() { echo "node18: $*" >&2; exit 1; }

if [ -x "$WRAPPER" ] && "$WRAPPER" -e 'process.exit(process.versions.node.startsWith("18.") ? 0 : 1)' 2>/dev/null; then
  echo "$WRAPPER"
  exit 0
fi
[ "$(uname -m)" = x86_64 ] || die "this script fetches Debian's amd64 packages; this machine is $(uname -m)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "needs Debian's apt-get and dpkg"

# The version Debian bookworm ships (security updates included), and the libraries it needs beyond a base system.
node18_version() { apt-cache madison nodejs 2>/dev/null | awk -F'|' '$2 ~ /^ *18\./ { gsub(/ /, "", $2); print $2; exit }'; }
VERSION=$(node18_version)
# A fresh machine may have no package lists yet.
if [ -z "$VERSION" ] && [ "$(id -u)" = 0 ]; then apt-get update -qq >&2 || true; VERSION=$(node18_version); fi
[ -n "$VERSION" ] || die "apt has no nodejs 18.x (needs Debian bookworm's sources; run apt-get update)"
mkdir -p "$CACHE/debs"
cd "$CACHE/debs"
if ! ls nodejs_18.*_amd64.deb >/dev/null 2>&1; then
  say "downloading nodejs $VERSION and its libraries"
  apt-get download -q "nodejs=$VERSION" "libnode108=$VERSION" libc-ares2 libuv1 libicu72 libnghttp2-14 libbrotli1 \
    node-cjs-module-lexer node-undici node-acorn 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true
fi
ls nodejs_18.*_amd64.deb libnode108_*.deb >/dev/null 2>&1 || die "the download failed (see above)"

rm -rf "$ROOT"
for deb in *.deb; do dpkg -x "$deb" "$ROOT"; done
LIB="$ROOT/usr/lib/x86_64-linux-gnu"
# Same length, so the patched strings keep their NUL terminators and every offset in the library stays valid.
sed -i 's|/usr/share/nodejs/|/tmp/.kiln-node18/|g' "$LIB/libnode.so.108"

cat > "$WRAPPER" <<WRAP
#!/bin/sh
# Debian bookworm's Node $VERSION from $CACHE (made by tests/node18/setup.sh).
[ "\$(readlink $LINK)" = "$ROOT/usr/share/nodejs" ] || ln -sfn "$ROOT/usr/share/nodejs" $LINK
LD_LIBRARY_PATH="$LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$ROOT/usr/bin/node" "\$@"
WRAP
chmod +x "$WRAPPER"
missing=$(LD_LIBRARY_PATH="$LIB" ldd "$ROOT/usr/bin/node" | grep 'not found' || true)
[ -z "$missing" ] || die "libraries still missing: $missing"
"$WRAPPER" -e 'import("node:fs").then(() => fetch)' >/dev/null || die "the unpacked node does not start"
say "Node $("$WRAPPER" --version) ready"
echo "$WRAPPER"
