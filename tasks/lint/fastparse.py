"""Skip pglast's per-attribute validation while its own parser builds the AST.

pglast's ``Node.__setattr__`` re-validates every attribute in Python (type checks, enum and tuple
coercion). The values its Cython parser passes are already of the right types except booleans,
which sometimes arrive as 0/1, so the check mostly costs time: about 85% of ``parse_sql``. Inside
:func:`unvalidated_nodes` a minimal setter only turns those ints into bools; the trees are identical
(tests/test_lint_fastparse.py compares them).
A lock keeps the swap consistent when several threads lint at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pglast import ast

_lock = threading.Lock()
_validated_setattr = ast.Node.__setattr__


def _bool_slots() -> frozenset[tuple[type, str]]:
    found = set()
    stack = [ast.Node]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        slots = cls.__dict__.get("__slots__")
        if isinstance(slots, dict):
            for name, info in slots.items():
                if getattr(info, "c_type", None) == "bool":
                    found.add((cls, name))
    return frozenset(found)


_BOOL_SLOTS = _bool_slots()
_set = object.__setattr__


def _minimal_setattr(node: ast.Node, name: str, value: object) -> None:
    if value.__class__ is int and (node.__class__, name) in _BOOL_SLOTS:
        value = bool(value)
    _set(node, name, value)


@contextmanager
def unvalidated_nodes() -> Iterator[None]:
    """Build pglast nodes without attribute validation for the duration of the block."""
    with _lock:
        ast.Node.__setattr__ = _minimal_setattr
        try:
            yield
        finally:
            ast.Node.__setattr__ = _validated_setattr
