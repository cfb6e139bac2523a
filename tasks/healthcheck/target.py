"""One database the healthcheck watches (from HEALTHCHECK_CONFIG, or DATABASE_URL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DatabaseTarget:
    """One database to watch. ``dsn`` is secret: never print it (``name`` is the label)."""

    name: str
    dsn: str = field(repr=False)
    migrations_dir: Path | None = None
    migration_tool: str | None = None
    schema: str | None = None
