"""The demo seed (supabase/seed.sql) reads true: each scenario's persona is one person, whose
name its lines, its prompt and the seeded calls on it agree with (the "Objection" call once had
Lena Fischer answering "Dana speaking.")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from db_support import Seed

SEEDED_ORGS = (Seed.DEMO_ORG, Seed.GLOBEX_ORG)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]+", text))


def _lines(branching: dict[str, Any]) -> list[str]:
    return [node["persona_line"] for node in branching["nodes"] if node.get("persona_line")]


@pytest.fixture
def scenarios(admin_conn) -> list[dict[str, Any]]:
    rows = admin_conn.execute(
        "select id::text, title, persona, ai_prompt, branching from public.scenarios"
        " where org_id = any(%s::uuid[]) order by id",
        (list(SEEDED_ORGS),),
    ).fetchall()
    assert len(rows) == 5  # every scenario the seed makes, drafts included
    return rows


@pytest.fixture
def seeded_calls(admin_conn) -> dict[str, list[list[dict[str, Any]]]]:
    """The seed's past calls' turns, by scenario id."""
    calls: dict[str, list[list[dict[str, Any]]]] = {}
    for row in admin_conn.execute(
        "select scenario_id::text, transcript from public.scenario_attempts"
        " where device_id = 'seed' and org_id = any(%s::uuid[])",
        (list(SEEDED_ORGS),),
    ):
        calls.setdefault(row["scenario_id"], []).append(row["transcript"]["turns"])
    assert sum(len(c) for c in calls.values()) == 10
    return calls


def test_every_scenario_speaks_only_with_its_own_persona_name(scenarios, seeded_calls):
    first_names = {s["id"]: s["persona"]["name"].split()[0] for s in scenarios}
    problems: list[str] = []
    for scenario in scenarios:
        own = first_names[scenario["id"]]
        others = set(first_names.values()) - {own}
        lines = _lines(scenario["branching"])
        calls = seeded_calls.get(scenario["id"], [])
        said = lines + [turn["text"] for call in calls for turn in call]
        for text in said:
            if wrong := _words(text) & others:
                problems.append(f"{scenario['title']}: {own}'s call names {wrong}: {text!r}")
        prompt = re.match(r"You are (\w+)", scenario["ai_prompt"] or "")
        if prompt and prompt.group(1) != own:
            problems.append(f"{scenario['title']}: the prompt is for {prompt.group(1)}, not {own}")
        for line in lines:
            intro = re.match(r"(\w+) speaking", line)
            if intro and intro.group(1) != own:
                problems.append(f"{scenario['title']}: {own} answers as {intro.group(1)}")
    assert problems == []


def test_seeded_calls_follow_their_scenario_lines(scenarios, seeded_calls):
    by_id = {s["id"]: s for s in scenarios}
    for scenario_id, calls in seeded_calls.items():
        branching = by_id[scenario_id]["branching"]
        lines = set(_lines(branching))
        opening = next(n for n in branching["nodes"] if n["id"] == branching["start"])
        for turns in calls:
            persona = [turn["text"] for turn in turns if turn["speaker"] == "persona"]
            assert persona[0] == opening["persona_line"], by_id[scenario_id]["title"]
            assert set(persona) <= lines, (by_id[scenario_id]["title"], set(persona) - lines)
