#!/usr/bin/env bash
# macOS recipe: "BC Payment Viewer.app" in a DMG, signed with a Developer ID and notarized by Apple.
# Runs on a Mac after scripts/build-bundle.sh (which, on macOS, also makes dist/BC Payment Viewer.app).
# .github/workflows/desktop.yml runs it; without the signing variables it makes an unsigned DMG
# (Gatekeeper then asks users to right-click → Open the first time).
#
# Signing and notarization, once per machine:
#   1. A "Developer ID Application" certificate in the login keychain (Xcode → Settings → Accounts, or the
#      Apple Developer site); its name goes in MACOS_SIGN_IDENTITY, e.g.
#      "Developer ID Application: Contoso Ltd (ABCDE12345)".
#   2. An app-specific password for the Apple ID (appleid.apple.com), stored for notarytool:
#      xcrun notarytool store-credentials bcpv-notary --apple-id you@contoso.com --team-id ABCDE12345
#      and MACOS_NOTARY_PROFILE=bcpv-notary.
set -euo pipefail
cd "$(dirname "$0")/../.."

APP="dist/BC Payment Viewer.app"
VERSION=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$APP/Contents/Info.plist")
DMG="dist/bc-payment-viewer-$VERSION-macos-$(uname -m).dmg"
IDENTITY=${MACOS_SIGN_IDENTITY:-}
PROFILE=${MACOS_NOTARY_PROFILE:-}

if [ -n "$IDENTITY" ]; then
  # Inside out: every library and executable first, then the bundle, all with the hardened runtime
  # (notarization requires it) and a secure timestamp.
  find "$APP/Contents" -type f \( -name "*.dylib" -o -name "*.so" -o -perm -u+x \) -print0 |
    xargs -0 codesign --force --timestamp --options runtime \
      --entitlements packaging/macos/entitlements.plist --sign "$IDENTITY"
  codesign --force --timestamp --options runtime --entitlements packaging/macos/entitlements.plist \
    --sign "$IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi

stage=$(mktemp -d)
cp -R "$APP" "$stage/"
ln -s /Applications "$stage/Applications"  # drag-to-install
rm -f "$DMG"
hdiutil create -volname "BC Payment Viewer" -srcfolder "$stage" -ov -format UDZO "$DMG"
rm -rf "$stage"

if [ -n "$IDENTITY" ]; then
  codesign --force --timestamp --sign "$IDENTITY" "$DMG"
  if [ -n "$PROFILE" ]; then
    xcrun notarytool submit "$DMG" --keychain-profile "$PROFILE" --wait
    xcrun stapler staple "$DMG"        # Gatekeeper can check offline
    spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
  fi
fi
echo "built $DMG"
