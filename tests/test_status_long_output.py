"""Long histories stay readable: 120 pending migrations collapse to the first few and a count
(`--all` lists them), and no migration name is ever cut, even at 80 columns."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import make_prisma_project, run_cli_process

NAMES = [f"20240101{i:06d}_add_a_rather_long_descriptive_migration_name_{i:03d}" for i in range(1, 121)]


def test_many_pending_migrations_collapse_and_names_are_never_cut(tmp_path: Path, db_url: str) -> None:
    make_prisma_project(tmp_path, {name: f"CREATE TABLE t{i} (id int);" for i, name in enumerate(NAMES)})
    env = {"DATABASE_URL": db_url, "COLUMNS": "80", "TERM": "dumb"}
    short = run_cli_process(["status"], env=env, cwd=tmp_path)
    assert short.exit_code == 1, short.stdout + short.stderr
    shown = [n for n in NAMES if n in short.stdout]
    assert shown == NAMES[:5], short.stdout
    assert "115 more pending migrations (--all shows them)" in short.stdout
    assert "…" not in short.stdout.replace("… and 115", "")
    full = run_cli_process(["status", "--all"], env=env, cwd=tmp_path)
    assert all(name in full.stdout for name in NAMES)
    assert len(short.stdout.splitlines()) < 15
