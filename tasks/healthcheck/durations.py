"""Durations in configuration: ``90s``, ``15m``, ``24h``, ``2d``, ``1h30m`` or a number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse a duration; raises ValueError with the accepted forms."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    text = str(value).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 24h, 2d, 1h30m)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(delta: timedelta | float) -> str:
    """``3d 4h``, ``2h 5m``, ``12m 3s``, ``41s``: short and readable."""
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d" + (f" {hours}h" if hours else "")
    if hours:
        return f"{sign}{hours}h" + (f" {minutes}m" if minutes else "")
    if minutes:
        return f"{sign}{minutes}m" + (f" {secs}s" if secs else "")
    return f"{sign}{secs}s"
