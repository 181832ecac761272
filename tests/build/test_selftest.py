"""`coachdesk --self-test` from source: passes on a working setup, fails clearly when a part breaks.

The same checks run inside the frozen bundle in `make selftest-bundle`. Each run here is a
separate process from an empty home, as IT would start it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from build_support import ROOT, run

from app import selftest
from audio.models import default_model_path

SELF_TEST = "import sys, app.selftest; sys.exit(app.selftest.main())"


def self_test(home: Path, **env: str) -> tuple[int, dict[str, str], str]:
    """Exit status, each check's report line by name, and the whole output."""
    result = run(
        [sys.executable, "-c", SELF_TEST],
        {"HOME": str(home), "COACHDESK_CONFIG": str(home / "config.toml"), **env},
    )
    lines = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[0] in ("ok", "FAIL"):
            lines[parts[1]] = line
    return result.returncode, lines, result.stdout + result.stderr


def test_self_test_passes_from_source(tmp_path):
    status, lines, output = self_test(tmp_path)
    assert status == 0, output
    assert list(lines) == ["settings", "Qt", "cache", "audio", "transcription"]
    assert all(line.split()[0] == "ok" for line in lines.values()), output
    assert "offscreen platform" in lines["Qt"]
    assert "xcb" in lines["Qt"]
    assert "PortAudio" in lines["audio"]
    assert str(default_model_path()) in lines["transcription"]
    assert "(11/11 words)" in lines["transcription"]
    assert output.splitlines()[0].startswith("Coachdesk ")
    assert "self-test passed" in output


def test_broken_model_path_fails_with_the_path_and_the_rest_still_runs(tmp_path):
    broken = tmp_path / "models" / "whisper"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")  # a half-copied model folder
    status, lines, output = self_test(tmp_path, COACHDESK_TRANSCRIPTION__MODEL_PATH=str(broken))

    assert status == 1
    assert lines["transcription"].split()[0] == "FAIL"
    assert str(broken) in lines["transcription"]
    assert "model.bin" in lines["transcription"]
    assert [name for name, line in lines.items() if line.startswith("  ok")] == [
        "settings",
        "Qt",
        "cache",
        "audio",
    ]
    assert "self-test FAILED: transcription" in output


def test_invalid_settings_file_fails_naming_it(tmp_path):
    (tmp_path / "config.toml").write_text('upload = "sometimes"\n')
    status, lines, _ = self_test(tmp_path)

    assert status == 1
    assert lines["settings"].split()[0] == "FAIL"
    assert "upload" in lines["settings"]
    assert str(tmp_path / "config.toml") in lines["settings"]
    # With the settings unreadable the defaults transcribe: the report still says so.
    assert lines["transcription"].split()[0] == "ok"


def test_a_clip_the_model_cannot_hear_fails_with_what_it_heard(tmp_path):
    silent = tmp_path / "silence.flac"
    soundfile.write(silent, np.zeros(16000 * 2, dtype=np.float32), 16000)

    with pytest.raises(selftest.SelfTestError, match=r'came out as "".*0/11 words') as error:
        selftest.SelfTest(clip=silent).check_transcription()
    assert str(default_model_path()) in str(error.value)


def test_the_bundled_clip_is_small_and_says_the_sample_text():
    assert selftest.SAMPLE_CLIP.is_file()
    assert selftest.SAMPLE_CLIP.stat().st_size <= 200 * 1024
    assert selftest.SAMPLE_CLIP.is_relative_to(ROOT / "resources")
    info = soundfile.info(selftest.SAMPLE_CLIP)
    assert (info.samplerate, info.channels) == (16000, 1)
    assert len(selftest.words(selftest.SAMPLE_TEXT)) == 11


@pytest.mark.parametrize(
    ("heard", "count", "missing"),
    [
        ("Testing the microphone. The speech model is working on this computer.", 11, []),
        ("testing the microphone, the speech model is working on this computer...", 11, []),
        ("Testing the microphone, the speech model is walking on this computer", 10, ["working"]),
        ("", 0, selftest.words(selftest.SAMPLE_TEXT)),
    ],
)
def test_words_heard(heard, count, missing):
    assert selftest.words_heard(selftest.SAMPLE_TEXT, heard) == (count, missing)


@pytest.mark.parametrize(
    ("file_name", "plugin"),
    [
        ("libqxcb.so", "xcb"),
        ("libqoffscreen.so", "offscreen"),
        ("qwindows.dll", "windows"),
        ("libqcocoa.dylib", "cocoa"),
        ("libqwayland-egl.so", "wayland-egl"),
    ],
)
def test_platform_plugin_names(file_name, plugin):
    assert selftest.platform_plugin_name(file_name) == plugin
