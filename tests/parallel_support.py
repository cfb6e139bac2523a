"""Running the suite on several pytest-xdist workers (``make test`` runs ``pytest -n 2``).

Every worker has its own template database, test databases, Prefect home, Prefect harness and
private clusters; what the workers of one run share is the PostgreSQL server itself. A few tests
observe or change server-wide state (statements of any database, every scratch database, sessions
picked server-wide to be terminated); they carry ``@pytest.mark.serial`` and run while no other test
of the run does. This module holds the cross-process pieces:

- :class:`RunLock`: a writer-preferring readers-writer lock over ``fcntl.flock``: every test holds it
  shared, a ``serial`` test holds it exclusively (it waits for the running tests of the other workers
  to end; no new test starts meanwhile).
- :func:`once_per_run`: a value computed by the first worker that needs it, read by the others (the
  Prisma harness installs itself with npm into one shared folder: two installs at once would race).

Without xdist (a plain ``pytest`` run, or ``-p no:xdist``) nothing here locks anything.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: a folder every worker of the run can see, created by the controller (``pytest_configure``)
RUN_DIR_ENV = "MG_TEST_RUN_DIR"
#: the controller's own COLUMNS / LINES (JSON), which a worker process starts without
TERMINAL_ENV = "MG_TEST_TERMINAL_ENV"
TERMINAL_VARIABLES = ("COLUMNS", "LINES")


def is_xdist_worker() -> bool:
    """True inside a pytest-xdist worker process."""
    return "PYTEST_XDIST_WORKER" in os.environ


def keep_the_callers_terminal_size() -> None:
    """Give every worker the terminal environment of the ``pytest`` command that started it.

    An xdist worker starts with COLUMNS=80 and LINES=24 set, whatever the caller had; the CLI
    processes the tests start inherit them, and the CLI sizes its tables by COLUMNS (a table written
    to a pipe without COLUMNS is wide). Call at conftest import: the controller records its values,
    a worker puts them back.
    """
    if not is_xdist_worker():
        os.environ.setdefault(TERMINAL_ENV, json.dumps({name: os.environ.get(name) for name in TERMINAL_VARIABLES}))
        return
    recorded = os.environ.get(TERMINAL_ENV)
    if recorded is None:
        return
    for name, value in json.loads(recorded).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def create_run_dir() -> Path:
    """The controller's shared folder for this run (its path is inherited by the workers)."""
    path = Path(tempfile.mkdtemp(prefix="mg-pytest-run-"))
    os.environ[RUN_DIR_ENV] = str(path)
    return path


def remove_run_dir(path: Path) -> None:
    """Remove the controller's shared folder once the run is over."""
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(RUN_DIR_ENV) == str(path):
        del os.environ[RUN_DIR_ENV]


def run_dir() -> Path | None:
    """The shared folder of this run when we are an xdist worker, else None."""
    value = os.environ.get(RUN_DIR_ENV)
    if not value or not is_xdist_worker():
        return None
    path = Path(value)
    return path if path.is_dir() else None


@contextmanager
def _flocked(path: Path, mode: int) -> Iterator[IO[str]]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class RunLock:
    """A readers-writer lock shared by the workers of one run.

    ``gate`` makes it writer-preferring: a writer holds the gate while it waits for the readers to
    leave, so no reader can slip in ahead of it (plain ``flock`` would let a busy worker starve it).
    """

    def __init__(self, directory: Path) -> None:
        self._gate = open(directory / "gate.lock", "a+")
        self._rw = open(directory / "tests.lock", "a+")

    @contextmanager
    def hold(self, exclusive: bool) -> Iterator[None]:
        """Hold the lock for one test: exclusively for a ``serial`` test, else shared."""
        fcntl.flock(self._gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._rw, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._rw, fcntl.LOCK_UN)

    def close(self) -> None:
        self._gate.close()
        self._rw.close()


def once_per_run(name: str, compute: Callable[[], str]) -> str:
    """``compute()`` once for the whole run: the first worker computes and stores it, the others wait
    for it and read it. Not stored when ``compute`` raises (the next worker tries again)."""
    shared = run_dir()
    if shared is None:
        return compute()
    with _flocked(shared / f"{name}.lock", fcntl.LOCK_EX):
        stored = shared / f"{name}.value"
        if stored.exists():
            return stored.read_text()
        value = compute()
        stored.write_text(value)
        return value
