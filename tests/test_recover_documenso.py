"""Issue 13 on a real project's history (documenso, tests/data/documenso/README.md), incidents made by
the real Prisma CLI in split mode:

- its 129-statement data migration `add_organisations` (touched twice: DROP then re-ADD of constraints,
  ADD COLUMN then SET NOT NULL, temporary columns) fails at statement 15, an INSERT ... SELECT that
  hits the unique key Team_url_key, with statements 1-14 committed;
- `add_session_fields` adds required columns without a default to a table with rows.

The diagnosis is exact by replay; the cause names the rows; after the data is fixed, following the
tool's advice recovers forward, `prisma migrate status` shows no failed migration, the rest deploys
and the schema equals a clean deploy of the whole history. On a second copy of each incident the
rollback is what the migration allows: the session fields are undone statement by statement to the
schema before; add_organisations deleted and rewrote rows (statements 1, 5, 12), so the tool refuses
to pretend and names the restore of this very database's backup."""

from __future__ import annotations

import re
import shlex

import pytest

pytest.register_assert_rewrite("tests.recover_real_support")  # before it is imported: a plugin below

from tests.recover_real_support import (
    DATA,
    History,
    TemplateDatabases,
    assert_no_failed_migration,
    assert_same_schema,
    effects,
    incident_copies,
    last_next,
    plan_report,
    rest_deploys,
    schema_of,
)
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]

DOCUMENSO = History("documenso")
FAILING = "20250522054050_add_organisations"
CLASH = """UPDATE "User" SET url = 'acme' WHERE email = 'ann@x.io'"""  # ann's url = the team's url


pytest_plugins = ["tests.recover_real_support"]  # its fixtures: databases, clean, clean_schema
HISTORY = DOCUMENSO  # for the shared `clean` fixture


@pytest.fixture(scope="module")
def before_organisations(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    rows = (DATA / "documenso" / "rows.sql").read_text() + ";\n" + CLASH
    return databases.build(tmp_path_factory.mktemp("documenso-org"), DOCUMENSO, FAILING, rows)


def test_documenso_organisations_migration_fails_at_15_and_recovers_forward(databases, before_organisations,
                                                                            clean_schema, tmp_path,
                                                                            prisma_cli) -> None:
    scenario, _ = incident_copies(databases, DOCUMENSO, before_organisations, tmp_path, prisma_cli, FAILING)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert len(effects(report)) == 129
    assert effects(report) == ["done"] * 14 + ["not_done"] * 115, [r for r in diagnosis["statements"][:20]]
    assert (diagnosis["failing_statement"], diagnosis["failing_source"]) == (15, "ledger logs")
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("duplicates", True, 1, 15)
    listing = re.search(r"list them with: (.*;)\) then", report["next_step"]).group(1)
    assert [r[1] for r in scenario.sql(listing)] == ["acme"]  # the clashing row, as the tool lists it

    scenario.sql("""UPDATE "User" SET url = 'acme-ann' WHERE email = 'ann@x.io'""")  # the person fixes the data
    planned = scenario.recover("--plan")
    advice = last_next(planned.output)
    assert planned.exit_code == 1 and "recover --mode forward --yes" in advice  # a decision, said plainly
    done = scenario.recover("--mode", "forward", "--yes", "--no-backup", "--no-drift")  # schema compared below

    assert done.exit_code == 0, done.output[-3000:]
    assert_no_failed_migration(scenario, FAILING, applied=True)
    rest_deploys(DOCUMENSO, scenario, FAILING, clean_schema)



def test_documenso_organisations_rollback_needs_this_databases_backup_and_restores_it(databases, before_organisations,
                                                                                     tmp_path, prisma_cli) -> None:
    rollback = Scenario(tmp_path, databases.copy(before_organisations), prisma_cli)
    DOCUMENSO.copy(rollback.migrations_dir, [*DOCUMENSO.before(FAILING), FAILING])
    assert rollback.cli("backup", "create", "--reason", "nightly").exit_code == 0  # taken before the attempt
    assert rollback.deploy(split=True).returncode != 0

    rolled = rollback.recover("--mode", "rollback", "--yes", "--no-backup", "--no-drift")

    assert rolled.exit_code == 1, rolled.output  # DELETE / UPDATE of old rows: only a restore undoes them
    for number in (1, 5, 12):
        assert f"irreversible: statement {number} (line" in rolled.output, rolled.output
    assert "undone by a drop: statement 3" in rolled.output and "undone by a drop: statement 4" in rolled.output
    restore = re.search(r"\(migration-guard (backup restore .+? --replace --yes);", last_next(rolled.output))
    assert restore, rolled.output  # names this database's own backup
    restored = rollback.cli(*shlex.split(restore.group(1)))
    assert restored.exit_code == 0, restored.output
    assert_no_failed_migration(rollback, FAILING, applied=False)  # the ledger is from before the attempt
    assert_same_schema(schema_of(databases.url(before_organisations)), rollback.db_url)
    users = 'SELECT id, email, url FROM "User" ORDER BY id'
    before = Scenario(tmp_path / "before", databases.url(before_organisations), None).sql(users)
    assert rollback.sql(users) == before and ("ann@x.io", "acme") in [r[1:] for r in before]  # the rows as before


SESSIONS = "20250217120859_add_session_fields"  # ADD COLUMN "expiresAt" ... NOT NULL without a default
SESSION_ROWS = """INSERT INTO "User" (email) VALUES ('ann@x.io');
                  INSERT INTO "Session" (id, "sessionToken", "userId", expires)
                  VALUES ('s1', 't1', 1, now()), ('s2', 't2', 1, now())"""


@pytest.fixture(scope="module")
def before_sessions(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("documenso-sessions"), DOCUMENSO, SESSIONS, SESSION_ROWS)


def test_documenso_required_session_columns_on_rows_follow_the_advice(databases, before_sessions, clean_schema,
                                                                      tmp_path, prisma_cli) -> None:
    scenario, rollback = incident_copies(databases, DOCUMENSO, before_sessions, tmp_path, prisma_cli, SESSIONS)
    assert "password" in scenario.columns("Account")  # statement 1 committed

    report = plan_report(scenario)
    plan = scenario.recover("--plan")

    assert report["diagnosis"]["method"] == "replay", report["diagnosis"]["note"]
    assert effects(report) == ["done", "not_done"] and report["diagnosis"]["failing_statement"] == 2
    assert (report["cause"]["kind"], report["cause"]["present"], report["cause"]["offending_rows"]) == ("nulls", True, 2)

    assert plan.exit_code == 1, plan.output
    assert "expiresAt has no DEFAULT and Session has rows" in plan.output and "2 offending row(s)" in plan.output
    assert "gone now" not in plan.output and "fix the statement" not in plan.output
    advice = last_next(plan.output)
    assert "if the rows of Session are disposable, delete them and re-run migration-guard recover" in advice
    scenario.sql('DELETE FROM "Session"')  # sessions are disposable: the person takes that branch
    done = scenario.recover("--yes", "--no-backup")

    assert done.exit_code == 0, done.output[-3000:]
    assert {"expiresAt", "updatedAt"} <= set(scenario.columns("Session")) and "expires" not in scenario.columns("Session")
    assert_no_failed_migration(scenario, SESSIONS, applied=True)
    rest_deploys(DOCUMENSO, scenario, SESSIONS, clean_schema)  # the rest of the history, then = a clean deploy

    rolled = rollback.recover("--mode", "rollback", "--yes", "--no-backup", "--no-drift")
    assert rolled.exit_code == 0, rolled.output
    assert "restore" not in rolled.output and "password" not in rollback.columns("Account"), rolled.output
    assert_no_failed_migration(rollback, SESSIONS, applied=False)
    assert_same_schema(schema_of(databases.url(before_sessions)), rollback.db_url)
