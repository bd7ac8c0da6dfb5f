#!/bin/sh
# Obtain the pinned MicroPython release from Debian's source package, checked
# against the SHA-256 sums of its .dsc (apt-get source and dpkg-source both
# verify them), and unpack it with Debian's patches applied.
# Usage: tools/fetch_micropython.sh DEST_DIR
# A no-op when DEST_DIR already holds the unpacked tree.
set -eu

VERSION=1.25.0+ds-1
DEST=${1:?usage: fetch_micropython.sh DEST_DIR}

if [ -f "$DEST/py/mpconfig.h" ] && [ -f "$DEST/.uwebsocket-fetched" ]; then
    exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
"$HERE/apt_install.sh" --deb-src dpkg-dev

WORK=$(dirname "$DEST")/micropython-src
rm -rf "$WORK" "$DEST"
mkdir -p "$WORK"
cd "$WORK"
# --download-only: fetch the .dsc and tarballs; apt checks their sums.
apt-get source --download-only -qq "micropython=$VERSION"
DSC=$(ls micropython_*.dsc)
# dpkg-source verifies the .dsc's checksums again and applies the patches.
dpkg-source -x "$DSC" tree >/dev/null 2>&1
mv tree "$DEST"
echo "$VERSION" > "$DEST/.uwebsocket-fetched"
cd / && rm -rf "$WORK"
echo "MicroPython $VERSION unpacked into $DEST"
