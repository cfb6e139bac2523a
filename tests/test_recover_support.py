"""Shared helpers for the recover tests (no tests here): Prisma projects, the real Prisma CLI,
and running `migration-guard recover`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg

from tests.helpers import CliResult, add_prisma_migration, make_prisma_project, run_cli


class Scenario:
    """A Prisma project in ``root`` against ``db_url``, driven by the real Prisma CLI."""

    def __init__(self, root: Path, db_url: str, prisma: Path | None, migrations: dict[str, str] | None = None) -> None:
        self.root = root
        self.db_url = db_url
        self.prisma = prisma
        self.migrations_dir = make_prisma_project(root, migrations or {})
        self.backups = root / "backups"
        self.alerts = root / "alerts"

    def add(self, name: str, sql: str) -> Path:
        return add_prisma_migration(self.migrations_dir, name, sql)

    def prisma_run(self, *args: str, split: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
        assert self.prisma is not None, "this scenario needs the prisma_cli fixture"
        env = {k: v for k, v in os.environ.items() if k not in ("SHIM_SPLIT_SCRIPT", "DATABASE_URL")}
        env["DATABASE_URL"] = self.db_url
        if split:
            env["SHIM_SPLIT_SCRIPT"] = "1"
        return subprocess.run([str(self.prisma), *args], cwd=self.root, env=env, capture_output=True, text=True,
                              timeout=timeout)

    def deploy(self, split: bool = False) -> subprocess.CompletedProcess:
        return self.prisma_run("migrate", "deploy", split=split)

    def prisma_status(self) -> subprocess.CompletedProcess:
        return self.prisma_run("migrate", "status")

    @property
    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.db_url, "MIGRATIONS_DIR": str(self.migrations_dir),
                "BACKUP_DIR": str(self.backups), "ALERTS_DIR": str(self.alerts), "LOCK_TIMEOUT": "2s"}

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(list(args), {**self.env, **(env or {})}, cwd=self.root)

    def recover(self, *args: str) -> CliResult:
        return self.cli("recover", *args)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            cur = conn.execute(query, params or None)
            return cur.fetchall() if cur.description else []

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.sql(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum", (f'"{table}"',))]

    def ledger(self) -> list[tuple]:
        return self.sql("SELECT migration_name, finished_at IS NOT NULL, rolled_back_at IS NOT NULL "
                        "FROM _prisma_migrations ORDER BY started_at, migration_name")

    def drift(self):
        from migration_guard.tasks.settings import load_settings
        from migration_guard.tasks.project import Project
        from migration_guard.tasks.schema import check_drift

        return check_drift(Project.from_settings(load_settings(database_url=self.db_url,
                                                               migrations_dir=self.migrations_dir)))
