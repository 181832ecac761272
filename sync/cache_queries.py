"""The cache's reads for the UI, as plain functions of a connection.

`Cache` (sync/cache.py) calls them with its connection and is the API; they return the records
of sync/cache_records.py. Attempts come with their sync state (from the outbox and the uploads)
and the server's score once it has one, else the provisional score computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlite_utils import Database

from sync.cache_records import (
    INCOMPLETE,
    AttemptRecord,
    DueAssignment,
    LeaderboardRow,
    LeaderboardSnapshot,
    MadeAssignment,
    Member,
    Notification,
    Scenario,
    Team,
    Track,
    attempt_from_row,
    due_from_row,
    made_from_row,
    notification_from_row,
    scenario_from_row,
)
from sync.db_types import OrgRole
from sync.rows import iso, now, number, parse_time


def awaiting_scores(db: Database, org_id: str) -> int:
    row = db.execute(
        "select count(*) from scenario_attempts "
        "where org_id = ? and status = 'uploaded' and transcript_xid is not null",
        [org_id],
    ).fetchone()
    return int(row[0]) if row else 0


def attempt(db: Database, attempt_id: str) -> AttemptRecord | None:
    rows = attempt_rows(db, "a.id = ?", [attempt_id], limit=1, with_transcript=True)
    return rows[0] if rows else None


def recent_attempts(
    db: Database, org_id: str, *, user_id: str | None, limit: int
) -> list[AttemptRecord]:
    counted = f"a.status <> '{INCOMPLETE}'"
    if user_id is None:
        return attempt_rows(db, f"a.org_id = ? and {counted}", [org_id], limit=limit)
    return attempt_rows(
        db, f"a.org_id = ? and a.user_id = ? and {counted}", [org_id, user_id], limit=limit
    )


def previous_attempt(db: Database, attempt: AttemptRecord) -> AttemptRecord | None:
    rows = attempt_rows(
        db,
        "a.org_id = ? and a.user_id = ? and a.scenario_id = ? and a.started_at < ?",
        [attempt.org_id, attempt.user_id, attempt.scenario_id, iso(attempt.started_at)],
        limit=1,
    )
    return rows[0] if rows else None


def scenarios(db: Database, org_id: str) -> list[Scenario]:
    rows = db.query("select * from scenarios where org_id = ? order by title, id", [org_id])
    return [scenario_from_row(row) for row in rows]


def scenario(db: Database, scenario_id: str) -> Scenario | None:
    rows = list(db.query("select * from scenarios where id = ?", [scenario_id]))
    return scenario_from_row(rows[0]) if rows else None


def tracks(db: Database, org_id: str) -> list[Track]:
    links: dict[str, list[str]] = {}
    for link in db.query(
        "select track_id, scenario_id from track_scenarios where org_id = ? "
        "order by track_id, position",
        [org_id],
    ):
        links.setdefault(link["track_id"], []).append(link["scenario_id"])
    return [
        Track(
            id=row["id"],
            title=row["title"],
            description=row["description"],
            status=row["status"],
            scenario_ids=tuple(links.get(row["id"], ())),
            updated_at=parse_time(row["updated_at"]),
            updated_by=row["updated_by"],
        )
        for row in db.query("select * from tracks where org_id = ? order by title, id", [org_id])
    ]


def members(db: Database, org_id: str) -> list[Member]:
    return [
        Member(row["user_id"], row["display_name"], OrgRole(row["role"]))
        for row in db.query(
            "select user_id, display_name, role from org_members where org_id = ? "
            "order by display_name, user_id",
            [org_id],
        )
    ]


def teams(db: Database, org_id: str) -> list[Team]:
    team_members: dict[str, set[str]] = {}
    for row in db.query("select team_id, user_id from team_members where org_id = ?", [org_id]):
        team_members.setdefault(row["team_id"], set()).add(row["user_id"])
    return [
        Team(row["id"], row["name"], frozenset(team_members.get(row["id"], ())))
        for row in db.query("select id, name from teams where org_id = ? order by name", [org_id])
    ]


def due_assignments(db: Database, org_id: str, user_id: str) -> list[DueAssignment]:
    rows = db.execute_returning_dicts(
        "select * from assignments a where a.org_id = ? and (a.user_id = ? or a.team_id in "
        "(select team_id from team_members where org_id = ? and user_id = ?)) "
        "order by a.due_at is null, a.due_at, a.id",
        [org_id, user_id, org_id, user_id],
    )
    by_id = {track.id: track for track in tracks(db, org_id)}
    scenarios_by_id = {s.id: s for s in scenarios(db, org_id)}
    best = best_scores(db, org_id, user_id)
    return [due_from_row(row, by_id, scenarios_by_id, best) for row in rows]


def assignments_made(
    db: Database, org_id: str, assigned_by: str | None = None
) -> list[MadeAssignment]:
    """The org's assignments (those `assigned_by` made, if given), newest first.

    One made here and not sent yet has no `assigned_by` or `created_at` (the server stamps
    both): it counts as made by this cache's user, and as the newest."""
    where, params = "org_id = ?", [org_id]
    if assigned_by is not None:
        where, params = (
            where + " and (assigned_by = ? or assigned_by is null)",
            [
                *params,
                assigned_by,
            ],
        )
    rows = db.execute_returning_dicts(
        f"select * from assignments where {where} "
        "order by created_at is not null, created_at desc, id",
        params,
    )
    return [made_from_row(row) for row in rows]


def unread_notifications(db: Database, org_id: str, user_id: str) -> list[Notification]:
    """The user's notifications not dismissed yet, newest first."""
    rows = db.execute_returning_dicts(
        "select * from notifications where org_id = ? and user_id = ? and read_at is null "
        "order by created_at desc, id",
        [org_id, user_id],
    )
    return [notification_from_row(row) for row in rows]


def attempt_counts(db: Database, org_id: str) -> dict[tuple[str, str], int]:
    """How many attempts (not incomplete ones) each (user, scenario) of the org has here."""
    rows = db.execute(
        "select user_id, scenario_id, count(*) from scenario_attempts "
        "where org_id = ? and status <> ? group by user_id, scenario_id",
        [org_id, INCOMPLETE],
    ).fetchall()
    return {(str(user), str(scenario)): int(n) for user, scenario, n in rows}


def leaderboard(db: Database, org_id: str, month: date) -> LeaderboardSnapshot | None:
    first = month.replace(day=1).isoformat()
    fetched = db.execute(
        "select fetched_at from leaderboard_snapshots where org_id = ? and month = ?",
        [org_id, first],
    ).fetchone()
    if fetched is None:
        return None
    rows = db.query(
        "select * from leaderboard where org_id = ? and month = ? order by rank, display_name",
        [org_id, first],
    )
    return LeaderboardSnapshot(
        month=date.fromisoformat(first),
        fetched_at=parse_time(fetched[0]) or now(),
        rows=tuple(
            LeaderboardRow(
                user_id=r["user_id"],
                display_name=r["display_name"],
                attempts=int(r["attempts"]),
                avg_score=number(r["avg_score"]),
                best_score=number(r["best_score"]),
                passed_attempts=int(r["passed_attempts"]),
                rank=int(r["rank"]),
                org_rank=int(r["org_rank"]),
            )
            for r in rows
        ),
    )


def whole_on_server(db: Database, attempt_ids: Sequence[str]) -> list[str]:
    """Those of the attempts that the server has whole: no outbox entry left, nor a file still
    to upload (held ones count: their row is on the server, their files only here)."""
    found: list[str] = []
    for start in range(0, len(attempt_ids), 500):
        chunk = attempt_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        found += [
            str(row[0])
            for row in db.execute(
                f"select a.id from scenario_attempts a where a.id in ({marks}) and not "
                f"exists (select 1 from outbox o where o.table_name = 'scenario_attempts' "
                f"and o.row_id = a.id) and not exists (select 1 from uploads u "
                f"where u.attempt_id = a.id and u.state = 'pending')",
                chunk,
            )
        ]
    return found


def has_attempt(db: Database, attempt_id: str) -> bool:
    found = db.execute("select 1 from scenario_attempts where id = ?", [attempt_id])
    return found.fetchone() is not None


def attempt_rows(
    db: Database,
    where: str,
    params: Sequence[Any],
    *,
    limit: int,
    with_transcript: bool = False,
) -> list[AttemptRecord]:
    transcript = "a.transcript" if with_transcript else "null as transcript"
    rows = db.query(
        f"select a.id, a.org_id, a.user_id, a.scenario_id, a.assignment_id, a.started_at, "
        f"a.ended_at, a.duration_seconds, a.status, a.score, a.score_breakdown, a.kpis, "
        f"a.recording_path, a.local_recording, a.failure_reason, a.provisional_score, "
        f"a.provisional_breakdown, a.provisional_kpis, {transcript}, "
        f"o.state as outbox_state, o.last_error as outbox_error, "
        f"exists (select 1 from uploads u where u.attempt_id = a.id and u.held = 1) as held "
        f"from scenario_attempts a left join outbox o on o.seq = ("
        f"  select max(seq) from outbox where table_name = 'scenario_attempts' "
        f"  and row_id = a.id) "
        f"where {where} order by a.started_at desc, a.id limit ?",
        [*params, limit],
    )
    return [attempt_from_row(row) for row in rows]


def best_scores(db: Database, org_id: str, user_id: str) -> dict[str, Decimal]:
    """Each scenario's best score of the user: the server's, else the provisional one.

    An attempt counts for every version of its scenario, as the server's completion does: an
    assignment that publishing moved to version 2 stays done for whoever passed version 1."""
    best: dict[str, Decimal] = {}
    for row in db.query(
        "select coalesce(s.lineage_id, a.scenario_id) as lineage, "
        "max(coalesce(a.score, a.provisional_score)) as best "
        "from scenario_attempts a left join scenarios s on s.id = a.scenario_id "
        "where a.org_id = ? and a.user_id = ? and a.status <> ? group by 1",
        [org_id, user_id, INCOMPLETE],
    ):
        value = number(row["best"])
        if value is not None:
            best[row["lineage"]] = value
    for row in db.query(
        "select id, coalesce(lineage_id, id) as lineage from scenarios where org_id = ?", [org_id]
    ):
        if row["lineage"] in best:
            best[row["id"]] = best[row["lineage"]]
    return best
