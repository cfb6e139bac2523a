"""The import contract of ARCHITECTURE.md, checked on source trees by reading their ASTs.

``violations(root)`` returns one line per breach of:

1. the layer order ``cli → deployments → flows → blocks → tasks`` (an import that goes up);
2. cycles: between top-level packages, between the units of ``tasks/`` (a unit is a direct
   child of ``tasks/``: a capability package such as ``tasks/recover`` or a foundation module),
   and between modules (``a.py`` imports ``b.py`` which imports ``a.py``, even for types only);
3. the foundation of ``tasks/`` importing a capability;
4. Prefect imported under ``tasks/`` outside a module named ``tasks.py``; typer or rich imported
   outside ``cli/``;
5. an ``except ImportError`` / ``except ModuleNotFoundError`` around an import of our own modules
   (a failing import of our own package must crash, never switch a feature off).

Imports inside functions count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "migration_guard"

#: top-level folders, outermost first
LAYERS = ("cli", "deployments", "flows", "blocks", "tasks")

#: units of ``tasks/`` that form its foundation: they import no capability package
FOUNDATION = frozenset({
    "artifacts", "catalog", "checksums", "db", "durations", "errors", "interrupts", "ledgers", "models", "project",
    "retry", "schema", "scratch", "secrets", "settings", "sql", "tasks",
})

#: third-party frameworks and the top-level folders that may import them
FRAMEWORKS = {"prefect": {"cli", "deployments", "flows", "blocks"}, "typer": {"cli"}, "rich": {"cli"}}


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, where, and whether an ImportError guard surrounds it."""

    module: str        # importing module, dotted, without the package prefix (``tasks.recover.plan``)
    target: str        # imported module, dotted (``tasks.db``, ``prefect.artifacts``)
    path: Path
    line: int
    guarded: bool
    #: ``from package import name``: ``target`` is ``package.name``, which may be a module or an attribute
    via_name: bool = False


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Targets of a ``from … import …``, with relative imports resolved and the package prefix removed."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    prefix = prefix.removeprefix(PACKAGE + ".") if prefix != PACKAGE else ""
    return [prefix] + [f"{prefix}.{alias.name}".strip(".") for alias in node.names]


def _is_via_name(targets: list[str], index: int, node: ast.AST) -> bool:
    return isinstance(node, ast.ImportFrom) and index > 0 and bool(targets[0])


def _guards(tree: ast.AST) -> set[int]:
    """Line numbers of import statements inside a ``try`` whose handlers catch ImportError."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught: set[str] = set()
        for handler in node.handlers:
            kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {k.id for k in kinds if isinstance(k, ast.Name)}
        if caught & {"ImportError", "ModuleNotFoundError"}:
            for statement in node.body:
                for inner in ast.walk(statement):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        guarded.add(inner.lineno)
                    elif isinstance(inner, ast.Call) and _is_import_call(inner):
                        guarded.add(inner.lineno)
    return guarded


def _is_import_call(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in {"import_module", "__import__"}


def imports(root: Path) -> Iterator[Import]:
    """Every import in the product folders under ``root`` (``cli/``, ``tasks/`` …)."""
    for top in LAYERS:
        for path in sorted((root / top).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            module = _module_name(root, path)
            tree = ast.parse(path.read_text(), filename=str(path))
            guarded = _guards(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [a.name.removeprefix(PACKAGE + ".") for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    targets = _resolve(module, path.name == "__init__.py", node)
                elif isinstance(node, ast.Call) and _is_import_call(node) and node.lineno in guarded:
                    targets = [f"{PACKAGE}-dynamic"]
                else:
                    continue
                for index, target in enumerate(targets):
                    yield Import(module, target, path, node.lineno, node.lineno in guarded,
                                 _is_via_name(targets, index, node))


def _top(name: str) -> str:
    return name.split(".")[0]


def _tasks_unit(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "tasks" and len(parts) > 1 else None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def violations(root: Path) -> list[str]:
    """Every breach of the contract in the tree at ``root``, one readable line each."""
    found: list[str] = []
    rank = {name: len(LAYERS) - i for i, name in enumerate(LAYERS)}
    top_edges: dict[str, set[str]] = {}
    unit_edges: dict[str, set[str]] = {}
    module_edges: dict[str, set[str]] = {}
    modules = {_module_name(root, p) for top in LAYERS for p in (root / top).rglob("*.py")}
    for imp in imports(root):
        if imp.target in modules and imp.target != imp.module and not imp.module.startswith(imp.target + "."):
            module_edges.setdefault(imp.module, set()).add(imp.target)
        if imp.via_name:
            continue
        where = f"{imp.path.relative_to(root)}:{imp.line}"
        source_top, target_top = _top(imp.module), _top(imp.target)
        ours = target_top in rank or imp.target == f"{PACKAGE}-dynamic"
        if imp.guarded and ours:
            found.append(f"{where}: ImportError guard around an import of our own modules (a failing import must crash)")
        if target_top in FRAMEWORKS:
            allowed = FRAMEWORKS[target_top]
            in_tasks_module = source_top == "tasks" and imp.path.name == "tasks.py"
            if source_top not in allowed and not (target_top == "prefect" and in_tasks_module):
                found.append(f"{where}: {imp.module} imports {target_top} (allowed only in {', '.join(sorted(allowed))}"
                             f"{' and tasks/**/tasks.py' if target_top == 'prefect' else ''})")
        if target_top not in rank:
            continue
        if target_top != source_top:
            top_edges.setdefault(source_top, set()).add(target_top)
            if rank[target_top] > rank[source_top]:
                found.append(f"{where}: {imp.module} ({source_top}) imports {imp.target} ({target_top}), "
                             f"against the layer order {' → '.join(LAYERS)}")
        source_unit, target_unit = _tasks_unit(imp.module), _tasks_unit(imp.target)
        if source_unit and target_unit and source_unit != target_unit:
            unit_edges.setdefault(source_unit, set()).add(target_unit)
            if source_unit in FOUNDATION and target_unit not in FOUNDATION:
                found.append(f"{where}: foundation tasks/{source_unit} imports capability tasks/{target_unit}")
    for cycle in _cycles(top_edges):
        found.append(f"import cycle between top-level packages: {' ⇄ '.join(cycle)}")
    for cycle in _cycles(unit_edges):
        found.append(f"import cycle between units of tasks/: {' ⇄ '.join('tasks/' + c for c in cycle)}")
    for cycle in _cycles(module_edges):
        found.append(f"import cycle between modules: {' ⇄ '.join(cycle)}")
    return list(dict.fromkeys(found))
