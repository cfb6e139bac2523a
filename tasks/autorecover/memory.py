"""What auto-recovery decided about a failed migration it left alone, so that an unchanged failure
is not diagnosed again on every healthcheck run: a diagnosis builds a shadow database and replays
the earlier migrations (seconds on a long history, measured 5–10 s on documenso's 50).

One JSON file, ``STATE_DIR/autorecover.json`` (STATE_DIR defaults to LOG_DIR/state, like the health
history): per database, the failed attempt (migration name, ledger row id, file checksum), when it
was left alone and why. The attempt is diagnosed again once ``AUTO_RECOVER_RECHECK`` seconds have
passed, or at once when the file or the ledger row changed (another key). A file that cannot be
read or written only costs a diagnosis: it never fails the healthcheck.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from migration_guard.tasks.alerts.model import iso, parse_iso
from migration_guard.tasks.autorecover.model import SKIPPED, Action
from migration_guard.tasks.models import MigrationStatus

FILE = "autorecover.json"
logger = logging.getLogger("migration_guard.autorecover")


def attempt_key(status: MigrationStatus) -> str:
    """Which failed attempt: ``name:ledger row id:file checksum`` (a new attempt, a resolved row or
    an edited file is another key)."""
    failed = status.failed_entries
    row = failed[-1].id if failed else ""
    checksum = status.migration.checksum if status.migration is not None else ""
    return f"{status.name}:{row}:{checksum}"


def _path(settings: Any) -> Path:
    folder = Path(settings.state_dir) if settings.state_dir is not None else Path(settings.log_dir) / "state"
    return folder / FILE


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def left_alone(settings: Any, database: str, key: str, now: datetime) -> tuple[datetime, Action] | None:
    """(when, the skipped action) when this attempt was left alone less than AUTO_RECOVER_RECHECK
    ago; None otherwise."""
    entry = _load(_path(settings)).get(database)
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    when = parse_iso(entry.get("at"))
    if when is None or (now - when).total_seconds() >= settings.auto_recover_recheck:
        return None
    try:
        action = Action(database, str(entry["kind"]), str(entry["subject"]), str(entry["description"]),
                        tuple(entry["commands"]), SKIPPED, str(entry["detail"]))
    except (KeyError, TypeError):
        return None
    return when, action


def remember(settings: Any, database: str, key: str | None, action: Action | None, now: datetime) -> None:
    """Record that attempt ``key`` was left alone now (the skipped ``action``); ``key`` None forgets
    the database."""
    path = _path(settings)
    data = _load(path)
    if key is None:
        if database not in data:
            return
        data.pop(database)
    else:
        assert action is not None
        data[database] = {"key": key, "at": iso(now), "kind": action.kind, "subject": action.subject,
                          "description": action.description, "commands": list(action.commands),
                          "detail": action.detail}
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".autorecover-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=1)
            os.replace(temporary, path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.warning("%s not written (%s): the failed migration is diagnosed again next run", path,
                       exc.strerror or exc)
