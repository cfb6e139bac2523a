"""Walking a pglast parse tree: the one depth-first traversal every analysis uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast


def nodes(tree: Any) -> Iterator[ast.Node]:
    """Every node of ``tree`` (a node, a list or tuple of them, or None), depth first, in source
    order: a node before its children, siblings left to right."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, ast.Node):
            yield item
            children = [getattr(item, attribute) for attribute in item]
            stack.extend(reversed([c for c in children if isinstance(c, (ast.Node, list, tuple))]))
