"""The two duration grammars, each parsed in one place.

- **Configuration durations** (``config_duration``): how people write ages and intervals in our own
  settings and checks — ``90s``, ``15m``, ``24h``, ``2d``, ``1h30m`` or a number of seconds. ``m`` is
  minutes.
- **PostgreSQL durations** (``postgres_duration_seconds``): what PostgreSQL accepts for
  ``lock_timeout`` / ``statement_timeout`` — ``5s``, ``500ms``, ``2min``; a bare number is
  milliseconds (PostgreSQL's default unit) and ``m`` is not a unit.

Settings that end up in ``SET lock_timeout`` use the PostgreSQL grammar, so a value means what the
DBA reading it expects; everything else uses the configuration grammar.
"""

from __future__ import annotations

import re
from datetime import timedelta

from migration_guard.tasks.errors import ConfigError

_CONFIG_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_CONFIG_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_POSTGRES_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_POSTGRES_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$", re.IGNORECASE)


def config_duration(value: str | int | float | timedelta) -> timedelta:
    """A configuration duration (``90s``, ``15m``, ``24h``, ``2d``, ``1h30m``, seconds as a number).

    Raises:
        ValueError: not a duration; the message lists the accepted forms.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    text = str(value).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    parts = _CONFIG_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 24h, 2d, 1h30m)")
    return timedelta(seconds=sum(float(n) * _CONFIG_UNITS[u] for n, u in parts))


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


def postgres_duration_seconds(value: str | float | int, *, name: str = "timeout") -> float:
    """Seconds in a PostgreSQL duration: ``"5s"``, ``"500ms"``, ``"2min"``, a bare number of ms
    (PostgreSQL's default unit), or a Python number of seconds. ``0`` means no limit.

    Raises:
        ConfigError: not a duration PostgreSQL would accept.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{name} must not be negative, got {value!r}")
        return float(value)
    match = _POSTGRES_DURATION.match(str(value))
    if not match:
        raise ConfigError(
            f"{name}: expected a PostgreSQL duration like '5s', '500ms' or '2min', got {value!r}"
        )
    number, unit = float(match.group(1)), (match.group(2) or "ms").lower()
    return number * _POSTGRES_UNITS_S[unit]


def postgres_duration_setting(value: str | float | int, *, name: str = "timeout") -> str:
    """A value PostgreSQL accepts for ``SET lock_timeout``: whole milliseconds, e.g. ``'5000ms'``."""
    return f"{round(postgres_duration_seconds(value, name=name) * 1000)}ms"
