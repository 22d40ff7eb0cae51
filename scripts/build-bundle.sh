#!/usr/bin/env bash
# Build the one-folder bundle dist/bc-payment-viewer/ (runs without Python installed) with PyInstaller,
# and on Linux the archive dist/bc-payment-viewer-<version>-linux-<arch>.tar.gz with the bundle (icons
# included) and install.sh, which installs it with its desktop entry. Windows (Inno Setup) and macOS
# (.app + DMG) package the same folder: see packaging/windows and packaging/macos, and
# .github/workflows/desktop.yml, which runs this script there. About a minute here (less with pip's cache).
#
# Its own virtual environment (.venv-bundle) keeps test tools out of the bundle and leaves .venv alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${BUNDLE_VENV:-.venv-bundle}
if [ ! -x "$VENV/bin/python" ] && [ ! -x "$VENV/Scripts/python.exe" ]; then
  "$PY" -m venv "$VENV"
fi
if [ -x "$VENV/Scripts/python.exe" ]; then VPY="$VENV/Scripts/python.exe"; else VPY="$VENV/bin/python"; fi

stamp="$VENV/.installed-pyproject"
if [ ! -f "$stamp" ] || ! cmp -s pyproject.toml "$stamp"; then
  "$VPY" -m pip install -q --upgrade pip >/dev/null
  # Not editable: the bundle takes the packages from site-packages, metadata included (--version).
  "$VPY" -m pip install -q '.[bundle]'
  cp pyproject.toml "$stamp"
else
  "$VPY" -m pip install -q --no-deps --force-reinstall . >/dev/null
fi

rm -rf build/bundle dist/bc-payment-viewer "dist/BC Payment Viewer.app"
if [ "$(uname -s)" = Darwin ]; then
  # The .app's icon: macOS wants an .icns, made from the committed PNGs (iconutil ships with macOS).
  iconset=build/bc-payment-viewer.iconset
  rm -rf "$iconset" && mkdir -p "$iconset"
  for size in 16 32 128 256; do
    cp "resources/icons/bc-payment-viewer-$size.png" "$iconset/icon_${size}x${size}.png"
  done
  cp resources/icons/bc-payment-viewer-32.png "$iconset/icon_16x16@2x.png"
  cp resources/icons/bc-payment-viewer-64.png "$iconset/icon_32x32@2x.png"
  cp resources/icons/bc-payment-viewer-256.png "$iconset/icon_128x128@2x.png"
  iconutil -c icns -o build/bc-payment-viewer.icns "$iconset"
fi
"$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --workpath build/bundle --distpath dist packaging/bc-payment-viewer.spec

version=$("$VPY" -c 'import importlib.metadata as m; print(m.version("bc-payment-viewer"))')
case "$(uname -s)" in
  Linux)
    arch=$(uname -m)
    name="bc-payment-viewer-$version-linux-$arch"
    stage="build/bundle/$name"
    rm -rf "$stage"
    mkdir -p "$stage"
    # The icons travel inside the bundle (resources/icons); install.sh has the app write its own desktop
    # entry, so the Exec line names where it was really installed.
    cp -a dist/bc-payment-viewer "$stage/bc-payment-viewer"
    cp packaging/linux/install.sh "$stage/install.sh"
    chmod 755 "$stage/install.sh"
    tar -C build/bundle -czf "dist/$name.tar.gz" "$name"
    echo "built dist/bc-payment-viewer/ and dist/$name.tar.gz"
    ;;
  Darwin)
    echo "built dist/bc-payment-viewer/ and dist/BC Payment Viewer.app (DMG: packaging/macos/make-dmg.sh)"
    ;;
  *)
    echo "built dist/bc-payment-viewer/ (installer: iscc packaging/windows/bc-payment-viewer.iss)"
    ;;
esac
