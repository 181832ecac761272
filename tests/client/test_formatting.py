"""How the Studio's "last edited" reads: relative to now, then the date after a week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.client.formatting import ago

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_ago_reads_relative_then_as_a_date():
    assert ago(NOW - timedelta(seconds=20), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert ago(NOW - timedelta(days=3), NOW) == "3 days ago"
    old = NOW - timedelta(days=30)
    assert ago(old, NOW) == f"{old.astimezone():%Y-%m-%d}"
