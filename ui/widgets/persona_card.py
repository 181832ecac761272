"""Who the rep is calling: avatar, name, role, company, and the scenario's difficulty."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.client.views import Scenario
from ui.widgets.avatar import Avatar


class PersonaCard(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        self.avatar = Avatar(56)
        layout.addWidget(self.avatar)
        details = QVBoxLayout()
        layout.addLayout(details, 1)
        self.name = QLabel()
        self.name.setObjectName("subheading")
        self.role = QLabel()
        self.difficulty = QLabel()
        self.difficulty.setObjectName("muted")
        self.scenario = QLabel()
        self.scenario.setWordWrap(True)
        self.scenario.setObjectName("muted")
        for widget in (self.name, self.role, self.difficulty, self.scenario):
            details.addWidget(widget)

    def show_scenario(self, scenario: Scenario) -> None:
        persona = scenario.profile
        self.avatar.set_person(persona.name)
        self.name.setText(persona.name)
        self.role.setText(f"{persona.role}, {persona.company}" if persona.company else persona.role)
        self.difficulty.setText(f"Difficulty: {scenario.difficulty.capitalize()}")
        self.scenario.setText(f"{scenario.title}. {scenario.description}".strip())
        self.setAccessibleName(f"Calling {persona.name}, {self.role.text()}")
