"""Skip pglast's per-attribute validation while its own parser builds the AST.

pglast's ``Node.__setattr__`` re-validates every attribute in Python (type checks, enum and tuple
coercion). The values its Cython parser passes are already of the right types except ``Boolean.boolval``
(the constant ``true``/``false``), which arrives as 0/1, so the check mostly costs time: about 85%
of ``parse_sql``. Inside :func:`unvalidated_nodes` attributes are set directly and only
``Boolean`` converts its int; the trees are identical (tests/test_lint_fastparse.py compares them
on the bench file, the Prisma corpus and every rule test's SQL).
A lock keeps the swap consistent when several threads lint at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pglast import ast

_lock = threading.RLock()
_depth = 0
_validated_setattr = ast.Node.__setattr__


def _boolean_setattr(node: ast.Node, name: str, value: object) -> None:
    object.__setattr__(node, name, bool(value) if value.__class__ is int else value)


@contextmanager
def unvalidated_nodes() -> Iterator[None]:
    """Build pglast nodes without attribute validation for the duration of the block (re-entrant).

    Swapping a special method on ``ast.Node`` invalidates the type caches of its ~300 subclasses
    (about 0.1 ms), so callers wrap a whole lint run, not each parse.
    """
    with _lock:
        global _depth
        if _depth == 0:
            ast.Node.__setattr__ = object.__setattr__
            ast.Boolean.__setattr__ = _boolean_setattr
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                ast.Node.__setattr__ = _validated_setattr
                del ast.Boolean.__setattr__
