"""A backup into a folder that runs out of space fails cleanly and leaves nothing behind.

The folder is a real 1 MiB tmpfs mounted by the test (needs root and mount permission; skipped
otherwise), so pg_dump gets a genuine ENOSPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from migration_guard.tasks.backup import BackupSpaceError, create_backup
from tests.helpers import mounted_tmpfs

pytestmark = pytest.mark.faults


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    with mounted_tmpfs("1m", "mg-tiny-") as mount_point:
        yield mount_point


@pytest.fixture
def big_db(db: psycopg.Connection, db_url: str) -> str:
    # ~4 MiB of hex text: compresses about 2:1, so the dump is well over 1 MiB
    db.execute("CREATE TABLE blobs AS SELECT g AS id, (SELECT string_agg(md5(random()::text || g || s), '') "
               "FROM generate_series(1, 32) s) AS body FROM generate_series(1, 4000) g")
    return db_url


def everything_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_free_space_is_checked_before_dumping(big_db: str, tiny_disk: Path) -> None:
    with pytest.raises(BackupSpaceError) as caught:
        create_backup(big_db, tiny_disk, reason="manual")

    assert "not enough free disk" in caught.value.message
    assert caught.value.needed_bytes > caught.value.free_bytes
    assert everything_in(tiny_disk) == []


@pytest.mark.parametrize("fmt", ["custom", "directory"])
def test_disk_full_during_the_dump_leaves_no_partial_file(big_db: str, tiny_disk: Path, fmt: str) -> None:
    with pytest.raises(BackupSpaceError) as caught:
        create_backup(big_db, tiny_disk, reason="manual", fmt=fmt, check_space=False)

    assert "filled up during the dump" in caught.value.message
    assert "No space left on device" in caught.value.message
    assert everything_in(tiny_disk) == []
