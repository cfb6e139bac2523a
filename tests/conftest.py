"""Test harness: one real PostgreSQL per session, a fresh database per test (from a template),
Prefect's test harness when a test asks for it, and the real Prisma CLI for interop tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.parallel_support import (
    RunLock, create_run_dir, is_xdist_worker, keep_the_callers_terminal_size, once_per_run, remove_run_dir, run_dir,
)
from tests.pg_server import PasswordServer, admin_url, with_database

# Prefect reads these at import; set them before any test imports Prefect. Each process of the run
# (every xdist worker too) gets a Prefect home of its own; a PREFECT_HOME set by the caller is kept.
_OWN_PREFECT_HOME = "MG_TEST_OWN_PREFECT_HOME"
if "PREFECT_HOME" not in os.environ or os.environ.get(_OWN_PREFECT_HOME) == os.environ["PREFECT_HOME"]:
    os.environ["PREFECT_HOME"] = os.environ[_OWN_PREFECT_HOME] = tempfile.mkdtemp(prefix="mg-prefect-home-")
keep_the_callers_terminal_size()
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

REPO_ROOT = Path(__file__).resolve().parent.parent
#: where the team's Prisma harness may live: $PRISMA_HARNESS_SETUP, beside the checkout, the workplace
PRISMA_HARNESS_CANDIDATES = [
    Path(os.environ["PRISMA_HARNESS_SETUP"]) if os.environ.get("PRISMA_HARNESS_SETUP") else None,
    REPO_ROOT.parent / "shared" / "prisma-harness" / "setup.sh",
    Path("/work/shared/prisma-harness/setup.sh"),
]
PRISMA_HARNESS = next((p for p in PRISMA_HARNESS_CANDIDATES if p is not None and p.exists()),
                      REPO_ROOT.parent / "shared" / "prisma-harness" / "setup.sh")


_RUN_DIR = pytest.StashKey[Path]()
_RUN_LOCK = pytest.StashKey[RunLock]()


def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n N`` the controller makes the folder its workers share (see parallel_support)."""
    if not is_xdist_worker() and getattr(config.option, "numprocesses", None):
        config.stash[_RUN_DIR] = create_run_dir()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller removes the shared folder once its workers are done."""
    shared = config.stash.get(_RUN_DIR, None)
    if shared is not None:
        remove_run_dir(shared)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``pytest -n N``, the files holding ``slow`` tests go first (each file keeps its order):
    ``--dist loadfile --no-loadscope-reorder`` hands out files in collection order, and a long file
    handed out last keeps one worker busy while the others idle."""
    if not is_xdist_worker():
        return
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: otherwise the order stays


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """On an xdist worker, hold the run's lock for the test (setup to teardown): exclusively when it
    is marked ``serial`` (no other test of the run is running meanwhile), else shared."""
    lock = item.config.stash.get(_RUN_LOCK, None)
    if lock is None and (shared := run_dir()) is not None:
        lock = item.config.stash[_RUN_LOCK] = RunLock(shared)
    if lock is None:
        return (yield)
    with lock.hold(exclusive=item.get_closest_marker("serial") is not None):
        return (yield)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the server's maintenance database (for CREATE/DROP DATABASE)."""
    url, _source = admin_url()
    return url


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> Iterator[str]:
    """A template database for this session (unique name, so parallel sessions never collide)."""
    name = f"mg_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    _drop_database(pg_admin_url, name)


@pytest.fixture
def db_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """URL of a fresh, empty database cloned from the session template; dropped afterwards."""
    name = f"mg_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(pg_template))
        )
    yield with_database(pg_admin_url, name)
    _drop_database(pg_admin_url, name)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's fresh database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def _drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (a temporary API on SQLite), started once per session on demand.

    Costs ~13 s, so only tests that run flows for real should request it.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def password_server() -> Iterator[PasswordServer]:
    """A private PostgreSQL demanding a password, for real authentication failures."""
    try:
        server = PasswordServer()
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot start a password-protected PostgreSQL here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prisma_cli() -> Path:
    """Path of the real Prisma CLI (7.10, via ../shared/prisma-harness); skips when npm is missing."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("the Prisma interop tests need node and npm (the prisma-harness installs Prisma with npm)")
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    if int(node_version.lstrip("v").split(".")[0] or 0) < 20:
        pytest.skip(f"Prisma 7 needs Node.js >= 20, found {node_version or 'unknown'}")
    if not PRISMA_HARNESS.exists():
        pytest.skip(f"prisma harness not found at {PRISMA_HARNESS}")
    return Path(once_per_run("prisma-harness", _set_up_prisma_harness)) / "prisma"


def _set_up_prisma_harness() -> str:
    """Run the harness's setup.sh (npm install into its cache folder); return that folder. Once per
    run: xdist workers share the folder, and two installs into it at once would race."""
    done = subprocess.run(["bash", str(PRISMA_HARNESS)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"prisma harness setup failed: {done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]
