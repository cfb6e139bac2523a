"""A scoped restore over the live database, against real PostgreSQL and the real pg_dump /
pg_restore / psql: views and foreign keys on scoped tables made AFTER the backup (by someone else
than the change) survive it, re-created from their catalog definitions in the same transaction;
the ones the change made go with the change; a kept foreign key the restored rows violate makes
the restore refuse, naming it, with nothing changed; functions, procedures and triggers the change
dropped come back; names with spaces, quotes, dots and non-ASCII letters go through the archive
listing, the backup and both restores."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from migration_guard.tasks.backup import BackupError, create_backup, plan_restore, restore_backup
from migration_guard.tasks.backup.archive import archive_objects
from migration_guard.tasks.backup.scope import analyze_sql
from migration_guard.tasks.backup.scoped import scope_for_change

SCHEMA = """
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id), total numeric(10,2) NOT NULL,
                     status text NOT NULL DEFAULT 'new');
CREATE TABLE events (id bigserial PRIMARY KEY, payload text);
CREATE TABLE shipments (id int PRIMARY KEY, order_id int);
CREATE VIEW order_totals AS SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id;
CREATE VIEW user_names AS SELECT id, name FROM users;
COMMENT ON VIEW user_names IS 'names only';
INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 50) g;
INSERT INTO orders (user_id, total) SELECT 1 + g % 50, g * 1.25 FROM generate_series(1, 400) g;
ANALYZE;
"""
#: the change the backup is taken for: a column, a view and a named foreign key of its own
CHANGE = """
ALTER TABLE orders ADD COLUMN note text;
UPDATE orders SET total = total * 2 WHERE id <= 100;
CREATE VIEW order_notes AS SELECT id, note FROM orders;
ALTER TABLE events ADD COLUMN order_id int;
ALTER TABLE events ADD CONSTRAINT events_order_fk FOREIGN KEY (order_id) REFERENCES orders(id);
ALTER TABLE shipments ADD FOREIGN KEY (order_id) REFERENCES orders(id);
CREATE OR REPLACE VIEW user_names AS SELECT u.id, u.name, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n
  FROM users u;
"""


def scoped_backup(db: psycopg.Connection, db_url: str, tmp_path: Path, change: str):
    scope = scope_for_change(db, "scoped", analyze_sql([("m", change)]))
    assert scope.mode == "scoped", scope.reasons
    return create_backup(db_url, tmp_path, reason="pre-migrate", scope=scope)


def checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[int, str]:
    row = conn.execute(sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {}.{} t")
                       .format(sql.Identifier(schema), sql.Identifier(table))).fetchone()
    return int(row[0]), row[1]


def views(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'").fetchall())


def foreign_keys(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'").fetchall())


def test_views_and_foreign_keys_made_after_the_backup_survive_a_restore_over_live(
        db_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute(SCHEMA)
    db.execute("DROP ROLE IF EXISTS mg_report_reader")
    db.execute("CREATE ROLE mg_report_reader")
    try:
        views_before = views(db)
        info = scoped_backup(db, db_url, tmp_path, CHANGE)
        assert set(info.scope_tables) >= {("public", "orders"), ("public", "events")}
        db.execute(CHANGE)
        # a DBA's work after the backup, on the scoped table, not part of the change:
        db.execute("CREATE TABLE refunds (id int PRIMARY KEY, order_id int)")
        db.execute("INSERT INTO refunds VALUES (1, 5), (2, 7)")
        db.execute("ALTER TABLE refunds ADD CONSTRAINT refunds_order_fk FOREIGN KEY (order_id) REFERENCES orders(id) "
                   "ON DELETE CASCADE")
        db.execute("CREATE VIEW big_orders WITH (security_barrier = true) AS SELECT id, total FROM orders WHERE total > 100")
        db.execute("CREATE VIEW big_order_count AS SELECT count(*) AS n FROM big_orders")  # a view on the new view
        db.execute("CREATE MATERIALIZED VIEW paid_totals AS SELECT user_id, sum(total) AS total FROM orders GROUP BY 1")
        db.execute("CREATE UNIQUE INDEX paid_totals_user ON paid_totals (user_id)")
        db.execute("COMMENT ON VIEW big_orders IS 'for the weekly report'")
        db.execute("GRANT SELECT ON big_orders TO mg_report_reader")
        db.execute("CREATE VIEW noted_orders AS SELECT id FROM orders WHERE note IS NOT NULL")  # uses the change's column
        kept_views = {v: d for v, d in views(db).items() if v in ("big_orders", "big_order_count")}
        user_names = views_before["user_names"]
        kept_key = foreign_keys(db)["refunds_order_fk"]
        refunds = checksum(db, "public", "refunds")

        plan = plan_restore(info.path, db_url)

        assert plan.kept_since == ["view public.big_orders", "materialized view public.paid_totals",
                                   "view public.big_order_count", "foreign key public.refunds.refunds_order_fk"]
        assert {note.split(":")[0] for note in plan.dropped_since} == {
            "view public.order_notes", "view public.noted_orders", "foreign key public.events.events_order_fk",
            "foreign key public.shipments.shipments_order_id_fkey"}  # unnamed in the change: PostgreSQL's default name
        assert any("noted_orders: uses column(s) public.orders.note" in n for n in plan.dropped_since)
        assert any(line.startswith("  kept (made after the backup") for line in plan.describe())
        result = restore_backup(info.path, db_url, replace_existing=True)

        assert (result.kept_since, result.dropped_since) == (plan.kept_since, plan.dropped_since)

        after = views(db)
        assert {v: after.get(v) for v in kept_views} == kept_views  # same definitions
        assert "order_notes" not in after and "noted_orders" not in after  # the change's own, and one on its column
        assert "order_totals" in after  # the backup's own view
        assert after["user_names"] == user_names  # the change replaced it to read orders: the backup's version is back
        assert db.execute("SELECT obj_description('user_names'::regclass, 'pg_class')").fetchone()[0] == "names only"
        keys = foreign_keys(db)
        assert keys.get("refunds_order_fk") == kept_key and "events_order_fk" not in keys
        assert "shipments_order_id_fkey" not in keys
        assert "orders_user_id_fkey" in keys
        assert checksum(db, "public", "refunds") == refunds
        assert db.execute("SELECT reloptions FROM pg_class WHERE relname = 'big_orders'").fetchone()[0] == ["security_barrier=true"]
        assert db.execute("SELECT obj_description('big_orders'::regclass, 'pg_class')").fetchone()[0] == "for the weekly report"
        assert db.execute("SELECT has_table_privilege('mg_report_reader', 'big_orders', 'SELECT')").fetchone()[0]
        assert db.execute("SELECT count(*) FROM paid_totals").fetchone()[0] == 50  # populated, from the restored rows
        assert db.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'paid_totals_user'").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' "
                          "AND column_name = 'note'").fetchone()[0] == 0
        db.execute("DELETE FROM orders WHERE id = 5")  # the kept key still acts: ON DELETE CASCADE
        assert db.execute("SELECT count(*) FROM refunds WHERE order_id = 5").fetchone()[0] == 0
    finally:
        db.execute("DROP VIEW IF EXISTS big_order_count, big_orders")
        db.execute("DROP ROLE IF EXISTS mg_report_reader")


def test_a_kept_foreign_key_the_restored_rows_violate_makes_the_restore_refuse_naming_it(
        db_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute(SCHEMA)
    info = scoped_backup(db, db_url, tmp_path, "UPDATE orders SET total = 0 WHERE id = 1;")
    db.execute("UPDATE orders SET total = 0 WHERE id = 1")
    db.execute("CREATE TABLE vip (id int PRIMARY KEY)")
    db.execute("INSERT INTO vip SELECT g FROM generate_series(1, 10) g")
    db.execute("DELETE FROM orders WHERE user_id > 10")  # after the backup: the restored rows have them
    db.execute("ALTER TABLE orders ADD CONSTRAINT orders_vip_fk FOREIGN KEY (user_id) REFERENCES vip(id)")
    before = checksum(db, "public", "orders")

    with pytest.raises(BackupError) as caught:
        restore_backup(info.path, db_url, replace_existing=True)

    assert "cannot keep foreign key public.orders.orders_vip_fk, made after the backup" in caught.value.message
    assert "orders_vip_fk" in caught.value.message and "violates foreign key" in caught.value.message
    assert "drop foreign key public.orders.orders_vip_fk first" in caught.value.message  # the way out
    assert checksum(db, "public", "orders") == before  # rolled back: nothing changed
    assert "orders_vip_fk" in foreign_keys(db) and "orders_user_id_fkey" in foreign_keys(db)
    assert "order_totals" in views(db)


ROUTINES = """
CREATE FUNCTION order_code() RETURNS text LANGUAGE sql AS $$ SELECT 'ord-' || md5(random()::text) $$;
CREATE FUNCTION stamp_status() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.status := 'stamped'; RETURN NEW; END $$;
CREATE PROCEDURE close_orders(before_id int) LANGUAGE sql AS $$ UPDATE orders SET status = 'closed' WHERE id < before_id $$;
ALTER TABLE orders ADD COLUMN code text DEFAULT order_code();
CREATE TRIGGER orders_stamp BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION stamp_status();
"""
DROPPING = """
DROP TRIGGER orders_stamp ON orders;
DROP FUNCTION stamp_status();
ALTER TABLE orders ALTER COLUMN code DROP DEFAULT;
DROP FUNCTION order_code();
DROP PROCEDURE close_orders(int);
"""


def test_functions_procedures_and_triggers_the_change_dropped_come_back(db_url: str, db: psycopg.Connection,
                                                                        tmp_path: Path) -> None:
    db.execute(SCHEMA)
    db.execute(ROUTINES)
    info = scoped_backup(db, db_url, tmp_path, DROPPING)
    assert ("public", "orders") in info.scope_tables
    db.execute(DROPPING)
    assert db.execute("SELECT count(*) FROM pg_proc WHERE proname IN ('order_code', 'stamp_status', 'close_orders')"
                      ).fetchone()[0] == 0

    restore_backup(info.path, db_url, replace_existing=True)

    assert db.execute("SELECT count(*) FROM pg_proc WHERE proname IN ('order_code', 'stamp_status', 'close_orders')"
                      ).fetchone()[0] == 3
    row = db.execute("INSERT INTO orders (user_id, total) VALUES (1, 1) RETURNING status, code").fetchone()
    assert row[0] == "stamped" and row[1].startswith("ord-")  # the trigger and the default work again
    db.execute("CALL close_orders(3)")
    assert db.execute("SELECT count(*) FROM orders WHERE status = 'closed'").fetchone()[0] == 2


ODD = """
CREATE SCHEMA "my shop";
CREATE TABLE "my shop"."order items" (id serial PRIMARY KEY, "the note" text, qty int NOT NULL);
CREATE TABLE "my shop"."a.b ""q"" é" (id int PRIMARY KEY, item int REFERENCES "my shop"."order items"(id));
CREATE TABLE "my shop"."order" (id int PRIMARY KEY, item int);
CREATE INDEX "items by note" ON "my shop"."order items" ("the note");
CREATE VIEW "my shop"."big items" AS SELECT * FROM "my shop"."order items" WHERE qty > 5;
COMMENT ON TABLE "my shop"."order items" IS 'line items';
COMMENT ON COLUMN "my shop"."order items"."the note" IS 'free text';
INSERT INTO "my shop"."order items" ("the note", qty) SELECT 'n ' || g, g % 10 FROM generate_series(1, 300) g;
INSERT INTO "my shop"."a.b ""q"" é" SELECT g, g FROM generate_series(1, 20) g;
INSERT INTO "my shop"."order" SELECT g, g FROM generate_series(1, 30) g;
ANALYZE;
"""
ODD_CHANGE = """
ALTER TABLE "my shop"."order items" ADD COLUMN "gift wrap" boolean;
UPDATE "my shop"."order items" SET qty = 0 WHERE id <= 50;
"""


def test_names_with_spaces_quotes_dots_and_unicode_go_through_a_scoped_backup_and_both_restores(
        db_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    db.execute(ODD)
    items, other, order = ("my shop", "order items"), ("my shop", 'a.b "q" é'), ("my shop", "order")
    before = {t: checksum(db, *t) for t in (items, other, order)}
    info = scoped_backup(db, db_url, tmp_path, ODD_CHANGE)
    assert items in info.scope_tables and other not in info.scope_tables and order not in info.scope_tables
    assert info.scope["excluded_tables"] >= 2
    db.execute(ODD_CHANGE)
    db.execute("""INSERT INTO "my shop"."order" VALUES (31, 1)""")  # written after the backup, outside the scope
    order_now = checksum(db, *order)

    plan = plan_restore(info.path, db_url)
    assert list(plan.replaced_tables) == ["my shop.order items"]
    restore_backup(info.path, db_url, replace_existing=True)

    assert checksum(db, *items) == before[items]
    assert checksum(db, *other) == before[other] and checksum(db, *order) == order_now
    assert db.execute("""SELECT count(*) FROM "my shop"."big items" """).fetchone()[0] == 120
    assert db.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'items by note'").fetchone()[0] == 1
    assert db.execute("SELECT conname FROM pg_constraint WHERE contype = 'f'").fetchone()[0] == 'a.b "q" é_item_fkey'
    assert db.execute("""SELECT col_description('"my shop"."order items"'::regclass, 2)""").fetchone()[0] == "free text"
    assert db.execute("SELECT count(*) FROM information_schema.columns WHERE column_name = 'gift wrap'").fetchone()[0] == 0

    restored = restore_backup(info.path, db_url, into_new_database=f"{db.info.dbname}_odd")
    try:
        with psycopg.connect(db_url.rsplit("/", 1)[0] + f"/{restored.database}") as new:
            assert checksum(new, *items) == before[items]
            assert checksum(new, *other)[0] == 0  # schema only: its data is not in the backup
    finally:
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(restored.database)))


LISTING = """;
; Archive created at 2026-12-02 05:00:00 UTC
6; 2615 32472 SCHEMA - my shop app owner
2; 3079 67779 EXTENSION - pgcrypto 
216; 1259 32474 TABLE my shop order items app owner
217; 1259 32482 TABLE my shop a.b "q" é app owner
3415; 0 0 COMMENT my shop COLUMN "order items"."the note" app owner
220; 1255 32496 FUNCTION my shop f g("my shop"."order items") app owner
3213; 2606 32481 CONSTRAINT my shop order items order items_pkey app owner
3215; 2620 32499 TRIGGER my shop order items t t app owner
3214; 2606 32485 FK CONSTRAINT my shop a.b "q" é a.b "q" é_id_fkey app owner
3360; 0 32474 TABLE DATA my shop order items app owner
"""


def test_the_archive_listing_splits_at_known_schemas_tables_and_owners() -> None:
    objects = {o.dump_id: o for o in archive_objects(LISTING, owners=["app owner", "app"])}

    assert (objects[6].schema, objects[6].name) == ("-", "my shop")
    assert (objects[2].kind, objects[2].name) == ("EXTENSION", "pgcrypto")  # no owner
    assert (objects[216].schema, objects[216].name) == ("my shop", "order items")
    assert objects[217].name == 'a.b "q" é'
    assert objects[3415].name == 'COLUMN "order items"."the note"'
    assert objects[220].name == 'f g("my shop"."order items")'
    assert (objects[3213].table, objects[3213].member) == ("order items", "order items_pkey")
    assert (objects[3215].table, objects[3215].member) == ("order items", "t t")
    assert (objects[3214].table, objects[3214].member) == ('a.b "q" é', 'a.b "q" é_id_fkey')
    assert (objects[3360].kind, objects[3360].name) == ("TABLE DATA", "order items")
