"""One JSON file per alert in ALERTS_DIR, written atomically; corrupt files are set aside.

A cross-process file lock (``.lock`` in the folder) serialises read-modify-write cycles, so a
healthcheck run and a safe-migrate run updating alerts at the same moment do not lose updates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migration_guard.tasks.alerts.model import Alert


def _private_opener(path: str, flags: int) -> int:
    """Create files 0600 whatever the umask (alert state is never world-writable)."""
    return os.open(path, flags, 0o600)


logger = logging.getLogger("migration_guard.alerts")

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
CORRUPT_SUFFIX = ".corrupt"


@dataclass
class LoadResult:
    """Alerts read from the folder, and the files that could not be parsed (moved aside)."""

    alerts: list[Alert] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


class AlertStore:
    """The alert folder. Every method is safe to call when the folder does not exist yet."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_of(self, alert_id: str) -> Path:
        if not _SAFE_ID.match(alert_id):
            raise ValueError(f"not an alert id: {alert_id!r}")
        return self.directory / f"{alert_id}.json"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock over the folder for a read-modify-write cycle."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        with open(self.directory / ".lock", "a", opener=_private_opener) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def save(self, alert: Alert) -> Path:
        """Write the alert atomically (temp file in the same folder, fsync, rename)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        target = self.path_of(alert.id)
        fd, temp = tempfile.mkstemp(prefix=f".{alert.id}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(alert.to_json(), handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return target

    def load(self) -> LoadResult:
        """Every alert in the folder, oldest first; unreadable files are renamed ``*.corrupt``."""
        result = LoadResult()
        if not self.directory.is_dir():
            return result
        for path in sorted(self.directory.glob("*.json")):
            try:
                result.alerts.append(Alert.from_json(json.loads(path.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                continue
            except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError) as exc:
                aside = path.with_name(path.name + CORRUPT_SUFFIX)
                with contextlib.suppress(OSError):
                    os.replace(path, aside)
                logger.warning("alert file %s is corrupt (%s); moved aside to %s", path.name,
                               type(exc).__name__, aside.name)
                result.corrupt.append(path.name)
        result.alerts.sort(key=lambda a: a.first_seen or a.timestamp)
        return result

    def get(self, alert_id: str) -> Alert | None:
        """One alert by id, or None (also for an id that cannot be a file name)."""
        try:
            path = self.path_of(alert_id)
        except ValueError:
            return None
        try:
            return Alert.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def delete(self, alert_id: str) -> bool:
        """Remove one alert file; False when it was not there."""
        try:
            self.path_of(alert_id).unlink()
            return True
        except (FileNotFoundError, ValueError):
            return False
