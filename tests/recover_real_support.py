"""Shared support for the recover tests on real projects' migration histories (tests/data/<project>,
each with a README naming its source, commit and licence). No tests here.

Speed: the history up to the migration before an incident is deployed ONCE into a template database
(``TemplateDatabases.build``); each incident copy is ``CREATE DATABASE … TEMPLATE`` of it (about 0.1 s).
The incident itself is always made by the real Prisma CLI in split mode; the reference schema (a clean
deploy of the whole history) is made by the real Prisma CLI once per project."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest
from migration_guard.tasks.db import connect
from migration_guard.tasks.schema import compare_snapshots
from migration_guard.tasks.schema.model import SchemaSnapshot
from migration_guard.tasks.schema.snapshot import snapshot_schema
from migration_guard.tasks.sql.statements import split_statements
from psycopg import sql

from tests.helpers import run_cli
from tests.pg_server import with_database
from tests.test_recover_support import Scenario

DATA = Path(__file__).parent / "data"


class History:
    """One real project's Prisma migration history, kept under ``tests/data/<project>/prisma``."""

    def __init__(self, project: str) -> None:
        self.project = project
        self.folder = DATA / project / "prisma" / "migrations"
        self.names = sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def before(self, name: str) -> list[str]:
        """The migrations that come before ``name``."""
        return [n for n in self.names if n < self._known(name)]

    def after(self, name: str) -> list[str]:
        """The migrations that come after ``name`` (the rest of the history; ``name`` may be one of ours)."""
        return [n for n in self.names if n > name]

    def statements(self, name: str) -> list[str]:
        """The statements of one migration, as migration-guard's parser splits them."""
        return [s.text for s in split_statements((self.folder / self._known(name) / "migration.sql").read_text())]

    def copy(self, migrations_dir: Path, names: Iterable[str]) -> None:
        """Put these migrations' folders into a project's migrations folder."""
        for name in names:
            shutil.copytree(self.folder / name, migrations_dir / name, dirs_exist_ok=True)

    def _known(self, name: str) -> str:
        assert name in self.names, f"{name} is not a migration of {self.project}"
        return name


class TemplateDatabases:
    """Databases made once (the history up to a migration) and copied per test; all dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def build(self, tmp: Path, history: History, upto: str, rows: str = "") -> str:
        """A database holding ``history`` deployed up to (not including) ``upto`` plus ``rows``; its name.

        Deployed by migration-guard's own `migrate` (in-process, about 3x faster than a Prisma call);
        it writes Prisma's ledger as Prisma does, and the real Prisma CLI takes over from there."""
        name = self._create()
        scenario = Scenario(tmp / f"tpl-{name}", with_database(self.admin_url, name), None)
        history.copy(scenario.migrations_dir, history.before(upto))
        deployed = run_cli(["migrate", "--skip-validate", "--skip-backup"], scenario.env, cwd=scenario.root)
        assert deployed.exit_code == 0, deployed.output[-3000:]
        if rows:
            scenario.sql(rows)
        return name

    def url(self, name: str) -> str:
        """The URL of a database made here."""
        return with_database(self.admin_url, name)

    def copy(self, template: str) -> str:
        """A new database copied from ``template``; its URL."""
        return with_database(self.admin_url, self._create(template))

    def clean_deploy(self, tmp: Path, history: History, prisma: Path) -> str:
        """A database holding a clean deploy of the whole history by the real Prisma CLI; its name."""
        url = self.copy_empty()
        reference = Scenario(tmp / "clean-deploy", url, prisma)
        history.copy(reference.migrations_dir, history.names)
        deployed = reference.deploy()
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        return url.rsplit("/", 1)[1]

    def clean_deploy_with(self, clean: str, extra_sql: str) -> SchemaSnapshot:
        """The schema of the clean deploy ``clean`` plus one migration of ours (statement by statement,
        autocommit). Only for a migration whose objects no later migration of the history touches, so
        where it sits in the history does not change the final schema."""
        url = self.copy(clean)
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in split_statements(extra_sql):
                conn.execute(statement.text)
        return schema_of(url)

    def copy_empty(self) -> str:
        """A new empty database; its URL."""
        return with_database(self.admin_url, self._create())

    def drop_all(self) -> None:
        """Drop every database made here."""
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            for name in reversed(self.created):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _create(self, template: str | None = None) -> str:
        name = f"mg_real_{uuid.uuid4().hex[:12]}"
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(query)
        self.created.append(name)
        return name


def schema_of(url: str) -> SchemaSnapshot:
    """The public schema's snapshot (Prisma's ledger left out)."""
    with connect(url) as conn:
        return snapshot_schema(conn, ["public"])


def assert_same_schema(expected: SchemaSnapshot, url: str) -> None:
    """The database at ``url`` has exactly the expected schema."""
    differences = compare_snapshots(expected, schema_of(url))
    assert differences == [], [d.describe() for d in differences]


def plan_report(scenario: Scenario) -> dict:
    """`recover --plan --json`, parsed."""
    return json.loads(scenario.recover("--plan", "--json").output)


def effects(report: dict) -> list[str]:
    """The diagnosis, statement by statement (done / not_done / failing / partly_done / unknown)."""
    return [row["effect"] for row in report["diagnosis"]["statements"]]


def listing_query(next_step: str) -> str:
    """The query the tool's advice gives to list the offending rows."""
    found = re.search(r"list them with: (.*?;)\)? then", next_step)
    assert found, next_step
    return found.group(1)


def last_next(output: str) -> str:
    """The last `next:` line the tool printed."""
    lines = [line.strip() for line in output.splitlines() if line.strip().startswith("next:")]
    assert lines, output
    return lines[-1]


def assert_no_failed_migration(scenario: Scenario, failing: str, applied: bool) -> None:
    """`prisma migrate status` (the real CLI) lists no failed migration, and ``failing`` as applied
    (after a forward recovery) or not yet applied (after a rollback)."""
    status = scenario.prisma_status()
    text = status.stdout + status.stderr
    assert "failed" not in text.lower(), text
    pending = text.split("not yet been applied", 1)[1] if "not yet been applied" in text else ""
    assert (failing not in pending) == applied, text


def rest_deploys(history: History, scenario: Scenario, after: str, expected: SchemaSnapshot) -> None:
    """The migrations after ``after`` deploy with the real Prisma CLI, and the schema is then ``expected``."""
    history.copy(scenario.migrations_dir, history.after(after))
    deployed = scenario.deploy()
    assert deployed.returncode == 0 and "successfully applied" in deployed.stdout, deployed.stdout + deployed.stderr
    assert_same_schema(expected, scenario.db_url)


def incident_copies(databases: TemplateDatabases, history: History, template: str, root: Path, prisma: Path,
                    failing: str) -> tuple[Scenario, Scenario]:
    """The incident: ``failing`` deployed by the real Prisma CLI in split mode on a copy of ``template``
    (it must fail); and a second copy of the failed database (for the rollback)."""
    scenario = Scenario(root / "forward", databases.copy(template), prisma)
    history.copy(scenario.migrations_dir, [*history.before(failing), failing])
    failed = scenario.deploy(split=True)
    assert failed.returncode != 0, failed.stdout
    other = Scenario(root / "rollback", databases.copy(scenario.db_url.rsplit("/", 1)[1]), prisma)
    history.copy(other.migrations_dir, [*history.before(failing), failing])
    return scenario, other


#: recover's options in these tests: the schema is compared with a clean deploy instead of the drift check
RECOVER = ("--yes", "--no-backup", "--no-drift")


@pytest.fixture(scope="module")
def databases(pg_admin_url: str) -> Iterator[TemplateDatabases]:
    """The module's template databases and copies (import this fixture; dropped at the module's end)."""
    made = TemplateDatabases(pg_admin_url)
    yield made
    made.drop_all()


@pytest.fixture(scope="module")
def clean(databases: TemplateDatabases, tmp_path_factory: pytest.TempPathFactory, prisma_cli: Path,
          request: pytest.FixtureRequest) -> str:
    """A clean deploy of the module's ``HISTORY`` by the real Prisma CLI (a database name)."""
    history: History = request.module.HISTORY
    return databases.clean_deploy(tmp_path_factory.mktemp(f"{history.project}-clean"), history, prisma_cli)


@pytest.fixture(scope="module")
def clean_schema(databases: TemplateDatabases, clean: str) -> SchemaSnapshot:
    """The schema of :func:`clean`."""
    return schema_of(databases.url(clean))


def rolls_back(databases: TemplateDatabases, rollback: Scenario, failing: str, template: str) -> str:
    """`recover --mode rollback` on the second copy recovers without a restore, Prisma's status lists no
    failed migration (``failing`` pending again), and the schema is the template's (the one before it).
    Returns recover's output."""
    rolled = rollback.recover("--mode", "rollback", *RECOVER)
    assert rolled.exit_code == 0, rolled.output
    assert "restore" not in rolled.output, rolled.output
    assert_no_failed_migration(rollback, failing, applied=False)
    assert_same_schema(schema_of(databases.url(template)), rollback.db_url)
    return rolled.output
