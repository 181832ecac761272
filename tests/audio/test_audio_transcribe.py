"""Transcriber on espeak-ng speech: accuracy, the odd inputs, progress, cancellation, bad models."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from audio_speech import sox, wer

from audio.decode import SAMPLE_RATE, load_audio
from audio.errors import AudioFileError, ModelLoadError, TranscriptionCancelled
from audio.models import default_model_path
from audio.transcribe import Transcriber, TranscriberSettings, Utterance

SENTENCES = [
    "Hi, this is Sam from Coachdesk. Do you have a minute to talk about your sales training?",
    "Our team can show you a short demo next week, if you have some time on Tuesday.",
    "I understand the budget is tight this quarter, but the pilot costs nothing for a month.",
    "Thanks for taking my call. I know you are busy, so I will keep this short.",
]
# A discovery call read out for the long-input test (with the pause below, over three minutes).
LONG_TEXT = (
    "Good morning, and thank you for making time for this call today. My name is Sam, and I work "
    "with sales teams that want their people to practise calls before they talk to real "
    "customers. I would like to ask you a few questions about how your team works right now, and "
    "then share what we have seen at companies like yours. Could you tell me how new sales people "
    "learn to handle their first calls? Most teams we meet rely on shadowing, where a new hire "
    "listens to a senior colleague for a few weeks. That works, but it takes a lot of time from "
    "your best people, and the new hire rarely gets to practise the hard moments, like a price "
    "objection or a customer who is already using a competitor. Our product lets each rep run a "
    "practice call with a realistic persona on their own laptop. The persona answers based on "
    "what the rep says, so every call is a little different. When the call ends, the rep sees a "
    "transcript, the share of the call they spent talking, how many questions they asked, and how "
    "often they used filler words. Managers can review any call, leave comments at a specific "
    "moment, and adjust the score if they disagree with it. Many of our customers start with "
    "three or four scenarios, such as a cold call, a discovery call, and a renewal conversation "
    "where the customer wants a discount. After a month, they usually see new hires reach their "
    "first real meeting much sooner, because they have already heard the common objections many "
    "times. I also want to mention that everything runs on the laptop itself, so practice works "
    "on a train or in a hotel with a weak connection. The results are sent to the manager as soon "
    "as the laptop is back online."
)
LONG_TEXT_2 = (
    "What would you need to see to decide whether this is worth a small pilot with your team? We "
    "could pick two scenarios that match your market, invite five reps, and meet again in three "
    "weeks to look at the results together. If that sounds reasonable, I can send a short "
    "summary of this call and a few times that work for a meeting next week. Before we finish, is "
    "there anyone else on your side who should join that conversation, perhaps someone from "
    "training or from sales operations? Thank you again for your time, and I look forward to "
    "speaking with you soon."
)


@dataclass(frozen=True)
class LongCall:
    path: Path
    text: str
    pauses: list[tuple[float, float]]  # seconds of silence between the stretches of speech


@pytest.fixture(scope="module")
def long_call(tmp_path_factory: pytest.TempPathFactory, speech: Callable[..., Path]) -> LongCall:
    """Over three minutes: three stretches of speech with five seconds of silence between them."""
    folder = tmp_path_factory.mktemp("long")
    pause = folder / "pause.wav"
    sox("-n", "-r", "22050", "-c", "1", "-b", "16", pause, "trim", "0", "5")
    texts = [LONG_TEXT, LONG_TEXT_2, LONG_TEXT]
    parts = [speech(text) for text in texts]
    path = folder / "call.wav"
    sox(parts[0], pause, parts[1], pause, parts[2], path)
    first, second = (len(load_audio(part)) / SAMPLE_RATE for part in parts[:2])
    pauses = [(first, first + 5), (first + 5 + second, first + 10 + second)]
    return LongCall(path, " ".join(texts), pauses)


def assert_words_consistent(utterance: Utterance) -> None:
    """Words in time order, inside the audio, and the text is those words (Whisper sometimes
    splits one written word in two: "higher" "-elly" is the text "higher-elly")."""
    starts = [word.start for word in utterance.words]
    assert starts == sorted(starts)
    assert all(0 <= w.start <= w.end <= utterance.duration + 0.01 for w in utterance.words)
    assert all(0 <= w.probability <= 1 for w in utterance.words)
    assert "".join(utterance.text.split()) == "".join(word.text for word in utterance.words)
    assert all(word.text == word.text.strip() != "" for word in utterance.words)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_clean_speech_wer(transcriber: Transcriber, speech: Callable[..., Path], sentence: str):
    utterance = transcriber.transcribe(speech(sentence))
    assert wer(sentence, utterance.text) <= 0.25, utterance.text
    assert_words_consistent(utterance)
    assert utterance.duration == pytest.approx(len(load_audio(speech(sentence))) / SAMPLE_RATE)


def test_stereo_44k_file(
    transcriber: Transcriber, speech: Callable[..., Path], tmp_path: Path
) -> None:
    path = tmp_path / "stereo.wav"
    sox(speech(SENTENCES[1]), "-r", "44100", "-c", "2", path)
    utterance = transcriber.transcribe(path)
    assert wer(SENTENCES[1], utterance.text) <= 0.25, utterance.text


def test_samples_in_memory_and_times_from_their_start(
    transcriber: Transcriber, speech: Callable[..., Path]
) -> None:
    """Two seconds of silence first: words are timed from the start of the audio given."""
    voice = load_audio(speech(SENTENCES[0]))
    samples = np.concatenate([np.zeros(2 * SAMPLE_RATE, np.float32), voice])
    utterance = transcriber.transcribe(samples)
    assert wer(SENTENCES[0], utterance.text) <= 0.25, utterance.text
    assert utterance.words[0].start >= 1.5
    assert utterance.duration == len(samples) / SAMPLE_RATE
    assert_words_consistent(utterance)


@pytest.mark.parametrize("answer", ["Yes.", "No.", "Sure, go ahead."])
def test_short_answers_survive_vad(
    transcriber: Transcriber, speech: Callable[..., Path], answer: str
) -> None:
    """A one-word turn, with the half second before and the second after a rep's turn has."""
    voice = load_audio(speech(answer))
    samples = np.concatenate(
        [np.zeros(SAMPLE_RATE // 2, np.float32), voice, np.zeros(SAMPLE_RATE, np.float32)]
    )
    assert transcriber.settings.vad
    assert wer(answer, transcriber.transcribe(samples).text) == 0


@pytest.mark.parametrize("seconds", [0.0, 0.2, 5.0])
def test_silence_is_empty_text(transcriber: Transcriber, seconds: float) -> None:
    progress: list[float] = []
    utterance = transcriber.transcribe(
        np.zeros(round(seconds * SAMPLE_RATE), np.float32), progress=progress.append
    )
    assert utterance == Utterance(text="", words=(), duration=seconds)
    assert progress == [1.0]


def test_quiet_noise_is_empty_text(transcriber: Transcriber) -> None:
    """Room noise at -50 dBFS, what a muted turn sounds like: no invented words."""
    noise = np.random.default_rng(5).normal(0, 0.003, 5 * SAMPLE_RATE).astype(np.float32)
    assert transcriber.transcribe(noise).text == ""


def test_empty_and_corrupt_files(transcriber: Transcriber, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage garbage garbage")
    with pytest.raises(AudioFileError, match="empty"):
        transcriber.transcribe(empty)
    with pytest.raises(AudioFileError, match="not an audio file, or it is corrupt"):
        transcriber.transcribe(corrupt)


def test_two_dimensional_samples_are_refused(transcriber: Transcriber) -> None:
    with pytest.raises(ValueError, match="mono"):
        transcriber.transcribe(np.zeros((SAMPLE_RATE, 2), np.float32))


def test_long_call_with_progress(transcriber: Transcriber, long_call: LongCall) -> None:
    progress: list[float] = []
    utterance = transcriber.transcribe(long_call.path, progress=progress.append)
    assert utterance.duration > 180
    assert wer(long_call.text, utterance.text) <= 0.25
    assert_words_consistent(utterance)
    # VAD cut the pauses out, yet word times are times in the file: no word inside a pause, and
    # speech resumes when the pause ends (Whisper places a first word up to ~1 s early).
    for start, end in long_call.pauses:
        assert not [w for w in utterance.words if start + 1 < w.start < end - 1]
        assert [w for w in utterance.words if end - 1 <= w.start <= end + 1]
    assert len(progress) >= 5
    assert progress == sorted(progress) and len(set(progress)) == len(progress)
    assert 0 < progress[0] < 0.5 and progress[-1] == 1.0


def test_cancel_between_segments(transcriber: Transcriber, long_call: LongCall) -> None:
    progress: list[float] = []
    with pytest.raises(TranscriptionCancelled, match="recording is kept"):
        transcriber.transcribe(
            long_call.path, progress=progress.append, cancelled=lambda: progress != []
        )
    assert len(progress) == 1 and progress[0] < 1.0


def test_cancel_before_starting(transcriber: Transcriber, long_call: LongCall) -> None:
    progress: list[float] = []
    with pytest.raises(TranscriptionCancelled):
        transcriber.transcribe(long_call.path, progress=progress.append, cancelled=lambda: True)
    assert progress == []


def garbage_model(folder: Path, model_bin: bytes) -> Path:
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(default_model_path() / name, folder / name)
    (folder / "model.bin").write_bytes(model_bin)
    return folder


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing", "there is no model folder there"),
        (lambda tmp: tmp, "the folder lacks model.bin, config.json, tokenizer.json"),
        (lambda tmp: garbage_model(tmp / "random", bytes(range(256)) * 400), "binary version"),
        (
            lambda tmp: garbage_model(
                tmp / "cut", (default_model_path() / "model.bin").read_bytes()[:4096]
            ),
            "",
        ),
    ],
    ids=["missing", "empty-folder", "garbage-model-bin", "truncated-model-bin"],
)
def test_bad_model_path(
    tmp_path: Path, speech: Callable[..., Path], make: Callable[[Path], Path], reason: str
) -> None:
    model_path = make(tmp_path)
    transcriber = Transcriber(TranscriberSettings(model_path=model_path))
    with pytest.raises(ModelLoadError, match="recording is kept") as caught:
        transcriber.transcribe(speech(SENTENCES[0]))
    assert str(model_path) in str(caught.value) and reason in caught.value.reason
    assert caught.value.model_path == model_path


def test_load_is_idempotent(transcriber: Transcriber) -> None:
    model = transcriber.model
    transcriber.load()
    assert transcriber.model is model
    assert transcriber.model_path == default_model_path()
