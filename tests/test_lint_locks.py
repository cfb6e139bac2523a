"""tasks/sql/locks.py: the lock each statement takes, the tables it touches, whether it rewrites."""

from __future__ import annotations

import pglast
import pytest

from migration_guard.tasks.sql.locks import conflicts, lock_for, tables_touched
from migration_guard.tasks.sql.statements import split_statements


def locks(sql: str, schema: str = "public") -> list[tuple[str, str, str, bool]]:
    return [(l.schema, l.table, l.mode, l.rewrites) for l in lock_for(pglast.parse_sql(sql)[0].stmt, schema)]


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("CREATE INDEX i ON t (a)", [("public", "t", "SHARE", False)]),
        ("CREATE INDEX CONCURRENTLY i ON s.t (a)", [("s", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ('ALTER TABLE "Post" ADD COLUMN "v" INTEGER NOT NULL DEFAULT 0', [("public", "Post", "ACCESS EXCLUSIVE", False)]),
        ("ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()", [("public", "t", "ACCESS EXCLUSIVE", True)]),
        ("ALTER TABLE t ALTER COLUMN c TYPE bigint", [("public", "t", "ACCESS EXCLUSIVE", True)]),
        ("ALTER TABLE t ALTER COLUMN c TYPE text", [("public", "t", "ACCESS EXCLUSIVE", True)]),  # old type unknown (issue 19)
        ("ALTER TABLE t VALIDATE CONSTRAINT c", [("public", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ("ALTER TABLE t SET UNLOGGED", [("public", "t", "ACCESS EXCLUSIVE", True)]),
        ("ALTER TABLE t DETACH PARTITION p CONCURRENTLY", [("public", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ("ALTER TABLE t DISABLE TRIGGER ALL", [("public", "t", "SHARE ROW EXCLUSIVE", False)]),
        ("DROP TABLE a, b.c", [("public", "a", "ACCESS EXCLUSIVE", False), ("b", "c", "ACCESS EXCLUSIVE", False)]),
        ("TRUNCATE t", [("public", "t", "ACCESS EXCLUSIVE", False)]),
        ("VACUUM (FULL) t", [("public", "t", "ACCESS EXCLUSIVE", True)]),
        ("VACUUM t", [("public", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ("CLUSTER t USING i", [("public", "t", "ACCESS EXCLUSIVE", True)]),
        ("REINDEX TABLE CONCURRENTLY t", [("public", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ("REINDEX TABLE t", [("public", "t", "SHARE", False)]),
        ("LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE", [("public", "t", "SHARE ROW EXCLUSIVE", False)]),
        ("CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", [("public", "t", "SHARE ROW EXCLUSIVE", False)]),
        ("DROP TRIGGER tr ON s.t", [("s", "t", "ACCESS EXCLUSIVE", False)]),
        ("SELECT * FROM t FOR UPDATE", [("public", "t", "ROW SHARE", False)]),
        ("COMMENT ON COLUMN t.c IS 'x'", [("public", "t", "SHARE UPDATE EXCLUSIVE", False)]),
        ("ALTER TABLE t RENAME COLUMN a TO b", [("public", "t", "ACCESS EXCLUSIVE", False)]),
        ("CREATE TYPE mood AS ENUM ('a')", []),
        ("GRANT SELECT ON t TO app", []),
    ],
)
def test_lock_modes(sql: str, expected: list) -> None:
    assert locks(sql) == expected


def test_foreign_key_locks_both_tables() -> None:
    result = locks('ALTER TABLE "Post" ADD CONSTRAINT "fk" FOREIGN KEY ("a") REFERENCES "User"("id") ON DELETE CASCADE')
    assert sorted(result) == [("public", "Post", "SHARE ROW EXCLUSIVE", False), ("public", "User", "SHARE ROW EXCLUSIVE", False)]


def test_create_table_marks_the_new_table_and_locks_referenced_ones() -> None:
    [created, referenced] = lock_for(pglast.parse_sql("CREATE TABLE c (p bigint REFERENCES app.p (id))")[0].stmt)
    assert created.creates and created.key == ("public", "c")
    assert referenced.key == ("app", "p") and referenced.mode == "SHARE ROW EXCLUSIVE"


def test_dml_locks_target_row_exclusive_and_reads_access_share() -> None:
    assert locks("UPDATE t SET a = u.a FROM u WHERE t.id = u.id") == [
        ("public", "t", "ROW EXCLUSIVE", False), ("public", "u", "ACCESS SHARE", False)]
    assert locks("INSERT INTO t SELECT * FROM s.src") == [
        ("public", "t", "ROW EXCLUSIVE", False), ("s", "src", "ACCESS SHARE", False)]


def test_drop_index_is_reported_as_an_index() -> None:
    [lock] = lock_for(pglast.parse_sql("DROP INDEX CONCURRENTLY app.i")[0].stmt)
    assert (lock.kind, lock.schema, lock.table, lock.mode) == ("index", "app", "i", "SHARE UPDATE EXCLUSIVE")
    assert tables_touched(pglast.parse_sql("DROP INDEX i")[0].stmt) == []


def test_works_on_statements_default_schema_and_parse_errors() -> None:
    statements = split_statements("ALTER TABLE t ADD COLUMN a int; CREATE INDEX i ON t (a); SELEC 1;")
    assert [tables_touched(s, "app") for s in statements] == [[("app", "t")], [("app", "t")], []]
    assert lock_for(statements[2]) == []
    assert lock_for(statements[0], "app")[0].blocks_reads and lock_for(statements[1])[0].blocks_writes


def test_conflict_matrix_accepts_pg_locks_spelling() -> None:
    assert conflicts("ACCESS EXCLUSIVE", "AccessShareLock")
    assert conflicts("SHARE", "RowExclusiveLock")
    assert not conflicts("SHARE UPDATE EXCLUSIVE", "RowExclusiveLock")
    assert not conflicts("ACCESS SHARE", "ROW EXCLUSIVE")
    assert conflicts("SHARE UPDATE EXCLUSIVE", "ShareUpdateExclusiveLock")
