"""The healthcheck history: one JSON line per check appended to LOG_DIR/healthcheck.log."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from migration_guard.tasks.alerts.model import iso
from migration_guard.tasks.healthcheck.alerts import target_secrets
from migration_guard.tasks.healthcheck.report import HealthReport
from migration_guard.tasks.healthcheck.target import DatabaseTarget
from migration_guard.tasks.secrets import redact


def write_log(report: HealthReport, settings: Any, targets: list[DatabaseTarget]) -> Path:
    """Append one JSON line per check to LOG_DIR/healthcheck.log (secrets redacted).

    A full or read-only disk never fails the healthcheck: the append is undone (no torn JSON line)
    and a warning names the file.
    """
    log_dir = Path(settings.log_dir)
    path = log_dir / "healthcheck.log"
    secrets = target_secrets(settings, targets)
    lines = []
    for r in report.results:
        record = {"time": iso(report.started_at), "environment": report.environment, **r.to_dict()}
        lines.append(redact(json.dumps(record, default=str), secrets))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        # 0640 whatever the umask: nobody else may forge health history
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        logging.getLogger("migration_guard.healthcheck").warning("%s not written: %s", path, exc.strerror or exc)
        return path
    start = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError as exc:
        os.ftruncate(fd, start)
        logging.getLogger("migration_guard.healthcheck").warning("%s not written: %s", path, exc.strerror or exc)
    finally:
        os.close(fd)
    return path
