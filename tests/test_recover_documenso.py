"""Issue 13 on a real project's history (documenso, tests/data/documenso/README.md): its
129-statement data migration `add_organisations` fails at statement 15 (an INSERT ... SELECT that
hits the unique key Team_url_key) with statements 1-14 committed (the real Prisma CLI, split mode).
The diagnosis is exact by replay; the cause names the clashing row; after the data is fixed,
following the tool's advice recovers forward; `prisma migrate status` is clean; the rest deploys;
the schema equals a clean deploy of the same history."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.db import connect
from migration_guard.tasks.schema import compare_snapshots
from migration_guard.tasks.schema.snapshot import snapshot_schema
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]

DATA = Path(__file__).parent / "data" / "documenso"
FAILING = "20250522054050_add_organisations"
CLASH = """UPDATE "User" SET url = 'acme' WHERE email = 'ann@x.io'"""  # ann's url = the team's url


def _copy(scenario: Scenario, names: list[str]) -> None:
    for name in names:
        shutil.copytree(DATA / "prisma" / "migrations" / name, scenario.migrations_dir / name, dirs_exist_ok=True)


def _all() -> list[str]:
    return sorted(p.name for p in (DATA / "prisma" / "migrations").iterdir() if p.is_dir())


def test_documenso_organisations_migration_fails_at_15_and_recovers_forward(tmp_path: Path, db_url: str,
                                                                            prisma_cli: Path,
                                                                            pg_admin_url: str) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli)
    names = _all()
    before = [n for n in names if n < FAILING]
    _copy(scenario, before)
    assert scenario.deploy().returncode == 0
    scenario.sql((DATA / "rows.sql").read_text())
    scenario.sql(CLASH)
    _copy(scenario, [FAILING])
    failed = scenario.deploy(split=True)
    assert failed.returncode != 0 and "Team_url_key" in failed.stdout + failed.stderr

    report = json.loads(scenario.recover("--plan", "--json").output)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    effects = [row["effect"] for row in diagnosis["statements"]]
    assert len(effects) == 129
    assert effects == ["done"] * 14 + ["not_done"] * 115, [r for r in diagnosis["statements"][:20]]
    assert (diagnosis["failing_statement"], diagnosis["failing_source"]) == (15, "ledger logs")
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("duplicates", True, 1, 15)
    listing = re.search(r"list them with: (.*;)\) then", report["next_step"]).group(1)
    assert [r[1] for r in scenario.sql(listing)] == ["acme"]  # the clashing row, as the tool lists it

    scenario.sql("""UPDATE "User" SET url = 'acme-ann' WHERE email = 'ann@x.io'""")  # the person fixes the data
    planned = scenario.recover("--plan")
    advice = [line for line in planned.output.splitlines() if line.strip().startswith("next:")][-1]
    assert planned.exit_code == 1 and "recover --mode forward --yes" in advice  # a decision, said plainly
    done = scenario.recover("--mode", "forward", "--yes", "--no-backup", "--no-drift")  # schema compared below

    assert done.exit_code == 0, done.output[-3000:]
    status = scenario.prisma_status()
    assert status.returncode == 0, status.stdout + status.stderr
    _copy(scenario, [n for n in names if n > FAILING])
    assert scenario.deploy().returncode == 0
    assert scenario.prisma_status().returncode == 0

    clean = _clean_deploy(tmp_path, pg_admin_url, prisma_cli, names)
    try:
        with connect(db_url) as live, connect(clean) as reference:
            differences = compare_snapshots(snapshot_schema(reference, ["public"]), snapshot_schema(live, ["public"]))
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS mg_documenso_clean WITH (FORCE)")
    assert differences == [], [d.describe() for d in differences]


def _clean_deploy(tmp_path: Path, admin_url: str, prisma: Path, names: list[str]) -> str:
    name = "mg_documenso_clean"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    reference = Scenario(tmp_path / "clean", url, prisma)
    _copy(reference, names)
    assert reference.deploy().returncode == 0
    return url


SESSIONS = "20250217120859_add_session_fields"  # ADD COLUMN "expiresAt" ... NOT NULL without a default


def test_documenso_required_session_columns_on_rows_follow_the_advice(tmp_path: Path, db_url: str,
                                                                      prisma_cli: Path) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli)
    names = _all()
    _copy(scenario, [n for n in names if n < SESSIONS])
    assert scenario.deploy().returncode == 0
    scenario.sql("""INSERT INTO "User" (email) VALUES ('ann@x.io');
                    INSERT INTO "Session" (id, "sessionToken", "userId", expires)
                    VALUES ('s1', 't1', 1, now()), ('s2', 't2', 1, now())""")
    _copy(scenario, [SESSIONS])
    assert scenario.deploy(split=True).returncode != 0
    assert "password" in scenario.columns("Account")  # statement 1 committed

    plan = scenario.recover("--plan")

    assert plan.exit_code == 1, plan.output
    assert "expiresAt has no DEFAULT and Session has rows" in plan.output and "2 offending row(s)" in plan.output
    assert "gone now" not in plan.output and "fix the statement" not in plan.output
    advice = [line for line in plan.output.splitlines() if line.strip().startswith("next:")][-1]
    assert "if the rows of Session are disposable, delete them and re-run migration-guard recover" in advice
    scenario.sql('DELETE FROM "Session"')  # sessions are disposable: the person takes that branch
    done = scenario.recover("--yes", "--no-backup")

    assert done.exit_code == 0, done.output[-3000:]
    assert {"expiresAt", "updatedAt"} <= set(scenario.columns("Session")) and "expires" not in scenario.columns("Session")
    status = scenario.prisma_status()
    assert status.returncode == 0, status.stdout + status.stderr
    _copy(scenario, [n for n in names if SESSIONS < n < FAILING])
    assert scenario.deploy().returncode == 0
