"""The list of checks, in the order they run and are reported. Add a module, then list it here."""

from __future__ import annotations

from migration_guard.tasks.checks.registry import Registry
from migration_guard.tasks.healthcheck.checks import (
    assertions,
    backup_freshness,
    connections,
    connectivity,
    freshness,
    idle_in_transaction,
    invalid_indexes,
    lock_waits,
    long_queries,
    migrations,
    not_valid_constraints,
    replication,
    scratch_databases,
    stale_migration_lock,
    wraparound,
)
from migration_guard.tasks.healthcheck.checks import anomalies, capacity_forecast, query_regressions
from migration_guard.tasks.healthcheck.base import HealthCheck
from migration_guard.tasks.healthcheck.config import HealthcheckConfig

#: connectivity runs first (the runner opens the connection); the rest use that connection
BUILTIN: Registry[HealthCheck] = Registry([
    connectivity.CHECK,
    migrations.CHECK,
    invalid_indexes.CHECK,
    not_valid_constraints.CHECK,
    stale_migration_lock.CHECK,
    connections.CHECK,
    long_queries.CHECK,
    idle_in_transaction.CHECK,
    lock_waits.CHECK,
    wraparound.CHECK,
    replication.CHECK,
    backup_freshness.CHECK,
    capacity_forecast.CHECK,
    anomalies.CHECK,
    query_regressions.CHECK,
    scratch_databases.CHECK,
])
BUILTIN_CHECKS: tuple[HealthCheck, ...] = BUILTIN.checks


def checks_for(config: HealthcheckConfig) -> list[HealthCheck]:
    """Built-in checks (minus ``disabled_checks``; connectivity always runs), then the configured
    freshness checks and assertions."""
    found = BUILTIN.without(config.disabled_checks, keep=[connectivity.NAME])
    found += [freshness.make_check(entry) for entry in config.freshness]
    found += [assertions.make_check(entry) for entry in config.assertions]
    return found


def check_names() -> list[str]:
    """Names of the built-in checks (for docs and --help)."""
    return BUILTIN.names()
