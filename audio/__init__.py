"""Audio capture, playback and on-device transcription."""
