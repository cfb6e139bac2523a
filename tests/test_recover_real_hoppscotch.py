"""Issue 13 on hoppscotch's real migration history (tests/data/hoppscotch/README.md): incidents made
by the real Prisma CLI in split mode on hoppscotch's own migrations — orphans under a new FOREIGN KEY,
duplicates under a new UNIQUE constraint, a lock timeout in a migration that drops and re-adds the
same foreign keys, and Prisma's connection killed mid-migration.

For each: the diagnosis is exact statement by statement, the cause and its rows (or blocking
session) are named; a forward recovery leaves `prisma migrate status` with no failed migration, the
rest of the history deploys with the real Prisma CLI and the schema equals a clean deploy of the
whole history; on a second copy of the incident, rollback leaves no failed migration and exactly the
schema of the migrations before it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

pytest.register_assert_rewrite("tests.recover_real_support")  # before it is imported: a plugin below

from tests.recover_real_support import (
    RECOVER,
    History,
    TemplateDatabases,
    assert_no_failed_migration,
    effects,
    incident_copies,
    listing_query,
    plan_report,
    rest_deploys,
    rolls_back,
)

pytestmark = [pytest.mark.prisma, pytest.mark.slow]  # CI runs slow tests too (make test: plain pytest)

HOPPSCOTCH = History("hoppscotch")
pytest_plugins = ["tests.recover_real_support"]  # its fixtures: databases, clean, clean_schema
HISTORY = HOPPSCOTCH  # for the shared `clean` fixture


# --- 20231106120154_embeds_addition: statement 3 adds Shortcode.creatorUid -> User.uid over an orphan
EMBEDS = "20231106120154_embeds_addition"
EMBEDS_ROWS = """
INSERT INTO "User" (uid, email) VALUES ('u-ann', 'ann@x.io');
INSERT INTO "Shortcode" (id, request, "creatorUid") VALUES ('sc-1', '{}', 'u-ann'), ('sc-2', '{}', 'u-gone');
"""


@pytest.fixture(scope="module")
def before_embeds(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("hopp-embeds"), HOPPSCOTCH, EMBEDS, EMBEDS_ROWS)


def test_foreign_key_over_a_shortcode_whose_creator_is_gone(databases, before_embeds, clean_schema, tmp_path,
                                                            prisma_cli) -> None:
    scenario, rollback = incident_copies(databases, HOPPSCOTCH, before_embeds, tmp_path, prisma_cli, EMBEDS)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "done", "not_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 3
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("orphans", True, 1, 3), \
        cause
    rows = scenario.sql(listing_query(report["next_step"]))
    assert [r[0] for r in rows] == ["sc-2"], rows  # the shortcode whose creator is gone
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "Shortcode" SET "creatorUid" = NULL WHERE id = 'sc-2'""")  # as ON DELETE SET NULL would
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, EMBEDS, applied=True)
    rest_deploys(HOPPSCOTCH, scenario, EMBEDS, clean_schema)

    rolls_back(databases, rollback, EMBEDS, before_embeds)


# --- 20250822044741_order_index_unique_constraint: statement 2 makes (teamID, collectionID, orderIndex) unique
ORDER = "20250822044741_order_index_unique_constraint"
ORDER_ROWS = """
INSERT INTO "Team" (id, name) VALUES ('t-1', 'core');
INSERT INTO "TeamCollection" (id, "teamID", title, "orderIndex", "updatedOn") VALUES ('c-1', 't-1', 'api', 1, now());
INSERT INTO "TeamRequest" (id, "collectionID", "teamID", title, request, "orderIndex", "updatedOn") VALUES
  ('r-1', 'c-1', 't-1', 'list', '{}', 1, now()), ('r-2', 'c-1', 't-1', 'get', '{}', 1, now()),
  ('r-3', 'c-1', 't-1', 'put', '{}', 2, now());
"""


@pytest.fixture(scope="module")
def before_order(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("hopp-order"), HOPPSCOTCH, ORDER, ORDER_ROWS)


def test_unique_order_index_over_two_requests_in_one_place(databases, before_order, clean_schema, tmp_path,
                                                           prisma_cli) -> None:
    scenario, rollback = incident_copies(databases, HOPPSCOTCH, before_order, tmp_path, prisma_cli, ORDER)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "not_done", "not_done", "not_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 2
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("duplicates", True, 2, 2), cause  # r-1 and r-2 share a place
    rows = scenario.sql(listing_query(report["next_step"]))
    assert rows == [("t-1", "c-1", 1, 2)], rows  # the clashing key and its copies, as the tool lists them
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "TeamRequest" SET "orderIndex" = 3 WHERE id = 'r-2'""")
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, ORDER, applied=True)
    rest_deploys(HOPPSCOTCH, scenario, ORDER, clean_schema)

    rolls_back(databases, rollback, ORDER, before_order)


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _second_copy(databases: TemplateDatabases, scenario, failing: str, root: Path):
    """Another copy of the failed database (no session may be connected to it meanwhile)."""
    from tests.test_recover_support import Scenario

    other = Scenario(root / "rollback", databases.copy(_database(scenario.db_url)), scenario.prisma)
    HOPPSCOTCH.copy(other.migrations_dir, [*HOPPSCOTCH.before(failing), failing])
    return other


def _forward_copy(databases: TemplateDatabases, template: str, failing: str, root: Path, prisma: Path):
    from tests.test_recover_support import Scenario

    scenario = Scenario(root / "forward", databases.copy(template), prisma)
    HOPPSCOTCH.copy(scenario.migrations_dir, [*HOPPSCOTCH.before(failing), failing])
    return scenario


# --- 20251203202452_cascade_delete: DROP two foreign keys, then re-ADD them (touched twice); a session
# reading UserRequest holds the lock statement 2 needs, and the database's lock_timeout is 1 s
CASCADE = "20251203202452_cascade_delete"
CASCADE_ROWS = """
INSERT INTO "User" (uid, email) VALUES ('u-ann', 'ann@x.io');
INSERT INTO "UserCollection" (id, "userUid", title, "orderIndex", type, "updatedOn")
  VALUES ('uc-1', 'u-ann', 'mine', 1, 'REST', now());
INSERT INTO "UserRequest" (id, "collectionID", "userUid", title, request, type, "orderIndex", "updatedOn")
  VALUES ('ur-1', 'uc-1', 'u-ann', 'get', '{}', 'REST', 1, now());
"""


@pytest.fixture(scope="module")
def before_cascade(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("hopp-cascade"), HOPPSCOTCH, CASCADE, CASCADE_ROWS)


def test_lock_timeout_between_dropping_and_re_adding_foreign_keys(databases, before_cascade, clean_schema, tmp_path,
                                                                  prisma_cli, pg_admin_url) -> None:
    scenario = _forward_copy(databases, before_cascade, CASCADE, tmp_path, prisma_cli)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET lock_timeout = '1s'").format(
            sql.Identifier(_database(scenario.db_url))))
    blocker = psycopg.connect(scenario.db_url)
    try:
        blocker.execute('SELECT count(*) FROM "UserRequest"')  # holds ACCESS SHARE until its transaction ends
        failed = scenario.deploy(split=True)
        assert failed.returncode != 0, failed.stdout

        report = plan_report(scenario)

        diagnosis = report["diagnosis"]
        assert diagnosis["method"] == "replay", diagnosis["note"]
        assert effects(report) == ["done", "not_done", "not_done", "not_done"], diagnosis["statements"]
        assert diagnosis["failing_statement"] == 2
        cause = report["cause"]
        assert (cause["kind"], cause["statement"]) == ("lock_timeout", 2), cause
        assert len(cause["blockers"]) == 1 and f"pid {blocker.info.backend_pid} " in cause["blockers"][0], cause
        assert "UserRequest" in cause["blockers"][0], cause  # the blocking session and what it holds
        assert report["exit_code"] == 1
    finally:
        blocker.close()
    rollback = _second_copy(databases, scenario, CASCADE, tmp_path)

    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, CASCADE, applied=True)
    rest_deploys(HOPPSCOTCH, scenario, CASCADE, clean_schema)

    rolls_back(databases, rollback, CASCADE, before_cascade)  # the dropped foreign key is put back as it was


# --- 20250725154928_timestamp_with_timezone: 14 ALTERs, one table each; a session holds TeamCollection
# (statement 7), Prisma's session waits for it and is terminated (pg_terminate_backend)
TZ = "20250725154928_timestamp_with_timezone"
TZ_ROWS = """
INSERT INTO "User" (uid, email, "createdOn") VALUES ('u-ann', 'ann@x.io', '2025-01-02 03:04:05.678');
INSERT INTO "Team" (id, name) VALUES ('t-1', 'core');
INSERT INTO "TeamCollection" (id, "teamID", title, "orderIndex", "createdOn", "updatedOn")
  VALUES ('c-1', 't-1', 'api', 1, '2025-01-02 03:04:05.678', '2025-01-02 03:04:05.678');
INSERT INTO "Shortcode" (id, request, "creatorUid", "createdOn") VALUES ('sc-1', '{}', 'u-ann', '2025-06-07 08:09:10.111');
"""


@pytest.fixture(scope="module")
def before_tz(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    return databases.build(tmp_path_factory.mktemp("hopp-tz"), HOPPSCOTCH, TZ, TZ_ROWS)


def test_connection_killed_while_waiting_in_a_fourteen_table_type_change(databases, before_tz, clean_schema,
                                                                          tmp_path, prisma_cli) -> None:
    scenario = _forward_copy(databases, before_tz, TZ, tmp_path, prisma_cli)
    holder = psycopg.connect(scenario.db_url)
    holder.execute('LOCK TABLE "TeamCollection" IN ACCESS SHARE MODE')  # statement 7's ALTER waits behind it
    deploy = threading.Thread(target=lambda: scenario.deploy(split=True))
    deploy.start()
    try:
        with psycopg.connect(scenario.db_url, autocommit=True) as killer:
            pid = None
            for _ in range(600):
                row = killer.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                                     "wait_event_type = 'Lock' AND query LIKE '%ALTER TABLE \"TeamCollection\"%'"
                                     ).fetchone()
                if row:
                    pid = row[0]
                    break
                time.sleep(0.05)
            assert pid is not None, "Prisma never reached statement 7"
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        holder.close()
        deploy.join(120)
    rollback = _second_copy(databases, scenario, TZ, tmp_path)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done"] * 6 + ["not_done"] * 8, diagnosis["statements"]
    assert diagnosis["failing_statement"] == 7
    assert report["cause"]["kind"] == "connection_lost", report["cause"]

    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, TZ, applied=True)
    rest_deploys(HOPPSCOTCH, scenario, TZ, clean_schema)

    with psycopg.connect(databases.admin_url, autocommit=True) as admin:  # a server not on UTC
        admin.execute(sql.SQL("ALTER DATABASE {} SET timezone = 'America/New_York'").format(
            sql.Identifier(_database(rollback.db_url))))
    rolls_back(databases, rollback, TZ, before_tz)
    # the values are the ones before the migration (undone AT TIME ZONE 'UTC', not cast in New York time)
    assert rollback.sql("""SELECT "createdOn"::text FROM "Shortcode" """) == [("2025-06-07 08:09:10.111",)]


# --- enum value removal: no hoppscotch migration removes an enum value, so this one is ours, exactly as
# `prisma migrate dev` writes a removal (BEGIN; a _new type; USING ::text casts; renames; COMMIT), slotted
# after 20250306054346_team_access_role_enum; a member still has the removed role VIEWER
ENUM = "20250307000000_team_access_role_without_viewer"
ENUM_SQL = """\
/*
  Warnings:

  - The values [VIEWER] on the enum `TeamAccessRole` will be removed. If these variants are still used in the database, this will fail.

*/
-- AlterEnum
BEGIN;
CREATE TYPE "TeamAccessRole_new" AS ENUM ('OWNER', 'EDITOR');
ALTER TABLE "TeamMember" ALTER COLUMN "role" TYPE "TeamAccessRole_new" USING ("role"::text::"TeamAccessRole_new");
ALTER TABLE "TeamInvitation" ALTER COLUMN "inviteeRole" TYPE "TeamAccessRole_new" USING ("inviteeRole"::text::"TeamAccessRole_new");
ALTER TYPE "TeamAccessRole" RENAME TO "TeamAccessRole_old";
ALTER TYPE "TeamAccessRole_new" RENAME TO "TeamAccessRole";
DROP TYPE "TeamAccessRole_old";
COMMIT;
"""
ENUM_ROWS = """
INSERT INTO "User" (uid, email) VALUES ('u-ann', 'ann@x.io'), ('u-bob', 'bob@x.io');
INSERT INTO "Team" (id, name) VALUES ('t-1', 'core');
INSERT INTO "TeamMember" (id, role, "userUid", "teamID") VALUES ('m-1', 'OWNER', 'u-ann', 't-1'),
  ('m-2', 'VIEWER', 'u-bob', 't-1');
"""


def test_enum_value_removed_while_a_member_still_has_it(databases, clean, tmp_path_factory, tmp_path,
                                                        prisma_cli) -> None:
    from tests.test_recover_support import Scenario

    following = HOPPSCOTCH.after(ENUM)[0]
    template = databases.build(tmp_path_factory.mktemp("hopp-enum"), HOPPSCOTCH, following, ENUM_ROWS)
    scenario = Scenario(tmp_path / "forward", databases.copy(template), prisma_cli)
    HOPPSCOTCH.copy(scenario.migrations_dir, HOPPSCOTCH.before(following))
    scenario.add(ENUM, ENUM_SQL)
    assert scenario.deploy(split=True).returncode != 0  # BEGIN ... COMMIT: the failed ALTER takes it all back
    rollback = Scenario(tmp_path / "rollback", databases.copy(_database(scenario.db_url)), prisma_cli)
    HOPPSCOTCH.copy(rollback.migrations_dir, HOPPSCOTCH.before(following))
    rollback.add(ENUM, ENUM_SQL)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["not_done"] * 6, diagnosis["statements"]
    assert (diagnosis["failing_statement"], diagnosis["failing_source"]) == (2, "cause re-check")
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("uncastable", True, 1, 2), cause
    assert [r[0] for r in scenario.sql(listing_query(report["next_step"]))] == ["m-2"]  # bob, still a VIEWER
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "TeamMember" SET role = 'EDITOR' WHERE role = 'VIEWER'""")
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, ENUM, applied=True)
    expected = databases.clean_deploy_with(clean, ENUM_SQL)  # the clean deploy, then ours
    rest_deploys(HOPPSCOTCH, scenario, ENUM, expected)

    rolls_back(databases, rollback, ENUM, template)
