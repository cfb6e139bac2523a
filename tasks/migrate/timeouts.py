"""PostgreSQL duration settings (``lock_timeout = '5s'``) as seconds, and back."""

from __future__ import annotations

import re

from migration_guard.tasks.errors import ConfigError

_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$", re.IGNORECASE)


def duration_seconds(value: str | float | int, *, name: str = "timeout") -> float:
    """Seconds in a PostgreSQL duration: ``"5s"``, ``"500ms"``, ``"2min"``, a bare number of ms
    (PostgreSQL's default unit), or a Python number of seconds. ``0`` means no limit.

    Raises:
        ConfigError: not a duration PostgreSQL would accept.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError(f"{name} must not be negative, got {value!r}")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(
            f"{name}: expected a PostgreSQL duration like '5s', '500ms' or '2min', got {value!r}"
        )
    number, unit = float(match.group(1)), (match.group(2) or "ms").lower()
    return number * _UNITS_S[unit]


def pg_duration(value: str | float | int, *, name: str = "timeout") -> str:
    """A value PostgreSQL accepts for ``SET lock_timeout``: whole milliseconds, e.g. ``'5000ms'``."""
    return f"{round(duration_seconds(value, name=name) * 1000)}ms"


#: STATEMENT_TIMEOUT value meaning "keep the session's own statement_timeout" (the role's or the
#: database's setting, as Prisma would run under), instead of overriding it
INHERIT = "inherit"


def is_inherit(value: str | float | int | None) -> bool:
    """True for the ``inherit`` setting (or an empty value)."""
    return value is None or (isinstance(value, str) and value.strip().lower() in {INHERIT, ""})


def validate_statement_timeout(value: str | float | int | None, *, name: str = "STATEMENT_TIMEOUT") -> None:
    """Check a statement timeout setting: ``inherit`` or a PostgreSQL duration.

    Raises:
        ConfigError: neither.
    """
    if not is_inherit(value):
        duration_seconds(value, name=name)  # type: ignore[arg-type]

