"""Issue 13, the data-dependent kinds no real migration of our histories fails with: a CHECK constraint
over violating rows, a PRIMARY KEY over NULL and duplicate key values (Prisma's `@id` change) and a data
migration's DELETE of rows another table still references (SQLSTATE 23503).

The three migrations are ours, written in Prisma's style (comment headers, quoting, Prisma's warning
text for a primary key change) on top of hoppscotch's real history (tests/data/hoppscotch/README.md),
slotted between 20251207122817_add_slug_to_published_docs and 20260209063744_published_doc_environment
(which touches only PublishedDocs, so the rest of the history still deploys after ours). umami's history
has no foreign keys (Prisma's relationMode), so it cannot fail a DELETE that way.

Each incident is made by the real Prisma CLI in split mode on a copy of ONE template (the history up
to ours, plus the rows all three need). For each: the diagnosis is exact statement by statement, the
cause and its rows are named and the listing query works when pasted; after the data fix a forward
recovery leaves `prisma migrate status` with no failed migration, the rest of the history deploys with
the real Prisma CLI and the schema equals a clean deploy of the whole history plus ours; on a second
copy of the incident, rollback leaves no failed migration and exactly the template's schema."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.recover_real_support")  # before it is imported: a plugin below

from tests.recover_real_support import (
    RECOVER,
    History,
    TemplateDatabases,
    assert_no_failed_migration,
    effects,
    listing_query,
    plan_report,
    rest_deploys,
    rolls_back,
)
from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma, pytest.mark.slow]  # CI runs slow tests too (make test: plain pytest)

HOPPSCOTCH = History("hoppscotch")
pytest_plugins = ["tests.recover_real_support"]  # its fixtures: databases, clean, clean_schema
HISTORY = HOPPSCOTCH  # for the shared `clean` fixture
FOLLOWING = "20260209063744_published_doc_environment"  # the real migration that comes after ours

ROWS = """
INSERT INTO "User" (uid, email) VALUES ('u-ann', 'ann@x.io'), ('u-bob', 'bob@x.io');
INSERT INTO "PersonalAccessToken" (id, "userUid", label, token, "createdOn", "expiresOn", "updatedOn") VALUES
  ('pat-1', 'u-ann', 'ci', 'tok-1', '2025-01-01', '2025-07-01', now()),
  ('pat-2', 'u-bob', 'laptop', 'tok-2', '2025-03-01', NULL, now()),
  ('pat-3', 'u-bob', 'old', 'tok-3', '2025-03-01', '2024-12-31', now());
INSERT INTO "Team" (id, name) VALUES ('t-1', 'core'), ('t-2', 'left'), ('t-3', 'empty');
INSERT INTO "TeamMember" (id, role, "userUid", "teamID") VALUES ('m-1', 'OWNER', 'u-ann', 't-1');
INSERT INTO "UserEnvironment" (id, "userUid", name, variables, "isGlobal") VALUES
  ('ue-1', 'u-ann', 'dev', '[]', false), ('ue-2', 'u-ann', 'dev', '[]', false), ('ue-3', 'u-ann', NULL, '[]', true),
  ('ue-4', 'u-bob', 'dev', '[]', false);
INSERT INTO "TeamCollection" (id, "teamID", title, "orderIndex", "updatedOn") VALUES
  ('c-1', 't-1', 'api', 1, now()), ('c-2', 't-2', 'leftover', 1, now());
"""


@pytest.fixture(scope="module")
def template(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """hoppscotch deployed up to ours, with the rows of all three incidents (one template, three copies)."""
    return databases.build(tmp_path_factory.mktemp("hopp-kinds"), HOPPSCOTCH, FOLLOWING, ROWS)


def ours_failed(databases: TemplateDatabases, template: str, name: str, migration: str, root: Path,
                prisma: Path) -> tuple[Scenario, Scenario]:
    """Our migration deployed by the real Prisma CLI in split mode on a copy of the template (it must
    fail), and a second copy of the failed database for the rollback."""
    scenarios = []
    for role, source in (("forward", template), ("rollback", None)):
        source = source or scenarios[0].db_url.rsplit("/", 1)[1]
        scenario = Scenario(root / role, databases.copy(source), prisma)
        HOPPSCOTCH.copy(scenario.migrations_dir, HOPPSCOTCH.before(FOLLOWING))
        scenario.add(name, migration)
        if role == "forward":
            failed = scenario.deploy(split=True)
            assert failed.returncode != 0, failed.stdout
        scenarios.append(scenario)
    return scenarios[0], scenarios[1]


def recovers_forward(databases: TemplateDatabases, clean: str, scenario: Scenario, name: str, migration: str) -> None:
    """Forward recovery (after the data fix): no failed migration in Prisma's status, the rest of the
    history deploys, the schema is a clean deploy plus ours."""
    done = scenario.recover("--mode", "forward", *RECOVER)
    assert done.exit_code == 0, done.output
    assert_no_failed_migration(scenario, name, applied=True)
    rest_deploys(HOPPSCOTCH, scenario, name, databases.clean_deploy_with(clean, migration))


# --- CHECK over violating rows: a token that expired before it was created
CHECK = "20260101000000_personal_access_token_expiry_check"
CHECK_SQL = """\
-- CreateIndex
CREATE INDEX "PersonalAccessToken_userUid_idx" ON "PersonalAccessToken"("userUid");

-- AddCheckConstraint (written by hand: Prisma does not model CHECK constraints)
ALTER TABLE "PersonalAccessToken" ADD CONSTRAINT "PersonalAccessToken_expiresOn_check" CHECK ("expiresOn" IS NULL OR "expiresOn" > "createdOn");
"""


def test_check_constraint_over_a_token_that_expired_before_it_was_created(databases, template, clean, tmp_path,
                                                                           prisma_cli) -> None:
    scenario, rollback = ours_failed(databases, template, CHECK, CHECK_SQL, tmp_path, prisma_cli)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "not_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 2
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("check_violation", True, 1, 2), cause
    assert [r[0] for r in scenario.sql(listing_query(report["next_step"]))] == ["pat-3"]
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "PersonalAccessToken" SET "expiresOn" = "createdOn" + interval '90 days'
                    WHERE id = 'pat-3'""")
    recovers_forward(databases, clean, scenario, CHECK, CHECK_SQL)

    assert "statement 1" in rolls_back(databases, rollback, CHECK, template)  # the index it made is dropped


# --- PRIMARY KEY over NULL and duplicate keys: `id @id` replaced by `@@id([userUid, name])` with `name`
# made required, as `prisma migrate dev` writes it (SET NOT NULL, then ADD PRIMARY KEY, in one ALTER);
# ann's global environment has no name, and two of her environments are called "dev"
PKEY = "20260102000000_user_environment_id_user_and_name"
PKEY_SQL = """\
/*
  Warnings:

  - The primary key for the `UserEnvironment` table will be changed. If it partially fails, the table could be left without primary key constraint.
  - You are about to drop the column `id` on the `UserEnvironment` table. All the data in the column will be lost.
  - Made the column `name` on table `UserEnvironment` required, but there are 1 existing NULL values.

*/
-- AlterTable
ALTER TABLE "UserEnvironment" DROP CONSTRAINT "UserEnvironment_pkey",
DROP COLUMN "id",
ALTER COLUMN "name" SET NOT NULL,
ADD CONSTRAINT "UserEnvironment_pkey" PRIMARY KEY ("userUid", "name");

-- CreateIndex
CREATE INDEX "UserEnvironment_name_idx" ON "UserEnvironment"("name");
"""


def test_primary_key_change_over_a_null_name_and_two_environments_with_one_name(databases, template, clean,
                                                                                tmp_path, prisma_cli) -> None:
    scenario, rollback = ours_failed(databases, template, PKEY, PKEY_SQL, tmp_path, prisma_cli)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["not_done", "not_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 1
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("nulls", True, 1, 1), \
        cause
    assert [r[0] for r in scenario.sql(listing_query(report["next_step"]))] == ["ue-3"]  # the unnamed one
    assert report["exit_code"] == 1
    assert scenario.sql("""SELECT count(*) FROM "UserEnvironment" """) == [(4,)]  # the failed ALTER dropped nothing

    scenario.sql("""UPDATE "UserEnvironment" SET name = 'global' WHERE id = 'ue-3'""")  # only the NULL fixed
    report = plan_report(scenario)
    cause = report["cause"]  # SET NOT NULL now passes; the PRIMARY KEY in the same ALTER still fails
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("duplicates", True, 2, 1), cause
    assert scenario.sql(listing_query(report["next_step"])) == [("u-ann", "dev", 2)]
    assert report["exit_code"] == 1

    scenario.sql("""UPDATE "UserEnvironment" SET name = 'dev-2' WHERE id = 'ue-2'""")
    recovers_forward(databases, clean, scenario, PKEY, PKEY_SQL)
    assert scenario.sql("""SELECT "userUid", name FROM "UserEnvironment" ORDER BY 1, 2""") == \
        [("u-ann", "dev"), ("u-ann", "dev-2"), ("u-ann", "global"), ("u-bob", "dev")]

    rolls_back(databases, rollback, PKEY, template)


# --- DELETE still referenced: the team relation becomes ON DELETE RESTRICT (Prisma's default for a
# required relation), then a data migration removes teams without members; team t-2 still has a collection
DELETE = "20260103000000_remove_teams_without_members"
DELETE_SQL = """\
-- DropForeignKey
ALTER TABLE "TeamCollection" DROP CONSTRAINT "TeamCollection_teamID_fkey";

-- AddForeignKey
ALTER TABLE "TeamCollection" ADD CONSTRAINT "TeamCollection_teamID_fkey" FOREIGN KEY ("teamID") REFERENCES "Team"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Remove teams nobody belongs to any more
DELETE FROM "Team" WHERE NOT EXISTS (SELECT 1 FROM "TeamMember" WHERE "TeamMember"."teamID" = "Team"."id");
"""


def test_delete_of_a_team_a_collection_still_references(databases, template, clean, tmp_path, prisma_cli) -> None:
    scenario, rollback = ours_failed(databases, template, DELETE, DELETE_SQL, tmp_path, prisma_cli)

    report = plan_report(scenario)

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    assert effects(report) == ["done", "done", "not_done"], diagnosis["statements"]
    assert diagnosis["failing_statement"] == 3
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == \
        ("orphans", True, 1, 3), cause
    assert "TeamCollection" in cause["summary"], cause
    assert [r[0] for r in scenario.sql(listing_query(report["next_step"]))] == ["c-2"]  # t-2's collection
    assert report["exit_code"] == 1
    # the dropped foreign key comes back from the earlier schema: the option offered is the rollback
    # below (which needs no restore), not a restore
    alternatives = report["plan"]["alternatives"]
    assert len(alternatives) == 1 and "migration-guard recover --mode rollback" in alternatives[0], alternatives
    assert "would need the backup restored" not in alternatives[0], alternatives

    scenario.sql("""DELETE FROM "TeamCollection" WHERE id = 'c-2'""")
    recovers_forward(databases, clean, scenario, DELETE, DELETE_SQL)
    assert scenario.sql("""SELECT id FROM "Team" ORDER BY id""") == [("t-1",)]

    rolls_back(databases, rollback, DELETE, template)
    assert rollback.sql("""SELECT pg_get_constraintdef(oid) FROM pg_constraint
                           WHERE conname = 'TeamCollection_teamID_fkey'""") == \
        [("FOREIGN KEY (\"teamID\") REFERENCES \"Team\"(id) ON UPDATE CASCADE ON DELETE CASCADE",)]
