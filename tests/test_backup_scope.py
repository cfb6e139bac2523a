"""Scoped pre-change backups against real PostgreSQL and the real pg_dump / pg_restore: what the
statement analysis puts in scope (known DML targets, DO blocks, unknowable writes), that a scoped
backup restores the touched tables and their schema exactly (into a new database and over the
live one), that a restore over the live database leaves every other table's data alone (rows
written after the backup included), and safe-migrate end to end with BACKUP_SCOPE=scoped."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.backup import create_backup, list_backups, plan_restore, restore_backup, verify_backup
from migration_guard.tasks.backup.create import preflight
from migration_guard.tasks.backup.retention import select_expired
from migration_guard.tasks.backup.scope import BackupScope, analyze_sql, choose_scope
from migration_guard.tasks.backup.scoped import scope_for_change
from tests.helpers import add_prisma_migration, make_prisma_project, mounted_tmpfs, run_cli

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id), total numeric(10,2) NOT NULL);
CREATE INDEX orders_user ON orders (user_id);
CREATE TABLE items (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id), sku text);
CREATE TABLE events (id bigserial PRIMARY KEY, payload text);
CREATE VIEW order_totals AS SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id;
INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
INSERT INTO orders (user_id, total) SELECT 1 + g % 50, g * 1.25 FROM generate_series(1, 400) g;
INSERT INTO items (order_id, sku) SELECT 1 + g % 400, 'sku-' || g FROM generate_series(1, 300) g;
INSERT INTO events (payload) SELECT repeat('e', 200) FROM generate_series(1, 2000) g;
ANALYZE;
"""

CHANGE = ("ALTER TABLE orders ADD COLUMN note text;\n"
          "CREATE INDEX orders_total ON orders (total);\n"
          "UPDATE orders SET total = total * 2 WHERE id <= 100;\n"
          "DELETE FROM orders WHERE id > 390 AND NOT EXISTS (SELECT 1 FROM items WHERE items.order_id = orders.id);\n")


def checksum(conn: psycopg.Connection, table: str) -> tuple[int, str]:
    """(row count, md5 of every row in key order) — identical data gives identical checksums."""
    row = conn.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t").fetchone()
    return int(row[0]), row[1]


def table_schema(conn: psycopg.Connection, table: str) -> tuple:
    """Columns (name, type, nullability, default), indexes and constraints of ``table``."""
    columns = conn.execute(
        "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (table,)).fetchall()
    indexes = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s ORDER BY 1",
                           (table,)).fetchall()
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass ORDER BY 1",
        (f"public.{table}",)).fetchall()
    return tuple(columns), tuple(indexes), tuple(constraints)


def scoped(db: psycopg.Connection, sql: str) -> BackupScope:
    return scope_for_change(db, "scoped", analyze_sql([("m", sql)]))


# ---- what is in scope


def test_known_update_and_delete_targets_are_in_scope_and_reads_are_not(db: psycopg.Connection) -> None:
    db.execute(SCHEMA)
    scope = scoped(db, "UPDATE users SET name = upper(name) WHERE id = 3;\n"
                       "DELETE FROM orders USING users WHERE orders.user_id = users.id AND users.name = 'x';\n")

    assert scope.mode == "scoped"
    assert set(scope.tables) == {("public", "users"), ("public", "orders")}  # users is read AND written
    assert any("UPDATE writes public.users" in r for r in scope.reasons)
    assert any("DELETE writes public.orders" in r for r in scope.reasons)
    only_read = scoped(db, "INSERT INTO items (order_id, sku) SELECT id, 'new' FROM orders WHERE id < 3;\n")
    assert only_read.tables == (("public", "items"),)  # orders is only read


def test_a_do_block_widens_the_scope_to_the_tables_it_names(db: psycopg.Connection) -> None:
    db.execute(SCHEMA)
    plain = scoped(db, "ALTER TABLE orders ADD COLUMN note text;")
    widened = scoped(db, "ALTER TABLE orders ADD COLUMN note text;\n"
                         "DO $$ BEGIN UPDATE events SET payload = 'x' WHERE id = 1; "
                         "EXECUTE 'UPDATE users SET name = name'; END $$;\n")

    assert plain.tables == (("public", "orders"),)
    assert set(widened.tables) == {("public", "orders"), ("public", "events"), ("public", "users")}
    assert any("DO block" in r and "public.events" in r for r in widened.reasons)


@pytest.mark.parametrize("sql, why", [
    ("DO $$ BEGIN EXECUTE format('DELETE FROM %I', 'orders'); END $$;", "EXECUTE of a computed string"),
    ("SELECT archive_old_rows();", "calls archive_old_rows()"),
    ("CALL cleanup();", "CALL"),
    ("TRUNCATE users CASCADE;", "TRUNCATE ... CASCADE"),
    ("ALTER TABLE orders ADD COLUMN ;", "does not parse"),
])
def test_writes_that_cannot_be_known_make_the_backup_full(db: psycopg.Connection, sql: str, why: str) -> None:
    db.execute(SCHEMA)
    scope = scoped(db, "ALTER TABLE orders ADD COLUMN note text;\n" + sql)

    assert scope.mode == "full"
    assert any(why in r for r in scope.reasons), scope.reasons


def test_indexes_count_as_their_tables_and_new_tables_are_left_out(db: psycopg.Connection) -> None:
    db.execute(SCHEMA)
    scope = scoped(db, "DROP INDEX orders_user;\nCREATE TABLE audit (id int);\nALTER TABLE audit ADD COLUMN at date;\n")

    assert scope.tables == (("public", "orders"),)


def test_auto_is_full_below_the_threshold_and_scoped_above_it() -> None:
    touched = analyze_sql([("m", "ALTER TABLE orders ADD COLUMN note text;")])

    small = choose_scope("auto", touched, database_bytes=10 << 20)
    large = choose_scope("auto", touched, database_bytes=2 << 30)

    assert small.mode == "full" and "below 1.0 GiB" in small.reasons[0]
    assert large.mode == "scoped" and large.tables == (("public", "orders"),)
    assert choose_scope("full", touched, database_bytes=2 << 30).mode == "full"


# ---- the backup, its restore and what it leaves alone


def test_scoped_backup_restores_the_touched_tables_and_their_schema_exactly(db_url: str, db: psycopg.Connection,
                                                                           tmp_path: Path) -> None:
    db.execute(SCHEMA)
    before = {t: checksum(db, t) for t in ("orders", "users", "items", "events")}
    schema_before = table_schema(db, "orders")
    scope = scoped(db, CHANGE)
    assert scope.tables == (("public", "orders"),)

    info = create_backup(db_url, tmp_path, reason="pre-migrate", scope=scope)

    assert info.scoped and info.scope_tables == [("public", "orders")]
    assert list_backups(tmp_path)[0].covers() == "schema + 1 table(s): public.orders"
    verified = verify_backup(info.path, restore_check=True, dsn=db_url)  # works on a scoped backup
    assert verified.table_rows == {"public.orders": 400}

    db.execute(CHANGE)
    db.execute("INSERT INTO events (payload) VALUES ('written after the backup')")
    db.execute("INSERT INTO users (name) VALUES ('signed up after the backup')")
    db.execute("UPDATE items SET sku = 'changed after' WHERE id = 7")
    untouched_now = {t: checksum(db, t) for t in ("users", "items", "events")}
    assert checksum(db, "orders") != before["orders"] and table_schema(db, "orders") != schema_before

    plan = plan_restore(info.path, db_url)
    assert plan.scoped and list(plan.replaced_tables) == ["public.orders"]
    assert set(plan.untouched_tables) == {"public.users", "public.items", "public.events"}
    assert any("items_order_id_fkey" in c for c in plan.clearing)  # dropped first, re-added from the backup
    assert any("order_totals" in line for line in plan.describe())
    restore_backup(info.path, db_url, replace_existing=True)

    assert checksum(db, "orders") == before["orders"]
    assert table_schema(db, "orders") == schema_before  # the column and the index the change added are gone
    assert {t: checksum(db, t) for t in ("users", "items", "events")} == untouched_now  # incl. rows written after
    assert db.execute("SELECT count(*) FROM order_totals").fetchone()[0] == 50  # the view on orders is back
    assert db.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'items_order_id_fkey'").fetchone()[0] == 1
    db.execute("INSERT INTO orders (user_id, total) VALUES (1, 1)")  # the owned sequence continues past the old rows

    restored = restore_backup(info.path, db_url, into_new_database=f"{db.info.dbname}_new")
    try:
        with psycopg.connect(db_url.rsplit("/", 1)[0] + f"/{restored.database}") as new:
            assert checksum(new, "orders") == before["orders"]
            assert table_schema(new, "orders")[:2] == schema_before[:2]
            assert checksum(new, "events")[0] == 0  # the schema of untouched tables, not their data
    finally:
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored.database}" WITH (FORCE)')


def test_a_scoped_dump_is_sized_and_written_by_the_scoped_tables_only(db_url: str, db: psycopg.Connection,
                                                                      tmp_path: Path) -> None:
    db.execute(SCHEMA)
    db.execute("INSERT INTO events (payload) SELECT repeat(md5(g::text), 60) FROM generate_series(1, 20000) g; ANALYZE events")
    scope = scoped(db, "ALTER TABLE users ADD COLUMN email text;")

    full_estimate = preflight(db_url, tmp_path).estimated_bytes
    scoped_estimate = preflight(db_url, tmp_path, scope=scope).estimated_bytes
    full = create_backup(db_url, tmp_path, reason="full")
    small = create_backup(db_url, tmp_path, reason="scoped", scope=scope)

    assert scoped_estimate < full_estimate
    assert small.size_bytes * 5 < full.size_bytes
    assert full.scope is None and not full.scoped and full.covers() == "full"


def test_retention_keeps_the_newest_full_backup_when_only_scoped_ones_are_newer(tmp_path: Path) -> None:
    from migration_guard.tasks.backup.metadata import BackupInfo

    now = datetime.now(timezone.utc)

    def backup(age_days: int, scoped_: bool) -> BackupInfo:
        return BackupInfo(tmp_path / f"b{age_days}.dump", "app", now - timedelta(days=age_days), 1, "x", "pre-migrate",
                          scope={"mode": "scoped", "tables": [["public", "t"]]} if scoped_ else None)

    backups = [backup(1, True), backup(2, True), backup(30, False), backup(40, False)]

    expired = select_expired(backups, keep_last=2, keep_days=7, now=now)

    assert [b.path.name for b in expired] == ["b40.dump"]  # b30 is the newest full one: kept


def test_safe_migrate_with_scoped_backups_restores_on_failure(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": SCHEMA.replace("ANALYZE;", "")})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "BACKUP_DIR": str(tmp_path / "backups"),
           "ALERTS_DIR": str(tmp_path / "alerts"), "BACKUP_SCOPE": "scoped"}
    assert run_cli(["migrate"], env=env).exit_code == 0
    add_prisma_migration(migrations, "20240102000000_orders", CHANGE)
    before = checksum(db, "orders")

    result = run_cli(["migrate", "--json", "--on-failure", "restore", "--startup-check-command", "false"], env=env)

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["backup"]["scope"]["mode"] == "scoped"
    assert sorted(map(tuple, report["backup"]["scope"]["tables"])) == [("public", "_prisma_migrations"), ("public", "orders")]
    assert report["restored"]["replaced"]
    assert checksum(db, "orders") == before
    assert db.execute("SELECT count(*) FROM _prisma_migrations WHERE migration_name = '20240102000000_orders'").fetchone()[0] == 0
    listing = json.loads(run_cli(["backup", "list", "--json"], env=env).stdout)
    assert [b["covers"] for b in listing] == ["schema + 2 table(s): public._prisma_migrations, public.orders",
                                              "schema only"]  # the init run created every table: no data to keep


def test_recover_takes_a_scoped_backup_of_the_failed_migrations_tables(tmp_path: Path, db_url: str) -> None:
    from migration_guard.tasks.project import Project
    from migration_guard.tasks.recover.steps import backup_step
    from migration_guard.tasks.settings import load_settings
    from tests.helpers import make_sql_project

    folder = make_sql_project(tmp_path, {
        "0001_base": "CREATE TABLE items (id int PRIMARY KEY, sku text);\nCREATE TABLE logs (id int, line text);\n",
        "0002_sku": "ALTER TABLE items ADD COLUMN price int;\nCREATE UNIQUE INDEX items_sku_key ON items (sku);\n"})
    project = Project.from_settings(load_settings(database_url=db_url, migrations_dir=folder, backup_dir=tmp_path / "b",
                                                  alerts_dir=tmp_path / "a", backup_scope="scoped"))
    base, change = project.ledger.read_migrations()
    with psycopg.connect(db_url, autocommit=True) as conn:
        project.ledger.ensure_table(conn)
        conn.execute(base.sql)
        project.ledger.record_finished(conn, project.ledger.record_started(conn, base))
        conn.execute("INSERT INTO items VALUES (1, 'a'), (2, 'a'); INSERT INTO logs SELECT g, 'x' FROM generate_series(1, 99) g")
        entry = project.ledger.record_started(conn, change)
        conn.execute("ALTER TABLE items ADD COLUMN price int")
        project.ledger.record_failed(conn, entry, "statement 2 failed: could not create unique index (SQLSTATE 23505)")

    backup = backup_step(project, "0001_base")

    assert backup["verified"] and backup["scope"]["mode"] == "scoped"
    assert {tuple(t) for t in backup["scope"]["tables"]} == {
        ("public", "items"), (project.ledger.table_schema, project.ledger.table_name)}  # logs is not touched
    full = backup_step(Project.from_settings(project.settings.model_copy(update={"backup_scope": "full"})), "0001_base")
    assert full["scope"]["mode"] == "full" and full["size_bytes"] > backup["size_bytes"]


def test_schemas_without_scoped_tables_are_excluded_by_one_pattern(db_url: str, db: psycopg.Connection,
                                                                   tmp_path: Path) -> None:
    from migration_guard.tasks.backup.scoped import read_scope_catalog, scoped_dump_args

    db.execute(SCHEMA)
    db.execute('CREATE SCHEMA "Arch""ive"; CREATE TABLE "Arch""ive".old1 (id int); CREATE TABLE "Arch""ive".old2 (id int);'
               'INSERT INTO "Arch""ive".old1 VALUES (1), (2)')
    scope = scoped(db, "ALTER TABLE orders ADD COLUMN note text;")

    args = scoped_dump_args(read_scope_catalog(db, scope))
    info = create_backup(db_url, tmp_path, reason="pre-migrate", scope=scope)

    assert '--exclude-table-data="Arch""ive".*' in args and not any("old1" in a for a in args)
    verified = verify_backup(info.path, restore_check=True, dsn=db_url)
    assert verified.table_rows == {"public.orders": 400} and verified.data_entries == 1  # only orders' data


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A real 24 MiB tmpfs (needs root and mount permission; skipped otherwise)."""
    with mounted_tmpfs("24m", "mg-small-") as mount_point:
        yield mount_point


def test_the_disk_check_sizes_a_scoped_backup_by_its_tables(db_url: str, db: psycopg.Connection,
                                                            small_disk: Path) -> None:
    from migration_guard.tasks.backup import BackupSpaceError

    db.execute(SCHEMA)
    db.execute("CREATE TABLE blobs AS SELECT g AS id, (SELECT string_agg(md5(random()::text || g || s), '') "
               "FROM generate_series(1, 32) s) AS body FROM generate_series(1, 30000) g")
    db.execute("VACUUM ANALYZE blobs")
    scope = scoped(db, "ALTER TABLE orders ADD COLUMN note text;")

    with pytest.raises(BackupSpaceError):
        create_backup(db_url, small_disk, reason="full")  # ~30 MiB of hex text does not fit with the margin
    info = create_backup(db_url, small_disk, reason="pre-migrate", scope=scope)

    assert info.scoped and info.size_bytes < 1 << 20


def test_a_bad_backup_scope_is_one_line_and_exit_2(tmp_path: Path, db_url: str) -> None:
    make_prisma_project(tmp_path, {})
    result = run_cli(["migrate", "--dry-run"], env={"DATABASE_URL": db_url, "BACKUP_SCOPE": "most",
                                                    "MIGRATIONS_DIR": str(tmp_path / "prisma" / "migrations")})

    assert result.exit_code == 2
    assert "BACKUP_SCOPE: expected one of auto, scoped, full, got 'most'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text, key", [
    ("orders", ("public", "orders")), ("Sales.Orders", ("sales", "orders")), ('"Sales"."Or""ders"', ("Sales", 'Or"ders')),
    ('"a.b"', ("public", "a.b")),
])
def test_table_names_parse_as_people_paste_them(text: str, key: tuple[str, str]) -> None:
    from migration_guard.tasks.backup.scope import parse_table_name

    assert parse_table_name(text) == key


@pytest.mark.parametrize("text", ["", "a.b.c", '"open', "a..b"])
def test_bad_table_names_are_refused(text: str) -> None:
    from migration_guard.tasks.backup.scope import parse_table_name

    with pytest.raises(ValueError):
        parse_table_name(text)


def test_migrate_backup_scope_full_is_one_option_away(tmp_path: Path, db_url: str) -> None:
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": "CREATE TABLE t (id int);\n"})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "BACKUP_DIR": str(tmp_path / "backups"),
           "ALERTS_DIR": str(tmp_path / "alerts"), "BACKUP_SCOPE": "scoped"}

    result = run_cli(["migrate", "--json", "--backup-scope", "full"], env=env)

    assert result.exit_code == 0, result.output
    scope = json.loads(result.stdout)["backup"]["scope"]
    assert scope["mode"] == "full" and scope["policy"] == "full"
    bad = run_cli(["migrate", "--backup-scope", "some"], env=env)
    assert bad.exit_code == 2 and "expected one of auto, scoped, full, got 'some'" in bad.output


def test_backups_record_the_server_and_database_identity(db_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute("CREATE TABLE t (id int)")
    info = create_backup(db_url, tmp_path / "backups", reason="manual")
    system, oid = db.execute("SELECT (SELECT system_identifier::text FROM pg_control_system()), "
                             "(SELECT oid::bigint FROM pg_database WHERE datname = current_database())").fetchone()
    assert (info.system_identifier, info.database_oid) == (system, oid)
    listed = [b for b in list_backups(tmp_path / "backups") if b.path == info.path]
    assert listed and (listed[0].system_identifier, listed[0].database_oid) == (system, oid)
