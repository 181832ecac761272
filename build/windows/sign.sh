#!/usr/bin/env bash
# Authenticode-sign Windows executables (the bundle's coachdesk.exe, then the installer) with
# osslsigncode, which runs on the Linux release machine; each file is signed in place and its
# signature verified before the next. No Windows needed. Usage: build/windows/sign.sh FILE...
#
# The certificate comes from the environment (CI secrets), never from the repository:
#   COACHDESK_AUTHENTICODE_PFX_BASE64  the code-signing certificate and key, PKCS#12, base64
#   COACHDESK_AUTHENTICODE_PASSWORD    its password
#   COACHDESK_TIMESTAMP_URL            RFC 3161 time-stamp server (your CA's); without it the
#                                      signature stops being valid when the certificate expires
#   COACHDESK_AUTHENTICODE_CA          optional PEM file of the CA to verify against (tests use a
#                                      self-signed one); default: the system's CA bundle
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: $0 FILE..." >&2; exit 2; }
: "${COACHDESK_AUTHENTICODE_PFX_BASE64:?set it to the base64 of the PKCS#12 code-signing certificate}"
: "${COACHDESK_AUTHENTICODE_PASSWORD:?set it to the PKCS#12 password}"
command -v osslsigncode >/dev/null || { echo "sign: osslsigncode is not installed (apt-get install osslsigncode)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077 # the key and its password only ever touch files no one else can read
base64 --decode <<<"$COACHDESK_AUTHENTICODE_PFX_BASE64" >"$work/cert.p12"
# -readpass instead of -pass: a password on the command line shows in `ps`.
printf '%s' "$COACHDESK_AUTHENTICODE_PASSWORD" >"$work/password"

timestamp=()
if [[ -n ${COACHDESK_TIMESTAMP_URL:-} ]]; then
    timestamp=(-ts "$COACHDESK_TIMESTAMP_URL")
else
    echo "sign: warning: COACHDESK_TIMESTAMP_URL is not set; signing without a time stamp" >&2
fi
verify_ca=()
if [[ -n ${COACHDESK_AUTHENTICODE_CA:-} ]]; then
    verify_ca=(-CAfile "$COACHDESK_AUTHENTICODE_CA")
fi

for file in "$@"; do
    [[ -f $file ]] || { echo "sign: no such file: $file" >&2; exit 1; }
    signed=$work/signed
    osslsigncode sign -pkcs12 "$work/cert.p12" -readpass "$work/password" \
        -h sha256 -n "Coachdesk" -i "https://coachdesk.invalid" \
        "${timestamp[@]}" -in "$file" -out "$signed" >/dev/null
    osslsigncode verify "${verify_ca[@]}" -in "$signed" >"$work/verify.log" 2>&1 || {
        cat "$work/verify.log" >&2
        echo "sign: FAILED: the signature on $file does not verify" >&2
        exit 1
    }
    # Keep the original's permissions: cat into it rather than moving the 0600 temp file.
    cat "$signed" >"$file"
    rm -f "$signed"
    echo "signed: $file"
done
