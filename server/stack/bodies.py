"""Untrusted request bodies as JSON, for every API of the local stack.

One parser so that REST, RPC, auth and storage refuse the same bodies the same way, each in its
own error shape: not UTF-8, not JSON, or nested deeper than MAX_JSON_DEPTH. The depth cap keeps
a body far from Python's recursion limit and Postgres's stack depth (both answered with a 500
before), and no real row, RPC argument or user metadata comes near it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_JSON_DEPTH = 64
# Strings first (escapes included), so brackets inside them are not counted.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


class MalformedJson(ValueError):
    """The body is not a JSON document this stack accepts; the message says why."""


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in `text` (0 for a scalar)."""
    brackets = _BRACKET.findall(_STRING.sub("", text))
    steps = (1 if b in "[{" else -1 for b in brackets)
    return max(accumulate(steps, initial=0))


def parse_json(raw: bytes | str, *, empty: Any = None) -> Any:
    """The decoded document; `empty` for a blank body when given, else blank is malformed."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedJson("the body is not UTF-8") from exc
    if not text.strip():
        if empty is not None:
            return empty
        raise MalformedJson("the body is empty")
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise MalformedJson(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError also covers integers longer than Python's digit limit.
        raise MalformedJson(f"invalid JSON: {exc}") from exc
