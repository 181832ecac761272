"""Row values between the server's JSON, SQLite and Python: JSON text, times, exact numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def _encode(value: object) -> object:
    if isinstance(value, Decimal):
        # Exact in JSON text: an integral Decimal stays an int, others keep their digits.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dumps(value: object) -> str:
    """JSON text for SQLite and payloads; Decimals (app/kpis, app/scoring) become numbers."""
    return json.dumps(value, default=_encode, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes | None) -> Any:
    return None if text is None else json.loads(text)


def now() -> datetime:
    return datetime.now(UTC)


def now_iso() -> str:
    return now().isoformat()


def iso(value: datetime) -> str:
    """An aware timestamp as ISO text; naive ones are refused (whose clock would they be?)."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return value.isoformat()


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def number(value: object) -> Decimal | None:
    """A number from SQLite or JSON as an exact Decimal (floats through their shortest repr)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str | Decimal):
        return Decimal(value)
    raise TypeError(f"not a number: {value!r}")


def sql_number(value: object) -> int | float | None:
    """A number SQLite can bind (it has no Decimal)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int | float):
        return value
    return float(str(value))
