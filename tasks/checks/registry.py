"""A suite's checks, in the order they run and are reported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, Protocol, TypeVar


class Named(Protocol):
    @property
    def name(self) -> str: ...


CheckT = TypeVar("CheckT", bound=Named)


class Registry(Generic[CheckT]):
    """An ordered, name-unique list of checks.

    Raises:
        ValueError: two checks share a name (their results and alerts would collide).
    """

    def __init__(self, checks: Iterable[CheckT]) -> None:
        self._checks: tuple[CheckT, ...] = tuple(checks)
        names = [c.name for c in self._checks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"check names must be unique: {', '.join(duplicates)}")

    def __iter__(self) -> Iterator[CheckT]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    @property
    def checks(self) -> tuple[CheckT, ...]:
        return self._checks

    def names(self) -> list[str]:
        """Every check's name, in order."""
        return [c.name for c in self._checks]

    def get(self, name: str) -> CheckT:
        """The check called ``name``.

        Raises:
            KeyError: no such check.
        """
        for check in self._checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def without(self, names: Iterable[str], *, keep: Iterable[str] = ()) -> list[CheckT]:
        """The checks minus ``names`` (switched off by configuration), never dropping ``keep``."""
        dropped = set(names) - set(keep)
        return [c for c in self._checks if c.name not in dropped]
