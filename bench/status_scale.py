"""`migration-guard status` vs `prisma migrate status` on 1,000 migrations and a 1,000-row ledger.

Usage: .venv/bin/python bench/status_scale.py [--migrations 1000] [--repeat 5]
Needs the Prisma harness (../shared/prisma-harness/setup.sh, npm) for the baseline.
Target: faster than Prisma's CLI (ratio < 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median_seconds, print_table, prisma_cli, run, scratch_database  # noqa: E402
from migration_guard.tasks.settings import load_settings  # noqa: E402
from migration_guard.tasks.project import Project  # noqa: E402
from tests.helpers import make_prisma_project  # noqa: E402

MG = str(ROOT / ".venv" / "bin" / "migration-guard")


def build_project(root: Path, count: int) -> Path:
    migrations = {
        f"2024{index:010d}_step_{index}": f"CREATE TABLE t{index} (id bigint PRIMARY KEY, note text);\n"
        for index in range(count)
    }
    return make_prisma_project(root, migrations)


def fill_ledger(db_url: str, migrations_dir: Path) -> None:
    ledger = Project.from_settings(load_settings(database_url=db_url, migrations_dir=migrations_dir)).ledger
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger.ensure_table(conn)
        with conn.transaction():
            for migration in ledger.read_migrations():
                ledger.record_finished(conn, ledger.record_started(conn, migration))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    prisma = prisma_cli()
    with tempfile.TemporaryDirectory() as tmp, scratch_database() as db_url:
        root = Path(tmp)
        migrations_dir = build_project(root, args.migrations)
        fill_ledger(db_url, migrations_dir)
        env = {**os.environ, "DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations_dir)}

        def ours() -> None:
            done = run([MG, "status", "--json"], env=env, cwd=root)
            assert done.returncode == 0, done.stderr

        def theirs() -> None:
            done = run([prisma, "migrate", "status"], env=env, cwd=root)
            assert done.returncode == 0, done.stdout + done.stderr

        ours_s = median_seconds(ours, args.repeat)
        rows = [["migration-guard status --json", f"{ours_s:.3f}", "", ""]]
        if prisma:
            theirs_s = median_seconds(theirs, max(3, args.repeat // 2))
            rows.append(["prisma migrate status (baseline)", f"{theirs_s:.3f}", "", ""])
            rows[0][2] = f"{ours_s / theirs_s:.2f}"
            rows[0][3] = "PASS" if ours_s < theirs_s else "FAIL"
        else:
            rows.append(["prisma migrate status", "n/a (npm or the harness missing)", "", ""])
    print_table(
        f"status on {args.migrations} migrations / {args.migrations}-row ledger (median wall seconds)",
        ["command", "seconds", "ratio to Prisma (target < 1)", "verdict"],
        rows,
    )


if __name__ == "__main__":
    main()
