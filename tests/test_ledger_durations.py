"""The ledger rows migrate writes carry the migration's real duration (started_at < finished_at), as
Prisma's own rows do: finished_at is taken when the migration ends, not when its transaction began."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.helpers import make_prisma_project, run_cli


def test_finished_at_is_when_the_migration_ended(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    make_prisma_project(tmp_path, {"20240101000000_slow": "CREATE TABLE t (id int);\nSELECT pg_sleep(0.4);\n"})
    result = run_cli(["migrate", "--skip-backup", "--skip-validate"], env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    started, finished = db.execute(
        "SELECT started_at, finished_at FROM _prisma_migrations WHERE migration_name = '20240101000000_slow'").fetchone()
    assert (finished - started).total_seconds() >= 0.35
