"""Schema snapshots and drift against real databases: a shadow database built from the applied
migrations is compared with the live schema; every kind of difference is listed."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from migration_guard.tasks.settings import load_settings
from migration_guard.tasks.project import Project
from migration_guard.tasks.schema import check_drift, compare_snapshots, snapshot_schema
from tests.helpers import make_prisma_project
from tests.pg_server import with_database

MIGRATIONS = {
    "20240101000000_init": """\
CREATE TYPE "Status" AS ENUM ('OPEN', 'DONE');
CREATE TABLE "Task" (
    "id" SERIAL NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "status" "Status" NOT NULL DEFAULT 'OPEN',
    "due" TIMESTAMP(3),
    "ownerId" INTEGER,
    CONSTRAINT "Task_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Owner" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);
CREATE UNIQUE INDEX "Owner_email_key" ON "Owner"("email");
ALTER TABLE "Task" ADD CONSTRAINT "Task_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "Owner"("id");
""",
    "20240102000000_more": """\
CREATE SEQUENCE "ticket_seq" INCREMENT BY 5;
ALTER TABLE "Task" ADD CONSTRAINT "Task_title_check" CHECK (length("title") > 0);
CREATE INDEX "Task_due_idx" ON "Task"("due");
ALTER TYPE "Status" ADD VALUE 'ARCHIVED';
""",
}


def _applied_project(tmp_path: Path, db_url: str) -> Project:
    directory = make_prisma_project(tmp_path, MIGRATIONS)
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=directory))
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        for migration in project.ledger.read_migrations():
            for statement in migration.sql.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            project.ledger.record_finished(conn, project.ledger.record_started(conn, migration))
    return project


def test_snapshot_reads_every_kind(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    _applied_project(tmp_path, db_url)
    db.execute('ALTER TABLE "Task" ADD CONSTRAINT "Task_id_check" CHECK ("id" > 0) NOT VALID')

    snapshot = snapshot_schema(db, ["public"])

    assert ("public", "_prisma_migrations") not in snapshot.tables
    title = snapshot.column("public", "Task", "title")
    assert (title.type, title.nullable) == ("character varying(200)", False)
    assert snapshot.column("public", "Task", "status").default == "'OPEN'::\"Status\""
    assert snapshot.column("public", "Task", "due").type == "timestamp(3) without time zone"
    assert snapshot.enums[("public", "Status")] == ("OPEN", "DONE", "ARCHIVED")
    assert snapshot.sequences[("public", "ticket_seq")].increment == 5
    assert snapshot.indexes[("public", "Owner_email_key")].unique
    assert snapshot.constraints[("public", "Task", "Task_ownerId_fkey")].columns == ("ownerId",)
    assert not snapshot.constraints[("public", "Task", "Task_id_check")].validated
    assert "plpgsql" in snapshot.extensions


def test_no_drift_when_live_matches_the_migrations(tmp_path: Path, db_url: str) -> None:
    report = check_drift(_applied_project(tmp_path, db_url))

    assert report.checked and report.clean, report.differences
    assert report.applied_migrations == list(MIGRATIONS)
    assert "dropped" in report.shadow


def test_every_kind_of_drift_is_listed(tmp_path: Path, db_url: str, db: psycopg.Connection,
                                       pg_admin_url: str) -> None:
    project = _applied_project(tmp_path, db_url)
    db.execute('ALTER TABLE "Task" ADD COLUMN "notes" TEXT')
    db.execute('ALTER TABLE "Task" ALTER COLUMN "due" SET NOT NULL')
    db.execute('ALTER TABLE "Task" ALTER COLUMN "status" DROP DEFAULT')
    db.execute('DROP INDEX "Task_due_idx"')
    db.execute('ALTER TABLE "Task" DROP CONSTRAINT "Task_title_check"')
    db.execute('ALTER TABLE "Task" ADD CONSTRAINT "Task_title_check" CHECK (length("title") > 0) NOT VALID')
    db.execute('CREATE TABLE "Extra" (id int)')
    db.execute('DROP SEQUENCE "ticket_seq"')

    report = check_drift(project)

    found = {(d.kind, d.object_type, d.name) for d in report.differences}
    assert found == {
        ("unexpected", "column", "public.Task.notes"),
        ("changed", "column", "public.Task.due"),
        ("changed", "column", "public.Task.status"),
        ("missing", "index", "public.Task_due_idx"),
        ("changed", "constraint", "public.Task.Task_title_check"),
        ("unexpected", "table", "public.Extra"),
        ("missing", "sequence", "public.ticket_seq"),
    }
    assert all(d.describe() for d in report.differences)
    shadow = report.shadow.split()[2]  # "temporary database mg_shadow_... (dropped)"
    assert shadow.startswith("mg_shadow_")
    with psycopg.connect(pg_admin_url) as admin:  # the temporary shadow database is gone
        assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (shadow,)).fetchone()[0] == 0


def test_shadow_database_url_is_reset_and_reused(tmp_path: Path, db_url: str, pg_admin_url: str) -> None:
    name = f"mg_test_shadow_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        shadow_url = with_database(pg_admin_url, name)
        with psycopg.connect(shadow_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE leftover (id int)")
        project = _applied_project(tmp_path, db_url)
        project = Project.from_settings(project.settings.model_copy(update={
            "shadow_database_url": load_settings(shadow_database_url=shadow_url).shadow_database_url}))

        report = check_drift(project)

        assert report.clean and report.shadow == "SHADOW_DATABASE_URL"
        same = Project.from_settings(project.settings.model_copy(update={
            "shadow_database_url": load_settings(shadow_database_url=db_url).shadow_database_url}))
        refused = check_drift(same)
        assert not refused.checked and "live database" in refused.reason
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_without_createdb_the_check_says_what_to_configure(tmp_path: Path, db_url: str, pg_admin_url: str) -> None:
    project = _applied_project(tmp_path, db_url)
    role = f"mg_nocreatedb_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB").format(sql.Identifier(role)))
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)))
        limited = db_url.replace("postgres@", f"{role}@", 1)
        assert limited != db_url
        report = check_drift(Project.from_settings(project.settings.model_copy(update={
            "database_url": load_settings(database_url=limited).database_url})))

        assert not report.checked
        assert "CREATEDB" in report.reason or "SHADOW_DATABASE_URL" in report.reason
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_compare_snapshots_ignores_column_order(db: psycopg.Connection) -> None:
    db.execute("CREATE SCHEMA a; CREATE SCHEMA b")
    db.execute("CREATE TABLE a.t (x int, y text); CREATE TABLE b.t (y text, x int)")

    first = snapshot_schema(db, ["a"])
    second = snapshot_schema(db, ["b"])
    second.tables = {("a", n): t for (_, n), t in second.tables.items()}

    assert compare_snapshots(first, second) == []
