"""Each real-world failure reproduced with the real Prisma CLI, then recovered and proven with
migration-guard status, the drift check and `prisma migrate status` / `deploy`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.ledgers.prisma import PRISMA_LOCK_KEY
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]

INIT = "20240101000000_init"
INIT_SQL = """\
CREATE TABLE "Account" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "nickname" TEXT,
    "points" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "Account_pkey" PRIMARY KEY ("id")
);
CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO');
"""
SEED_ROWS = """INSERT INTO "Account" (email, nickname, points) VALUES
  ('a@x.io', 'a', 1), ('b@x.io', NULL, 2), ('b@x.io', 'b2', 70000), ('c@x.io', NULL, 3)"""


def _project(tmp_path: Path, db_url: str, prisma: Path, migration: str, sql: str, split: bool = True) -> Scenario:
    scenario = Scenario(tmp_path, db_url, prisma, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.sql(SEED_ROWS)
    scenario.add(migration, sql)
    assert scenario.deploy(split=split).returncode != 0
    return scenario


def _assert_clean(scenario: Scenario, prisma_exit: int = 0) -> None:
    assert scenario.cli("status").exit_code == (0 if prisma_exit == 0 else 1)
    assert scenario.drift().clean, scenario.drift().differences
    status = scenario.prisma_status()
    assert status.returncode == prisma_exit, status.stdout + status.stderr


def test_partial_add_columns_roll_back_then_the_fixed_migration_deploys(tmp_path, db_url, prisma_cli) -> None:
    name = "20240201000000_account_fields"
    scenario = _project(tmp_path, db_url, prisma_cli, name, """\
ALTER TABLE "Account" ADD COLUMN "phone" TEXT;
ALTER TABLE "Account" ADD COLUMN "score" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "Account" ADD COLUMN "currency" "Currency";
ALTER TABLE "Account" ADD COLUMN "country" TEXT;
""")
    assert {"phone", "score"} <= set(scenario.columns("Account"))

    auto = scenario.recover("--yes")
    assert auto.exit_code == 1, auto.output
    assert "does not exist" in auto.output or "cannot be re-checked" in auto.output

    rolled = scenario.recover("--mode", "rollback", "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert not {"phone", "score"} & set(scenario.columns("Account"))
    _assert_clean(scenario, prisma_exit=1)

    scenario.add(name, 'CREATE TYPE "Currency" AS ENUM (\'EUR\', \'USD\');\n' + (
        scenario.migrations_dir / name / "migration.sql").read_text())
    assert scenario.deploy().returncode == 0
    _assert_clean(scenario)


def test_unique_index_with_duplicates_then_newer_pending_migration(tmp_path, db_url, prisma_cli) -> None:
    name = "20240201000000_unique_email"
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.sql(SEED_ROWS)
    scenario.add(name, 'ALTER TABLE "Account" ADD COLUMN "verified" BOOLEAN NOT NULL DEFAULT false;\n'
                       'CREATE UNIQUE INDEX "Account_email_key" ON "Account"("email");\n')
    scenario.add("20240301000000_next", 'ALTER TABLE "Account" ADD COLUMN "bio" TEXT;\n')
    assert scenario.deploy(split=True).returncode != 0

    blocked = scenario.recover("--yes")
    assert blocked.exit_code == 1
    assert "2 offending row(s)" in blocked.output and "HAVING count(*) > 1" in blocked.output

    scenario.sql("DELETE FROM \"Account\" WHERE email = 'b@x.io' AND nickname IS NULL")
    done = scenario.recover("--yes")
    assert done.exit_code == 0, done.output
    assert "20240301000000_next" in done.output  # the next step names the pending migration
    _assert_clean(scenario, prisma_exit=1)
    assert scenario.deploy().returncode == 0
    _assert_clean(scenario)


def test_set_not_null_with_nulls(tmp_path, db_url, prisma_cli) -> None:
    scenario = _project(tmp_path, db_url, prisma_cli, "20240201000000_nickname_required",
                        'ALTER TABLE "Account" ADD COLUMN "locale" TEXT;\n'
                        'ALTER TABLE "Account" ALTER COLUMN "nickname" SET NOT NULL;\n')
    blocked = scenario.recover("--yes")
    assert blocked.exit_code == 1
    assert "2 offending row(s)" in blocked.output and '"nickname" IS NULL' in blocked.output

    scenario.sql("UPDATE \"Account\" SET nickname = '' WHERE nickname IS NULL")
    assert scenario.recover("--yes").exit_code == 0
    _assert_clean(scenario)


def test_type_change_with_values_that_do_not_cast(tmp_path, db_url, prisma_cli) -> None:
    scenario = _project(tmp_path, db_url, prisma_cli, "20240201000000_small_points",
                        'ALTER TABLE "Account" ADD COLUMN "level" INTEGER;\n'
                        'ALTER TABLE "Account" ALTER COLUMN "points" SET DATA TYPE SMALLINT;\n')
    blocked = scenario.recover("--yes")
    assert blocked.exit_code == 1
    assert "1 offending row(s)" in blocked.output and "mg_castable" in blocked.output

    scenario.sql("UPDATE \"Account\" SET points = 7 WHERE points > 32767")
    assert scenario.recover("--yes").exit_code == 0
    assert scenario.sql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\"Account\"'::regclass "
                        "AND attname = 'points'") == [("smallint",)]
    _assert_clean(scenario)


def test_create_index_concurrently_leaves_an_invalid_index(tmp_path, db_url, prisma_cli) -> None:
    scenario = _project(tmp_path, db_url, prisma_cli, "20240201000000_email_unique_concurrently",
                        'CREATE UNIQUE INDEX CONCURRENTLY "Account_email_key" ON "Account"("email");\n')
    assert scenario.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"Account_email_key\"'::regclass") == [(False,)]

    plan = scenario.recover("--plan")
    assert "INVALID" in plan.output and "partly_done" in plan.output

    scenario.sql("DELETE FROM \"Account\" WHERE email = 'b@x.io' AND nickname IS NULL")
    done = scenario.recover("--yes")
    assert done.exit_code == 0, done.output
    assert scenario.sql("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"Account_email_key\"'::regclass") == [(True,)]
    _assert_clean(scenario)


def test_enum_value_added_then_used_in_one_transaction(tmp_path, db_url, prisma_cli) -> None:
    scenario = _project(tmp_path, db_url, prisma_cli, "20240201000000_enterprise_plan", """\
ALTER TYPE "Plan" ADD VALUE 'ENTERPRISE';
ALTER TABLE "Account" ADD COLUMN "plan" "Plan" NOT NULL DEFAULT 'FREE';
UPDATE "Account" SET "plan" = 'ENTERPRISE' WHERE "points" > 1000;
""", split=False)
    assert scenario.sql("SELECT count(*) FROM pg_enum WHERE enumlabel = 'ENTERPRISE'") == [(0,)]  # all rolled back

    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert "a new enum value was used in the same transaction" in done.output
    assert scenario.sql("SELECT count(*) FROM \"Account\" WHERE plan = 'ENTERPRISE'") == [(1,)]
    _assert_clean(scenario)


def test_lock_timeout_behind_a_long_transaction(tmp_path, db_url, prisma_cli) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.add("20240201000000_add_flags", 'SET lock_timeout = \'300ms\';\n'
                 'ALTER TABLE "Account" ADD COLUMN "flags" TEXT;\n')
    blocker = psycopg.connect(db_url)
    try:
        blocker.execute('SELECT count(*) FROM "Account"')  # holds ACCESS SHARE until the transaction ends
        assert scenario.deploy(split=True).returncode != 0
        time.sleep(1.1)
        blocked = scenario.recover("--yes")
        assert blocked.exit_code == 1, blocked.output
        assert f"pid {blocker.info.backend_pid}" in blocked.output
        assert "lock_timeout" in blocked.output
    finally:
        blocker.close()
    done = scenario.recover("--yes")
    assert done.exit_code == 0, done.output
    assert "flags" in scenario.columns("Account")
    _assert_clean(scenario)


def test_connection_killed_mid_migration(tmp_path, db_url, prisma_cli) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.add("20240115000000_city", 'CREATE TABLE "City" ("id" SERIAL PRIMARY KEY, "name" TEXT);\n')
    assert scenario.deploy().returncode == 0
    scenario.add("20240201000000_indexes", 'ALTER TABLE "Account" ADD COLUMN "region" TEXT;\n'
                 'CREATE INDEX "City_name_idx" ON "City"("name");\n'
                 'ALTER TABLE "Account" ADD COLUMN "city" TEXT;\n')
    holder = psycopg.connect(db_url)
    holder.execute('LOCK TABLE "City" IN ROW EXCLUSIVE MODE')  # CREATE INDEX (SHARE) waits behind it
    deploy = threading.Thread(target=lambda: scenario.deploy(split=True))
    deploy.start()
    killer = psycopg.connect(db_url, autocommit=True)
    try:
        pid = None
        for _ in range(200):
            row = killer.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock' "
                                 "AND query ILIKE '%CREATE INDEX%'").fetchone()
            if row:
                pid = row[0]
                break
            time.sleep(0.1)
        assert pid is not None
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        holder.close()
        deploy.join(60)
        killer.close()
    assert "region" in scenario.columns("Account") and "city" not in scenario.columns("Account")

    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert "the connection was lost mid-migration" in done.output
    assert {"region", "city"} <= set(scenario.columns("Account"))
    _assert_clean(scenario)


def test_failed_migration_edited_afterwards(tmp_path, db_url, prisma_cli) -> None:
    name = "20240201000000_points_check"
    scenario = _project(tmp_path, db_url, prisma_cli, name,
                        'ALTER TABLE "Account" ADD COLUMN "tier" TEXT;\n'
                        'ALTER TABLE "Account" ADD CONSTRAINT "Account_points_check" CHECK ("points" < 1000);\n')
    blocked = scenario.recover("--yes")
    assert blocked.exit_code == 1 and "1 offending row(s)" in blocked.output

    scenario.add(name, 'ALTER TABLE "Account" ADD COLUMN "tier" TEXT;\n'
                       'ALTER TABLE "Account" ADD CONSTRAINT "Account_points_check" CHECK ("points" < 100000);\n')
    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert "checksum differs" in done.output
    _assert_clean(scenario)


def test_two_failed_rows_for_one_migration(tmp_path, db_url, prisma_cli) -> None:
    name = "20240201000000_twice"
    scenario = _project(tmp_path, db_url, prisma_cli, name,
                        'ALTER TABLE "Account" ADD COLUMN "twice" TEXT;\n'
                        'ALTER TABLE "Account" ALTER COLUMN "nickname" SET NOT NULL;\n')
    scenario.sql("INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at) "
                 "SELECT gen_random_uuid()::text, checksum, migration_name, 'second attempt failed', now() "
                 "FROM _prisma_migrations WHERE migration_name = %s", (name,))
    assert scenario.cli("status").exit_code == 2
    scenario.sql("UPDATE \"Account\" SET nickname = '' WHERE nickname IS NULL")

    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert "2 failed rows" in done.output
    assert [r[1:] for r in scenario.ledger() if r[0] == name].count((False, True)) == 2
    _assert_clean(scenario)


def test_migration_folder_deleted_locally(tmp_path, db_url, prisma_cli) -> None:
    name = "20240201000000_gone"
    scenario = _project(tmp_path, db_url, prisma_cli, name,
                        'ALTER TABLE "Account" ADD COLUMN "gone" TEXT;\n'
                        'ALTER TABLE "Account" ALTER COLUMN "nickname" SET NOT NULL;\n')
    folder = scenario.migrations_dir / name
    saved = (folder / "migration.sql").read_text()
    (folder / "migration.sql").unlink()
    folder.rmdir()

    missing = scenario.recover("--yes")
    assert missing.exit_code == 1
    assert "no local file" in missing.output and "git" in missing.output

    scenario.add(name, saved)
    assert scenario.recover("--mode", "rollback", "--yes").exit_code == 0
    _assert_clean(scenario, prisma_exit=1)


def test_stale_migration_lock_held_by_an_idle_session(tmp_path, db_url, prisma_cli) -> None:
    scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
    idle = psycopg.connect(db_url, autocommit=True)
    idle.execute("SELECT pg_advisory_lock(%s)", (PRISMA_LOCK_KEY,))
    try:
        time.sleep(0.3)
        done = scenario.recover("--yes", "--stale-lock-seconds", "0.2")
        assert done.exit_code == 0, done.output
        assert f"pid {idle.info.backend_pid}" in done.output
    finally:
        idle.close()
    deploy = scenario.deploy()  # would wait 10 s and fail with P1002 if the lock were still held
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert scenario.recover("--yes").output.count("nothing to recover") == 1
