"""The admin studio's tracks: the org's tracks with their status, scenarios and last editor, and
what an admin does to one — create, rename, choose and order its scenarios, publish, archive,
restore, delete a draft. No Qt.

The list comes from the admin's cache, as the scenario library's does; changes go to the server
at once. A track's scenarios and their order are saved in one call (`set_track_scenarios`, one
transaction, audited); a published track lists only published scenarios, which the database
enforces on every path (CD409) and this service turns into a sentence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.studio import (
    CONFLICT,
    Status,
    StudioError,
    conflict_sentence,
    editor_names,
    matches,
)
from app.client.views import Scenario, Track
from app.errors import CoachdeskError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrackItem:
    track: Track
    scenarios: tuple[Scenario, ...]  # in the track's order (those this computer holds)
    edited_by: str  # who changed it last, by name ("" when nobody known)

    @property
    def status(self) -> Status:
        return Status(self.track.status)

    @property
    def deletable(self) -> bool:
        """A draft was never live: nobody was assigned it or practised it as a track."""
        return self.status is Status.DRAFT


class TrackStudio(LiveService):
    """What the Studio's Tracks tab and the track editor call; each method blocks."""

    not_admin = "Only admins author tracks."

    def words(self, error: BaseException) -> CoachdeskError | None:
        code = getattr(error, "code", None)
        message = str(getattr(error, "message", "") or "")
        if code == CONFLICT:
            return StudioError(conflict_sentence(message))
        if code == "42501":
            if "is not a scenario of this org" in message:
                return StudioError("A track can list only this org's scenarios.")
            account = self._backend.account
            if "not found or not visible" in message and account and account.is_admin:
                # An admin's track gone meanwhile (deleted elsewhere), not a missing right.
                return StudioError(self.nothing_changed)
            return PermissionDenied(self.not_admin)
        return None

    # Reading -------------------------------------------------------------------------------
    def tracks(self, search: str = "", status: Status | None = None) -> list[TrackItem]:
        """The org's tracks, drafts first, then by title; `search` matches title and
        description."""
        self._require_author()
        by_id = {s.id: s for s in self._backend.scenarios()}
        names = editor_names(self._backend)
        items = [
            TrackItem(
                track,
                tuple(by_id[i] for i in track.scenario_ids if i in by_id),
                names.get(track.updated_by or "", ""),
            )
            for track in self._backend.tracks()
            if (status is None or track.status == status)
            and matches(search, track.title, track.description)
        ]
        order = {Status.DRAFT: 0, Status.PUBLISHED: 1, Status.ARCHIVED: 2}
        return sorted(items, key=lambda i: (order[i.status], i.track.title.casefold()))

    def track(self, track_id: str) -> TrackItem:
        for item in self.tracks():
            if item.track.id == track_id:
                return item
        raise StudioError("This track is not on this computer yet: sync, then open it again.")

    def candidates(self) -> list[Scenario]:
        """The scenarios a track may list: of each scenario its live version, or its draft
        when it was never live (a published track takes only live ones; publishing says so).
        By title."""
        self._require_author()
        latest: dict[str, Scenario] = {}
        rank = {Status.PUBLISHED: 0, Status.DRAFT: 1, Status.ARCHIVED: 2}
        for scenario in self._backend.scenarios():
            if scenario.status == Status.ARCHIVED:
                continue
            lineage = scenario.lineage_id or scenario.id
            held = latest.get(lineage)
            if held is None or rank[Status(scenario.status)] < rank[Status(held.status)]:
                latest[lineage] = scenario
        return sorted(latest.values(), key=lambda s: s.title.casefold())

    # Writing -------------------------------------------------------------------------------
    def create(self, title: str = "New track") -> str:
        """A new draft track with no scenarios; its id."""
        self._require_author()
        track_id = str(uuid.uuid4())
        row = {"id": track_id, "org_id": self._org(), "title": title, "status": "draft"}
        self._changed_one(lambda c: c.table("tracks").insert(row).execute().data)
        log.info("track created", track_id=track_id)
        self._backend.sync_soon()
        return track_id

    def save(
        self, track_id: str, title: str, description: str, scenario_ids: Sequence[str]
    ) -> None:
        """The title, the description and the scenarios in this order, as one save: all of it
        or none of it (save_track(), one transaction)."""
        self._require_author()
        if not title.strip():
            raise StudioError("A track needs a title.")
        if len(set(scenario_ids)) != len(scenario_ids):
            raise StudioError("A track lists each scenario once.")
        arguments = {
            "track_id": track_id,
            "title": title.strip()[:200],
            "description": description,
            "scenario_ids": list(scenario_ids),
        }
        self._run(lambda client: client.rpc("save_track", arguments).execute())
        log.info("track saved", track_id=track_id, scenarios=len(scenario_ids))
        self._backend.sync_soon()

    def publish(self, track_id: str) -> None:
        """Live for trainees and assignable; refused while it lists a scenario that is not
        published."""
        self._set_status(track_id, Status.PUBLISHED)

    def archive(self, track_id: str) -> None:
        """No longer assignable; trainees keep what they did on it."""
        self._set_status(track_id, Status.ARCHIVED)

    def restore(self, track_id: str) -> None:
        """An archived track live again, as it was."""
        self._set_status(track_id, Status.PUBLISHED)

    def delete_draft(self, item: TrackItem) -> None:
        self._require_author()
        if not item.deletable:
            raise StudioError("Only a draft track can be deleted; archive it instead.")
        self._changed_one(
            lambda c: c.table("tracks").delete().eq("id", item.track.id).execute().data
        )
        self._backend.sync_soon()

    def _set_status(self, track_id: str, status: Status) -> None:
        self._require_author()
        self._changed_one(
            lambda c: (
                c.table("tracks").update({"status": status.value}).eq("id", track_id).execute().data
            )
        )
        log.info("track status changed", track_id=track_id, status=status.value)
        self._backend.sync_soon()

    def _require_author(self) -> None:
        account = self._backend.account
        if account is None or account.role is None or account.role.value != "admin":
            raise PermissionDenied(self.not_admin)


__all__ = ["TrackItem", "TrackStudio"]
