"""Reminders end to end against the local stack: a manager reminds, the trainee's next sync
brings the reminder into their cache, and a dismissal made offline reaches the server at the
sync after the network is back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS

from app.client.backend import SyncedBackend
from app.client.demo import NetworkSwitch
from app.client.reminders import RemindersService, to_remind
from app.client.views import NewAssignment, ServerConfig
from app.errors import CoachdeskError

TARA = "a0000000-0000-4000-8000-000000000001"
CFO = "f0000000-0000-4000-8000-000000000002"  # Tara's best so far is below its pass mark


@pytest.fixture
def network() -> NetworkSwitch:
    return NetworkSwitch()


@pytest.fixture
def trainee(stack, tmp_path, network) -> Iterator[SyncedBackend]:
    """Tara on a network with an off switch."""
    backend = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "trainee",
        remember=False,
        interval_s=3600,
        transport=network,
    )
    backend.sign_in(EMAILS["trainee"], DEMO_PASSWORD)
    yield backend
    network.offline = False
    backend.sign_out(discard_unsynced=True)
    backend.close()


def _read_at(db, assignment_id: str) -> list:
    return [
        row[0]
        for row in db.execute(
            "select read_at from public.notifications where assignment_id = %s", (assignment_id,)
        )
    ]


def test_a_reminder_reaches_the_trainee_and_an_offline_dismissal_syncs_back(
    backend_for, trainee, network, db
):
    manager = backend_for(EMAILS["manager"], DEMO_PASSWORD)
    assignment_id = manager.create_assignment(
        NewAssignment(CFO, None, TARA, None, None, "discovery first")
    )
    try:
        manager.sync_now()
        [made] = [a for a in manager.managed_assignments() if a.id == assignment_id]
        assert [p.user_id for p in to_remind(made)] == [TARA]
        reminders = RemindersService(manager)
        assert reminders.remind(made, None, "  Try it before Friday's calls.  ") == 1
        with pytest.raises(CoachdeskError, match=r"already reminded .* last hour.*again after"):
            reminders.remind(made, to_remind(made))
        with pytest.raises(CoachdeskError, match="Only managers"):
            RemindersService(trainee).remind(made)

        service = RemindersService(trainee)
        assert service.unread() == []  # not synced yet
        trainee.sync_now()
        [reminder] = service.unread()
        assert reminder.assignment_id == assignment_id
        assert reminder.assignment_title == "Discovery: the budget-conscious CFO"
        assert reminder.sender == "Maya Manager"
        assert reminder.note == "Try it before Friday's calls."
        assert reminder.sent_at is not None

        network.offline = True
        service.mark_read(reminder.id)
        assert service.unread() == []
        assert trainee.sync_status().pending == 1
        assert _read_at(db, assignment_id) == [None]

        network.offline = False
        status = trainee.sync_now()
        assert status.pending == 0 and status.rejected == 0
        [read_at] = _read_at(db, assignment_id)
        assert read_at is not None
        assert service.unread() == []
    finally:
        db.execute("delete from public.assignments where id = %s", (assignment_id,))
