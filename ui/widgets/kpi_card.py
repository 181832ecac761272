"""One KPI on the review screen: its value, the ideal range, and whether the call was within."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.client.kpi_display import KpiReading, Verdict
from ui.theme import LIGHT, Colors

_VERDICT_TEXT = {
    Verdict.WITHIN: "✓ within range",
    Verdict.BELOW: "below range",
    Verdict.ABOVE: "above range",
    Verdict.NOT_MEASURED: "not measured in this call",
    Verdict.NO_TARGET: "",
}
_VERDICT_COLOR = {Verdict.WITHIN: "good", Verdict.BELOW: "warn", Verdict.ABOVE: "warn"}


class KpiCard(QFrame):
    def __init__(
        self,
        reading: KpiReading,
        colors: Colors = LIGHT,
        parent: QWidget | None = None,
        *,
        previous: KpiReading | None = None,
    ) -> None:
        """`previous`: the same KPI in the previous attempt of the scenario, shown beside."""
        super().__init__(parent)
        self.reading = reading
        self.previous = previous
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(2)
        title = QLabel(reading.info.label)
        title.setObjectName("muted")
        self.value = QLabel(reading.value_text)
        self.value.setObjectName("bigNumber")
        target = QLabel(reading.target_text)
        target.setObjectName("muted")
        target.setWordWrap(True)
        self.verdict = QLabel(_VERDICT_TEXT[reading.verdict])
        color = _VERDICT_COLOR.get(reading.verdict)
        if color:
            self.verdict.setStyleSheet(f"color: {getattr(colors, color)}; font-weight: 600;")
        # An off-target KPI the rubric does not score cost nothing: say so beside the verdict.
        self.note = QLabel(reading.score_note)
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        self.note.setVisible(bool(reading.score_note))
        self.previous_value = QLabel(
            f"Previous attempt: {previous.value_text}" if previous is not None else ""
        )
        self.previous_value.setObjectName("muted")
        self.previous_value.setVisible(previous is not None)
        for widget in (title, self.value, target, self.verdict, self.note, self.previous_value):
            layout.addWidget(widget)
        spoken = [reading.value_text, reading.target_text, _VERDICT_TEXT[reading.verdict]]
        spoken += [text for text in (reading.score_note, self.previous_value.text()) if text]
        self.setAccessibleName(f"{reading.info.label}: {', '.join(t for t in spoken if t)}")
        # Cards are focusable so keyboard users can step through them and hear each one.
        self.setFocusPolicy(self.focusPolicy().StrongFocus)
