#!/bin/sh
# Install Debian packages idempotently: only what is missing, and `apt-get
# update` only when something is. Extra apt sources are derived from the
# machine's own /etc/apt/sources.list.d/debian.sources (never a host name of
# our own):
#   --deb-src   adds deb-src entries for bookworm and trixie (MicroPython's
#               Debian source package lives in trixie)
#   --bullseye  adds a bullseye entry pinned to priority 100 (python2.7 for
#               the Autobahn TestSuite); it never upgrades a bookworm package
# Usage: tools/apt_install.sh [--deb-src] [--bullseye] PKG...
set -eu

SRC=/etc/apt/sources.list.d/debian.sources
LIST_DIR=/etc/apt/sources.list.d
need_update=0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# The first stanza of debian.sources (the main archive, not -security).
first_stanza() {
    awk 'BEGIN{RS=""; ORS="\n\n"} NR==1 {print; exit}' "$SRC"
}

add_deb_src() {
    out=$LIST_DIR/uwebsocket-deb-src.sources
    [ -f "$out" ] && return 0
    first_stanza | sed -e 's/^Types:.*/Types: deb-src/' \
                       -e 's/^Suites:.*/Suites: bookworm trixie/' \
                       -e '/^#/d' | $SUDO tee "$out" >/dev/null
    need_update=1
}

add_bullseye() {
    out=$LIST_DIR/uwebsocket-bullseye.sources
    pin=/etc/apt/preferences.d/uwebsocket-bullseye
    if [ ! -f "$out" ]; then
        first_stanza | sed -e 's/^Types:.*/Types: deb/' \
                           -e 's/^Suites:.*/Suites: bullseye/' \
                           -e 's/^Components:.*/Components: main/' \
                           -e '/^#/d' | $SUDO tee "$out" >/dev/null
        need_update=1
    fi
    if [ ! -f "$pin" ]; then
        printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n' | $SUDO tee "$pin" >/dev/null
    fi
}

pkgs=
for arg in "$@"; do
    case "$arg" in
        --deb-src) add_deb_src ;;
        --bullseye) add_bullseye ;;
        *) pkgs="$pkgs $arg" ;;
    esac
done

missing=
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ] || [ "$need_update" = 1 ]; then
    # Refresh the lists if they are missing or older than the sources we added.
    $SUDO apt-get update -qq
fi
if [ -n "$missing" ]; then
    echo "apt: installing$missing"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
