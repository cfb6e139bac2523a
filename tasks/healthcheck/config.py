"""The per-deployment healthcheck configuration (``HEALTHCHECK_CONFIG=path``, YAML or JSON).

Example::

    databases:
      - name: app                      # label in alerts and health keys
        url_env: DATABASE_URL          # or url: postgresql://... (prefer url_env: no secret in files)
        migrations_dir: prisma/migrations
    thresholds:
      idle_in_transaction: 5m
    freshness:
      - name: late_fee_processing
        database: app
        query: SELECT max(processed_at) FROM late_fee_runs
        period: 24h
        grace: 1h
    assertions:
      - name: no_negative_balances
        database: app
        query: SELECT count(*) FROM accounts WHERE balance < 0
        comparison: "=="
        threshold: 0
        severity: HIGH
        message: Accounts with a negative balance
        suggestions: ["SELECT id, balance FROM accounts WHERE balance < 0"]

Without a file, the one database of DATABASE_URL (and MIGRATIONS_DIR, when set) is watched with
the default thresholds.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from migration_guard.tasks.db import database_name, dsn_problem
from migration_guard.tasks.durations import config_duration
from migration_guard.tasks.errors import ConfigError
from migration_guard.tasks.healthcheck.target import DatabaseTarget

Comparison = Literal["<", "<=", "==", "!=", ">=", ">"]
SeverityName = Literal["HIGH", "MEDIUM", "LOW"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)



def _duration(value: Any) -> timedelta:
    return config_duration(value)


class DatabaseEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    url: str | None = None
    url_env: str | None = None
    migrations_dir: Path | None = None
    migration_tool: Literal["prisma", "sql"] | None = None
    schema_name: str | None = Field(default=None, alias="schema")

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseEntry:
        if bool(self.url) == bool(self.url_env):
            raise ValueError(f"database {self.name!r}: give exactly one of url or url_env")
        return self


class Thresholds(_Strict):
    """Defaults chosen for OLTP applications; override per deployment."""

    connections_warn_percent: float = 80.0
    connections_critical_percent: float = 95.0
    long_query: timedelta = timedelta(minutes=5)
    idle_in_transaction: timedelta = timedelta(minutes=5)
    lock_wait: timedelta = timedelta(seconds=30)
    xid_age_warn: int = 1_000_000_000
    xid_age_critical: int = 1_500_000_000
    replication_lag_warn: timedelta = timedelta(minutes=1)
    replication_lag_critical: timedelta = timedelta(minutes=10)
    stale_migration_lock: timedelta = timedelta(minutes=10)
    pending_migration_grace: timedelta = timedelta(hours=1)
    #: a migration still running after this long is alerted on (naming its session)
    running_migration: timedelta = timedelta(minutes=30)
    backup_max_age: timedelta | None = None

    @field_validator("long_query", "idle_in_transaction", "lock_wait", "replication_lag_warn",
                     "replication_lag_critical", "stale_migration_lock", "pending_migration_grace",
                     "running_migration", "backup_max_age", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return None if value is None else _duration(value)


class FreshnessCheck(_Strict):
    """A job that must leave a fresh timestamp: late after period + grace, down after down_after."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    database: str | None = None
    query: str
    period: timedelta
    grace: timedelta = timedelta(0)
    down_after: timedelta | None = None
    title: str | None = None
    impact: str = "The job's results are out of date; customers or reports may see stale data."
    suggestions: tuple[str, ...] = ()

    @field_validator("period", "grace", "down_after", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return None if value is None else _duration(value)

    @property
    def late_after(self) -> timedelta:
        return self.period + self.grace

    @property
    def down_threshold(self) -> timedelta:
        return self.down_after or (2 * self.period + self.grace)


class Assertion(_Strict):
    """A query returning one number, compared with a threshold; a failed comparison alerts."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,63}$")
    database: str | None = None
    query: str
    comparison: Comparison = "=="
    threshold: float = 0
    severity: SeverityName = "MEDIUM"
    message: str
    impact: str = "A business rule the application relies on does not hold."
    suggestions: tuple[str, ...] = ()


class HealthcheckConfig(_Strict):
    databases: tuple[DatabaseEntry, ...] = ()
    thresholds: Thresholds = Thresholds()
    freshness: tuple[FreshnessCheck, ...] = ()
    assertions: tuple[Assertion, ...] = ()
    disabled_checks: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _known_databases(self) -> HealthcheckConfig:
        names = [d.name for d in self.databases]
        if len(set(names)) != len(names):
            raise ValueError("database names must be unique")
        for entry in (*self.freshness, *self.assertions):
            if entry.database and self.databases and entry.database not in names:
                raise ValueError(f"{entry.name!r} refers to unknown database {entry.database!r} (known: {', '.join(names)})")
        return self

    def applies_to(self, entry: FreshnessCheck | Assertion, database: str) -> bool:
        """A freshness check / assertion without ``database`` runs on every database."""
        return entry.database is None or entry.database == database


def load_config(path: Path | None) -> HealthcheckConfig:
    """Read HEALTHCHECK_CONFIG (YAML or JSON); None = defaults.

    Raises:
        ConfigError: one line naming the file and the first problem.
    """
    if path is None:
        return HealthcheckConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"HEALTHCHECK_CONFIG {str(path)!r} cannot be read ({exc.strerror or exc})",
                          "fix the path or unset HEALTHCHECK_CONFIG") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"HEALTHCHECK_CONFIG {str(path)!r} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                          f"{str(exc).splitlines()[0]}") from None
    try:
        return HealthcheckConfig.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ConfigError(f"HEALTHCHECK_CONFIG {str(path)!r}: {where}: {first['msg'].removeprefix('Value error, ')}",
                          "see docs/healthcheck-and-alerts.md for the format") from None


def resolve_targets(settings: Any, config: HealthcheckConfig) -> list[DatabaseTarget]:
    """The databases to check: the config's list, else DATABASE_URL with the migrations folder every
    command uses (MIGRATIONS_DIR, else ./prisma/migrations, else ./migrations).

    Raises:
        ConfigError: no database configured, a ``url_env`` variable is unset, or a URL is mistyped.
    """
    if not config.databases:
        dsn = settings.require_database_url()
        return [DatabaseTarget(
            name=database_name(dsn), dsn=dsn, migrations_dir=settings.found_migrations_dir(),
            migration_tool=settings.migration_tool,
            schema=settings.db_schema if "db_schema" in settings.model_fields_set else None,
        )]
    targets = []
    for entry in config.databases:
        dsn = entry.url
        if entry.url_env:
            dsn = os.environ.get(entry.url_env, "").strip()
            if not dsn:
                raise ConfigError(f"{entry.url_env} is not set (database {entry.name!r} in HEALTHCHECK_CONFIG)",
                                  f"export {entry.url_env}=postgresql://user:password@host:5432/dbname")
        problem = dsn_problem(dsn or "")
        if problem is not None:  # a typo is a configuration error, not an unreachable database
            source = entry.url_env or "url"
            raise ConfigError(f"{source} (database {entry.name!r} in HEALTHCHECK_CONFIG): {problem}")
        targets.append(DatabaseTarget(name=entry.name, dsn=dsn, migrations_dir=entry.migrations_dir,
                                      migration_tool=entry.migration_tool, schema=entry.schema_name))
    return targets
