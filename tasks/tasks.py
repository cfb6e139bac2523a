"""The one helper that turns a workflow's plain steps into Prefect tasks.

Every workflow keeps its I/O steps in a frozen dataclass of callables (its *steps port*): the plain
implementation calls each function directly (the CLI, no Prefect import), and the Prefect one is
the same functions wrapped as tasks by :func:`prefect_steps`, in the capability's ``tasks.py``.
The sequence itself is written once, in the workflow's plain module, against the port.

Example::

    PREFECT_STEPS = prefect_steps(PLAIN_STEPS, {
        "detect": {"name": "recover-detect", **DB_TASK_OPTIONS},
        "execute": {"name": "recover-execute"},
    })
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

StepsT = TypeVar("StepsT")

#: task options for steps whose result must never be cached or persisted (they read live state)
UNCACHED: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


def prefect_steps(plain: StepsT, task_options: Mapping[str, Mapping[str, Any]]) -> StepsT:
    """A copy of the steps object ``plain`` whose listed steps run as Prefect tasks.

    Args:
        plain: a frozen dataclass instance whose fields are the plain step functions.
        task_options: for each step (field name) to wrap, the keyword arguments of ``@task``
            (``name`` at least). Steps not listed stay plain calls.

    Returns:
        An instance of the same dataclass, so the sequence cannot tell the two apart.

    Raises:
        ValueError: ``task_options`` names a field the steps object does not have.
    """
    fields = {f.name for f in dataclasses.fields(plain)}  # type: ignore[arg-type]
    unknown = set(task_options) - fields
    if unknown:
        raise ValueError(f"no such step(s) in {type(plain).__name__}: {', '.join(sorted(unknown))}")
    wrapped = {name: task(**dict(options))(getattr(plain, name)) for name, options in task_options.items()}
    return dataclasses.replace(plain, **wrapped)  # type: ignore[type-var]
