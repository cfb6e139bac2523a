"""STATEMENT_TIMEOUT's ``inherit`` value and its validation (durations: ``tasks/durations.py``)."""

from __future__ import annotations

from migration_guard.tasks.durations import postgres_duration_seconds


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
        postgres_duration_seconds(value, name=name)  # type: ignore[arg-type]

