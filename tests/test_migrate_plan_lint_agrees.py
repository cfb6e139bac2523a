"""`migrate --dry-run` lints as the real run's validation does (live: the table's real size), so a
small table's CREATE INDEX is not an error in the plan and PASS in the run."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from tests.helpers import make_prisma_project, run_cli

MIGRATION = 'CREATE INDEX "t_v_idx" ON "t" ("v");\n'


def test_dry_run_and_validation_agree_on_lint(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int, v int)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")
    db.execute("ANALYZE t")
    make_prisma_project(tmp_path, {"20240101000000_idx": MIGRATION})
    env = {"DATABASE_URL": db_url}
    plan = json.loads(run_cli(["migrate", "--dry-run", "--json"], env=env, cwd=tmp_path).stdout)
    validate = run_cli(["validate", "--json", "--no-backup"], env=env, cwd=tmp_path)
    checks = {c["name"]: c for c in json.loads(validate.stdout)["checks"]}
    plan_errors = [f for m in plan["plan"]["migrations"] for f in m["findings"] if f.startswith("error")]
    lint_failed = checks["lint"]["status"] == "FAIL"
    assert bool(plan_errors) == lint_failed, (plan_errors, checks["lint"])
