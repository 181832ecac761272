#!/usr/bin/env bash
# Sign Coachdesk.app with a Developer ID, notarize it with Apple and staple the ticket.
#
#   build/macos/sign_and_notarize.sh [build/dist/Coachdesk.app]
#
# Runs on macOS only (codesign, security, xcrun notarytool/stapler, ditto); on Linux it is
# linted by shellcheck (tests/build/test_installer_scripts.py). Build the app first, on a Mac:
#   pyinstaller build/coachdesk.spec --noconfirm --distpath build/dist --workpath build/work
#
# Credentials come from the environment (CI secrets), never from the repository:
#   COACHDESK_CODESIGN_IDENTITY       "Developer ID Application: Your Company (TEAMID)"
#   COACHDESK_CODESIGN_P12_BASE64     optional: that certificate and key (PKCS#12, base64), imported
#   COACHDESK_CODESIGN_P12_PASSWORD   into a temporary keychain; without them the login keychain's
#   COACHDESK_NOTARY_KEY_BASE64       App Store Connect API key (.p8, base64), with
#   COACHDESK_NOTARY_KEY_ID           its key id and
#   COACHDESK_NOTARY_ISSUER           issuer id
#
# Result: the app signed (hardened runtime, build/macos/entitlements.plist: microphone), notarized
# and stapled, and build/dist/release/Coachdesk-macos.zip holding it for deployment (Jamf,
# Intune, or drag to /Applications).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
app=${1:-$here/../dist/Coachdesk.app}
entitlements=$here/entitlements.plist
release=$here/../dist/release

[[ $(uname -s) == Darwin ]] || { echo "notarize: this script runs on macOS only" >&2; exit 2; }
[[ -d $app ]] || { echo "notarize: no app bundle at $app" >&2; exit 1; }
: "${COACHDESK_CODESIGN_IDENTITY:?set it to the Developer ID Application identity}"
: "${COACHDESK_NOTARY_KEY_BASE64:?set it to the base64 of the App Store Connect API key (.p8)}"
: "${COACHDESK_NOTARY_KEY_ID:?set it to the API key id}"
: "${COACHDESK_NOTARY_ISSUER:?set it to the API key issuer id}"

work=$(mktemp -d)
keychain=""
cleanup() {
    if [[ -n $keychain ]]; then
        security delete-keychain "$keychain" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
umask 077

# CI: a throwaway keychain holding only the signing identity, deleted on exit.
if [[ -n ${COACHDESK_CODESIGN_P12_BASE64:-} ]]; then
    keychain=$work/signing.keychain-db
    keychain_password=$(openssl rand -hex 24)
    base64 --decode <<<"$COACHDESK_CODESIGN_P12_BASE64" >"$work/identity.p12"
    security create-keychain -p "$keychain_password" "$keychain"
    security set-keychain-settings -lut 3600 "$keychain"
    security unlock-keychain -p "$keychain_password" "$keychain"
    security import "$work/identity.p12" -k "$keychain" \
        -P "${COACHDESK_CODESIGN_P12_PASSWORD:-}" -T /usr/bin/codesign
    security set-key-partition-list -S apple-tool:,apple: -s -k "$keychain_password" "$keychain" >/dev/null
    # Search our keychain first, then the user's existing ones.
    read -r -a existing < <(security list-keychains -d user | tr -d '"' | tr '\n' ' ')
    security list-keychains -d user -s "$keychain" "${existing[@]}"
fi

sign() {
    codesign --force --timestamp --options runtime --sign "$COACHDESK_CODESIGN_IDENTITY" "$@"
}

# Inside out, without --deep (Apple advises against it): every Mach-O library and executable
# first, then the app with its entitlements, which seals everything inside.
while IFS= read -r -d '' file; do
    if file -b "$file" | grep -q "Mach-O"; then
        sign "$file"
    fi
done < <(find "$app/Contents" -type f ! -path "*/_CodeSignature/*" -print0)
sign --entitlements "$entitlements" "$app"
codesign --verify --strict --deep --verbose=2 "$app"
codesign --display --entitlements - "$app" | grep -q "com.apple.security.device.audio-input" || {
    echo "notarize: the signed app lacks the microphone entitlement" >&2
    exit 1
}

# notarytool takes a zip; ditto keeps the bundle's symlinks and extended attributes.
ditto -c -k --keepParent "$app" "$work/upload.zip"
base64 --decode <<<"$COACHDESK_NOTARY_KEY_BASE64" >"$work/notary.p8"
xcrun notarytool submit "$work/upload.zip" --wait --output-format json \
    --key "$work/notary.p8" --key-id "$COACHDESK_NOTARY_KEY_ID" \
    --issuer "$COACHDESK_NOTARY_ISSUER" >"$work/notary.json"
status=$(plutil -extract status raw -o - "$work/notary.json")
if [[ $status != Accepted ]]; then
    id=$(plutil -extract id raw -o - "$work/notary.json")
    xcrun notarytool log "$id" --key "$work/notary.p8" --key-id "$COACHDESK_NOTARY_KEY_ID" \
        --issuer "$COACHDESK_NOTARY_ISSUER" >&2 || true
    echo "notarize: Apple answered $status (log above)" >&2
    exit 1
fi

# The ticket in the bundle lets Gatekeeper accept the app offline.
xcrun stapler staple "$app"
spctl --assess --type execute --verbose=2 "$app"
mkdir -p "$release"
ditto -c -k --keepParent "$app" "$release/Coachdesk-macos.zip"
echo "notarized: $release/Coachdesk-macos.zip"
