"""The studio's library against the real stack: import an example file (with its briefing),
publish, archive, publish again, new versions, duplicate, export it back, delete a draft, the
edit conflict; tracks: build, order, publish (only published scenarios), archive, restore,
delete a draft; the plan's limit and the role are the server's to enforce."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.client.backend import SyncedBackend
from app.client.demo import NetworkSwitch
from app.client.studio import LibraryItem, Status, StudioError, StudioService
from app.client.studio_tracks import TrackItem, TrackStudio
from app.client.views import FinishedAttempt, PermissionDenied, ServerConfig
from app.scenario_package import example_packages, read_package
from app.transcript import load_sample_transcript

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
COLD_CALL_FILE = next(p for p in example_packages() if p.name.startswith("cold-call"))


def _until(check: Callable[[], LibraryItem | None], backend, what: str) -> LibraryItem:
    """Sync until the cache shows what the server now has (the engine is poked, not waited)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        backend.sync_now()
    pytest.fail(f"the library never showed {what}")


@pytest.fixture
def studio(backend, accounts, db) -> Iterator[StudioService]:
    """An admin's studio; what the test made on the server is removed afterwards (the
    session's database is shared)."""
    (started,) = db.execute("select now()").fetchone()
    backend.sign_in(accounts["admin"], "coachdesk-demo")
    yield StudioService(backend)
    made = [
        row[0]
        for row in db.execute(
            "select id::text from public.scenarios where org_id = %s and created_at >= %s",
            (DEMO_ORG, started),
        )
    ]
    files = [
        row[0]
        for row in db.execute(
            "select name from storage.objects where bucket_id = 'scenario-assets' "
            "and (storage.foldername(name))[2] = any(%s)",
            (made,),
        )
    ]
    if files:  # through Storage, as an admin may (the database refuses direct deletes)
        backend.live(lambda s: s.client.storage.from_("scenario-assets").remove(files))
    db.execute("delete from public.scenarios where id = any(%s::uuid[])", (made,))


def _item(service: StudioService, scenario_id: str, status: Status | None = None):
    def find() -> LibraryItem | None:
        for item in service.library():
            if item.scenario.id == scenario_id and (status is None or item.status is status):
                return item
        return None

    return find


def test_an_admin_imports_publishes_archives_republishes_and_exports(studio, backend, db, tmp_path):
    new_id = studio.import_file(COLD_CALL_FILE)
    item = _until(_item(studio, new_id), backend, "the imported draft")
    assert item.status is Status.DRAFT and item.deletable and item.attempts == 0
    assert item.scenario.title == "Cold call: the skeptical IT director"
    stored = db.execute(
        "select name, metadata->>'mimetype' from storage.objects where bucket_id = "
        "'scenario-assets' and name like %s",
        (f"{DEMO_ORG}/{new_id}/%",),
    ).fetchall()
    assert stored == [(f"{DEMO_ORG}/{new_id}/briefing.pdf", "application/pdf")]

    studio.publish(new_id)
    _until(_item(studio, new_id, Status.PUBLISHED), backend, "it published")
    studio.archive(new_id)
    _until(_item(studio, new_id, Status.ARCHIVED), backend, "it archived")
    studio.publish(new_id)  # an archived version can go live again, as it was
    _until(_item(studio, new_id, Status.PUBLISHED), backend, "it published again")

    exported = studio.export_file(new_id, tmp_path / "again")
    back = read_package(exported)
    original = read_package(COLD_CALL_FILE)
    assert back.scenario.rubric == original.scenario.rubric
    assert back.scenario.ai_prompt == original.scenario.ai_prompt
    assert back.attachments == original.attachments  # the briefing made the round trip

    copy_id = studio.duplicate(new_id)
    copy = _until(_item(studio, copy_id), backend, "the copy")
    assert copy.scenario.title == "Copy of Cold call: the skeptical IT director"
    studio.delete_draft(copy)
    deadline = time.monotonic() + 30
    while _item(studio, copy_id)() is not None and time.monotonic() < deadline:
        backend.sync_now()
    assert _item(studio, copy_id)() is None
    assert db.execute("select 1 from public.scenarios where id = %s", (copy_id,)).fetchone() is None


def test_a_scenario_someone_practised_is_archived_not_deleted(studio):
    practised = next(i for i in studio.library() if i.attempts)
    with pytest.raises(StudioError, match="archive it instead"):
        studio.delete_draft(practised)


def test_publishing_past_the_plans_limit_says_so_and_changes_nothing(studio, backend, db):
    new_id = studio.import_file(COLD_CALL_FILE)
    _until(_item(studio, new_id), backend, "the imported draft")
    (entitlements,) = db.execute(
        "select entitlements from public.orgs where id = %s", (DEMO_ORG,)
    ).fetchone()
    (published,) = db.execute(
        "select count(*) from public.scenarios where org_id = %s and status = 'published'",
        (DEMO_ORG,),
    ).fetchone()
    db.execute(
        "update public.orgs set entitlements = %s where id = %s",
        (json.dumps({**entitlements, "active_scenarios": published}), DEMO_ORG),
    )
    try:
        with pytest.raises(StudioError, match="limit of active scenarios is reached"):
            studio.publish(new_id)
    finally:
        db.execute(
            "update public.orgs set entitlements = %s where id = %s",
            (json.dumps(entitlements), DEMO_ORG),
        )
    status = db.execute("select status from public.scenarios where id = %s", (new_id,)).fetchone()
    assert status == ("draft",)


def test_a_malformed_file_is_refused_before_anything_reaches_the_server(studio, tmp_path, db):
    broken = tmp_path / "broken.coachdesk-scenario"
    broken.write_text("not a zip")
    (before,) = db.execute("select count(*) from public.scenarios").fetchone()
    with pytest.raises(StudioError, match="not a zip"):
        studio.import_file(broken)
    assert db.execute("select count(*) from public.scenarios").fetchone() == (before,)


def test_only_admins_author(backend, accounts):
    backend.sign_in(accounts["manager"], "coachdesk-demo")
    with pytest.raises(PermissionDenied, match="Only admins"):
        StudioService(backend).import_file(COLD_CALL_FILE)


def test_a_live_scenario_is_edited_as_a_new_version_that_supersedes_it(studio, backend, db):
    first = studio.import_file(COLD_CALL_FILE)
    studio.publish(first)
    live = _until(_item(studio, first, Status.PUBLISHED), backend, "version 1 live")
    with pytest.raises(StudioError, match="Only drafts can be edited"):
        studio.save_draft(live.scenario)
    second = studio.new_version(first)
    draft = _until(_item(studio, second, Status.DRAFT), backend, "version 2 as a draft")
    assert draft.scenario.version == 2 and draft.scenario.lineage_id == live.scenario.lineage_id
    studio.save_draft(replace(draft.scenario, title="Cold call, second take"), draft.scenario)
    studio.publish(second)
    _until(_item(studio, second, Status.PUBLISHED), backend, "version 2 live")
    assert _until(_item(studio, first, Status.ARCHIVED), backend, "version 1 archived")
    (title,) = db.execute("select title from public.scenarios where id = %s", (second,)).fetchone()
    assert title == "Cold call, second take"


def test_the_second_of_two_saves_of_one_draft_is_refused_saying_what_changed(studio, backend):
    draft_id = studio.import_file(COLD_CALL_FILE)
    opened = _until(_item(studio, draft_id), backend, "the draft").scenario
    # Two admins opened the same revision; the first saves a new title.
    studio.save_draft(replace(opened, title="Theirs"), opened)
    with pytest.raises(StudioError, match="Someone else saved this draft") as refused:
        studio.save_draft(replace(opened, description="Mine"), opened)
    assert "changing title" in str(refused.value) and "Nothing of yours was overwritten" in str(
        refused.value
    )

    def first_save() -> LibraryItem | None:
        item = _item(studio, draft_id)()
        return item if item is not None and item.scenario.title == "Theirs" else None

    saved = _until(first_save, backend, "the first save")
    assert saved.scenario.description != "Mine"  # never a silent overwrite


def test_an_attempt_says_which_version_it_was_practised_and_scored_on(studio, backend):
    first = studio.import_file(COLD_CALL_FILE)
    studio.publish(first)
    _until(_item(studio, first, Status.PUBLISHED), backend, "version 1 live")
    second = studio.new_version(first)
    _until(_item(studio, second, Status.DRAFT), backend, "version 2 as a draft")
    studio.publish(second)
    _until(_item(studio, second, Status.PUBLISHED), backend, "version 2 live")
    ended = datetime.now(UTC)
    saved = {
        scenario_id: backend.save_attempt(
            FinishedAttempt(
                id=str(uuid.uuid4()),
                scenario_id=scenario_id,
                assignment_id=None,
                started_at=ended - timedelta(minutes=2),
                ended_at=ended,
                transcript=load_sample_transcript(),
                recording=None,
            )
        )
        for scenario_id in (first, second)
    }
    assert backend.attempt(saved[first].id).scenario_version == 1
    assert backend.attempt(saved[second].id).scenario_version == 2


# Tracks ---------------------------------------------------------------------------------------
COLD, CFO, INCUMBENT = (f"f0000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
DRAFT = "f0000000-0000-4000-8000-000000000004"


@pytest.fixture
def tracks(studio, backend, db) -> Iterator[TrackStudio]:
    """The admin's tracks; the tracks the test made are removed afterwards."""
    (started,) = db.execute("select now()").fetchone()
    yield TrackStudio(backend)
    db.execute(
        "delete from public.tracks where org_id = %s and created_at >= %s", (DEMO_ORG, started)
    )


def _track(service: TrackStudio, track_id: str, check: Callable[[TrackItem], bool]):
    def find() -> TrackItem | None:
        found = [t for t in service.tracks() if t.track.id == track_id]
        return found[0] if found and check(found[0]) else None

    return find


def test_an_admin_builds_orders_publishes_archives_and_restores_a_track(tracks, backend, db):
    track_id = tracks.create("Tracks: discovery to close")
    tracks.save(track_id, "Tracks: discovery to close", "Three calls", [INCUMBENT, COLD, CFO])
    item = _until(_track(tracks, track_id, lambda t: len(t.scenarios) == 3), backend, "3 calls")
    assert [s.id for s in item.scenarios] == [INCUMBENT, COLD, CFO]
    assert item.status is Status.DRAFT and item.edited_by == "Adam Admin"
    assert item.track.updated_at is not None

    tracks.save(track_id, "Tracks: discovery to close", "Three calls", [COLD, CFO, INCUMBENT])
    tracks.publish(track_id)
    item = _until(_track(tracks, track_id, lambda t: t.status is Status.PUBLISHED), backend, "live")
    assert [s.id for s in item.scenarios] == [COLD, CFO, INCUMBENT]
    events = db.execute(
        "select action::text from audit_events where target_id = %s order by id", (track_id,)
    ).fetchall()
    assert [e[0] for e in events] == [
        "track.scenarios_changed",
        "track.scenarios_changed",
        "track.published",
    ]

    tracks.archive(track_id)
    _until(_track(tracks, track_id, lambda t: t.status is Status.ARCHIVED), backend, "archived")
    tracks.restore(track_id)
    _until(_track(tracks, track_id, lambda t: t.status is Status.PUBLISHED), backend, "restored")
    assert [t.track.id for t in tracks.tracks("discovery to", Status.PUBLISHED)] == [track_id]
    assert tracks.tracks("discovery to", Status.DRAFT) == []


def test_a_published_track_refuses_a_draft_in_words(tracks, backend, db):
    track_id = tracks.create("Tracks: with a draft")
    tracks.save(track_id, "Tracks: with a draft", "", [COLD, DRAFT])
    with pytest.raises(StudioError, match=r"only published scenarios.*\(draft\).*Publish those"):
        tracks.publish(track_id)
    tracks.save(track_id, "Tracks: with a draft", "", [COLD])
    tracks.publish(track_id)
    with pytest.raises(StudioError, match="can list only published scenarios"):
        tracks.save(track_id, "Tracks: renamed with a draft", "", [COLD, DRAFT])
    # One save, all or nothing: the refused order kept the old title too.
    (title,) = db.execute("select title from public.tracks where id = %s", (track_id,)).fetchone()
    assert title == "Tracks: with a draft"


def test_a_scenario_in_a_published_track_is_not_archived_and_says_why(studio):
    with pytest.raises(StudioError, match=r"in the published track \"New hire onboarding\""):
        studio.archive(CFO)


def test_a_draft_track_is_deleted_and_the_candidates_are_the_live_or_draft_versions(
    tracks, backend
):
    track_id = tracks.create("Tracks: to delete")
    item = _until(_track(tracks, track_id, lambda _t: True), backend, "the draft track")
    ids = {s.id for s in tracks.candidates()}
    assert {COLD, CFO, INCUMBENT, DRAFT} <= ids
    assert all(s.status != Status.ARCHIVED for s in tracks.candidates())
    tracks.delete_draft(item)
    backend.sync_now()
    assert [t for t in tracks.tracks() if t.track.id == track_id] == []


def test_the_library_names_who_edited_a_scenario_last(studio, backend):
    draft = _until(_item(studio, DRAFT), backend, "the seed's draft")
    assert draft.edited_by == "Adam Admin"


def test_only_admins_author_tracks(backend, accounts):
    backend.sign_in(accounts["manager"], "coachdesk-demo")
    with pytest.raises(PermissionDenied, match="Only admins"):
        TrackStudio(backend).create()


def test_a_trainee_sees_a_published_tracks_new_order_after_sync(tracks, backend_for, accounts):
    track_id = tracks.create("Tracks: trainee order")
    tracks.save(track_id, "Tracks: trainee order", "", [COLD, CFO, INCUMBENT])
    tracks.publish(track_id)
    trainee = backend_for(accounts["trainee"], "coachdesk-demo")

    def order() -> list[str]:
        trainee.sync_now()
        return next((list(t.scenario_ids) for t in trainee.tracks() if t.id == track_id), [])

    assert order() == [COLD, CFO, INCUMBENT]
    tracks.save(track_id, "Tracks: trainee order", "", [INCUMBENT, CFO])
    assert order() == [INCUMBENT, CFO]


# Drafts kept on this computer (sync/cache_drafts.py) ---------------------------------------------
EDITOR = "editor-1"  # one open editor (ui/studio_editor.py names each)


@pytest.fixture
def second_admin(
    stack, tmp_path, accounts
) -> Iterator[tuple[StudioService, NetworkSwitch, SyncedBackend]]:
    """The demo admin on a second computer whose network can be switched off."""
    network = NetworkSwitch()
    other = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "second",
        remember=False,
        interval_s=3600,
        transport=network,
    )
    other.sign_in(accounts["admin"], "coachdesk-demo")
    yield StudioService(other), network, other
    network.offline = False
    other.sign_out(discard_unsynced=True)
    other.close()


def _server_draft(db, scenario_id: str) -> dict:
    title, description, revision = db.execute(
        "select title, description, revision from public.scenarios where id = %s", (scenario_id,)
    ).fetchone()
    return {"title": title, "description": description, "revision": revision}


def test_a_draft_edited_offline_is_kept_and_reaches_the_server_at_the_next_sync(
    studio, backend, db, second_admin
):
    mine, network, here = second_admin
    draft_id = studio.import_file(COLD_CALL_FILE)
    opened = _until(_item(mine, draft_id), here, "the draft here").scenario
    network.offline = True
    mine.keep_draft(replace(opened, title="Edited offline"), EDITOR)
    mine.keep_draft(replace(opened, title="Edited offline", description="Twice"), EDITOR)
    assert here.sync_now().pending == 1  # two autosaves, one change waiting
    assert _item(mine, draft_id)().scenario.title == "Edited offline"  # the library reads the cache
    assert _server_draft(db, draft_id)["title"] == opened.title

    network.offline = False
    status = here.sync_now()
    assert (status.pending, status.rejected) == (0, 0)
    server = _server_draft(db, draft_id)
    assert (server["title"], server["description"]) == ("Edited offline", "Twice")
    assert server["revision"] == opened.revision + 1
    # The same editor goes on saving against the revision it opened: based on its own save.
    mine.keep_draft(replace(opened, title="Third autosave"), EDITOR)
    assert here.sync_now().rejected == 0
    mine.save_draft(replace(opened, title="Saved"), opened, EDITOR)
    assert _server_draft(db, draft_id) == {
        "title": "Saved",
        "description": opened.description,
        "revision": opened.revision + 3,
    }


@pytest.mark.parametrize("choice", ["keep mine", "take theirs"])
def test_a_stale_draft_kept_offline_is_parked_and_resolved(
    studio, backend, db, second_admin, choice
):
    mine, network, here = second_admin
    draft_id = studio.import_file(COLD_CALL_FILE)
    opened = _until(_item(mine, draft_id), here, "the draft here").scenario
    network.offline = True
    mine.keep_draft(replace(opened, description="Mine"))
    # Meanwhile the other admin saves the same draft online.
    studio.save_draft(replace(opened, title="Theirs"), opened)
    network.offline = False
    status = here.sync_now()
    assert (status.phase.value, status.pending, status.rejected) != ("error", 1, 0)
    assert (status.pending, status.rejected) == (0, 1)  # parked: not retried, not dropped
    assert here.sync_now().rejected == 1  # and stays parked round after round
    assert _server_draft(db, draft_id)["description"] != "Mine"  # never a silent overwrite
    (conflict,) = mine.conflicts()
    assert conflict.scenario_id == draft_id and conflict.mine["description"] == "Mine"
    assert conflict.message.startswith("Conflict: someone else saved this draft")
    assert "differ in title, description" in conflict.message
    mine.keep_draft(replace(opened, description="Mine, edited on"))  # goes into the parked copy
    (conflict,) = mine.conflicts()
    assert conflict.mine["description"] == "Mine, edited on"

    if choice == "keep mine":
        copy_id = mine.keep_mine(conflict)
        copy = _server_draft(db, copy_id)
        assert copy["title"] == f"{opened.title} (my copy)"
        assert copy["description"] == "Mine, edited on"
    else:
        mine.take_theirs(conflict)
    status = here.sync_now()
    assert (status.pending, status.rejected) == (0, 0) and mine.conflicts() == []
    kept = _item(mine, draft_id)().scenario
    assert (kept.title, kept.description) == ("Theirs", opened.description)
    assert _server_draft(db, draft_id)["title"] == "Theirs"


def test_a_live_scenario_is_never_kept_as_a_draft(studio, backend):
    live_id = studio.import_file(COLD_CALL_FILE)
    studio.publish(live_id)
    live = _until(_item(studio, live_id, Status.PUBLISHED), backend, "the live version").scenario
    with pytest.raises(StudioError, match="Only drafts can be edited"):
        studio.keep_draft(live)
    assert backend.sync_now().pending == 0


def test_a_new_version_and_a_duplicate_take_the_briefing_attachments(studio, backend):
    first = studio.import_file(COLD_CALL_FILE)
    studio.publish(first)
    _until(_item(studio, first, Status.PUBLISHED), backend, "version 1 live")
    (briefing,) = read_package(COLD_CALL_FILE).attachments
    for made in (studio.new_version(first), studio.duplicate(first)):
        files = backend.live(
            lambda s, m=made: s.client.storage.from_("scenario-assets").list(f"{DEMO_ORG}/{m}")
        )
        assert [f["name"] for f in files] == [briefing.name]
        data = backend.live(
            lambda s, m=made: s.client.storage.from_("scenario-assets").download(
                f"{DEMO_ORG}/{m}/{briefing.name}"
            )
        )
        assert data == briefing.data


TERMS = ("ServiceNow", "SOC 2", "Zendesk")


def _server_terms(db, scenario_id: str) -> list[str]:
    (terms,) = db.execute(
        "select key_terms from public.scenarios where id = %s", (scenario_id,)
    ).fetchone()
    return terms


def test_a_drafts_key_terms_reach_the_server_and_come_back_through_sync(
    studio, backend, db, second_admin
):
    draft_id = studio.import_file(COLD_CALL_FILE)
    opened = _until(_item(studio, draft_id), backend, "the draft").scenario
    assert opened.key_terms == ()
    studio.save_draft(replace(opened, key_terms=TERMS), opened)
    assert _server_terms(db, draft_id) == list(TERMS)
    # Another computer pulls them, and its speech model is told them first.
    other_studio, _network, other = second_admin

    def with_terms() -> LibraryItem | None:
        item = _item(other_studio, draft_id)()
        return item if item is not None and item.scenario.key_terms == TERMS else None

    pulled = _until(with_terms, other, "the key terms on the second computer").scenario
    assert pulled.vocabulary[: len(TERMS)] == TERMS
    # A bad list never leaves this computer: the database's words, nothing sent.
    with pytest.raises(StudioError, match='"soc 2" is listed twice'):
        studio.save_draft(replace(pulled, key_terms=(*TERMS, "soc 2")), pulled)
    assert _server_terms(db, draft_id) == list(TERMS)


def test_an_autosave_carries_the_key_terms_through_the_outbox(
    studio, backend, db, second_admin, tmp_path
):
    mine, network, here = second_admin
    draft_id = studio.import_file(COLD_CALL_FILE)
    opened = _until(_item(mine, draft_id), here, "the draft here").scenario
    network.offline = True
    mine.keep_draft(replace(opened, key_terms=TERMS[:1]), EDITOR)
    mine.keep_draft(replace(opened, key_terms=TERMS), EDITOR)
    assert _item(mine, draft_id)().scenario.key_terms == TERMS  # kept here, offline
    assert _server_terms(db, draft_id) == []
    network.offline = False
    status = here.sync_now()
    assert (status.pending, status.rejected) == (0, 0)
    assert _server_terms(db, draft_id) == list(TERMS)
    # Exported and imported again (once this computer has pulled them), the draft keeps them.

    def with_terms() -> LibraryItem | None:
        item = _item(studio, draft_id)()
        return item if item is not None and item.scenario.key_terms == TERMS else None

    _until(with_terms, backend, "the key terms pulled")
    copy_id = studio.import_file(studio.export_file(draft_id, tmp_path / "with-terms"))
    assert _server_terms(db, copy_id) == list(TERMS)
