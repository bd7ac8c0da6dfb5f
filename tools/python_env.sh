#!/bin/sh
# Create (or refresh) a CPython virtualenv holding the test peers listed in
# a requirements file (tools/requirements.txt by default). A no-op when it
# is already up to date.
# Usage: tools/python_env.sh VENV_DIR [REQUIREMENTS]
set -eu
VENV=${1:?usage: python_env.sh VENV_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
REQ=${2:-$HERE/requirements.txt}
STAMP=$VENV/.requirements
if [ -x "$VENV/bin/python" ] && cmp -s "$REQ" "$STAMP"; then
    exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
cp "$REQ" "$STAMP"
