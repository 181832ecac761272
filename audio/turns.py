"""End of the rep's turn from the input level: speech, then enough silence, ends the turn.

The recorder reports a `Level` per block (about 50 ms); the detector needs no audio, so the UI
can feed it from the level callback it already shows on the meter. The threshold adapts to the
room: silence is "well below the loudest speech heard in this turn", never below a noise floor
measured before the rep spoke, so a noisy car and a quiet office both work.
"""

from __future__ import annotations

from dataclasses import dataclass

from audio.capture import Level


@dataclass(frozen=True)
class TurnSettings:
    silence_seconds: float = 1.2  # pause that ends a turn; shorter cuts reps off mid-thought
    min_speech_seconds: float = 0.3  # a cough or a click is not a turn
    speech_margin_db: float = 12.0  # speech is this far above the noise floor
    drop_db: float = 25.0  # silence is this far below the turn's loudest block
    floor_dbfs: float = -60.0  # quieter than this is silence whatever the room


class EndOfTurn:
    """Feed `update(level, seconds)` per block; it returns True once the turn has ended."""

    def __init__(self, settings: TurnSettings | None = None) -> None:
        self.settings = settings or TurnSettings()
        self._noise_dbfs: float | None = None
        self._loudest_dbfs = self.settings.floor_dbfs
        self._speech_seconds = 0.0
        self._quiet_seconds = 0.0
        self.ended = False

    @property
    def speaking(self) -> bool:
        return self._speech_seconds >= self.settings.min_speech_seconds and not self.ended

    def update(self, level: Level, seconds: float) -> bool:
        if self.ended:
            return True
        loudness = max(level.rms_dbfs, self.settings.floor_dbfs)
        if self._noise_dbfs is None:
            self._noise_dbfs = loudness
        if self._is_speech(loudness):
            self._speech_seconds += seconds
            self._loudest_dbfs = max(self._loudest_dbfs, loudness)
            self._quiet_seconds = 0.0
        elif self._speech_seconds < self.settings.min_speech_seconds:
            # Still waiting for the rep: learn the room's noise (slowly, so a breath is not it).
            self._speech_seconds = 0.0
            self._noise_dbfs = max(
                self.settings.floor_dbfs, 0.9 * self._noise_dbfs + 0.1 * loudness
            )
        else:
            self._quiet_seconds += seconds
            self.ended = self._quiet_seconds >= self.settings.silence_seconds
        return self.ended

    def _is_speech(self, loudness: float) -> bool:
        noise = self.settings.floor_dbfs if self._noise_dbfs is None else self._noise_dbfs
        above_noise = loudness >= noise + self.settings.speech_margin_db
        near_peak = loudness >= self._loudest_dbfs - self.settings.drop_db
        return above_noise and (self._speech_seconds == 0.0 or near_peak)
