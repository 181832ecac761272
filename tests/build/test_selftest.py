"""`coachdesk --self-test` from source: passes on a working setup, fails clearly when a part breaks.

The same checks run inside the frozen bundle in `make selftest-bundle`. Each run here is a
separate process from an empty home, as IT would start it.
"""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from build_support import ROOT, run

from app import selftest
from audio.devices import list_input_devices
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
        if len(parts) > 1 and parts[0] in ("ok", "warn", "FAIL"):
            lines[parts[1]] = line
    return result.returncode, lines, result.stdout + result.stderr


def test_self_test_passes_from_source(tmp_path):
    status, lines, output = self_test(tmp_path)
    assert status == 0, output
    assert list(lines) == [
        "settings",
        "Qt",
        "cache",
        "audio",
        "transcription",
        "speech",
        "server",
    ]
    # What this machine lacks is a warning, not a failure: a build machine has no microphone.
    assert all(line.split()[0] in ("ok", "warn") for line in lines.values()), output
    has_microphone = bool(list_input_devices())
    assert lines["audio"].split()[0] == ("ok" if has_microphone else "warn")
    if not has_microphone:
        assert "no input device (microphone) found" in lines["audio"]
    assert lines["server"].split()[0] == "warn" and "no server configured" in lines["server"]
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
    assert [name for name, line in lines.items() if not line.startswith("  FAIL")] == [
        "settings",
        "Qt",
        "cache",
        "audio",
        "speech",
        "server",
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


SPEAKERS = {"name": "HDMI output", "max_input_channels": 0, "max_output_channels": 2}
HEADSET = {"name": "USB headset", "max_input_channels": 1, "max_output_channels": 2}


def test_no_input_device_is_a_warning_that_says_what_it_means():
    check = selftest.SelfTest(audio_devices=lambda: [SPEAKERS])
    with pytest.raises(selftest.SelfTestWarning, match="no input device") as warning:
        check.check_audio()
    assert "cannot record" in str(warning.value) and "0 input device(s)" in str(warning.value)
    with_headset = selftest.SelfTest(audio_devices=lambda: [SPEAKERS, HEADSET])
    assert "1 input device(s)" in with_headset.check_audio()


def test_a_warning_is_reported_but_passes():
    out: list[str] = []
    results = [
        selftest.CheckResult("audio", True, "no input device", 0.1, warning=True),
        selftest.CheckResult("cache", True, "fine", 0.1),
    ]
    assert selftest.report(iter(results), out.append) is True
    assert out[0].split()[:2] == ["warn", "audio"]
    assert out[-1] == "self-test passed with warnings: audio"


def test_the_voice_is_tried_by_speaking(qapp):
    # Qt's test engine does go through speaking; an engine that cannot start says why.
    assert selftest.engine_speaks("mock") is None
    assert selftest.engine_speaks("no-such-engine")
    espeak = shutil.which("espeak-ng")  # the suite's speech clips need it too (tests/ui)
    assert espeak is not None
    assert selftest.espeak_speaks(espeak) is None
    assert "failed (exit 1" in selftest.espeak_speaks("/bin/false")

    spoken = selftest.SelfTest(voice_engines=["no-such-engine"], espeak=espeak).check_speech()
    assert "espeak-ng said a test phrase; no-such-engine: " in spoken

    silent = selftest.SelfTest(voice_engines=["no-such-engine"], espeak="/bin/false")
    with pytest.raises(selftest.SelfTestWarning, match="no speech engine speaks") as warning:
        silent.check_speech()
    assert "no-such-engine: " in str(warning.value)
    assert "espeak-ng: /bin/false failed" in str(warning.value)
    assert "shown as text only" in str(warning.value)


def test_the_configured_server_is_asked_for_an_answer(tmp_path, stack):
    status, lines, output = self_test(
        tmp_path, SUPABASE_URL=stack.url, SUPABASE_ANON_KEY=stack.anon_key
    )
    assert status == 0, output
    assert lines["server"].split()[0] == "ok"
    assert f"the server at {stack.url} answered in" in lines["server"]


def test_a_server_that_refuses_the_key_or_does_not_answer_fails(stack):
    with pytest.raises(selftest.SelfTestError, match="refused the anon key"):
        selftest.server_answers(stack.url, "not-the-anon-key")
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(selftest.SelfTestError, match=f"the server at {url} does not answer"):
            selftest.server_answers(url, stack.anon_key, timeout_s=5)
