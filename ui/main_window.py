"""The main window: sign-in, then the workspace (home, leaderboard and — for managers and admins
only — the manager pane; for admins and HR the audit log), the practice and review screens, and
the status bar with sync state.

The manager pane is built only when the token's role is manager or admin; for anyone else it is
never constructed (and the server would refuse its queries anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtNetwork import QNetworkInformation
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.client.audit import can_read_audit_log
from app.client.recovery import InterruptedCall, attempt_saved, find_interrupted_calls
from app.client.transcriber_process import ProcessTranscriber
from app.client.views import Account, Scenario, SyncStatus, UnsyncedWork
from app.practice import TranscriberLike
from audio.devices import check_input, list_input_devices
from sync.db_types import OrgRole
from ui.about_dialog import AboutDialog
from ui.assignments_pane import AssignmentsPane
from ui.audit_pane import AuditPane
from ui.briefing_dialog import BriefingDialog, read_then_start
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.home import HomeScreen
from ui.invitations_dialog import InvitationOffer
from ui.leaderboard import LeaderboardScreen
from ui.manager import ManagerPane
from ui.microphone_check import InputCheck, InputDevices, MicrophoneCheck, input_problem
from ui.organisation_pane import OrganisationPane
from ui.people_pane import PeoplePane
from ui.practice_controller import PracticeController, RecorderFactory, microphone
from ui.practice_view import PracticeScreen
from ui.recovery_dialog import RecoveryDialog
from ui.reports_pane import ReportsPane
from ui.review import ReviewScreen
from ui.settings_dialog import SettingsDialog
from ui.signin import SignInScreen
from ui.studio_pane import StudioPane
from ui.voice import PersonaVoice
from ui.webhooks_pane import WebhooksPane
from ui.widgets.confirm import confirm_destructive
from ui.widgets.org_logo import OrgLogo
from ui.widgets.playback_bar import PlayerFactory, default_player
from ui.widgets.status_bar import AppStatusBar

SYNC_POLL_MS = 30_000


class _StatusRelay(QObject):
    """The sync engine reports on its own thread; Qt queues the status to the GUI thread."""

    changed = Signal(object)


DEFAULT_SIZE = (1280, 720)  # fits a 1366x768 screen with the taskbar


@dataclass
class Devices:
    """The hardware boundary, replaceable in tests: microphone, speakers, speech model, voice."""

    recorder_factory: RecorderFactory | None = None  # None: the configured microphone
    # The microphone's recorders, for a device name (None: the system default).
    microphone: Callable[[str | None], RecorderFactory] = microphone
    # Whether a microphone can record (before a call starts); None: PortAudio's check, unless
    # recorder_factory stands in for the microphone (nothing to check then).
    input_check: InputCheck | None = None
    input_devices: InputDevices = list_input_devices
    player_factory: PlayerFactory = default_player
    # None: the configured model in its own process (app/client/transcriber_process.py),
    # loaded on first use
    transcriber: TranscriberLike | None = None
    voice: PersonaVoice | None = None
    use_voice: bool = True
    recordings_root: Path | None = None  # None: the settings' recordings folder


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, devices: Devices | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.devices = devices or Devices()
        self.setWindowTitle("Coachdesk")
        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)
        self.status = AppStatusBar()
        self.setStatusBar(self.status)
        ctx.progress = self.status

        self.pages = QStackedWidget()
        self.setCentralWidget(self.pages)
        self.signin = SignInScreen(ctx)
        self.pages.addWidget(self.signin)
        self.workspace: QTabWidget | None = None
        self.home: HomeScreen | None = None
        self.leaderboard: LeaderboardScreen | None = None
        self.manager: QWidget | None = None
        self.assignments: AssignmentsPane | None = None
        self.studio: StudioPane | None = None
        self.briefing: BriefingDialog | None = None
        self.reports: ReportsPane | None = None
        self.audit: AuditPane | None = None
        self.people: PeoplePane | None = None
        self.webhooks: WebhooksPane | None = None
        self.organisation: OrganisationPane | None = None
        self.invitation_offer = InvitationOffer(ctx, self, joined=self.enter_workspace)
        self.practice = PracticeScreen(ctx)
        self.review = ReviewScreen(ctx, player_factory=self.devices.player_factory)
        self.pages.addWidget(self.practice)
        self.pages.addWidget(self.review)

        self.toolbar = QToolBar("Account")
        self.toolbar.setObjectName("accountToolbar")
        self.toolbar.setMovable(False)
        self.account_label = QLabel()
        self.account_label.setObjectName("accountLabel")
        self.org_logo = OrgLogo()
        self.org_switcher = QComboBox()
        self.org_switcher.setObjectName("orgSwitcher")
        self.org_switcher.setAccessibleName("Organisation")
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(self.org_logo)
        self.toolbar.addWidget(self.account_label)
        self.toolbar.addWidget(spacer)
        self.org_switcher_action = self.toolbar.addWidget(self.org_switcher)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.sign_out_action = QAction("Sign &out", self)
        self.sync_action = QAction("Sync now", self)
        self.sync_action.setShortcut(QKeySequence("F5"))
        self.toolbar.addAction(self.settings_action)
        self.toolbar.addAction(self.sign_out_action)
        self.addAction(self.sync_action)
        self.addToolBar(self.toolbar)
        self.toolbar.hide()
        # Help is a menu on the toolbar, not a menu bar: a menu bar's height would push the
        # manager's screens past a 1366x768 laptop's. F1 opens About from any screen.
        self.about_action = QAction("&About Coachdesk", self)
        self.about_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.addAction(self.about_action)
        self.help_menu = QMenu("&Help", self)
        self.help_menu.addAction(self.about_action)
        self.help_button = QToolButton()
        self.help_button.setObjectName("helpButton")
        self.help_button.setText("Help")
        self.help_button.setMenu(self.help_menu)
        self.help_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.toolbar.addWidget(self.help_button)

        self.signin.signed_in.connect(self.enter_workspace)
        self.practice.finished.connect(self._practice_saved)
        self.review.back.connect(self.show_workspace)
        self.review.practise_again.connect(self.start_practice)
        self.settings_action.triggered.connect(self.open_settings)
        self.about_action.triggered.connect(self.open_about)
        self.sign_out_action.triggered.connect(self.sign_out)
        self.sync_action.triggered.connect(self.sync_now)
        self.status.sync_requested.connect(self.sync_now)
        self.org_switcher.activated.connect(self._switch_org)
        self._sync_timer = QTimer(self)
        self._sync_timer.setInterval(SYNC_POLL_MS)
        self._sync_timer.timeout.connect(self.poll_sync)
        self._transcriber: TranscriberLike | None = self.devices.transcriber
        self.recovery: RecoveryDialog | None = None
        self._relay = _StatusRelay(self)
        self._relay.changed.connect(self._sync_changed)
        self._notices_shown: set[str] = set()
        ctx.backend.subscribe(self._relay.changed.emit)
        self._show_sync_controls(False)  # nothing to sync until someone signs in
        self._watch_network()

    def _show_sync_controls(self, signed_in: bool) -> None:
        self.status.sync_button.setVisible(signed_in)
        self.sync_action.setEnabled(signed_in)

    def _watch_network(self) -> None:
        """When the OS says the network is back, sync at once rather than at the next retry."""
        feature = QNetworkInformation.Feature.Reachability
        if not QNetworkInformation.loadBackendByFeatures(feature):
            return  # no backend on this system: the sync engine's own probe still notices
        info = QNetworkInformation.instance()
        if info is not None:
            info.reachabilityChanged.connect(self._reachability_changed)

    def _reachability_changed(self, reachability: QNetworkInformation.Reachability) -> None:
        gone = (
            QNetworkInformation.Reachability.Disconnected,
            QNetworkInformation.Reachability.Unknown,
        )
        if reachability not in gone:
            self.ctx.backend.wake_sync()  # returns at once; the engine's thread does the round

    # Session ------------------------------------------------------------------------------
    def enter_workspace(self, account: Account) -> None:
        """Build the workspace for this account (the manager pane only for managers/admins)."""
        self._drop_workspace()
        tabs = QTabWidget()
        tabs.setObjectName("workspace")
        self.home = HomeScreen(self.ctx)
        self.home.start_practice.connect(self.start_practice)
        self.home.open_attempt.connect(self.open_review)
        self.leaderboard = LeaderboardScreen(self.ctx)
        tabs.addTab(self.home, "&Home")
        tabs.addTab(self.leaderboard, "&Leaderboard")
        if account.is_manager:
            manager = ManagerPane(self.ctx)
            manager.open_attempt.connect(self.open_review)
            tabs.addTab(manager, "&Team")
            self.manager = manager
            self.assignments = AssignmentsPane(self.ctx)
            tabs.addTab(self.assignments, "&Assignments")
        if account.role is OrgRole.HR:
            self.reports = ReportsPane(self.ctx)
            tabs.insertTab(0, self.reports, "&Reports")  # HR's work; home has nothing to do
        if account.role is OrgRole.ADMIN:
            self.studio = StudioPane(self.ctx)
            tabs.addTab(self.studio, "Stu&dio")  # &S is Settings'
            self.people = PeoplePane(self.ctx)
            tabs.addTab(self.people, "&People")
            self.webhooks = WebhooksPane(self.ctx)
            tabs.addTab(self.webhooks, "Webhoo&ks")  # &W is People's "Ne&w team"
            self.organisation = OrganisationPane(self.ctx)
            self.organisation.logo_changed.connect(self.org_logo.show_logo)
            tabs.addTab(self.organisation, "Or&ganisation")  # &O is Sign out's
        if can_read_audit_log(account):
            self.audit = AuditPane(self.ctx)
            tabs.addTab(self.audit, "A&udit log")  # &L is the leaderboard's
        tabs.currentChanged.connect(self._tab_shown)
        self.workspace = tabs
        self.pages.addWidget(tabs)
        if self.reports is not None:
            tabs.setCurrentWidget(self.reports)  # HR's first tab; loads it (_tab_shown)
        self._show_account(account)
        self.org_logo.load(self.ctx)
        problem = self.ctx.backend.keyring_problem
        if problem:
            self.status.showMessage(
                "Your sign-in is not remembered on this computer (no system keyring).", 20_000
            )
            self.status.setToolTip(problem)
        self._show_sync_controls(True)
        self.show_workspace()
        if account.notice and account.notice not in self._notices_shown:
            self._notices_shown.add(account.notice)  # once, not again at every org switch
            show_error(self, account.notice)
        self.home.refresh()
        self.poll_sync()
        self._sync_timer.start()
        self.look_for_interrupted_calls()
        self.invitation_offer.check()

    def sign_out(self, discard_unsynced: bool = False) -> None:
        self.practice.close_call()
        self.review.playback.close_player()
        self.ctx.call(
            self,
            lambda: self.ctx.backend.sign_out(discard_unsynced),
            lambda _none: self._signed_out(),
            label="Signing out…",
            on_failure=self._sign_out_refused,
        )

    def _sign_out_refused(self, error: BaseException) -> None:
        if not isinstance(error, UnsyncedWork):
            show_error(self, error)
            return
        confirm_destructive(
            self,
            name="confirmSignOut",
            title="Sign out?",
            text=f"{error} Sync first, or sign out anyway?",
            action="Sign out anyway",
            on_confirm=lambda: self.sign_out(discard_unsynced=True),
        )

    def _signed_out(self) -> None:
        self._sync_timer.stop()
        self._close_recovery()
        self._drop_workspace()
        self.org_logo.clear_logo()
        self.toolbar.hide()
        self._show_sync_controls(False)
        self.status.sync_label.setText("Not signed in")
        self.signin.refresh()
        self.pages.setCurrentWidget(self.signin)

    def _drop_workspace(self) -> None:
        if self.workspace is not None:
            self.pages.removeWidget(self.workspace)
            self.workspace.deleteLater()
        self.workspace = self.home = self.leaderboard = self.manager = None
        self.assignments = self.studio = self.audit = self.reports = None
        self.people = self.webhooks = self.organisation = None

    def _show_account(self, account: Account) -> None:
        role = account.role.value if account.role else "no role"
        offline = " · offline" if account.offline else ""
        self.account_label.setText(f"{account.display_name} · {role}{offline}")
        self.org_switcher.clear()
        for org in account.orgs or ():
            self.org_switcher.addItem(org.name, org.id)
        self.org_switcher.setCurrentIndex(max(self.org_switcher.findData(account.org_id), 0))
        self.org_switcher_action.setVisible(account.can_switch_org)
        self.toolbar.show()
        title = f"Coachdesk · {account.org_name}" if account.org_name else "Coachdesk"
        self.setWindowTitle(title)

    def _switch_org(self, index: int) -> None:
        org_id = self.org_switcher.itemData(index)
        account = self.ctx.backend.account
        if account is None or org_id == account.org_id:
            return
        self.ctx.call(
            self,
            lambda: self.ctx.backend.switch_org(org_id),
            self.enter_workspace,
            label="Switching organisation…",
        )

    # Navigation ---------------------------------------------------------------------------
    def show_workspace(self) -> None:
        if self.workspace is None:
            self.pages.setCurrentWidget(self.signin)
            return
        self.pages.setCurrentWidget(self.workspace)
        if self.workspace.currentWidget() is self.home and self.home is not None and self.home.data:
            self.home.refresh()

    def start_practice(self, scenario: Scenario, assignment_id: str | None) -> None:
        """Read the scenario's briefing first (if it has any), then start the call."""
        self.briefing = read_then_start(
            self.ctx,
            scenario,
            self,
            lambda: self._check_microphone_then_begin(scenario, assignment_id),
        )

    def _check_microphone_then_begin(self, scenario: Scenario, assignment_id: str | None) -> None:
        """Start the call once the microphone records; if it does not, ask for one first."""
        device = self.ctx.preferences.loaded.settings.input_device
        check = self._input_check()
        problem = input_problem(check, device) if check is not None else None
        if problem is None:
            self._begin_practice(scenario, assignment_id, device)
            return
        dialog = MicrophoneCheck(
            problem,
            device=device,
            check=check,
            devices=self.devices.input_devices,
            preferences=self.ctx.preferences,
            parent=self,
        )
        dialog.ready.connect(lambda works: self._begin_practice(scenario, assignment_id, works))
        dialog.open()

    def _input_check(self) -> InputCheck | None:
        if self.devices.input_check is not None:
            return self.devices.input_check
        return check_input if self.devices.recorder_factory is None else None

    def _begin_practice(
        self, scenario: Scenario, assignment_id: str | None, device: str | None
    ) -> None:
        settings = self.ctx.preferences.loaded.settings
        voice = None
        if self.devices.use_voice and self.ctx.preferences.speak_persona:
            if self.devices.voice is None:
                self.devices.voice = PersonaVoice(self)  # one for the window: engines are costly
            voice = self.devices.voice
        controller = PracticeController(
            self.ctx,
            scenario,
            assignment_id,
            transcriber=self._get_transcriber(),
            recorder_factory=self.devices.recorder_factory or self.devices.microphone(device),
            recordings_root=self.recordings_root(),
            voice=voice,
            turn_settings=settings.practice.turn_settings(),
        )
        controller.incomplete.connect(self._practice_incomplete)
        self.pages.setCurrentWidget(self.practice)
        self.practice.begin(controller, voice.problem if voice is not None else None)

    def _practice_incomplete(self, reason: str) -> None:
        """Nothing was said: the call is kept, unscored, and offered to resume or discard."""
        self.practice.close_call()
        self.show_workspace()
        self.status.showMessage(
            f"The call was not saved as an attempt: {reason}. It is kept on this computer as "
            "incomplete, never scored, to recover or discard.",
            20_000,
        )
        self.look_for_interrupted_calls()

    def recordings_root(self) -> Path:
        settings = self.ctx.preferences.loaded.settings
        return self.devices.recordings_root or settings.recordings_path

    # Interrupted calls --------------------------------------------------------------------
    def look_for_interrupted_calls(self) -> None:
        """Offer the calls a crash or kill left unsaved (this user's, in this org)."""
        account = self.ctx.backend.account
        if account is None:
            return
        root, backend = self.recordings_root(), self.ctx.backend
        active = self._active_call_folders()  # read here: the scan runs on the network thread
        self.ctx.call(
            self,
            lambda: find_interrupted_calls(
                root,
                user_id=account.user_id,
                org_id=account.org_id,
                exclude=active,
                is_saved=lambda attempt_id: attempt_saved(backend, attempt_id),
            ),
            self._offer_recovery,
            on_failure=lambda error: self.status.showMessage(
                f"Could not look for interrupted calls: {plain_message(error)}", 20_000
            ),
        )

    def _active_call_folders(self) -> set[str]:
        controller = self.practice.controller
        return {controller.folder.name} if controller is not None else set()

    def _offer_recovery(self, calls: list[InterruptedCall]) -> None:
        # A call started while the scan ran is being recorded, not interrupted.
        active = self._active_call_folders()
        calls = [call for call in calls if call.folder.name not in active]
        if self.recovery is None:
            if not calls:
                return
            self.recovery = RecoveryDialog(self.ctx, self._get_transcriber, self)
            self.recovery.recovered.connect(self._recovered)
            self.recovery.call_again.connect(self._call_again)
        self.recovery.set_calls(calls)
        if calls:
            self.recovery.show()
            self.recovery.raise_()

    def _call_again(self, scenario_id: str, assignment_id: str | None) -> None:
        data = self.home.data if self.home is not None else None
        scenario = data.scenarios.get(scenario_id) if data is not None else None
        if scenario is None:
            show_error(self, "That call's scenario is no longer available to you.")
            return
        self.start_practice(scenario, assignment_id)

    def _recovered(self, _row: object) -> None:
        if self.home is not None:
            self.home.refresh()
        self.poll_sync()

    def _close_recovery(self) -> None:
        if self.recovery is not None:
            self.recovery.close()
            self.recovery.deleteLater()
            self.recovery = None

    def open_review(self, attempt_id: str) -> None:
        self.pages.setCurrentWidget(self.review)
        self.review.open_attempt(attempt_id)

    def _practice_saved(self, attempt_id: str) -> None:
        self.practice.close_call()
        self.open_review(attempt_id)
        self.poll_sync()

    def _tab_shown(self, index: int) -> None:
        widget = self.workspace.widget(index) if self.workspace else None
        refresh = getattr(widget, "refresh", None)
        if widget is not self.home and callable(refresh):
            refresh()

    # Sync and settings --------------------------------------------------------------------
    def poll_sync(self) -> None:
        self.ctx.call(
            self, self.ctx.backend.sync_status, self._show_sync, on_failure=lambda _e: None
        )

    def sync_now(self) -> None:
        if self.ctx.backend.account is None:
            return
        self.ctx.call(
            self,
            self.ctx.backend.sync_now,
            self._synced,
            label="Syncing…",
            on_failure=self._sync_failed,
        )

    def _synced(self, status: SyncStatus) -> None:
        self._show_sync(status)  # what the round changed reaches the screens through ctx.changes

    def _sync_failed(self, error: BaseException) -> None:
        self.poll_sync()
        show_error(self, error)

    def _show_sync(self, status: SyncStatus) -> None:
        self.status.show_sync(status)

    def _sync_changed(self, status: SyncStatus) -> None:
        """Live engine status for the status bar (screens hear of changed data themselves)."""
        if self.ctx.backend.account is not None:
            self._show_sync(status)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.ctx, self, recorder_factory=self.devices.recorder_factory)
        dialog.sign_out_requested.connect(self.sign_out)
        dialog.open()
        return dialog

    def open_about(self) -> AboutDialog:
        dialog = AboutDialog(self.ctx.preferences, self, ctx=self.ctx)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        if self.ctx.backend.account is not None:
            self.ctx.call(
                dialog,
                self.ctx.backend.reporting_status,
                lambda text: dialog.add_detail("Reports", text),
                on_failure=lambda error: dialog.add_detail("Reports", plain_message(error)),
            )
        return dialog

    def _get_transcriber(self) -> TranscriberLike:
        if self._transcriber is None:
            settings = self.ctx.preferences.loaded.settings.transcription
            self._transcriber = ProcessTranscriber(settings.transcriber_settings())
        return self._transcriber

    def closeEvent(self, event: QCloseEvent) -> None:
        self._sync_timer.stop()
        self.practice.close_call()
        self.review.playback.close_player()
        if isinstance(self._transcriber, ProcessTranscriber) and self.devices.transcriber is None:
            self._transcriber.close()
        super().closeEvent(event)
