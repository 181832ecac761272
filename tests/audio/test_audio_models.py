"""Named models: resolved to checked folders, split packages joined once, damage refused."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from real_speech import REFERENCES, clip_path
from test_audio_real_speech import pooled_wer

from audio import models
from audio.errors import ModelLoadError
from audio.models import MODELS, ModelSource, ModelUnavailableError, model_path
from audio.transcribe import Transcriber, TranscriberSettings


def fake_split_model(root: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes]) -> str:
    """Packages fake_<id>_1..N on sys.path holding model.bin in parts, like the PyPI ones (a new
    id each time: Python keeps an imported package for the rest of the session)."""
    stem = f"fake_{uuid.uuid4().hex[:8]}"
    packages = []
    for index, part in enumerate(parts, 1):
        data = root / f"{stem}_{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"model.bin.part{index}").write_bytes(part)
        packages.append(f"{stem}_{index}")
    (root / packages[-1] / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(root))
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    source = ModelSource("fake", tuple(packages), "data", digest, "made by the test")
    monkeypatch.setitem(MODELS, "fake", source)
    return "fake"


def test_a_split_model_is_joined_once_and_checked(tmp_path, monkeypatch):
    name = fake_split_model(tmp_path / "site", monkeypatch, [b"first half|", b"second half"])
    folder = model_path(name, cache=tmp_path / "cache")
    assert folder == tmp_path / "cache" / "fake"
    assert (folder / "model.bin").read_bytes() == b"first half|second half"
    assert (folder / "config.json").read_text() == "{}"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fake"]  # no staging left
    (folder / "model.bin").write_bytes(b"first half|second halF")  # damaged on disk later
    with pytest.raises(
        ModelUnavailableError, match=r"model\.bin: damaged or not the expected file"
    ):
        model_path(name, cache=tmp_path / "cache")


def test_parts_that_do_not_add_up_are_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    name = fake_split_model(tmp_path / "site", monkeypatch, [b"first half|", b"second half"])
    second = MODELS[name].packages[1]
    (tmp_path / "site" / second / "data" / "model.bin.part2").write_bytes(b"other half")
    with pytest.raises(ModelUnavailableError, match=r"joined from the parts of fake: damaged"):
        model_path(name, cache=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_unknown_and_missing_models_are_named(monkeypatch):
    with pytest.raises(ModelUnavailableError, match=r'no model "large" \(known: tiny\.en, base'):
        model_path("large")
    missing = ModelSource("gone", ("no_such_model_package",), "data", "0" * 64, "")
    monkeypatch.setitem(MODELS, "gone", missing)
    with pytest.raises(ModelUnavailableError, match="no package no-such-model-package"):
        model_path("gone")
    assert "gone" not in models.installed_models()
    with pytest.raises(ModelLoadError, match='model "gone" is not installed'):
        Transcriber(TranscriberSettings(model="gone")).load()


def test_base_transcribes_real_speech(tmp_path, monkeypatch):
    """Whisper base from its two PyPI packages, joined into a fresh cache, on the real clips."""
    monkeypatch.setattr(models, "default_cache_dir", lambda: tmp_path / "cache")
    transcriber = Transcriber(TranscriberSettings(model="base"))
    texts = {name: transcriber.transcribe(clip_path(name)).text for name in REFERENCES}
    assert transcriber.model_path == tmp_path / "cache" / "base"
    pairs = [(REFERENCES[name], text) for name, text in texts.items()]
    assert pooled_wer(pairs) <= 0.08, texts
