"""Hostile identifiers (quotes, an injection attempt, unicode and spaces, SQL keywords, a reserved-word
schema) through lint, diagnose, healthcheck, recover and backup verification: correct results, no
crash, and no injection — a sentinel table survives everything, including running the SQL that the
tool suggests to the operator."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from migration_guard.tasks.diagnose import diagnose_migration, load_catalog
from migration_guard.tasks.diagnose.model import Effect
from tests.helpers import make_sql_project, run_cli
from tests.security.conftest import HOSTILE_SCHEMA, HOSTILE_TABLES, SENTINEL

pytestmark = pytest.mark.security

#: a constraint name that closes its quotes: a naive suggestion becomes two statements
HOSTILE_CONSTRAINT = 'x"; DROP TABLE sentinel; --'
#: a reserved word as a schema name needs quotes even though it looks like a plain identifier
KEYWORD_SCHEMA = "select"
QUOTE_COLUMN = 'a"b'
NEW_COLUMN = 'new "col"'
COLUMNS = (QUOTE_COLUMN, "ünïcode col", "select")


def _ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _make_hostile(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(_ident(SENTINEL)))
    conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(_ident(SENTINEL)))
    for schema in (HOSTILE_SCHEMA, KEYWORD_SCHEMA):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(schema)))
    for rows, (schema, table) in enumerate(
        [("public", t) for t in HOSTILE_TABLES] + [(HOSTILE_SCHEMA, "DROP TABLE x; --"), (KEYWORD_SCHEMA, "order")], 1
    ):
        conn.execute(sql.SQL("CREATE TABLE {} ({} int, {} text, {} text)").format(
            _ident(schema, table), *(_ident(c) for c in COLUMNS)))
        conn.execute(sql.SQL("INSERT INTO {} SELECT g, 'u' || g, 's' || g FROM generate_series(1, %s) g").format(
            _ident(schema, table)), (rows,))


def _sentinel_alive(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute(sql.SQL("SELECT id FROM {}").format(_ident(SENTINEL))).fetchall() == [(42,)]
        assert conn.execute("SELECT to_regclass('x') IS NULL").fetchone()[0]


@pytest.fixture(scope="module")
def hostile_url(module_db_url: str) -> str:
    """The module's database with every hostile table (read-only for the tests using it)."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        _make_hostile(conn)
    return module_db_url


def test_lint_names_hostile_tables_static_and_live(hostile_url: str, tmp_path: Path) -> None:
    migration = tmp_path / "0001_hostile.sql"
    migration.write_text("".join(
        f"CREATE INDEX ON {_q(t)} ({_q('select')});\nALTER TABLE {_q(t)} ADD COLUMN {_q('n' + t)} int NOT NULL;\n"
        for t in HOSTILE_TABLES
    ) + f"ALTER TABLE {_q(HOSTILE_SCHEMA)}.{_q('DROP TABLE x; --')} ALTER COLUMN {_q(QUOTE_COLUMN)} TYPE bigint;\n"
        f"ALTER TABLE {_q(KEYWORD_SCHEMA)}.{_q('order')} ADD CONSTRAINT {_q(HOSTILE_CONSTRAINT)} CHECK (true);\n")

    static = run_cli(["lint", str(migration), "--json"])
    live = run_cli(["lint", str(migration), "--json", "--database-url", hostile_url])

    for result in (static, live):
        assert result.exit_code == 1, result.output
        findings = json.loads(result.stdout)
        findings = findings["findings"] if isinstance(findings, dict) else findings
        messages = "\n".join(f["message"] for f in findings)
        for table in HOSTILE_TABLES:
            assert table in messages, (table, messages)
        assert {f["rule"] for f in findings} >= {"require-concurrent-index-creation",
                                                "adding-not-nullable-column", "changing-column-type"}
    _sentinel_alive(hostile_url)


def test_diagnose_reads_hostile_names_from_the_catalog(hostile_url: str) -> None:
    with psycopg.connect(hostile_url, autocommit=True) as conn:
        snapshot = load_catalog(conn, ["public", HOSTILE_SCHEMA, KEYWORD_SCHEMA])
    statements = []
    expected = []
    for table in HOSTILE_TABLES:
        statements.append(f"ALTER TABLE {_q(table)} ADD COLUMN {_q('ünïcode col')} text")
        expected.append(Effect.DONE)
        statements.append(f"ALTER TABLE {_q(table)} ADD COLUMN {_q('new col')} text")
        expected.append(Effect.NOT_DONE)
    statements.append(f"CREATE TABLE {_q(KEYWORD_SCHEMA)}.{_q('order')} "
                      f"({_q(QUOTE_COLUMN)} int, {_q('ünïcode col')} text, {_q('select')} text)")
    expected.append(Effect.DONE)
    statements.append(f"DROP TABLE {_q(HOSTILE_SCHEMA)}.{_q('DROP TABLE x; --')}")
    expected.append(Effect.NOT_DONE)

    diagnosis = diagnose_migration(";\n".join(statements) + ";", "hostile", snapshot)
    in_schema = diagnose_migration(f"ALTER TABLE {_q('DROP TABLE x; --')} ADD COLUMN {_q('select')} text;",
                                   "hostile", snapshot, schema=HOSTILE_SCHEMA)

    # order inference may upgrade not_done to done only before a done statement; compare catalog verdicts
    raw = [s.effect for s in diagnosis.statements]
    assert raw[-1] is Effect.NOT_DONE and raw[-2] is Effect.DONE
    assert [e for e, s in zip(expected, diagnosis.statements) if not s.inferred] == \
        [s.effect for s in diagnosis.statements if not s.inferred]
    assert in_schema.statements[0].effect is Effect.DONE
    _sentinel_alive(hostile_url)


def test_backup_restore_check_counts_rows_of_hostile_tables(hostile_url: str, tmp_path: Path) -> None:
    result = run_cli(["backup", "create", "--restore-check", "--json", "--backup-dir", str(tmp_path)],
                     env={"DATABASE_URL": hostile_url})

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["verify"]["table_rows"]
    for number, table in enumerate(HOSTILE_TABLES, 1):
        assert rows[f"public.{table}"] == number
    assert rows[f"{HOSTILE_SCHEMA}.DROP TABLE x; --"] == len(HOSTILE_TABLES) + 1
    assert rows[f"{KEYWORD_SCHEMA}.order"] == len(HOSTILE_TABLES) + 2
    assert rows[f"public.{SENTINEL}"] == 1
    verify = run_cli(["backup", "verify", "--restore-check", "--json", "--backup-dir", str(tmp_path)],
                     env={"DATABASE_URL": hostile_url})
    assert verify.exit_code == 0, verify.output
    assert json.loads(verify.stdout)["table_rows"] == rows
    into = f'restored "db"; DROP DATABASE postgres; -- {uuid.uuid4().hex[:6]}'
    restored = run_cli(["backup", "restore", json.loads(result.stdout)["path"], "--into", into, "--json"],
                       env={"DATABASE_URL": hostile_url})
    try:
        assert restored.exit_code == 0, restored.output
        _sentinel_alive(psycopg.conninfo.make_conninfo(hostile_url, dbname=into))
    finally:
        with psycopg.connect(hostile_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(_ident(into)))
    _sentinel_alive(hostile_url)


@pytest.fixture
def debris_url(db_url: str) -> Iterator[str]:
    """A fresh database with hostile tables and failure debris on them."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        _make_hostile(conn)
        conn.execute("CREATE TABLE \"ünïcode table jobs\" (\"ran at\" timestamptz)")
        for schema, table in (("public", 'a"b'), (KEYWORD_SCHEMA, "order")):
            conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES (1)").format(_ident(schema, table), _ident('a"b')))
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({})").format(
                    _ident(f"{table} ünï idx"), _ident(schema, table), _ident('a"b')))
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} > 0) NOT VALID").format(
            _ident("DROP TABLE x; --"), _ident(HOSTILE_CONSTRAINT), _ident('a"b')))
    yield db_url


def test_healthcheck_reports_debris_on_hostile_tables_and_its_suggestions_are_safe_to_run(
    debris_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "health.json"
    config.write_text(json.dumps({
        "freshness": [{"name": "jobs", "query": 'SELECT max("ran at") FROM "ünïcode table jobs"', "period": "1h"}],
        "assertions": [{"name": "quoted", "query": 'SELECT count(*) FROM "a""b" WHERE "select" = \'s1\'',
                        "comparison": "==", "threshold": 0, "severity": "LOW", "message": "rows in a\"b"}],
    }))
    env = {"DATABASE_URL": debris_url, "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path / "logs")}

    result = run_cli(["healthcheck", "--json", "--config", str(config)], env)

    assert result.exit_code == 2, result.output  # jobs never ran: HIGH
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["invalid_indexes"]["observed_value"] == 2, checks["invalid_indexes"]
    assert checks["not_valid_constraints"]["observed_value"] == 1, checks["not_valid_constraints"]
    assert checks["assertion:quoted"]["observed_value"] == 1
    assert checks["freshness:jobs"]["status"] != "UNKNOWN"
    alerts = [json.loads(p.read_text()) for p in (tmp_path / "alerts").rglob("*.json")]
    suggestions = [s for a in alerts if a["check"] in ("invalid_indexes", "not_valid_constraints")
                   for s in a["suggestions"]]
    assert suggestions
    # an operator pastes each suggested statement into psql: it must do exactly what it says
    with psycopg.connect(debris_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}").format(_ident('a"b')))
        conn.execute(sql.SQL("DELETE FROM {}.{}").format(_ident(KEYWORD_SCHEMA), _ident("order")))
        for suggestion in suggestions:
            statement = suggestion.split(";   then", 1)[0]
            if statement.startswith(("REINDEX", "ALTER TABLE")):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE NOT convalidated").fetchone()[0] == 0
    _sentinel_alive(debris_url)


def test_recover_a_failed_migration_on_hostile_names(db_url: str, tmp_path: Path) -> None:
    table = _q("DROP TABLE x; --")
    base = (f"CREATE TABLE {table} (id int PRIMARY KEY, {_q('select')} text);\n"
            f"INSERT INTO {table} VALUES (1, 'a'), (2, 'a'), (3, 'b');\n"
            f"CREATE TABLE {_q(SENTINEL)} (id int);\nINSERT INTO {_q(SENTINEL)} VALUES (42);\n")
    failing = (f"ALTER TABLE {table} ADD COLUMN {_q(NEW_COLUMN)} int;\n"
               f"CREATE UNIQUE INDEX CONCURRENTLY {_q('ünï idx')} ON {table} ({_q('select')});\n")
    migrations = make_sql_project(tmp_path, {"0001_base": base})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "sql",
           "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts")}
    assert run_cli(["migrate", "--skip-backup", "--skip-validate"], env).exit_code == 0
    (migrations / "0002_hostile.sql").write_text(failing)
    assert run_cli(["migrate", "--skip-backup"], env).exit_code == 1

    plan = run_cli(["recover", "--plan", "--json"], env)

    report = json.loads(plan.stdout)
    effects = [s["effect"] for s in report["diagnosis"]["statements"]]
    assert effects == ["done", "partly_done"], report["diagnosis"]
    cause = json.dumps(report["cause"])
    assert "23505" in cause
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {table} SET {_q('select')} = 'c' WHERE id = 2")
    done = run_cli(["recover", "--yes", "--json"], env)

    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outcome"] == "recovered"
    assert run_cli(["status"], env).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        valid = conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                             (_q("ünï idx"),)).fetchone()
        assert valid == (True,)
        assert conn.execute(f"SELECT {_q(NEW_COLUMN)} FROM {table} LIMIT 1").fetchone() is not None
    _sentinel_alive(db_url)


def test_rollback_of_a_failed_migration_on_hostile_names(db_url: str, tmp_path: Path) -> None:
    """The undo SQL is generated from the migration: it must hit exactly the hostile objects."""
    table = _q("DROP TABLE x; --")
    base = (f"CREATE TABLE {table} (id int PRIMARY KEY, {_q('select')} text, {_q(QUOTE_COLUMN)} int);\n"
            f"INSERT INTO {table} VALUES (1, 'a', 1), (2, 'a', 2);\n"
            f"CREATE TABLE {_q(SENTINEL)} (id int);\nINSERT INTO {_q(SENTINEL)} VALUES (42);\n")
    failing = (f"ALTER TABLE {table} ADD COLUMN {_q(NEW_COLUMN)} int;\n"
               f"CREATE INDEX CONCURRENTLY {_q('x; DROP TABLE sentinel')} ON {table} ({_q(QUOTE_COLUMN)});\n"
               f"CREATE UNIQUE INDEX CONCURRENTLY {_q('ünï idx')} ON {table} ({_q('select')});\n")
    migrations = make_sql_project(tmp_path, {"0001_base": base})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "sql",
           "BACKUP_DIR": str(tmp_path / "backups"), "ALERTS_DIR": str(tmp_path / "alerts")}
    assert run_cli(["migrate", "--skip-backup", "--skip-validate"], env).exit_code == 0
    (migrations / "0002_hostile.sql").write_text(failing)
    assert run_cli(["migrate", "--skip-backup"], env).exit_code == 1

    undone = run_cli(["recover", "--mode", "rollback", "--yes", "--json", "--no-backup"], env)

    assert undone.exit_code == 0, undone.output
    with psycopg.connect(db_url, autocommit=True) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
            (table,))}
        indexes = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass(%s)",
            (table,))}
    assert columns == {"id", "select", QUOTE_COLUMN}
    assert indexes == {"DROP TABLE x; --_pkey"}
    _sentinel_alive(db_url)


def test_validate_privilege_fixes_are_safe_to_paste_for_hostile_schema_and_role(
    db_url: str, pg_admin_url: str, tmp_path: Path
) -> None:
    """The GRANT the privileges check suggests must grant exactly that, on exactly that schema."""

    role = f'mg "lim"; DROP TABLE sentinel; -- {uuid.uuid4().hex[:6]}'
    schema = 'app"s; DROP TABLE sentinel; --'
    migrations = make_sql_project(tmp_path, {"0001_t": "CREATE TABLE t (id int);"})
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(_ident(SENTINEL)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(_ident(SENTINEL)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(schema)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(_ident(role)))
    try:
        params = psycopg.conninfo.conninfo_to_dict(db_url)
        role_url = psycopg.conninfo.make_conninfo(**{**params, "user": role})
        env = {"DATABASE_URL": role_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": "sql",
               "DB_SCHEMA": schema, "BACKUP_DIR": str(tmp_path / "b")}

        result = run_cli(["validate", "--json", "--no-backup"], env)

        privileges = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "privileges")
        assert privileges["status"] == "FAIL", privileges
        fix = privileges["fix"]
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(fix)  # the operator pastes it as an admin
            granted = conn.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", (role, schema)).fetchone()[0]
        assert granted
        _sentinel_alive(db_url)
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(_ident(role)))
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(_ident(role)))


def test_idle_in_transaction_fix_names_a_hostile_database_safely(pg_admin_url: str, tmp_path: Path) -> None:
    """Database names with dashes, quotes and spaces are common enough; the suggested ALTER DATABASE
    must still be one statement on that database."""
    import time

    name = f'mg-sec "db"; DROP TABLE sentinel; -- {uuid.uuid4().hex[:6]}'
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(_ident(name)))
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    config = tmp_path / "health.json"
    config.write_text(json.dumps({"thresholds": {"idle_in_transaction": "1s"}}))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(_ident(SENTINEL)))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (42)").format(_ident(SENTINEL)))
        with psycopg.connect(url) as idle:
            idle.execute("SELECT 1")  # opens a transaction and leaves it idle
            time.sleep(1.5)
            result = run_cli(["healthcheck", "--json", "--config", str(config)],
                             {"DATABASE_URL": url, "ALERTS_DIR": str(tmp_path / "alerts"), "LOG_DIR": str(tmp_path)})
        check = next(c for c in json.loads(result.stdout)["checks"] if c["check"] == "idle_in_transaction")
        assert check["status"] == "WARNING", check
        alert = next(a for a in (json.loads(p.read_text()) for p in (tmp_path / "alerts").glob("*.json"))
                     if a["check"] == "idle_in_transaction")
        suggestion = next(s for s in alert["suggestions"] if s.startswith("ALTER DATABASE"))
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(suggestion)
            settings = conn.execute(
                "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "WHERE d.datname = %s", (name,)).fetchone()
        assert settings == (["idle_in_transaction_session_timeout=10min"],)
        _sentinel_alive(url)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(_ident(name)))


@pytest.mark.parametrize("tool", ["prisma", "sql"])
def test_hostile_migration_names_are_recorded_verbatim(db_url: str, tmp_path: Path, tool: str) -> None:
    """Migration names come from folder / file names: quotes and semicolons are data in the ledger."""
    from tests.helpers import make_prisma_project

    hostile = "it's \"quoted\"; DROP TABLE sentinel; --"
    setup = f"CREATE TABLE {_q(SENTINEL)} (id int);\nINSERT INTO {_q(SENTINEL)} VALUES (42);\n"
    if tool == "prisma":
        name = f"20240101000000_{hostile}"
        migrations = make_prisma_project(tmp_path, {name: setup})
    else:
        name = f"0001_{hostile}"
        migrations = make_sql_project(tmp_path, {name: setup})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "MIGRATION_TOOL": tool,
           "BACKUP_DIR": str(tmp_path / "b"), "ALERTS_DIR": str(tmp_path / "a")}

    applied = run_cli(["migrate", "--skip-backup", "--json"], env)
    status = run_cli(["status", "--json"], env)

    assert applied.exit_code == 0, applied.output
    assert status.exit_code == 0, status.output
    assert name in {m["name"] for m in json.loads(status.stdout)["migrations"]}, status.stdout
    _sentinel_alive(db_url)


def test_migrations_run_in_the_configured_hostile_schema(db_url: str, tmp_path: Path) -> None:
    from tests.helpers import make_prisma_project

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(HOSTILE_SCHEMA)))
    migrations = make_prisma_project(tmp_path, {"20240101000000_init": 'CREATE TABLE "items" (id int);\n'})
    env = {"DATABASE_URL": db_url, "MIGRATIONS_DIR": str(migrations), "DB_SCHEMA": HOSTILE_SCHEMA,
           "BACKUP_DIR": str(tmp_path / "b"), "ALERTS_DIR": str(tmp_path / "a")}

    assert run_cli(["migrate", "--skip-backup"], env).exit_code == 0

    with psycopg.connect(db_url, autocommit=True) as conn:
        where = conn.execute("SELECT schemaname FROM pg_tables WHERE tablename = 'items'").fetchall()
    assert where == [(HOSTILE_SCHEMA,)]
