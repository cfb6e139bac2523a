"""An index a live session is building (CREATE INDEX CONCURRENTLY in progress) is INVALID but not
debris: the one catalog read says so, and recover's detection leaves it alone (dropping it would
kill that build)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from migration_guard.tasks.catalog import invalid_indexes
from migration_guard.tasks.project import Project
from migration_guard.tasks.recover.detect import detect
from migration_guard.tasks.settings import load_settings
from tests.helpers import make_prisma_project


def test_an_index_being_built_is_not_debris(tmp_path: Path, db_url: str, db: psycopg.Connection) -> None:
    db.execute("CREATE TABLE t (id int)")
    db.execute("INSERT INTO t SELECT generate_series(1, 1000)")
    with psycopg.connect(db_url) as reader, psycopg.connect(db_url, autocommit=True) as builder:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.execute("SELECT count(*) FROM t")  # an open snapshot: the build waits for it, still INVALID
        build = threading.Thread(target=lambda: builder.execute("CREATE INDEX CONCURRENTLY t_id_idx ON t (id)"))
        build.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(i.name == "t_id_idx" for i in invalid_indexes(db)):
                time.sleep(0.05)
            building = [i for i in invalid_indexes(db) if i.name == "t_id_idx"]
            assert building and building[0].being_built and building[0].builder_pid == builder.info.backend_pid

            make_prisma_project(tmp_path, {"20240101000000_init": "SELECT 1;"})
            project = Project.from_settings(load_settings(database_url=db_url,
                                                          migrations_dir=tmp_path / "prisma" / "migrations"))
            assert "t_id_idx" not in [i.name for i in detect(project).invalid_indexes]
        finally:
            reader.rollback()
            build.join(timeout=20)
    assert not invalid_indexes(db)  # the build finished: nothing was dropped under it
