#!/usr/bin/env bash
# Add the Memex app in this folder to the Linux applications menu (for the current user).
#
#   ./install-desktop-entry.sh            # install
#   ./install-desktop-entry.sh --remove   # take the entry and icons out again
#
# Writes $XDG_DATA_HOME/applications/memex.desktop (default ~/.local/share) with Exec pointing at
# memex-gui in this folder, and the icons under $XDG_DATA_HOME/icons/hicolor.
set -euo pipefail
APP_DIR=$(cd "$(dirname "$0")" && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
ENTRY="$DATA_HOME/applications/memex.desktop"

if [[ ! -x "$APP_DIR/memex-gui" || ! -f "$APP_DIR/share/applications/memex.desktop" ]]; then
    echo "install-desktop-entry.sh: run it from the Memex app folder (memex-gui and share/ beside it)" >&2
    exit 1
fi

if [[ "${1:-}" == "--remove" ]]; then
    rm -f "$ENTRY"
    (cd "$APP_DIR/share" && find icons -name 'memex.*' -type f) | while read -r icon; do rm -f "$DATA_HOME/$icon"; done
    echo "Removed the Memex menu entry."
    exit 0
fi

# Exec: the program's absolute path in double quotes. The desktop entry specification reserves
# \ " ` $ inside quotes (escaped with a backslash), then escapes every backslash once more for the
# string value, and doubles %.
exe="$APP_DIR/memex-gui"
quoted=$(printf '%s' "$exe" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g' -e 's/%/%%/g')
mkdir -p "$(dirname "$ENTRY")"
while IFS= read -r line; do
    if [[ "$line" == Exec=* ]]; then
        printf 'Exec="%s" %%F\n' "$quoted"
    else
        printf '%s\n' "$line"
    fi
done < "$APP_DIR/share/applications/memex.desktop" > "$ENTRY.tmp"
mv "$ENTRY.tmp" "$ENTRY"
cp -r "$APP_DIR/share/icons" "$DATA_HOME/"

command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA_HOME/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f "$DATA_HOME/icons/hicolor" || true
echo "Installed the Memex menu entry: $ENTRY"
