"""A 10-minute practice call: time from the end of the last turn to a complete review.

Earlier turns are transcribed while the call goes on (the session transcribes each turn as it
ends), so what the rep waits for after hanging up is the last turn's transcription plus the
transcript, KPIs and provisional score. Baseline in the same process: raw faster-whisper on the
same last-turn audio, the part no pipeline can avoid. Target: ≤ 2 s after the last turn.

The call: a scenario whose dialog is a chain of COACHDESK_BENCH_TURNS persona lines (default 24),
each answered by ~20 s of espeak-ng speech (the last one ~8 s, a closing remark), so persona
and rep together run about ten minutes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from app.practice import PracticeSession
from app.scenarios import Scenario, load_scenarios
from audio.decode import load_audio
from audio.transcribe import Transcriber

ANSWER = (
    "Thanks for asking. Um, we help sales teams like yours cut the time they spend on admin, "
    "so reps can spend more of the week talking to customers. What does your team do today "
    "when a new rep joins, and how long does it take before they close their first deal? "
    "Uh, most of our customers tell us onboarding takes about three months. "
)
CLOSING = "Great, I will send an invite for Thursday at ten. Thanks for your time today."


def _speak(text: str, path: Path) -> Path:
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True)
    return path


def _chain_scenario(turns: int) -> Scenario:
    template = load_scenarios()[0]
    nodes = [
        {
            "id": f"n{i}",
            "persona_line": f"Interesting. Tell me more about point {i}, how would that work?",
            "edges": [{"to": f"n{i + 1}" if i + 1 < turns else "end", "default": True}],
        }
        for i in range(turns)
    ]
    nodes.append({"id": "end", "persona_line": "Okay, send me the invite.", "end": True})
    data = {
        "id": template.id,
        "title": "Ten-minute call",
        "persona": template.persona,
        "branching": {"version": 1, "start": "n0", "nodes": nodes},
        "rubric": template.rubric,
        "pass_score": float(template.pass_score),
    }
    return Scenario.from_json(data, source="bench")


def run(turns: int, rounds: int) -> dict[str, float]:
    transcriber = Transcriber()
    transcriber.load()
    with tempfile.TemporaryDirectory() as folder:
        answer = _speak(ANSWER, Path(folder) / "answer.wav")
        closing = _speak(CLOSING, Path(folder) / "closing.wav")
        call_seconds = 0.0
        finishing, reviewing, raw = [], [], []
        for _ in range(rounds):
            session = PracticeSession(_chain_scenario(turns), transcriber, speaker=lambda _t: 4.0)
            session.start()
            for _turn in range(turns - 1):
                session.answer(answer)
            start = time.perf_counter()
            session.answer(closing)
            answered = time.perf_counter()
            result = session.result()
            finishing.append(time.perf_counter() - start)
            reviewing.append(time.perf_counter() - answered)
            assert session.finished and result.score is not None
            call_seconds = max(turn["end"] for turn in result.transcript["turns"])
            start = time.perf_counter()
            list(transcriber.model.transcribe(str(closing))[0])
            raw.append(time.perf_counter() - start)
        closing_seconds = len(load_audio(closing)) / 16000
    return {
        "call_minutes": call_seconds / 60,
        "last_turn_seconds": closing_seconds,
        "finish_s": statistics.median(finishing),
        "raw_s": statistics.median(raw),
        "review_s": statistics.median(reviewing),
    }


def main() -> None:
    turns = int(os.environ.get("COACHDESK_BENCH_TURNS", "24"))
    rounds = int(os.environ.get("COACHDESK_BENCH_ROUNDS", "3"))
    figures = run(turns, rounds)
    print(f"== end of call to complete review ({figures['call_minutes']:.1f}-minute call) ==")
    print(
        f"last turn ({figures['last_turn_seconds']:.1f} s of speech) to transcript + KPIs + score: "
        f"{figures['finish_s']:.2f} s (target <= 2 s); raw faster-whisper on that turn "
        f"{figures['raw_s']:.2f} s; ratio {figures['finish_s'] / figures['raw_s']:.2f}x; "
        f"of which transcript + KPIs + score {figures['review_s'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
