#!/usr/bin/env bash
# Regenerates resources/sample/selftest.flac, the clip `coachdesk --self-test` transcribes.
# The words must match SAMPLE_TEXT in app/selftest.py. Needs espeak-ng and sox (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

text="Testing the microphone. The speech model is working on this computer."
wav=$(mktemp --suffix=.wav)
trap 'rm -f "$wav"' EXIT
espeak-ng -v en-us -s 150 -w "$wav" "$text"
# 16 kHz mono 16-bit: what the transcriber works at, and small enough to ship (~85 KB).
sox "$wav" -r 16000 -c 1 -b 16 resources/sample/selftest.flac
