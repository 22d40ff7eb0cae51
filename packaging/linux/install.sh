#!/usr/bin/env sh
# Install BC Payment Viewer for this user only (no root): the app folder into
# ${XDG_DATA_HOME:-~/.local/share}/bc-payment-viewer/app, a command in ~/.local/bin, and the desktop entry
# and icons in the XDG folders (written by the app itself, so the entry names where it really is).
#   ./install.sh            install or update
#   ./install.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir="$data_home/bc-payment-viewer/app"
bin_dir="$HOME/.local/bin"

if [ "${1:-}" = "--uninstall" ]; then
  if [ -x "$app_dir/bc-payment-viewer" ]; then
    "$app_dir/bc-payment-viewer" --uninstall-desktop-entry || true
  fi
  rm -f "$bin_dir/bc-payment-viewer" "$bin_dir/bc-payment-viewer-cli"
  rm -rf "$app_dir"
  echo "Removed BC Payment Viewer (your settings, sign-ins and history stay; see the README's 'Where data lives')."
  exit 0
fi

mkdir -p "$data_home/bc-payment-viewer" "$bin_dir"
# Copy beside, then swap: a running copy keeps its files until it exits.
rm -rf "$app_dir.new"
cp -a "$here/bc-payment-viewer" "$app_dir.new"
rm -rf "$app_dir"
mv "$app_dir.new" "$app_dir"
ln -sf "$app_dir/bc-payment-viewer" "$bin_dir/bc-payment-viewer"
ln -sf "$app_dir/bc-payment-viewer-cli" "$bin_dir/bc-payment-viewer-cli"
"$app_dir/bc-payment-viewer" --install-desktop-entry
echo "Installed BC Payment Viewer in $app_dir (command: $bin_dir/bc-payment-viewer)."
