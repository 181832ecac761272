"""Scenarios for practice without a server: the bundled demo set or any scenarios JSON file.

`resources/sample/scenarios.json` holds the demo org's scenarios exactly as supabase/seed.sql
inserts them (tests/app/test_practice.py compares the two), so the headless CLI, demos and tests
practise the same calls the database serves. A file holds `{"scenarios": [...]}` or one scenario;
each is checked with app.formats, as the database checks it, before anyone practises it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.formats import FormatError, validate_branching, validate_persona, validate_rubric
from app.key_terms import validate_key_terms

SAMPLE_SCENARIOS = Path(__file__).resolve().parents[1] / "resources" / "sample" / "scenarios.json"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class ScenarioError(ValueError):
    """A scenario that cannot be found or read; the message names the file or the key."""


def slugify(title: str) -> str:
    """ "Cold call: the skeptical IT director" -> "cold-call-the-skeptical-it-director"."""
    return _NOT_SLUG.sub("-", title.lower()).strip("-")


# The columns of a scenario an author writes (Scenario.content): what a scenario file's
# "scenario" holds (app/scenario_package.py) and what a draft kept offline may change
# (sync/cache_drafts.py).
CONTENT_FIELDS = (
    "title",
    "description",
    "difficulty",
    "pass_score",
    "max_attempts",
    "ai_prompt",
    "time_limit_seconds",
    "key_terms",
    "persona",
    "branching",
    "rubric",
)


@dataclass(frozen=True)
class Persona:
    """Who the rep is calling, as the screens name them (from the persona document)."""

    name: str
    role: str
    company: str = ""
    voice: str | None = None

    @classmethod
    def from_json(cls, document: Mapping[str, Any] | None) -> Persona:
        doc = document or {}
        return cls(
            name=str(doc.get("name") or "Unknown"),
            role=str(doc.get("role") or ""),
            company=str(doc.get("company") or ""),
            voice=doc.get("voice") if isinstance(doc.get("voice"), str) else None,
        )


@dataclass(frozen=True)
class Scenario:
    """One practice scenario: who the persona is, how the dialog branches, how it is scored.

    The one scenario type of the app: the practice engine runs it, the CLI loads it from files,
    and the client core gives it to the screens (app/client/views.py re-exports it)."""

    id: str
    title: str
    persona: dict[str, Any]
    branching: dict[str, Any]
    rubric: dict[str, Any]
    pass_score: Decimal
    description: str = ""
    difficulty: str = "beginner"
    status: str = "published"
    org_id: str | None = None
    max_attempts: int | None = None
    ai_prompt: str = ""  # instructions for an AI persona, kept for when one is configured
    time_limit_seconds: int | None = None  # the call's length limit, if any
    # Names and jargon the rep will say, for the speech model (app/key_terms.py's rules).
    key_terms: tuple[str, ...] = ()
    # The server's versioning (docs/security.md, "Scenario versions"): every version of one
    # scenario shares its lineage; `revision` counts saves, for the editor's version check.
    lineage_id: str | None = None
    version: int = 1
    revision: int = 1
    updated_at: datetime | None = None  # when the server last saw it change
    updated_by: str | None = None  # the user id of whoever changed it last (the server's)

    def content(self) -> dict[str, Any]:
        """What an author writes, as the `scenarios` row's columns hold it (no id, org or
        status): what a scenario file carries and what saving a draft sends."""
        content = {field: getattr(self, field) for field in CONTENT_FIELDS}
        content["key_terms"] = list(self.key_terms)  # the column is an array, not a tuple
        return content

    @property
    def profile(self) -> Persona:
        """The persona's name, role, company and voice, for the screens."""
        return Persona.from_json(self.persona)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Words a rep is likely to say in this call that a general speech model mishears:
        the author's key terms first (they chose them for this), then the persona's name and
        company, then the rubric's and the dialog's keywords (the words the score and the
        branching listen for). Given to the transcriber as hotwords."""
        names = [self.persona.get(key) for key in ("name", "company")]
        rubric = (
            word
            for criterion in self.rubric.get("criteria", ())
            if criterion.get("type") == "keywords"
            for group in criterion.get("keywords", ())
            for word in ([group] if isinstance(group, str) else group)
        )
        dialog = (
            word
            for node in self.branching.get("nodes", ())
            for edge in node.get("edges", ())
            for word in edge.get("when", {}).get("keywords", ())
        )
        every = (*self.key_terms, *names, *rubric, *dialog)
        terms = (t.strip() for t in every if isinstance(t, str))
        return tuple(dict.fromkeys(t for t in terms if t))

    @classmethod
    def from_json(cls, data: Any, *, source: str = "scenario") -> Scenario:
        """A scenario from its JSON object (the `scenarios` row's columns); ScenarioError if bad."""
        if not isinstance(data, Mapping):
            raise ScenarioError(f"{source}: a scenario must be a JSON object")
        for key in ("id", "title"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise ScenarioError(f'{source}: "{key}" must be a non-empty string')
        where = f'{source}, scenario "{data["id"]}"'
        pass_score = data.get("pass_score", 70)
        if isinstance(pass_score, bool) or not isinstance(pass_score, int | float | Decimal):
            raise ScenarioError(f'{where}: "pass_score" must be a number')
        try:
            validate_persona(data.get("persona"))
            validate_branching(data.get("branching"))
            validate_rubric(data.get("rubric"))
            validate_key_terms(data.get("key_terms", []))
        except FormatError as error:
            raise ScenarioError(f"{where}: {error}") from error
        return cls(
            id=data["id"],
            title=data["title"],
            persona=data["persona"],
            branching=data["branching"],
            rubric=data["rubric"],
            pass_score=Decimal(str(pass_score)),
            description=str(data.get("description") or ""),
            difficulty=str(data.get("difficulty") or "beginner"),
            status=str(data.get("status") or "published"),
            org_id=data.get("org_id"),
            ai_prompt=str(data.get("ai_prompt") or ""),
            key_terms=tuple(data.get("key_terms", ())),
        )


def load_scenarios(path: Path = SAMPLE_SCENARIOS) -> list[Scenario]:
    """Every scenario in a JSON file (`{"scenarios": [...]}` or one scenario object)."""
    try:
        # Decimal keeps numbers as written (pass_score 70.00, weight 0.3), as jsonb keeps them.
        document = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except FileNotFoundError:
        raise ScenarioError(f"there is no scenarios file at {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"cannot read the scenarios file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{path} is not valid JSON: {error}") from error
    items = document.get("scenarios") if isinstance(document, Mapping) else None
    if items is None:
        items = [document]
    if not isinstance(items, list) or not items:
        raise ScenarioError(f'{path}: "scenarios" must be a non-empty array')
    scenarios = [Scenario.from_json(item, source=str(path)) for item in items]
    ids = [scenario.id for scenario in scenarios]
    duplicate = next((id_ for id_ in ids if ids.count(id_) > 1), None)
    if duplicate is not None:
        raise ScenarioError(f'{path}: scenario id "{duplicate}" is used twice')
    return scenarios


def find_scenario(scenarios: Iterable[Scenario], key: str) -> Scenario:
    """The scenario whose id or slug is `key`, or whose id or slug alone starts with it."""
    scenarios = list(scenarios)
    wanted = key.strip().lower()
    exact = [s for s in scenarios if wanted in (s.id.lower(), s.slug)]
    if exact:
        return exact[0]
    matches = [
        s for s in scenarios if wanted and (s.id.startswith(wanted) or s.slug.startswith(wanted))
    ]
    if len(matches) == 1:
        return matches[0]
    known = "\n".join(f"  {s.slug}  ({s.id})" for s in scenarios)
    if matches:
        names = ", ".join(s.slug for s in matches)
        raise ScenarioError(f'"{key}" matches several scenarios ({names}); be more specific')
    raise ScenarioError(f'no scenario "{key}"; known scenarios:\n{known}')
