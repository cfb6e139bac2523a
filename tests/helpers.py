"""Helpers shared by tests: building migration projects on disk and running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

CLI = [sys.executable, "-m", "migration_guard.cli"]


def make_prisma_project(root: Path, migrations: Mapping[str, str | bytes]) -> Path:
    """Create ``root/prisma/{schema.prisma,migrations/<name>/migration.sql}``; return the migrations dir."""
    prisma = root / "prisma"
    migrations_dir = prisma / "migrations"
    migrations_dir.mkdir(parents=True, exist_ok=True)
    (prisma / "schema.prisma").write_text('datasource db {\n  provider = "postgresql"\n}\n')
    (migrations_dir / "migration_lock.toml").write_text('provider = "postgresql"\n')
    for name, text in migrations.items():
        add_prisma_migration(migrations_dir, name, text)
    return migrations_dir


def add_prisma_migration(migrations_dir: Path, name: str, text: str | bytes) -> Path:
    """Write one Prisma migration folder; return its migration.sql path."""
    folder = migrations_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "migration.sql"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def make_sql_project(root: Path, migrations: Mapping[str, str | bytes]) -> Path:
    """Create ``root/migrations/<name>.sql`` files; return the folder."""
    folder = root / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in migrations.items():
        path = folder / (name if name.endswith(".sql") else f"{name}.sql")
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return folder


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> CliResult:
    """Run `migration-guard ARGS` in-process (fast) with a clean configuration environment."""
    from migration_guard.cli import app, hoist_global_options

    runner = CliRunner()
    clean = {name: None for name in CONFIG_VARIABLES}
    clean.update(env or {})
    old_cwd = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(app, hoist_global_options(list(args)), env=clean, catch_exceptions=False)
    finally:
        os.chdir(old_cwd)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def run_cli_process(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> CliResult:
    """Run `migration-guard ARGS` as a real process (for exit codes, tracebacks, timing)."""
    full_env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    full_env.update(env or {})
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


CONFIG_VARIABLES = (
    "DATABASE_URL", "DATABASE_PASSWORD", "MIGRATIONS_DIR", "MIGRATION_TOOL", "ENVIRONMENT", "BACKUP_DIR", "ALERTS_DIR",
    "LOG_DIR", "DB_SCHEMA", "CONNECT_TIMEOUT", "LOCK_TIMEOUT", "STATEMENT_TIMEOUT",
    "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL", "ALERT_WEBHOOK_URL",
    "SHADOW_DATABASE_URL",
    "SLACK_API_URL", "ALERT_REPEAT_INTERVAL", "HEALTHCHECK_CONFIG", "CHECK_TIMEOUT", "ALERTS_API_TOKEN",
)


@contextmanager
def serving_alerts_api(settings: Any, **options: Any) -> Iterator[str]:
    """`migration-guard serve`'s HTTP server on a free port, in a thread; yields its base URL.

    ``options`` go to ``build_server`` (cache_seconds defaults to 0 so every request is fresh).
    """
    import threading

    from migration_guard.cli.serve import build_server

    server = build_server(settings, "127.0.0.1", 0, **{"cache_seconds": 0, **options})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def mounted_tmpfs(size: str, prefix: str = "mg-disk-") -> Iterator[Path]:
    """A real tmpfs of ``size`` (e.g. ``1m``) mounted under /tmp for the block; skips the test where
    mounting is not allowed (needs root)."""
    import uuid

    import pytest

    mount_point = Path(f"/tmp/{prefix}{uuid.uuid4().hex[:8]}")
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        mount_point.rmdir()
