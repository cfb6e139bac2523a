"""Issue 13, items 1, 3 and 4: diagnosis by replay in a shadow database on a data migration that
touches the same objects twice, failed by the real Prisma CLI in split mode; following only the
tool's own `next:` advice gets out; rollback knows what its drops undo; a restore names a backup of
THIS database (never another database's newest file)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.test_recover_support import Scenario

pytestmark = [pytest.mark.prisma]

INIT = "20240101000000_init"
INIT_SQL = """\
CREATE TABLE "Post" ("id" SERIAL NOT NULL, "title" TEXT NOT NULL, "authorEmail" TEXT NOT NULL,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Comment" ("id" SERIAL NOT NULL, "postId" INTEGER NOT NULL, "body" TEXT NOT NULL,
    CONSTRAINT "Comment_pkey" PRIMARY KEY ("id"));
ALTER TABLE "Comment" ADD CONSTRAINT "Comment_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post"("id")
    ON DELETE RESTRICT ON UPDATE CASCADE;
"""
AUTHORS = "20240201000000_authors"
#: touches objects twice: ADD COLUMN then SET NOT NULL (2 -> 4), CREATE TABLE then DROP COLUMN
#: (5 -> 11), DROP then re-ADD of a foreign key (9 -> 10); fails at 7 (INSERT ... SELECT, unique key)
AUTHORS_SQL = """\
-- AlterTable
ALTER TABLE "Post" ADD COLUMN "status" TEXT;
-- fill it
UPDATE "Post" SET "status" = 'published';
-- AlterTable
ALTER TABLE "Post" ALTER COLUMN "status" SET NOT NULL;
ALTER TABLE "Post" ALTER COLUMN "status" SET DEFAULT 'draft';
-- CreateTable
CREATE TABLE "Author" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "legacy" TEXT,
    CONSTRAINT "Author_pkey" PRIMARY KEY ("id"));
CREATE UNIQUE INDEX "Author_email_key" ON "Author"("email");
-- data
INSERT INTO "Author" ("email") SELECT "authorEmail" FROM "Post";
ALTER TABLE "Post" ADD COLUMN "authorId" INTEGER;
-- redo the comment FK with cascade
ALTER TABLE "Comment" DROP CONSTRAINT "Comment_postId_fkey";
ALTER TABLE "Comment" ADD CONSTRAINT "Comment_postId_fkey" FOREIGN KEY ("postId") REFERENCES "Post"("id")
    ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Author" DROP COLUMN "legacy";
"""
LATER = "20240301000000_later"
LATER_SQL = 'ALTER TABLE "Author" ADD COLUMN "name" TEXT;\n'


def _incident(tmp_path: Path, db_url: str, prisma: Path) -> Scenario:
    scenario = Scenario(tmp_path, db_url, prisma, {INIT: INIT_SQL})
    assert scenario.deploy().returncode == 0
    scenario.sql("""INSERT INTO "Post" (title, "authorEmail") VALUES ('a', 'ann@x.io'), ('b', 'bob@x.io'),
                    ('c', 'ann@x.io')""")
    scenario.sql("""INSERT INTO "Comment" ("postId", body) VALUES (1, 'hi')""")
    scenario.add(AUTHORS, AUTHORS_SQL)
    assert scenario.deploy(split=True).returncode != 0
    return scenario


def _report(scenario: Scenario, *args: str) -> dict:
    result = scenario.recover(*args, "--json")
    return json.loads(result.output)


def test_touched_twice_is_diagnosed_exactly_by_replay(tmp_path: Path, db_url: str, prisma_cli: Path) -> None:
    scenario = _incident(tmp_path, db_url, prisma_cli)

    report = _report(scenario, "--plan")

    diagnosis = report["diagnosis"]
    assert diagnosis["method"] == "replay", diagnosis["note"]
    effects = [row["effect"] for row in diagnosis["statements"]]
    assert effects == ["done"] * 6 + ["not_done"] * 5, diagnosis["statements"]
    assert diagnosis["failing_statement"] == 7 and diagnosis["failing_source"] == "ledger logs"
    cause = report["cause"]
    assert (cause["kind"], cause["present"], cause["offending_rows"], cause["statement"]) == ("duplicates", True, 2, 7)
    assert report["exit_code"] == 1


def test_following_only_the_tools_advice_after_the_data_fix_goes_forward(tmp_path: Path, db_url: str,
                                                                         prisma_cli: Path) -> None:
    scenario = _incident(tmp_path, db_url, prisma_cli)
    first = scenario.recover("--plan")
    assert first.exit_code == 1
    advice = _next(first.output)
    assert "fix the offending rows" in advice
    listing = re.search(r"list them with: (.*?)\) then", advice).group(1)
    assert len(scenario.sql(listing.split("; --")[0])) == 2  # the clashing rows, as the tool lists them
    scenario.sql("""UPDATE "Post" SET "authorEmail" = 'ann2@x.io' WHERE id = 3""")  # the person fixes the data

    plan = scenario.recover("--plan")
    assert plan.exit_code == 0, plan.output
    assert "run without --plan" in _next(plan.output)
    done = scenario.recover("--yes")

    assert done.exit_code == 0, done.output
    assert "partly" not in done.output
    status = scenario.prisma_status()
    assert status.returncode == 0, status.stdout + status.stderr
    assert scenario.drift().clean, scenario.drift().differences
    scenario.add(LATER, LATER_SQL)
    assert scenario.deploy().returncode == 0
    assert scenario.prisma_status().returncode == 0
    assert scenario.sql('SELECT count(*) FROM "Author"') == [(3,)]


def test_rollback_drops_what_the_update_wrote_and_needs_no_restore(tmp_path: Path, db_url: str,
                                                                   prisma_cli: Path) -> None:
    scenario = _incident(tmp_path, db_url, prisma_cli)

    rolled = scenario.recover("--mode", "rollback", "--yes", "--no-backup")

    assert rolled.exit_code == 0, rolled.output
    assert "undone by a drop: statement 2" in rolled.output and "Post.status" in rolled.output
    assert "restore" not in rolled.output
    assert "status" not in scenario.columns("Post")
    assert scenario.sql("SELECT to_regclass('\"Author\"')") == [(None,)]
    assert scenario.drift().clean  # the schema equals the earlier migrations' (the only one applied: init)
    scenario.sql("""UPDATE "Post" SET "authorEmail" = 'ann2@x.io' WHERE id = 3""")
    assert scenario.deploy(split=True).returncode == 0
    status = scenario.prisma_status()
    assert status.returncode == 0, status.stdout + status.stderr
    assert scenario.drift().clean


def test_a_restore_names_a_backup_of_this_database_or_says_none_exists(tmp_path: Path, db_url: str,
                                                                       prisma_cli: Path, pg_admin_url: str) -> None:
    import psycopg

    from migration_guard.tasks.backup import create_backup

    # another database's backup, newer than everything, in the same BACKUP_DIR
    other = f"mg_other_{tmp_path.name[-8:].replace('-', '_')}".lower()
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{other}"')
        admin.execute(f'CREATE DATABASE "{other}"')
    try:
        scenario = Scenario(tmp_path, db_url, prisma_cli, {INIT: INIT_SQL})
        assert scenario.deploy().returncode == 0
        scenario.sql("""INSERT INTO "Post" (title, "authorEmail") VALUES ('a', 'ann@x.io'), ('b', 'ann@x.io')""")
        scenario.add(AUTHORS, AUTHORS_SQL.replace("UPDATE \"Post\" SET", "UPDATE \"Comment\" SET \"body\" = 'x';\n"
                                                 "UPDATE \"Post\" SET"))
        assert scenario.deploy(split=True).returncode != 0
        other_url = pg_admin_url.rsplit("/", 1)[0] + f"/{other}"
        create_backup(other_url, scenario.backups, reason="manual")

        none = scenario.recover("--mode", "rollback", "--plan")
        assert none.exit_code == 1
        advice = _next(none.output)
        assert "no backup of this database" in advice and "1 backup(s) there are of other databases" in advice
        assert other not in none.output and "<path>" not in none.output

        # a backup of THIS database taken before the attempt: the ledger row's start is moved after it
        mine = create_backup(db_url, scenario.backups, reason="pre-migrate")
        scenario.sql("UPDATE _prisma_migrations SET started_at = now() WHERE finished_at IS NULL")
        create_backup(other_url, scenario.backups, reason="manual")  # the newest file is another database's
        named = scenario.recover("--mode", "rollback", "--plan")
        advice = _next(named.output)
        assert str(mine.path) in advice and other not in advice and "<path>" not in advice
        assert "irreversible: statement 2" in named.output  # the UPDATE of a column that existed before
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def _next(output: str) -> str:
    return [line for line in output.splitlines() if line.strip().startswith("next:")][-1]


#: statements touched twice, DML with no schema effect (look-alike prefixes), a SET, an enum value
#: added (runs alone), a non-transactional index build, a SELECT (may reach anything), a rename,
#: and a statement that fails in the shadow too
BLOCKS_SQL = """\
CREATE TABLE "a" ("id" INTEGER PRIMARY KEY, "x" TEXT);
CREATE TYPE "mood" AS ENUM ('sad');
INSERT INTO "a" VALUES (1, 'q');
UPDATE "a" SET "x" = 'r';
SET lock_timeout = '1s';
ALTER TABLE "a" ADD COLUMN "y" INTEGER DEFAULT 0;
ALTER TYPE "mood" ADD VALUE 'happy';
ALTER TABLE "a" ALTER COLUMN "y" SET NOT NULL;
CREATE INDEX CONCURRENTLY "a_x_idx" ON "a" ("x");
CREATE TABLE "b" ("id" INTEGER PRIMARY KEY, "a_id" INTEGER, "legacy" TEXT);
ALTER TABLE "b" ADD CONSTRAINT "b_fk" FOREIGN KEY ("a_id") REFERENCES "a"("id");
INSERT INTO "b" SELECT id, id, 'l' FROM "a";
ALTER TABLE "b" DROP CONSTRAINT "b_fk";
ALTER TABLE "b" ADD CONSTRAINT "b_fk" FOREIGN KEY ("a_id") REFERENCES "a"("id") ON DELETE CASCADE;
ALTER TABLE "b" DROP COLUMN "legacy";
SELECT 1;
DELETE FROM "b";
ALTER TABLE "b" RENAME TO "c";
ALTER TABLE "nosuch" ADD COLUMN "z" INT;
ALTER TABLE "c" ADD COLUMN "w" INT;
"""


def test_block_replay_finds_exactly_the_prefixes_statement_by_statement_replay_finds(
        db: "psycopg.Connection", pg_admin_url: str) -> None:
    """Blocks of statements per round trip (halved where a prefix inside may match, or a statement
    failed) give the same matching prefixes, replayed count and shadow failure as one statement per
    round trip with a fingerprint after each, for the live database at every prefix. Each live
    state is a schema of the test database, replayed into the same-named schema of one shadow
    database per block size (index definitions name their schema)."""
    import uuid

    import psycopg
    from psycopg import sql

    from migration_guard.tasks.diagnose.replay import (
        fingerprint,
        migration_statements,
        replay_statements,
        touched_names,
    )

    statements = migration_statements(BLOCKS_SQL, "m")
    names = touched_names(statements)
    failing = next(s.index for s in statements if '"nosuch"' in s.text)
    blocks = (1, 3, 64)
    shadows = {block: f"mg_blocks_{block}_{uuid.uuid4().hex[:8]}" for block in blocks}
    seen_windows = set()
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        for name in shadows.values():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            connections = {block: psycopg.connect(pg_admin_url.rsplit("/", 1)[0] + "/" + name, autocommit=True)
                           for block, name in shadows.items()}
            for ran in range(failing + 1):
                schema = sql.Identifier(f"s_{ran}")
                db.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                db.execute(sql.SQL("SET search_path TO {}").format(schema))
                for statement in statements[:ran]:
                    db.execute(statement.text)
                live = fingerprint(db, f"s_{ran}", names)
                found = {}
                for block, shadow in connections.items():
                    shadow.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
                    shadow.execute(sql.SQL("SET search_path TO {}").format(schema))
                    replay = replay_statements(shadow, statements, f"s_{ran}", names, live, block=block)
                    found[block] = (replay.matching, replay.replayed, replay.failed_at)
                assert len(set(map(repr, found.values()))) == 1, (ran, found)
                matching, replayed, failed_at = found[1]
                assert ran in matching and replayed == failing and failed_at == failing, (ran, found[1])
                seen_windows.add(tuple(matching))
        finally:
            for connection in connections.values():
                connection.close()
            for name in shadows.values():
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    # the look-alike windows are there (DML / SET / SELECT make neighbouring prefixes equal)
    assert (2, 3, 4, 5) in seen_windows and (15, 16, 17) in seen_windows, seen_windows
