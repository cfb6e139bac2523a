"""A check as data: a name, what it looks at, the function that looks, when it applies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

ContextT = TypeVar("ContextT")
OutputT = TypeVar("OutputT")


class Verdict(StrEnum):
    """The kernel's judgement of one check; each suite maps it to its own statuses.

    PASS: nothing wrong. WARN: worth a look, not blocking. FAIL: wrong (page / do not migrate).
    UNKNOWN: could not judge (the check could not run). SKIP: deliberately not run.
    """

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIP = "skip"


class Judged(Protocol):
    """What a check returns: anything that states its verdict."""

    @property
    def verdict(self) -> Verdict: ...


def always(_ctx: Any) -> bool:
    """The default ``applies``: the check runs on every context."""
    return True


@dataclass(frozen=True)
class Check(Generic[ContextT, OutputT]):
    """A registered check.

    Attributes:
        name: stable identifier (JSON keys, alert fingerprints, task names).
        description: what it looks at, for people (a validate check's title).
        run: ``run(ctx) -> output``; the output states its verdict (:class:`Judged`). It raises only
            when it cannot look; the runner turns that into a :class:`~.result.Failure`.
        applies: whether the check runs on this context (a broken ``applies`` skips it, logged).
        why: what goes wrong when its finding is ignored (docs).
    """

    name: str
    description: str
    run: Callable[[ContextT], OutputT]
    applies: Callable[[ContextT], bool] = always
    why: str = ""
