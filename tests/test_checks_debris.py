"""Debris checks: invalid indexes, NOT VALID constraints, a migration lock held by an idle session."""

from __future__ import annotations

import subprocess

import psycopg

from migration_guard.tasks.healthcheck.checks import invalid_indexes, not_valid_constraints, stale_migration_lock
from migration_guard.tasks.healthcheck.base import CheckStatus
from tests.checks_support import config_with, run_one


def test_invalid_index_from_failed_concurrent_build(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE users (email text)")
    db.execute("INSERT INTO users VALUES ('a@x'), ('a@x')")
    assert run_one(invalid_indexes.CHECK, db_url).status is CheckStatus.OK
    try:
        db.execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)")
    except psycopg.errors.UniqueViolation:
        pass

    result = run_one(invalid_indexes.CHECK, db_url)

    assert result.status is CheckStatus.WARNING
    assert result.observed_value == 1
    assert "REINDEX INDEX CONCURRENTLY public.users_email_key;" in result.problem.suggestions
    [rebuild] = [s for s in result.problem.suggestions if s.startswith("DROP INDEX CONCURRENTLY")]
    assert rebuild == ("DROP INDEX CONCURRENTLY public.users_email_key; "
                       "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON public.users USING btree (email);")
    db.execute("DELETE FROM users WHERE ctid <> (SELECT min(ctid) FROM users)")
    pasted = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", db_url], input=rebuild + "\n",
                            capture_output=True, text=True, timeout=60)  # pasted into psql as printed
    assert pasted.returncode == 0, pasted.stderr
    assert run_one(invalid_indexes.CHECK, db_url).status is CheckStatus.OK


def test_not_valid_constraint(db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE orders (amount int)")
    assert run_one(not_valid_constraints.CHECK, db_url).status is CheckStatus.OK
    db.execute("ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0) NOT VALID")

    result = run_one(not_valid_constraints.CHECK, db_url)

    assert result.status is CheckStatus.WARNING and result.problem.severity == "LOW"
    assert result.problem.suggestions == ('ALTER TABLE public.orders VALIDATE CONSTRAINT "amount_positive";',)


def test_prisma_lock_held_by_idle_session(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(72707369)")
        fresh = run_one(stale_migration_lock.CHECK, db_url, config_with(stale_migration_lock="1h"))
        stale = run_one(stale_migration_lock.CHECK, db_url, config_with(stale_migration_lock=0))
        pid = holder.info.backend_pid

    assert fresh.status is CheckStatus.OK
    assert stale.status is CheckStatus.CRITICAL
    assert stale.problem.category == "DATABASE_MIGRATION"
    assert f"SELECT pg_terminate_backend({pid});" in stale.problem.suggestions[0]
