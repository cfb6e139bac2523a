"""query_regressions on a private cluster with shared_preload_libraries = pg_stat_statements: a
migration applied by safe-migrate's apply step (which snapshots pg_stat_statements first) that
drops the index a frequent query uses raises the alert naming that query and that migration; a
migration that leaves the query alone raises nothing. Without the extension the row says how to
enable it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.healthcheck.base import CheckStatus
from migration_guard.tasks.healthcheck.checks import query_regressions
from migration_guard.tasks.history.backend import open_store
from migration_guard.tasks.history.model import BEFORE_MIGRATION
from migration_guard.tasks.history.statements import Window, regressions
from migration_guard.tasks.history.model import StatementCounter
from migration_guard.tasks.history.store import database_key
from migration_guard.tasks.migrate.apply import ApplyOptions
from migration_guard.tasks.migrate.steps import apply_step
from migration_guard.tasks.project import Project
from migration_guard.tasks.settings import load_settings
from tests.checks_support import run_one
from tests.pg_server import PrivateClusters, free_port

pytestmark = pytest.mark.slow

FAST = ApplyOptions(lock_timeout="1s", statement_timeout="30s", retry_budget_s=5, lock_wait_s=10)
LOOKUP = "SELECT qty FROM items WHERE sku = %s"


@pytest.fixture(scope="module")
def statements_server() -> Iterator[str]:
    """Admin URL of a private cluster that preloads pg_stat_statements."""
    try:
        clusters = PrivateClusters("mg-pgss-")
    except RuntimeError:
        pytest.skip("needs PostgreSQL server binaries (initdb, pg_ctl)")
    data, port = clusters.root / "data", free_port()
    try:
        clusters.run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync")
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\n")
        clusters.start(data, port)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        clusters.stop()


@pytest.fixture
def app(statements_server: str, tmp_path: Path, request) -> Iterator[str]:
    """A database of the cluster with the extension and a 40,000-row table (the first migration indexes sku)."""
    name = f"app_{abs(hash(request.node.name)) % 10**8}"
    with psycopg.connect(statements_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = statements_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, sku text NOT NULL, qty int NOT NULL)")
        conn.execute("INSERT INTO items (sku, qty) SELECT 'sku-' || g, g % 100 FROM generate_series(1, 40000) g")
        conn.execute("ANALYZE items")
    yield url
    with psycopg.connect(statements_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _lookups(url: str, n: int = 150) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(n):
            conn.execute(LOOKUP, (f"sku-{(i * 37) % 40000 + 1}",)).fetchone()


def _migrate_around(url: str, tmp_path: Path, migration: str, sql_text: str):
    """An earlier deploy, traffic, then ``migration`` deployed by the apply step, traffic again; the check's result."""
    folder = tmp_path / "prisma" / "migrations"
    (folder / "20261101000000_init").mkdir(parents=True)
    (folder / "20261101000000_init" / "migration.sql").write_text('CREATE INDEX "items_sku_idx" ON "items"("sku");\n')
    settings = load_settings(database_url=url, migrations_dir=folder, migration_tool="prisma",
                             log_dir=tmp_path / "logs", alerts_dir=tmp_path / "alerts")
    assert apply_step(Project.from_settings(settings), FAST).outcomes[0].ok
    (folder / migration).mkdir()
    (folder / migration / "migration.sql").write_text(sql_text)
    _lookups(url)                       # traffic before
    report = apply_step(Project.from_settings(settings), FAST)  # snapshots pg_stat_statements, then applies
    assert all(o.ok for o in report.outcomes), report.outcomes
    _lookups(url)                       # traffic after
    return run_one(query_regressions.CHECK, url, settings=settings, migrations_dir=folder, migration_tool="prisma")


def test_dropping_the_index_of_a_frequent_query_names_the_query_and_the_migration(app: str, tmp_path: Path) -> None:
    result = _migrate_around(app, tmp_path, "20261102000000_drop_sku_index", "DROP INDEX items_sku_idx;\n")

    assert result.status is CheckStatus.WARNING, result.summary
    problem = result.problem
    assert problem.category == "PERFORMANCE"
    assert "20261102000000_drop_sku_index" in problem.title and "20261102000000_drop_sku_index" in problem.message
    assert "SELECT qty FROM items WHERE sku = $1" in problem.message
    assert "150 calls before, 150 after" in problem.message
    assert "Likely cause: 20261102000000_drop_sku_index: it dropped index items_sku_idx on items." in problem.message
    assert problem.suggestions[0].startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS items_sku_idx ON items (sku);")
    assert problem.suggestions[1].startswith("EXPLAIN (ANALYZE, BUFFERS) SELECT qty FROM items WHERE sku = $1;")
    with open_store(load_settings(log_dir=tmp_path / "logs")) as store:
        assert store.latest_statement_snapshot(database_key(app)).reason == BEFORE_MIGRATION


def test_a_migration_that_leaves_the_query_alone_raises_nothing(app: str, tmp_path: Path) -> None:
    result = _migrate_around(app, tmp_path, "20261102000000_add_note", "ALTER TABLE items ADD COLUMN note text;\n")

    assert result.status is CheckStatus.OK and result.problem is None
    assert result.summary.startswith("no frequent query (>= 50 calls) slower after 20261102000000_add_note")


def test_without_the_extension_the_row_says_how_to_enable_it(db_url: str, tmp_path: Path) -> None:
    settings = load_settings(database_url=db_url, log_dir=tmp_path / "logs")
    result = run_one(query_regressions.CHECK, db_url, settings=settings)
    assert result.status is CheckStatus.OK and result.problem is None
    assert "pg_stat_statements extension is not installed" in result.summary
    assert "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart PostgreSQL;" in result.summary
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;" in result.summary


def test_counter_deltas_need_enough_calls_and_a_marked_slowdown() -> None:
    def c(q: str, calls: int, ms: float) -> StatementCounter:
        return StatementCounter(q, q, calls, ms)

    earlier = {"a": c("a", 100, 10.0), "b": c("b", 100, 10.0), "c": c("c", 10, 1.0)}
    baseline = {"a": c("a", 200, 20.0), "b": c("b", 200, 20.0), "c": c("c", 20, 2.0), "d": c("d", 500, 50)}
    now = {"a": c("a", 300, 220.0),   # 0.1 -> 2.0 ms per call: regression
           "b": c("b", 300, 35.0),    # 0.1 -> 0.15 ms: noise
           "c": c("c", 40, 200.0),    # slow, but too few calls in each window
           "d": c("d", 100, 900.0)}   # counters reset since the baseline: skipped
    found = regressions(earlier, baseline, now)
    assert [r.queryid for r in found] == ["a"]
    assert found[0].before == Window(100, 10.0) and found[0].after == Window(100, 200.0) and found[0].factor == 20


def test_causes_are_read_from_the_migrations_sql() -> None:
    from migration_guard.tasks.history.causes import likely_causes
    from migration_guard.tasks.models import Migration

    def m(name: str, text: str) -> Migration:
        return Migration(name=name, path=Path(f"{name}/migration.sql"), sql=text, checksum="")

    earlier = [m("1_init", 'CREATE UNIQUE INDEX "Order_ref_key" ON "Order"("ref");\nCREATE INDEX o ON other (x);')]
    applied = [m("2_change", 'DROP INDEX "Order_ref_key";\nDROP INDEX o;\nDROP INDEX unknown_idx;\n'
                             'ALTER TABLE "Order" ALTER COLUMN "ref" TYPE text;')]
    causes = likely_causes(applied, earlier, 'SELECT "public"."Order"."id" FROM "public"."Order" WHERE "ref" = $1')
    assert [c.text for c in causes] == ['it dropped index Order_ref_key on Order', "it dropped index unknown_idx",
                                        "it changed the type of Order.ref (indexes on it were rebuilt, and a "
                                        "comparison with the old type may no longer use them)"]
    assert causes[0].fix == 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Order_ref_key" ON "Order" (ref);'

    from migration_guard.tasks.catalog import IndexInfo

    invalid = [IndexInfo("public", "Order", "Order_total_idx", "", False, True),
               IndexInfo("public", "other", "other_idx", "", False, True)]
    causes = likely_causes(applied[:0], earlier, 'SELECT * FROM "Order" WHERE total > $1', invalid)
    assert [(c.text, c.fix) for c in causes] == [
        ("index Order_total_idx on Order is INVALID (a failed CREATE INDEX CONCURRENTLY): queries cannot use it",
         'REINDEX INDEX CONCURRENTLY public."Order_total_idx";')]


@pytest.mark.prisma
def test_a_migration_deployed_by_the_real_prisma_cli_is_compared_from_the_healthchecks_snapshot(
        app: str, tmp_path: Path, prisma_cli: Path) -> None:
    import os
    import subprocess
    from datetime import datetime, timezone

    from migration_guard.tasks.history.record import record_healthcheck

    def deploy() -> None:
        done = subprocess.run([str(prisma_cli), "migrate", "deploy"], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, "DATABASE_URL": app}, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    (tmp_path / "prisma").mkdir()
    (tmp_path / "prisma" / "schema.prisma").write_text('datasource db {\n  provider = "postgresql"\n}\n')
    folder = tmp_path / "prisma" / "migrations"
    (folder / "20261101000000_init").mkdir(parents=True)
    (folder / "20261101000000_init" / "migration.sql").write_text(
        'CREATE TABLE "items" ("id" SERIAL PRIMARY KEY, "sku" TEXT NOT NULL, "qty" INTEGER NOT NULL);\n'
        "INSERT INTO items (sku, qty) SELECT 'sku-' || g, g % 100 FROM generate_series(1, 40000) g;\n"
        'CREATE INDEX "items_sku_idx" ON "items"("sku");\n')
    with psycopg.connect(app, autocommit=True) as conn:  # Prisma deploys into an empty schema only (P3005)
        conn.execute("DROP TABLE items")
    deploy()
    settings = load_settings(database_url=app, migrations_dir=folder, log_dir=tmp_path / "logs")
    _lookups(app)
    assert record_healthcheck(settings, datetime.now(timezone.utc), [app]).statement_snapshots == 1
    (folder / "20261102000000_drop_sku_index").mkdir()
    (folder / "20261102000000_drop_sku_index" / "migration.sql").write_text('DROP INDEX "items_sku_idx";\n')
    deploy()
    _lookups(app)

    result = run_one(query_regressions.CHECK, app, settings=settings, migrations_dir=folder)

    assert result.status is CheckStatus.WARNING, result.summary
    assert "SELECT qty FROM items WHERE sku = $1" in result.problem.message
    assert "after 20261102000000_drop_sku_index" in result.summary
    assert "it dropped index items_sku_idx on items" in result.problem.message
