#!/usr/bin/env bash
# Build the Memex app as one folder, dist/memex/, with the programs `memex` and `memex-gui`.
#
#   bash packaging/build.sh            # uses .venv if it has Memex installed, else makes build/venv
#   PYTHON=/path/to/python bash packaging/build.sh
#
# Installs PyInstaller (the `build` extra) into that environment when it is missing, runs the
# spec, then adds the licences, THIRD_PARTY_NOTICES.txt and the Linux desktop entry next to the
# programs. Check the result with packaging/check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DIST="$REPO/dist/memex"
WORK="$REPO/build/pyinstaller"
started=$(date +%s)

has_memex() { "$1" -c "import memex.core, memex.desktop, PySide6" >/dev/null 2>&1; }

if [[ -n "${PYTHON:-}" ]]; then
    has_memex "$PYTHON" || { echo "build.sh: $PYTHON cannot import Memex with its window (pip install '.[gui]')" >&2; exit 1; }
elif [[ -x .venv/bin/python ]] && has_memex .venv/bin/python; then
    PYTHON=.venv/bin/python
else
    echo "build.sh: creating a build environment in build/venv"
    python3 -m venv build/venv
    build/venv/bin/python -m pip install --quiet --upgrade pip
    build/venv/bin/python -m pip install --quiet '.[gui,build]'
    PYTHON=build/venv/bin/python
fi

if ! "$PYTHON" -c "import PyInstaller" >/dev/null 2>&1; then
    echo "build.sh: installing PyInstaller"
    "$PYTHON" -m pip install --quiet 'pyinstaller>=6'  # the `build` extra in pyproject.toml
fi

"$PYTHON" -m PyInstaller --noconfirm --log-level WARN --distpath "$REPO/dist" --workpath "$WORK" \
    packaging/memex.spec

# Licences, next to the programs where people look for them.
cp LICENSE "$DIST/LICENSE"
cp "$WORK/THIRD_PARTY_NOTICES.txt" "$DIST/THIRD_PARTY_NOTICES.txt"
rm -rf "$DIST/licenses"
cp -r resources/licenses "$DIST/licenses"

# Linux desktop integration: the menu entry template, the icons, and the script that installs them.
share="$DIST/share"
rm -rf "$share"
mkdir -p "$share/applications"
cp resources/memex.desktop "$share/applications/memex.desktop"
for png in resources/icons/memex-*.png; do
    size=${png##*/memex-}
    size=${size%.png}
    mkdir -p "$share/icons/hicolor/${size}x${size}/apps"
    cp "$png" "$share/icons/hicolor/${size}x${size}/apps/memex.png"
done
mkdir -p "$share/icons/hicolor/scalable/apps"
cp resources/icons/memex.svg "$share/icons/hicolor/scalable/apps/memex.svg"
install -m 755 packaging/install-desktop-entry.sh "$DIST/install-desktop-entry.sh"

elapsed=$(($(date +%s) - started))
echo "build.sh: built $DIST ($(du -sh "$DIST" | cut -f1)) in ${elapsed}s"
