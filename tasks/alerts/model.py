"""The alert record: the seed's JSON plus lifecycle fields. Plain data, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from migration_guard.tasks.errors import Category


class Severity(StrEnum):
    """Business impact: HIGH = act now, MEDIUM = within a day, LOW = when convenient."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

    @property
    def rank(self) -> int:
        return {"LOW": 1, "MEDIUM": 2, "HIGH": 3}[self.value]


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def fingerprint(check: str, database: str, category: str) -> str:
    """Identity of an alert: a hash of its identifying labels only (never text or timestamps)."""
    labels = "\x1f".join((check, database, str(category)))
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, like the seed's ``2024-01-01T12:00:00.000Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Alert:
    """One alert. ``to_json()`` gives exactly the seed's fields plus the lifecycle ones."""

    id: str
    timestamp: datetime
    category: str
    severity: Severity
    title: str
    message: str
    impact: str
    suggestions: tuple[str, ...]
    original_error: str
    environment: str
    component: str
    check: str
    database: str
    fingerprint: str
    status: AlertStatus = AlertStatus.FIRING
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    occurrences: int = 1
    resolved_at: datetime | None = None
    last_notified_at: datetime | None = None
    flow_run_url: str | None = None
    #: which problem this is, beyond check/database/category (e.g. ``failed:20240101_x``); not part of
    #: the fingerprint: a different problem resolves this alert and fires a new one (history kept)
    problem: str = ""

    @property
    def is_firing(self) -> bool:
        return self.status is AlertStatus.FIRING

    def with_changes(self, **changes: Any) -> Alert:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The stored / served / webhook JSON shape (keys only ever added)."""
        return {
            "id": self.id,
            "timestamp": iso(self.timestamp),
            "category": str(self.category),
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "impact": self.impact,
            "suggestions": list(self.suggestions),
            "technicalDetails": {
                "originalError": self.original_error,
                "environment": self.environment,
                "component": self.component,
            },
            "check": self.check,
            "database": self.database,
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "occurrences": self.occurrences,
            "resolved_at": iso(self.resolved_at),
            "last_notified_at": iso(self.last_notified_at),
            "flow_run_url": self.flow_run_url,
        } | ({"problem": self.problem} if self.problem else {})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        """Parse the stored shape; raises KeyError / ValueError on a malformed record."""
        details = data.get("technicalDetails") or {}
        return cls(
            id=str(data["id"]),
            timestamp=parse_iso(data["timestamp"]) or utcnow(),
            category=str(data["category"]),
            severity=Severity(data["severity"]),
            title=str(data["title"]),
            message=str(data.get("message", "")),
            impact=str(data.get("impact", "")),
            suggestions=tuple(str(s) for s in data.get("suggestions") or ()),
            original_error=str(details.get("originalError", "")),
            environment=str(details.get("environment", "")),
            component=str(details.get("component", "")),
            check=str(data.get("check", "")),
            database=str(data.get("database", "")),
            fingerprint=str(data["fingerprint"]),
            status=AlertStatus(data.get("status", "firing")),
            first_seen=parse_iso(data.get("first_seen")),
            last_seen=parse_iso(data.get("last_seen")),
            occurrences=int(data.get("occurrences", 1)),
            resolved_at=parse_iso(data.get("resolved_at")),
            last_notified_at=parse_iso(data.get("last_notified_at")),
            flow_run_url=data.get("flow_run_url"),
            problem=str(data.get("problem") or ""),
        )


def new_alert(
    *,
    check: str,
    database: str,
    category: Category | str,
    severity: Severity | str,
    title: str,
    message: str,
    impact: str,
    suggestions: list[str] | tuple[str, ...],
    original_error: str = "",
    environment: str,
    component: str,
    flow_run_url: str | None = None,
    now: datetime | None = None,
    problem: str = "",
) -> Alert:
    """A freshly observed problem (not yet reconciled with what the store holds)."""
    now = now or utcnow()
    category = str(Category(category)) if str(category) in Category.__members__ else str(category)
    fp = fingerprint(check, database, category)
    return Alert(
        id=f"{fp[:10]}-{int(now.timestamp() * 1000):x}",
        timestamp=now,
        category=category,
        severity=Severity(str(severity).upper()),
        title=title,
        message=message,
        impact=impact,
        suggestions=tuple(suggestions),
        original_error=original_error,
        environment=environment,
        component=component,
        check=check,
        database=database,
        fingerprint=fp,
        first_seen=now,
        last_seen=now,
        flow_run_url=flow_run_url,
        problem=problem,
    )
