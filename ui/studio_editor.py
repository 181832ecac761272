"""The scenario editor: the form (title, description, difficulty, pass mark, attempt cap, time
limit, key terms for the speech model (app/key_terms.py), persona with its voice and picture
(ui/studio/persona_fields.py), AI instructions), the dialog as a graph
(ui/studio/branching_editor.py) and the rubric in percentages, checked as the database checks
them while editing, with a preview score of an attempt of the org by the edited rubric.

Rendering and dispatch only: the rules and the preview are app/rubric_edit.py's, saving is
app/client/studio.py's (off the GUI thread through ctx.call). Edits are also kept on this
computer as they are made (AUTOSAVE_MS after the last one, and on closing), sent at the next
sync; a conflict with someone else's save shows above the tabs (ui/studio/draft_conflict.py).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.client.studio import DraftConflict, StudioService
from app.client.views import AttemptRow, Changes, Scenario
from app.formats import FormatError, validate_persona
from app.key_terms import key_terms_text, parse_key_terms, validate_key_terms
from app.rubric_edit import (
    KPI_NAMES,
    Criterion,
    balance,
    from_document,
    new_keywords_criterion,
    new_kpi_criterion,
    preview,
    to_document,
)
from app.scenario_package import plain_json
from audio.voices import sample_line
from ui.context import AppContext
from ui.errors import plain_message
from ui.models import Column, RowTableModel
from ui.studio.branching_editor import BranchingEditor
from ui.studio.briefings_editor import BriefingsEditor
from ui.studio.draft_conflict import ConflictBanner
from ui.studio.persona_fields import AvatarPicker, VoicePicker
from ui.studio.try_it import TryItDialog
from ui.voice import PersonaVoice
from ui.widgets.table import make_table

DIFFICULTIES = ("beginner", "intermediate", "advanced")
# How long after the last edit the draft is kept on this computer (and queued for the server).
AUTOSAVE_MS = 3000
KEY_TERMS_HINT = "Names and words the speech model should expect, comma-separated"


class CriteriaModel(RowTableModel[Criterion]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Criterion", lambda c: c.label or c.id),
                Column("Type", lambda c: "KPI" if c.type == "kpi" else "Keywords"),
                Column("Scores", _what_it_scores),
                Column("Weight", lambda c: f"{c.percent} %", align_right=True),
            ]
        )


def _what_it_scores(criterion: Criterion) -> str:
    if criterion.type == "keywords":
        return " · ".join(" / ".join(group) for group in criterion.keywords)
    bounds = [f"≥ {criterion.low:g}" if criterion.low is not None else ""]
    bounds.append(f"≤ {criterion.high:g}" if criterion.high is not None else "")
    return f"{criterion.kpi} {' '.join(b for b in bounds if b)}".strip()


class ScenarioEditor(QDialog):
    saved = Signal(str)  # the scenario's id
    resolved = Signal(str)  # a conflict settled: what happened, in words

    def __init__(
        self,
        ctx: AppContext,
        scenario: Scenario,
        parent: QWidget | None = None,
        *,
        voice: PersonaVoice | None = None,
    ):
        """`voice`: what "Hear it" speaks with (None: one of the editor's own)."""
        super().__init__(parent)
        self.ctx = ctx
        self._voice = voice
        self.service = StudioService(ctx.backend)
        self.original = scenario
        # Names this editor to the cache: its own autosaves never count as someone else's save.
        self.editor_id = uuid.uuid4().hex
        self.kept: dict[str, Any] | None = None  # the content last kept on this computer
        self._built = False  # edits count once the form is filled in
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.criteria: list[Criterion] = from_document(scenario.rubric)
        self.attempts: list[AttemptRow] = []
        self.setWindowTitle(f"Edit “{scenario.title}”")
        self.setObjectName("scenarioEditor")
        self.resize(900, 620)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._form(scenario), "&Scenario")
        self.branching = BranchingEditor(ctx.theme.colors)
        self.branching.set_document(scenario.branching)
        self.branching.check_now()
        self.branching.problems_changed.connect(self.check)
        self.tabs.addTab(self.branching, "Dia&log")
        self.tabs.addTab(self._rubric(), "&Rubric")
        self.tabs.addTab(self._preview(), "Pr&eview")
        self.briefings = BriefingsEditor(ctx, scenario)
        self.tabs.addTab(self.briefings, "Briefin&g")  # &B is Balance's, &F Difficulty's
        self.problems = QLabel()
        self.problems.setObjectName("editorProblems")
        self.problems.setWordWrap(True)
        self.kept_note = QLabel()
        self.kept_note.setObjectName("muted")
        self.conflict = ConflictBanner()
        self.conflict.keep_mine.connect(self.keep_mine)
        self.conflict.take_theirs.connect(self.take_theirs)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.try_button = self.buttons.addButton("Tr&y it…", QDialogButtonBox.ButtonRole.ActionRole)
        self.try_button.setToolTip("Run the edited scenario on the practice engine; nothing saved")
        self.try_button.clicked.connect(self.try_it)
        self.try_dialog: TryItDialog | None = None
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
        layout = QVBoxLayout(self)
        layout.addWidget(self.conflict)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.kept_note)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._show_criteria()
        self.check()
        self.kept, self._built = self._content(), True
        for signal in (
            self.description.textChanged,
            self.ai_prompt.textChanged,
            self.persona_voice.changed,
            self.persona_avatar.changed,
            self.difficulty.currentIndexChanged,
            self.max_attempts.valueChanged,
            self.time_limit.valueChanged,
        ):
            signal.connect(self.autosave_timer.start)
        ctx.changes.changed.connect(self._data_changed)
        self.load_conflict()

    # The form ------------------------------------------------------------------------------
    def _form(self, scenario: Scenario) -> QWidget:
        persona = scenario.profile
        self.title = QLineEdit(scenario.title)
        self.description = QPlainTextEdit(scenario.description)
        self.description.setTabChangesFocus(True)
        self.difficulty = QComboBox()
        for level in DIFFICULTIES:
            self.difficulty.addItem(level.capitalize(), level)
        self.difficulty.setCurrentIndex(max(self.difficulty.findData(scenario.difficulty), 0))
        self.pass_score = QDoubleSpinBox()
        self.pass_score.setRange(0, 100)
        self.pass_score.setDecimals(0)
        self.pass_score.setValue(float(scenario.pass_score))
        self.max_attempts = QSpinBox()
        self.max_attempts.setRange(0, 100)
        self.max_attempts.setSpecialValueText("No limit")
        self.max_attempts.setValue(scenario.max_attempts or 0)
        self.time_limit = QSpinBox()
        self.time_limit.setRange(0, 120)
        self.time_limit.setSuffix(" min")
        self.time_limit.setSpecialValueText("No limit")
        self.time_limit.setValue((scenario.time_limit_seconds or 0) // 60)
        self.key_terms = QLineEdit(key_terms_text(scenario.key_terms))
        self.key_terms.setObjectName("keyTerms")
        self.key_terms.setPlaceholderText(KEY_TERMS_HINT)
        self.key_terms.setToolTip(KEY_TERMS_HINT)
        self.persona_name = QLineEdit(persona.name)
        self.persona_role = QLineEdit(persona.role)
        self.persona_company = QLineEdit(persona.company)
        self.persona_voice = VoicePicker(
            persona.voice, lambda: sample_line(self.branching.document()), voice=self._voice
        )
        self.persona_avatar = AvatarPicker(self.ctx, scenario, self.persona_name.text)
        self.persona_name.textChanged.connect(lambda _t: self.persona_avatar.refresh())
        self.ai_prompt = QPlainTextEdit(scenario.ai_prompt)
        self.ai_prompt.setTabChangesFocus(True)
        self.ai_prompt.setPlaceholderText("Used when an AI persona is configured")
        form = QFormLayout()
        for label, widget in (
            ("&Title", self.title),
            ("&Description", self.description),
            ("Di&fficulty", self.difficulty),
            ("&Pass mark", self.pass_score),
            ("&Attempts allowed", self.max_attempts),
            ("Time li&mit", self.time_limit),
            ("&Key terms", self.key_terms),  # &K is the Rubric tab's too, never shown with it
            ("Persona &name", self.persona_name),
            ("Persona r&ole", self.persona_role),
            ("&Company", self.persona_company),
            ("&Voice", self.persona_voice),
            ("Picture", self.persona_avatar),
            ("A&I instructions", self.ai_prompt),
        ):
            caption = QLabel(label)
            caption.setBuddy(widget)
            form.addRow(caption, widget)
        for line in (
            self.title,
            self.key_terms,
            self.persona_name,
            self.persona_role,
            self.persona_company,
        ):
            line.textChanged.connect(self.check)
        self.pass_score.valueChanged.connect(self.check)
        page = QWidget()
        page.setLayout(form)
        return page

    # The rubric ----------------------------------------------------------------------------
    def _rubric(self) -> QWidget:
        self.model = CriteriaModel()
        self.table = make_table(self.model, "criteriaTable", "Rubric criteria", stretch=2)
        self.total = QLabel()
        self.total.setObjectName("rubricTotal")
        self.kpi = QComboBox()
        for name in KPI_NAMES:
            self.kpi.addItem(name.replace("_", " "), name)
        self.add_kpi = QPushButton("Add &KPI criterion")
        self.add_keywords = QPushButton("Add key&words criterion")
        self.remove = QPushButton("Re&move")
        self.balance_button = QPushButton("&Balance to 100 %")
        self.label = QLineEdit()
        self.percent = QSpinBox()
        self.percent.setRange(0, 100)
        self.percent.setSuffix(" %")
        self.low = QLineEdit()
        self.high = QLineEdit()
        self.tolerance = QLineEdit()
        self.keywords = QPlainTextEdit()
        self.keywords.setTabChangesFocus(True)
        self.keywords.setPlaceholderText("One group per line; alternatives separated by |")
        for field in (self.low, self.high, self.tolerance):
            field.setPlaceholderText("none")
        edit = QFormLayout()
        edit.addRow("Label", self.label)
        edit.addRow("Weight", self.percent)
        edit.addRow("Target from", self.low)
        edit.addRow("Target up to", self.high)
        edit.addRow("Tolerance", self.tolerance)
        edit.addRow("Keyword groups", self.keywords)
        buttons = QHBoxLayout()
        buttons.addWidget(self.kpi)
        buttons.addWidget(self.add_kpi)
        buttons.addWidget(self.add_keywords)
        buttons.addWidget(self.remove)
        buttons.addStretch(1)
        buttons.addWidget(self.balance_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.total)
        layout.addLayout(edit)
        self.add_kpi.clicked.connect(self._add_kpi)
        self.add_keywords.clicked.connect(self._add_keywords)
        self.remove.clicked.connect(self._remove)
        self.balance_button.clicked.connect(self._balance)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._load_selected())
        for field in (self.label, self.low, self.high, self.tolerance):
            field.editingFinished.connect(self._store_selected)
        self.percent.valueChanged.connect(lambda _v: self._store_selected())
        self.keywords.textChanged.connect(self._store_selected)
        return page

    def _show_criteria(self) -> None:
        row = self.table.currentIndex().row()
        self.model.set_rows(list(self.criteria))
        if 0 <= row < len(self.criteria):
            self.table.selectRow(row)
        total = sum(c.percent for c in self.criteria)
        self.total.setText(f"Total {total} %" + ("" if total == 100 else " — must be 100 %"))
        self.check()

    def _selected_index(self) -> int | None:
        row = self.table.currentIndex().row()
        return row if 0 <= row < len(self.criteria) else None

    def _load_selected(self) -> None:
        index = self._selected_index()
        criterion = self.criteria[index] if index is not None else None
        self._loading = True
        try:
            self.label.setText(criterion.label if criterion else "")
            self.percent.setValue(criterion.percent if criterion else 0)
            for field, value in (
                (self.low, criterion.low if criterion else None),
                (self.high, criterion.high if criterion else None),
                (self.tolerance, criterion.tolerance if criterion else None),
            ):
                field.setText("" if value is None else f"{value:g}")
            groups = criterion.keywords if criterion else ()
            self.keywords.setPlainText("\n".join(" | ".join(g) for g in groups))
            is_kpi = criterion is not None and criterion.type == "kpi"
            for field in (self.low, self.high, self.tolerance):
                field.setEnabled(is_kpi)
            self.keywords.setEnabled(criterion is not None and not is_kpi)
        finally:
            self._loading = False

    def _store_selected(self) -> None:
        index = self._selected_index()
        if index is None or getattr(self, "_loading", False):
            return
        criterion = self.criteria[index]
        groups = tuple(
            tuple(p.strip() for p in line.split("|") if p.strip())
            for line in self.keywords.toPlainText().splitlines()
        )
        try:
            changed = replace(
                criterion,
                label=self.label.text().strip(),
                percent=self.percent.value(),
                low=_decimal(self.low.text()),
                high=_decimal(self.high.text()),
                tolerance=_decimal(self.tolerance.text()),
                keywords=tuple(g for g in groups if g) if criterion.type == "keywords" else (),
            )
        except InvalidOperation:
            self.problems.setText("Targets and tolerance are numbers, such as 0.4 or 130.")
            return
        if changed != criterion:
            self.criteria[index] = changed
            self._show_criteria()

    def _add_kpi(self) -> None:
        taken = [c.id for c in self.criteria]
        self.criteria.append(new_kpi_criterion(self.kpi.currentData(), 0, taken))
        self._show_criteria()
        self.table.selectRow(len(self.criteria) - 1)

    def _add_keywords(self) -> None:
        taken = [c.id for c in self.criteria]
        self.criteria.append(new_keywords_criterion([], 0, taken))
        self._show_criteria()
        self.table.selectRow(len(self.criteria) - 1)

    def _remove(self) -> None:
        index = self._selected_index()
        if index is not None:
            del self.criteria[index]
            self._show_criteria()

    def _balance(self) -> None:
        self.criteria = balance(self.criteria)
        self._show_criteria()
        self._load_selected()

    # The preview ---------------------------------------------------------------------------
    def _preview(self) -> QWidget:
        self.attempt = QComboBox()
        self.attempt.setAccessibleName("Attempt to score")
        self.score_button = QPushButton("S&core it with this rubric")
        self.result = QLabel("Choose an attempt of your org to score it with the edited rubric.")
        self.result.setObjectName("previewResult")
        self.result.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(self.attempt, 1)
        row.addWidget(self.score_button)
        layout.addLayout(row)
        layout.addWidget(self.result)
        layout.addStretch(1)
        self.score_button.clicked.connect(self.score_selected)
        self.ctx.call(self, self.ctx.backend.org_attempts, self._show_attempts)
        return page

    def _show_attempts(self, attempts: list[AttemptRow]) -> None:
        self.attempts = [a for a in attempts if a.score is not None]
        self.attempt.clear()
        for a in self.attempts:
            self.attempt.addItem(
                f"{a.person} · {a.scenario_title} · {a.started_at.astimezone():%Y-%m-%d} · "
                f"{a.score:.1f}",
                a.id,
            )

    def score_selected(self) -> None:
        attempt_id = self.attempt.currentData()
        if attempt_id is None:
            return
        criteria, pass_score = list(self.criteria), Decimal(int(self.pass_score.value()))
        base = self.original.rubric

        def work() -> tuple[dict, object]:
            detail = self.ctx.backend.attempt(attempt_id)
            return preview(criteria, detail.transcript, pass_score, base), detail.row.score

        self.ctx.call(self, work, self._show_score, on_failure=self._show_problem)

    def _show_score(self, result: tuple[dict, object]) -> None:
        breakdown, stored = result
        verdict = "passes" if breakdown.get("passed") else "does not pass"
        self.result.setText(
            f"With this rubric the attempt scores {breakdown['score']} and {verdict} "
            f"(pass mark {int(self.pass_score.value())}); it scored {stored} with the rubric "
            "it was practised on."
        )

    # Checking and saving -------------------------------------------------------------------
    def edited(self) -> Scenario:
        persona = {
            **self.original.persona,
            "name": self.persona_name.text().strip(),
            "role": self.persona_role.text().strip(),
        }
        chosen = {
            "company": self.persona_company.text().strip(),
            "voice": self.persona_voice.value,
            "avatar": self.persona_avatar.file_name,
        }
        for key, value in chosen.items():
            if value:
                persona[key] = value
            else:
                persona.pop(key, None)
        return replace(
            self.original,
            title=self.title.text().strip(),
            description=self.description.toPlainText().strip(),
            difficulty=self.difficulty.currentData(),
            pass_score=Decimal(int(self.pass_score.value())),
            max_attempts=self.max_attempts.value() or None,
            time_limit_seconds=self.time_limit.value() * 60 or None,
            key_terms=parse_key_terms(self.key_terms.text()),
            persona=persona,
            ai_prompt=self.ai_prompt.toPlainText().strip(),
            rubric=to_document(self.criteria, self.original.rubric),
            branching=self.branching.document(),
        )

    def check(self) -> str | None:
        """The first problem the database would find, shown under the tabs (None: none)."""
        problem: str | None = None
        try:
            if not self.title.text().strip():
                problem = "The scenario needs a title."
            else:
                validate_persona(
                    {"name": self.persona_name.text(), "role": self.persona_role.text()}
                )
                to_document(self.criteria, self.original.rubric)
                problem = self._key_terms_problem() or self._dialog_problem()
        except FormatError as error:
            problem = str(error)
        self.problems.setText(problem or "Ready to save.")
        if self._built:  # an edit (not the form being built): keep it in a moment
            self.autosave_timer.start()
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(problem is None)
        try_button = getattr(self, "try_button", None)
        if try_button is not None:
            try_button.setEnabled(problem is None)
        return problem

    def try_it(self) -> TryItDialog | None:
        """The edited scenario on the real practice engine (typed or WAV answers)."""
        if self.check() is not None:
            return None
        self.persona_voice.stop()
        dialog = TryItDialog(self.ctx, self.edited(), self, picture=self.persona_avatar.picture)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.try_dialog = dialog
        return dialog

    def _key_terms_problem(self) -> str | None:
        try:
            validate_key_terms(parse_key_terms(self.key_terms.text()))
        except FormatError as error:
            return f"Key terms: {error.reason}."
        return None

    def _dialog_problem(self) -> str | None:
        """The dialog's first error (a warning does not stop saving)."""
        branching = getattr(self, "branching", None)
        errors = [p for p in (branching.problems if branching else []) if p.severity == "error"]
        if not errors:
            return None
        where = f' (node "{errors[0].node_id}")' if errors[0].node_id else ""
        return f"Dialog: {errors[0].message}{where}"

    def save(self) -> None:
        if self.check() is not None:
            return
        self.autosave_timer.stop()
        scenario = self.edited()
        self.buttons.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.save_draft(scenario, self.original, self.editor_id),
            lambda _none: (self.saved.emit(scenario.id), self.accept()),
            label="Saving the draft…",
            on_failure=self._show_problem,
        )

    def _show_problem(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.conflict.set_busy(False)
        self.problems.setText(plain_message(error))

    # Kept on this computer -----------------------------------------------------------------
    def autosave(self) -> None:
        """Keep the draft as it is now on this computer, sent at the next sync (nothing if it
        has a problem the database would refuse, or nothing changed since the last time)."""
        problem = self.check()
        self.autosave_timer.stop()  # (check restarts it)
        if problem is not None:
            return
        content = self._content()
        if content == self.kept:
            return
        scenario, self.kept = self.edited(), content
        self.ctx.call(
            self,
            lambda: self.service.keep_draft(scenario, self.editor_id),
            lambda _none: self.kept_note.setText(
                f"Kept on this computer at {datetime.now():%H:%M:%S}; it goes to the server "
                "with the next sync."
            ),
            on_failure=self._not_kept,
        )

    def reject(self) -> None:
        """Closing keeps what was edited since the last autosave."""
        self.autosave()
        super().reject()

    def _content(self) -> dict[str, Any]:
        return dict(plain_json(self.edited().content()))

    def _not_kept(self, error: BaseException) -> None:
        self.kept = None  # try again at the next edit
        self.kept_note.setText(f"Not kept on this computer: {plain_message(error)}")

    # A conflict with someone else's save ---------------------------------------------------
    def load_conflict(self) -> None:
        def mine(conflicts: list[DraftConflict]) -> None:
            ours = [c for c in conflicts if c.scenario_id == self.original.id]
            self.conflict.show_conflict(ours[0] if ours else None)

        self.ctx.call(self, self.service.conflicts, mine, on_failure=self._show_problem)

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch("outbox"):
            self.load_conflict()

    def keep_mine(self, conflict: DraftConflict) -> None:
        self.autosave()  # the edits since the last autosave go into the copy kept
        self._settle(
            lambda: self.service.keep_mine(conflict),
            f"Your version of “{conflict.title}” is kept as a new draft, “… (my copy)”.",
        )

    def take_theirs(self, conflict: DraftConflict) -> None:
        self.autosave_timer.stop()
        self._settle(
            lambda: self.service.take_theirs(conflict), f"“{conflict.title}” is theirs again."
        )

    def _settle(self, work: Any, done: str) -> None:
        def settled(_result: object) -> None:
            self.resolved.emit(done)
            self.accept()  # reopen the draft to go on from the version now on the server

        self.ctx.call(
            self, work, settled, label="Settling the conflict…", on_failure=self._show_problem
        )


def _decimal(text: str) -> Decimal | None:
    text = text.strip().replace(",", ".")
    return Decimal(text) if text else None
