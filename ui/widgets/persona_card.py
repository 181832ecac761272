"""Who the rep is calling: the persona's name, role, company and the scenario's difficulty."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ui.services import Scenario


class PersonaCard(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        self.name = QLabel()
        self.name.setObjectName("subheading")
        self.role = QLabel()
        self.difficulty = QLabel()
        self.difficulty.setObjectName("muted")
        self.scenario = QLabel()
        self.scenario.setWordWrap(True)
        self.scenario.setObjectName("muted")
        for widget in (self.name, self.role, self.difficulty, self.scenario):
            layout.addWidget(widget)

    def show_scenario(self, scenario: Scenario) -> None:
        persona = scenario.persona
        self.name.setText(persona.name)
        self.role.setText(f"{persona.role}, {persona.company}" if persona.company else persona.role)
        self.difficulty.setText(f"Difficulty: {scenario.difficulty.capitalize()}")
        self.scenario.setText(f"{scenario.title}. {scenario.description}".strip())
        self.setAccessibleName(f"Calling {persona.name}, {self.role.text()}")
