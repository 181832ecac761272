"""How numbers and times read on screen: scores, durations, due dates, KPI values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.scoring import format_number


def score_text(score: Decimal | None, *, provisional: bool = False) -> str:
    if score is None:
        return "–"
    text = f"{score.quantize(Decimal('0.1'))}"
    return f"{text} (provisional)" if provisional else text


def clock(seconds: float | Decimal | None) -> str:
    """Seconds as m:ss (or h:mm:ss), for durations and timestamps in a call."""
    if seconds is None:
        return "–"
    total = max(round(float(seconds)), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def due_text(due_at: datetime | None, now: datetime) -> str:
    """ "Due in 3 days", "Due today", "Overdue by 2 days"; whole days from `now`."""
    if due_at is None:
        return "No due date"
    days = (due_at.astimezone().date() - now.astimezone().date()).days
    if days == 0:
        return "Overdue today" if due_at < now else "Due today"
    if days > 0:
        return "Due tomorrow" if days == 1 else f"Due in {days} days"
    return "Overdue by 1 day" if days == -1 else f"Overdue by {-days} days"


def local_time(moment: datetime) -> str:
    return f"{moment.astimezone():%Y-%m-%d %H:%M}"


def ago(moment: datetime, now: datetime) -> str:
    """ "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago"; the date after a week."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    days = (now.astimezone().date() - moment.astimezone().date()).days
    if days == 0:
        return f"{int(seconds // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return f"{moment.astimezone():%Y-%m-%d}"


def percent(value: Decimal | None) -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal('1'))} %"


def number(value: Decimal | int | float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        value = Decimal(repr(value))
    return format_number(Decimal(value))


def ago_text(moment: datetime | None, now: datetime) -> str:
    """ "just now", "12 min ago", "3 h ago"; older than a day, the local date and time."""
    if moment is None:
        return ""
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 24 * 60:
        return f"{minutes // 60} h ago"
    return local_time(moment)
