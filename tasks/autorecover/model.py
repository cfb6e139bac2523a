"""Auto-recovery actions as data: what was (or would be) done to which object, the exact command a
person would run instead, and how it went (plain data, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

POLICIES = ("off", "safe")

#: the kinds of action, by class
TERMINATE_LOCK_HOLDER = "terminate_lock_holder"
REBUILD_INDEX = "rebuild_index"
DROP_INDEX = "drop_index"
MARK_ROLLED_BACK = "mark_rolled_back"
RECOVER_FORWARD = "recover_forward"

#: action states: ``skipped`` = looked at, not safe to do (the reason is in ``detail``)
DONE, FAILED, SKIPPED = "done", "failed", "skipped"


def error_text(exc: BaseException) -> str:
    """One line saying what went wrong (our error's message, else the first line of the error)."""
    message = getattr(exc, "message", None) or str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


class WatchedDatabase(Protocol):
    """What auto-recovery needs to know of a database the healthcheck watches (``DatabaseTarget``)."""

    name: str
    dsn: str
    migrations_dir: Path | None
    migration_tool: str | None
    schema: str | None


@dataclass
class Action:
    """One auto-recovery action on one database.

    Attributes:
        database: the watched database's name (as in the healthcheck report and its alerts).
        kind: one of the kinds above.
        subject: the object acted on, e.g. ``pid 4242``, ``index public.users_email_key``,
            ``migration 20240102000000_add_email``.
        description: what the action does, as a sentence fragment ("terminate pid 4242 (…)").
        commands: the exact commands a person would run to do the same by hand.
        state: done | failed | skipped.
        detail: what was done, why it failed, or why it was skipped.
        seconds: how long it took.
    """

    database: str
    kind: str
    subject: str
    description: str
    commands: tuple[str, ...] = ()
    state: str = SKIPPED
    detail: str = ""
    seconds: float = 0.0
    alerts: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``kind/subject``: names the action's alert (one alert per action and object)."""
        return f"{self.kind}/{self.subject}"

    @property
    def taken(self) -> bool:
        """True when the action ran (done or failed), False when it was skipped."""
        return self.state in (DONE, FAILED)

    def line(self) -> str:
        """One line for people: state, subject, what, and the detail."""
        return f"{self.state}: {self.description}" + (f" — {self.detail}" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (an entry of the healthcheck report's ``auto_recover.actions``)."""
        return {"database": self.database, "kind": self.kind, "subject": self.subject,
                "description": self.description, "commands": list(self.commands), "state": self.state,
                "detail": self.detail, "seconds": round(self.seconds, 3), "alerts": self.alerts}


@dataclass
class AutoRecovery:
    """The auto-recovery part of one healthcheck run: the policy and every action looked at."""

    policy: str
    actions: list[Action] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the healthcheck report's ``auto_recover``)."""
        return {"policy": self.policy, "actions": [a.to_dict() for a in self.actions]}
