#!/usr/bin/env bash
# Verify downloaded Coachdesk release files before deploying them (docs/deployment.md).
#
#   build/verify.sh KEY.asc [DIR]
#
# KEY.asc is Coachdesk's public signing key, obtained from a trusted channel (not from the
# download folder itself); DIR holds SHA256SUMS, SHA256SUMS.asc and the artifacts (default: the
# current folder). Checks that SHA256SUMS is signed by that key and by no other, then that every
# artifact present in DIR matches its checksum. Artifacts you did not download are skipped, but
# at least one must be there. Exit status 0 only if everything checks out.
# Needs gpg and gpgv (Debian/Ubuntu: gnupg, gpgv) and sha256sum (coreutils).
set -euo pipefail

usage() {
    echo "usage: $0 KEY.asc [DIR]" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
key=$1
dir=${2:-.}
[[ -f $key ]] || { echo "verify: no key file $key" >&2; exit 2; }
for file in SHA256SUMS SHA256SUMS.asc; do
    [[ -f $dir/$file ]] || { echo "verify: $dir/$file is missing" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# gpgv trusts exactly the keys in the keyring it is given; nothing is read from ~/.gnupg.
export GNUPGHOME=$work/gnupg
mkdir -m 700 "$GNUPGHOME"

keyring=$work/coachdesk.gpg
if grep -q -- "-----BEGIN PGP PUBLIC KEY BLOCK-----" "$key"; then
    gpg --batch --quiet --dearmor --output "$keyring" "$key"
else
    cp "$key" "$keyring" # already binary
fi
fingerprints=$(gpg --batch --with-colons --show-keys "$keyring" 2>/dev/null | awk -F: '$1 == "fpr" { print $10 }')
[[ -n $fingerprints ]] || { echo "verify: $key holds no OpenPGP public key" >&2; exit 2; }
echo "key: $(head -n1 <<<"$fingerprints")"

if ! gpgv --keyring "$keyring" "$dir/SHA256SUMS.asc" "$dir/SHA256SUMS" 2>"$work/gpgv.log"; then
    sed 's/^/  /' "$work/gpgv.log" >&2
    echo "verify: FAILED: SHA256SUMS is not signed by this key (or was changed after signing)" >&2
    exit 1
fi
echo "signature: good (SHA256SUMS signed by this key)"

# --strict: a malformed line fails; --ignore-missing: verify what was downloaded, but GNU
# sha256sum still fails when not a single listed file is present.
if ! (cd "$dir" && sha256sum --check --strict --ignore-missing SHA256SUMS); then
    echo "verify: FAILED: an artifact does not match SHA256SUMS (damaged or tampered with)" >&2
    exit 1
fi
echo "verify: OK"
