#!/bin/sh
# Install the Autobahn TestSuite (`wstest`, autobahntestsuite 0.8.2) on
# Debian's python2.7 (from bullseye, pinned to priority 100 by
# tools/apt_install.sh so it never upgrades a bookworm package).
#
#   - pip/setuptools/wheel for python2.7 are downloaded with python3's pip
#     (download only: python3's own packages are not touched) and pip is run
#     from its own wheel, so no `pip` command is installed anywhere;
#   - every wheel (pins: tools/autobahn-constraints.txt) is built once into
#     CACHE_DIR/wheels and installed from there with --no-index, so a rerun
#     with the same cache is offline;
#   - packages go to python2.7's /usr/local/lib/python2.7/dist-packages and
#     `wstest` to /usr/local/bin; the other console scripts the dependencies
#     would add to /usr/local/bin (twistd, trial, easy_install, ...) are
#     removed again so they cannot shadow python3 tools of the same name.
#
# A fast no-op (prints nothing) when wstest is installed with these pins.
# Prints one line when it installs; on failure the log's tail goes to stderr.
# Usage: tools/install_autobahn.sh CACHE_DIR
set -eu

CACHE=${1:?usage: install_autobahn.sh CACHE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
CONS=$HERE/autobahn-constraints.txt
PY2=/usr/bin/python2.7
SITE=/usr/local/lib/python2.7/dist-packages
BIN=/usr/local/bin
STAMP=$SITE/uwebsocket-autobahn-constraints.txt

pin() { sed -n "s/^$1==//p" "$CONS"; }
VER=$(pin autobahntestsuite)

# Fast path: installed, and with exactly these pins.
if [ -x "$BIN/wstest" ] && [ -x "$PY2" ] && cmp -s "$CONS" "$STAMP" \
   && [ -d "$SITE/autobahntestsuite-$VER.dist-info" ]; then
    exit 0
fi

mkdir -p "$CACHE/wheels" "$CACHE/bootstrap"
CACHE=$(cd "$CACHE" && pwd)
BOOT=$CACHE/bootstrap
WHEELS=$CACHE/wheels
LOG=$CACHE/install.log
: >"$LOG"

# Run a step with its output in the log; on failure show the log and stop.
run() {
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1; then
        echo "install_autobahn: failed: $*" >&2
        tail -n 40 "$LOG" >&2
        echo "install_autobahn: full log: $LOG" >&2
        exit 1
    fi
}

# 1. Debian: python2.7 (+ headers and a compiler for the C extensions).
run "$HERE/apt_install.sh" --bullseye python2.7 python2.7-dev gcc libc6-dev

# 2. pip/setuptools/wheel wheels for python2.7, fetched by python3's pip.
PIP_V=$(pin pip)
ST_V=$(pin setuptools)
WH_V=$(pin wheel)
PIPWHL=$BOOT/pip-$PIP_V-py2.py3-none-any.whl
if [ ! -f "$PIPWHL" ] || [ ! -f "$BOOT/setuptools-$ST_V-py2.py3-none-any.whl" ] \
   || [ ! -f "$BOOT/wheel-$WH_V-py2.py3-none-any.whl" ]; then
    if python3 -m pip --version >/dev/null 2>&1; then
        PY3=python3
    else
        run "$HERE/apt_install.sh" python3-pip
        PY3=/usr/bin/python3
    fi
    run "$PY3" -m pip download -q --disable-pip-version-check --no-deps \
        --python-version 2.7 --only-binary=:all: -d "$BOOT" \
        "pip==$PIP_V" "setuptools==$ST_V" "wheel==$WH_V"
fi
pip2() {
    "$PY2" "$PIPWHL/pip" --disable-pip-version-check --no-python-version-warning "$@"
}

# 3. Build every wheel once into the cache (needs the registry only here).
if ! cmp -s "$CONS" "$WHEELS/.constraints"; then
    # pip (unzipped: PEP 517 builds run a helper file of pip's), setuptools
    # and wheel for the builds, kept in the cache instead of the system.
    run pip2 install -q --no-index --find-links "$BOOT" --upgrade \
        --target "$CACHE/py2build" "pip==$PIP_V" "setuptools==$ST_V" "wheel==$WH_V"
    run env PYTHONPATH="$CACHE/py2build" "$PY2" -m pip \
        --disable-pip-version-check --no-python-version-warning \
        wheel -q -c "$CONS" --find-links "$BOOT" -w "$WHEELS" \
        "autobahntestsuite==$VER"
    cp "$CONS" "$WHEELS/.constraints"
fi

# 4. Install offline from the cache; drop the extra console scripts.
before=$(ls -A "$BIN")
run pip2 install -q --no-index --find-links "$WHEELS" -c "$CONS" \
    --no-warn-script-location "autobahntestsuite==$VER"
for f in $(ls -A "$BIN"); do
    case "$f" in wstest) continue ;; esac
    if ! printf '%s\n' "$before" | grep -qxF "$f" \
       && head -c 64 "$BIN/$f" 2>/dev/null | grep -q '^#!.*python2'; then
        rm -f "$BIN/$f"
    fi
done
run "$BIN/wstest" --help
cp "$CONS" "$STAMP"
echo "autobahn: installed wstest $VER (python2.7) from $WHEELS"
